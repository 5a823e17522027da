package kinesisapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// subscription is a live SubscribeToShard call.
type subscription struct {
	started time.Time
	cancel  context.CancelFunc
}

const (
	eventMaxRecords = 10000
	eventMaxBytes   = 2 << 20
	idleEvent       = time.Second
)

func opSubscribeToShard(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	carn, hasCARN := f.Str("ConsumerARN")
	shard, hasShard := f.Str("ShardId")
	sp, hasSP := f.Struct("StartingPosition")
	var typ, seq string
	var hasType, hasSeq, hasTS bool
	var ts time.Time
	if hasSP {
		typ, hasType = sp.Str("Type")
		seq, hasSeq = sp.Str("SequenceNumber")
		ts, hasTS = sp.Time("Timestamp", rc.codec)
		f.Adopt(sp)
	}
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	validateConsumerARN(&v, carn, hasCARN, true)
	validateStreamID(&v, rc.streamID, rc.hasStreamID)
	validateShardID(&v, "shardId", shard, hasShard)
	if v.Required("startingPosition", hasSP) {
		if v.Required("startingPosition.type", hasType) {
			v.Enum("startingPosition.type", typ, "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
		}
		if hasSeq {
			v.Pattern("startingPosition.sequenceNumber", seq, reSeqNum, patSeqNum)
		}
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	if e := rc.authorize("SubscribeToShard", carn); e != nil {
		return nil, e
	}
	key, cons, err := h.eng.ConsumerByARN(rc.ctx, carn)
	if err != nil {
		return nil, engErr(err)
	}
	if cons.Status != "" && cons.Status != "ACTIVE" {
		return nil, awsproto.NewError("ResourceInUseException", "Consumer "+carn+" is not ACTIVE, instead in state "+cons.Status)
	}
	pos := streamcore.Position{Type: streamcore.IteratorType(typ), SequenceNumber: seq, Timestamp: ts}
	if e := positionErr(pos.Type, hasSeq, hasTS); e != nil {
		return nil, e
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(rc.ctx), h.opts.SubscriptionLifetime)
	defer cancel()
	stop := context.AfterFunc(rc.ctx, cancel) // client went away
	defer stop()
	rd, err := h.eng.OpenReader(ctx, key, shard, pos)
	if err != nil {
		return nil, engErr(err)
	}
	subKey := carn + "|" + rd.ShardID()
	now := h.now()
	h.subsMu.Lock()
	if old, ok := h.subs[subKey]; ok {
		if now.Sub(old.started) < 5*time.Second {
			h.subsMu.Unlock()
			return nil, awsproto.NewError("ResourceInUseException", "Another subscription for consumer "+carn+" on shard "+rd.ShardID()+" started less than 5 seconds ago.")
		}
		old.cancel()
	}
	me := &subscription{started: now, cancel: cancel}
	h.subs[subKey] = me
	h.subsMu.Unlock()
	defer func() {
		h.subsMu.Lock()
		if h.subs[subKey] == me {
			delete(h.subs, subKey)
		}
		h.subsMu.Unlock()
	}()

	rc.written = true
	h.stream(ctx, rc, rd)
	return nil, nil
}

// stream writes the event stream until the shard ends, the subscription expires or is
// replaced, or the client goes away.
func (h *handler) stream(ctx context.Context, rc *reqCtx, rd *streamcore.Reader) {
	w := rc.w
	ctl := http.NewResponseController(w)
	ct := "application/json"
	if rc.codec == awsproto.CBOR {
		ct = awsproto.ContentTypeCBOR
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	empty := []byte("{}")
	if rc.codec == awsproto.CBOR {
		empty = []byte{0xa0}
	}
	buf := awsproto.AppendEventMessage(nil, []awsproto.EventHeader{
		eh(":message-type", "event"), eh(":event-type", "initial-response"), eh(":content-type", ct),
	}, empty)
	timeout := rc.call.WriteTimeout()
	if !h.send(w, ctl, buf, timeout) {
		return
	}
	evHeaders := []awsproto.EventHeader{eh(":message-type", "event"), eh(":event-type", "SubscribeToShardEvent"), eh(":content-type", ct)}
	var payload []byte
	lastSent := time.Now()
	pace := newPacer(eventMaxBytes, eventMaxBytes) // EFO: 2 MiB/s per consumer and shard
	for {
		b, err := rd.Read(ctx, eventMaxRecords, eventMaxBytes)
		if err != nil {
			if ctx.Err() == nil {
				h.sendException(w, ctl, ct, engErr(err))
			}
			return
		}
		if len(b.Records) > 0 || b.End || time.Since(lastSent) >= idleEvent {
			n := 0
			for i := range b.Records {
				n += len(b.Records[i].Data)
			}
			if !pace.wait(ctx, n) {
				return
			}
			if rc.codec == awsproto.CBOR {
				payload = appendEventCBOR(payload[:0], b)
			} else {
				payload = appendEventJSON(payload[:0], b)
			}
			buf = awsproto.AppendEventMessage(buf[:0], evHeaders, payload)
			if !h.send(w, ctl, buf, timeout) {
				return
			}
			lastSent = time.Now()
			if b.End {
				return
			}
			if len(b.Records) > 0 {
				continue // more may be ready
			}
		}
		wctx, cancel := context.WithTimeout(ctx, idleEvent-time.Since(lastSent))
		err = rd.Wait(wctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// send writes one event; a client that does not take it within timeout is cut off.
func (h *handler) send(w http.ResponseWriter, ctl *http.ResponseController, frame []byte, timeout time.Duration) bool {
	_ = ctl.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := w.Write(frame); err != nil {
		return false
	}
	return ctl.Flush() == nil
}

func (h *handler) sendException(w http.ResponseWriter, ctl *http.ResponseController, ct string, e *awsproto.Error) {
	typ := e.Type
	if typ == "InternalFailure" {
		typ = "InternalFailureException"
	}
	var payload []byte
	if ct == awsproto.ContentTypeCBOR {
		payload = append(payload, 0xa1)
		payload = awsproto.AppendCBORText(payload, "message")
		payload = awsproto.AppendCBORText(payload, e.Message)
	} else {
		payload = append(payload, `{"message":`...)
		payload = awsproto.AppendJSONString(payload, e.Message)
		payload = append(payload, '}')
	}
	h.send(w, ctl, awsproto.AppendEventMessage(nil, []awsproto.EventHeader{
		eh(":message-type", "exception"), eh(":exception-type", typ), eh(":content-type", ct),
	}, payload), awsproto.DefaultWriteTimeout)
}

func appendEventJSON(b []byte, rb streamcore.ReadBatch) []byte {
	b = append(b, '{')
	b = appendRecordsJSON(b, rb.Records)
	if !rb.End && rb.Continuation != "" {
		b = append(b, `,"ContinuationSequenceNumber":`...)
		b = awsproto.AppendJSONString(b, rb.Continuation)
	}
	b = append(b, `,"MillisBehindLatest":`...)
	b = strconv.AppendInt(b, rb.MillisBehindLatest, 10)
	if rb.End {
		b = append(b, ',')
		b = appendChildShardsJSON(b, rb.ChildShards)
	}
	return append(b, '}')
}

func appendEventCBOR(b []byte, rb streamcore.ReadBatch) []byte {
	n := 2
	withCont := !rb.End && rb.Continuation != ""
	if withCont {
		n++
	}
	if rb.End {
		n++
	}
	b = append(b, 0xa0|byte(n))
	b = appendRecordsCBOR(b, rb.Records)
	if withCont {
		b = awsproto.AppendCBORText(b, "ContinuationSequenceNumber")
		b = awsproto.AppendCBORText(b, rb.Continuation)
	}
	b = awsproto.AppendCBORText(b, "MillisBehindLatest")
	b = awsproto.AppendCBORInt(b, rb.MillisBehindLatest)
	if rb.End {
		b = appendChildShardsCBOR(b, rb.ChildShards)
	}
	return b
}

func eh(name, value string) awsproto.EventHeader {
	return awsproto.EventHeader{Name: name, Value: value}
}

// pacer is a token bucket of bytes: rate per second, up to burst.
type pacer struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newPacer(rate, burst int) *pacer {
	return &pacer{rate: float64(rate), burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// wait blocks until n bytes may be sent (an event bigger than the burst waits for a full
// bucket), then takes them. It returns false when ctx ends first.
func (p *pacer) wait(ctx context.Context, n int) bool {
	need := min(float64(n), p.burst)
	for {
		now := time.Now()
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
		p.last = now
		if p.tokens >= need {
			p.tokens -= float64(n)
			return true
		}
		d := time.Duration((need - p.tokens) / p.rate * float64(time.Second))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
