package streamcore

import (
	"context"
	"fmt"
	"time"
)

const maxGetRecords = 10000

// MaxGetRecordsBytes is the most data one GetRecords returns (Kinesis: 10 MiB).
const MaxGetRecordsBytes = 10 << 20

func errShardGone(key StreamKey, shardID string) *Error {
	return newErr(CodeResourceNotFound, "Shard %s in stream %s under account %s does not exist", shardID, key.Name, key.Account)
}

// startPos is a resolved position: the next SeqIx to read plus the iterator form.
type startPos struct {
	from  uint64
	after bool
	seq   string // the sequence number the iterator names
	given string // StartingSequenceNumber as the caller gave it
}

// checkPosition validates the shape of pos (before any lookup).
func (e *Engine) checkPosition(pos Position) error {
	const both = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and %s StartingSequenceNumber."
	switch pos.Type {
	case TrimHorizon, Latest:
		if pos.SequenceNumber != "" {
			return newErr(CodeInvalidArgument, both, pos.Type, "also a")
		}
	case AtSequenceNumber, AfterSequenceNumber:
		if pos.SequenceNumber == "" {
			return newErr(CodeInvalidArgument, both, pos.Type, "no")
		}
	case AtTimestamp:
		if pos.Timestamp.IsZero() {
			return newErr(CodeInvalidArgument, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
		}
		if now := e.nowMs(); pos.Timestamp.UnixMilli() > now {
			return newErr(CodeInvalidArgument, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %d, currentTimestampInMillis: %d", pos.Timestamp.UnixMilli(), now)
		}
	default:
		return newErr(CodeInvalidArgument, "Unknown ShardIteratorType %s.", pos.Type)
	}
	return nil
}

// shardFor finds a readable shard of a data-plane stream.
func (e *Engine) shardFor(key StreamKey, shardID string) (*streamRT, *streamSnap, *shardMeta, *shardRT, error) {
	rt, sn, err := e.dataSnapshot(key)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	idx, ok := parseShardID(shardID)
	if !ok {
		return nil, nil, nil, nil, errNoShard(key, shardID)
	}
	sm := sn.meta.shard(idx)
	if sm == nil || sn.meta.expired(sm, e.nowMs()) {
		return nil, nil, nil, nil, errShardGone(key, shardID) // as the caller wrote it, as AWS does
	}
	return rt, sn, sm, sn.shards[idx], nil
}

// resolve turns pos into a starting SeqIx in shard sm.
func (e *Engine) resolve(ctx context.Context, key StreamKey, sm *shardMeta, s *shardRT, pos Position) (startPos, error) {
	id := sm.id()
	switch pos.Type {
	case TrimHorizon:
		return startPos{from: 1, after: true, seq: sm.seq(0, sm.CreatedSec*1000)}, nil
	case Latest:
		if !sm.open() {
			return startPos{from: seqIxEnd, seq: sm.seq(seqIxEnd, sm.ClosedMs)}, nil
		}
		last := s.log.Last()
		return startPos{from: last + 1, after: true, seq: sm.seq(last, s.log.LastArrivalMs())}, nil
	case AtTimestamp:
		ix, err := s.log.SeekTime(ctx, pos.Timestamp.UnixMilli())
		if err != nil {
			return startPos{}, internalErr(err)
		}
		if ix > s.log.Last() {
			return e.resolve(ctx, key, sm, s, Position{Type: Latest})
		}
		return startPos{from: ix, seq: sm.seq(ix, sm.CreatedSec*1000)}, nil
	}
	n, kind := parseSeqNum(pos.SequenceNumber)
	switch {
	case kind == seqMalformed:
		return startPos{}, newErr(CodeInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.", pos.SequenceNumber, id, key.Name, key.Account)
	case kind == seqForeign:
		return startPos{}, newErr(CodeInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this stream.", pos.SequenceNumber, id, key.Name, key.Account)
	case n.Index != sm.Index:
		return startPos{}, newErr(CodeInvalidArgument, "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", shardIDOf(n.Index), id)
	case n.CreatedSec != sm.CreatedSec:
		return startPos{}, newErr(CodeInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this stream.", pos.SequenceNumber, id, key.Name, key.Account)
	}
	if pos.Type == AfterSequenceNumber {
		if n.SeqIx == seqIxEnd {
			return startPos{}, newErr(CodeInvalidArgument, "Invalid SequenceNumber for ShardIteratorType AFTER_SEQUENCE_NUMBER, SequenceNumber has reached max possible value for the shard.")
		}
		return startPos{from: n.SeqIx + 1, after: true, seq: pos.SequenceNumber, given: pos.SequenceNumber}, nil
	}
	from := n.SeqIx
	if from == 0 {
		from = 1
	}
	return startPos{from: from, seq: pos.SequenceNumber, given: pos.SequenceNumber}, nil
}

// GetShardIterator returns an iterator for pos in shardID (reference §5.2). It is
// throttled at ReadCallsPerSec per shard.
func (e *Engine) GetShardIterator(ctx context.Context, key StreamKey, shardID string, pos Position) (string, error) {
	if err := e.checkPosition(pos); err != nil {
		return "", err
	}
	rt, sn, sm, s, err := e.shardFor(key, shardID)
	if err != nil {
		return "", err
	}
	if !sn.meta.Quotas.Unlimited && sn.meta.Mode != ModeOnDemand {
		now := e.now()
		s.qmu.Lock()
		if !s.quota.init {
			s.quota.setup(sn.meta.Quotas, sn.meta.MaxRecordSizeKiB, now)
		}
		ok := s.quota.its.take(1, now)
		s.qmu.Unlock()
		if !ok {
			e.met.readThrottled.WithLabelValues(rt.label, sm.id()).Inc()
			return "", errRate(key, sm.id())
		}
	}
	p, err := e.resolve(ctx, key, sm, s, pos)
	if err != nil {
		return "", err
	}
	return e.encodeIterator(iterator{CreatedMs: e.nowMs(), Key: key, StreamCreatedMs: sn.meta.CreatedMs, ShardID: sm.id(), After: p.after, Seq: p.seq}), nil
}

// batch is what readRange found.
type batch struct {
	recs      []Record
	ixs       []uint64 // SeqIx of each of recs
	next      uint64   // next SeqIx to read
	lastIx    uint64   // SeqIx of the last returned record (0 if none)
	lastArrMs int64
	bytes     int
	skipped   uint64 // records passed over because retention expired or trimmed them
}

// readRange reads from shard s at from, skipping records past retention.
func (e *Engine) readRange(ctx context.Context, m *streamMeta, sm *shardMeta, s *shardRT, from uint64, maxRecs, maxBytes int) (b batch, err error) {
	b.next = from
	from0 := from
	defer func() {
		if err == nil {
			b.skipped = b.next - from0 - uint64(len(b.recs)) // SeqIx has no gaps
		}
	}()
	cutoff := e.nowMs() - m.retentionMs()
	for len(b.recs) == 0 {
		if from > s.log.Last() {
			break
		}
		lrs, err := s.log.Read(ctx, from, maxRecs, maxBytes)
		if err != nil {
			return batch{}, internalErr(err)
		}
		if len(lrs) == 0 {
			break
		}
		if lrs[len(lrs)-1].ArrivalMs < cutoff {
			// A whole batch past retention (not trimmed yet): jump to the first live record.
			ix, err := s.log.SeekTime(ctx, cutoff)
			if err != nil {
				return batch{}, internalErr(err)
			}
			if ix <= lrs[len(lrs)-1].SeqIx {
				ix = lrs[len(lrs)-1].SeqIx + 1
			}
			from, b.next = ix, ix
			continue
		}
		start := len(b.recs)
		for _, r := range lrs {
			from = r.SeqIx + 1
			b.next = from
			if r.ArrivalMs < cutoff {
				continue
			}
			data := r.Data
			if r.Flags&FlagEncrypted != 0 {
				if data, err = e.seal.open(r.Data); err != nil {
					return batch{}, internalErr(fmt.Errorf("shard %s record %d: %w", sm.id(), r.SeqIx, err))
				}
			}
			b.recs = append(b.recs, Record{ArrivalMs: r.ArrivalMs,
				PartitionKey: r.PartitionKey, Data: data, Encrypted: r.Flags&FlagEncrypted != 0})
			b.ixs = append(b.ixs, r.SeqIx)
			b.lastIx, b.lastArrMs = r.SeqIx, r.ArrivalMs
			b.bytes += len(data)
		}
		numberRecords(sm, b.recs[start:], b.ixs[start:])
	}
	return b, nil
}

// numberRecords sets the SequenceNumber of recs (whose SeqIx are ixs): runs of
// consecutive SeqIx that arrived in the same second are numbered together (seqs).
func numberRecords(sm *shardMeta, recs []Record, ixs []uint64) {
	for i := 0; i < len(recs); {
		j, sec := i+1, recs[i].ArrivalMs/1000
		for j < len(recs) && ixs[j] == ixs[j-1]+1 && recs[j].ArrivalMs/1000 == sec {
			j++
		}
		for k, sn := range sm.seqs(ixs[i], j-i, recs[i].ArrivalMs) {
			recs[i+k].SequenceNumber = sn
		}
		i = j
	}
}

// behind is MillisBehindLatest after a batch ending at lastIx.
func (e *Engine) behind(s *shardRT, b batch) int64 {
	if b.lastIx == 0 || b.lastIx >= s.log.Last() {
		return 0
	}
	if d := e.nowMs() - b.lastArrMs; d > 0 {
		return d
	}
	return 0
}

// GetRecords reads up to limit records (and 10 MiB) at iterator (reference §5.3).
// IteratorStream returns the stream a shard iterator reads (for authorizing GetRecords
// against it). It fails as GetRecords does on a string that is not one of this
// engine's iterators.
func (e *Engine) IteratorStream(iter string) (StreamKey, error) {
	it, err := e.decodeIterator(iter)
	if err != nil {
		return StreamKey{}, err
	}
	return it.Key, nil
}

func (e *Engine) GetRecords(ctx context.Context, iter string, limit int) (GetResult, error) {
	return e.GetRecordsUpTo(ctx, iter, limit, MaxGetRecordsBytes)
}

// GetRecordsUpTo is GetRecords returning at most maxBytes of data (at least one record
// when one is there; maxBytes above GetRecords' 10 MiB is lowered to it). The API uses it
// to fit a reply in the memory it could reserve.
func (e *Engine) GetRecordsUpTo(ctx context.Context, iter string, limit, maxBytes int) (GetResult, error) {
	if maxBytes <= 0 || maxBytes > MaxGetRecordsBytes {
		maxBytes = MaxGetRecordsBytes
	}
	it, err := e.decodeIterator(iter)
	if err != nil {
		return GetResult{}, err
	}
	rt, sn, sm, s, err := e.shardFor(it.Key, it.ShardID)
	if err != nil || sn.meta.CreatedMs != it.StreamCreatedMs {
		return GetResult{}, errShardGone(it.Key, it.ShardID)
	}
	m := sn.meta
	throttle := !m.Quotas.Unlimited && m.Mode != ModeOnDemand
	if throttle {
		now := e.now()
		s.qmu.Lock()
		if !s.quota.init {
			s.quota.setup(m.Quotas, m.MaxRecordSizeKiB, now)
		}
		ok := s.quota.admitRead(now)
		s.qmu.Unlock()
		if !ok {
			e.met.readThrottled.WithLabelValues(rt.label, sm.id()).Inc()
			return GetResult{}, newErr(CodeThroughputExceeded, "Rate exceeded for Shard - %s/%s/%s", it.Key.Account, it.Key.Name, sm.id())
		}
	}
	n, _ := parseSeqNum(it.Seq)
	from := n.SeqIx
	if it.After {
		from++
	}
	if from == 0 {
		from = 1
	}
	if limit <= 0 || limit > maxGetRecords {
		limit = maxGetRecords
	}
	b, err := e.readRange(ctx, m, sm, s, from, limit, maxBytes)
	if err != nil {
		return GetResult{}, err
	}
	if throttle && b.bytes > 0 {
		s.qmu.Lock()
		s.quota.chargeRead(b.bytes)
		s.qmu.Unlock()
	}
	rt.outBytes.Add(float64(b.bytes))
	rt.outRecs.Add(float64(len(b.recs)))
	res := GetResult{Records: b.recs}
	if res.Records == nil {
		res.Records = []Record{}
	}
	if !sm.open() && b.next > s.log.Last() {
		res.ChildShards = m.childShards(sm.Index)
		e.met.iteratorAge.WithLabelValues(rt.label, sm.id()).Set(0)
		return res, nil
	}
	next := iterator{CreatedMs: e.nowMs(), Key: it.Key, StreamCreatedMs: it.StreamCreatedMs, ShardID: it.ShardID, After: it.After, Seq: it.Seq}
	if b.lastIx > 0 {
		next.After, next.Seq = true, sm.seq(b.lastIx, b.lastArrMs)
	}
	res.NextShardIterator = e.encodeIterator(next)
	res.MillisBehindLatest = e.behind(s, b)
	e.met.iteratorAge.WithLabelValues(rt.label, sm.id()).Set(float64(res.MillisBehindLatest))
	return res, nil
}

// Reader reads one shard without call quotas (delivery pipelines, SubscribeToShard).
// A Reader is used by one goroutine at a time.
type Reader struct {
	e        *Engine
	key      StreamKey
	streamID string
	index    int
	s        *shardRT
	from     uint64
	cont     string
	ended    bool
}

// OpenReader positions a Reader in shardID; errors as GetShardIterator's.
func (e *Engine) OpenReader(ctx context.Context, key StreamKey, shardID string, pos Position) (*Reader, error) {
	if err := e.checkPosition(pos); err != nil {
		return nil, err
	}
	_, sn, sm, s, err := e.shardFor(key, shardID)
	if err != nil {
		return nil, err
	}
	p, err := e.resolve(ctx, key, sm, s, pos)
	if err != nil {
		return nil, err
	}
	r := &Reader{e: e, key: key, streamID: sn.meta.ID, index: sm.Index, s: s, from: p.from}
	switch {
	case p.given != "" && pos.Type == AfterSequenceNumber:
		r.cont = p.given
	case p.from >= seqIxEnd:
		r.cont = sm.seq(s.log.Last(), s.log.LastArrivalMs())
	default:
		r.cont = e.seqBefore(ctx, sm, s, p.from)
	}
	return r, nil
}

// seqBefore is the sequence number of the record just before from (or the shard's
// starting number).
func (e *Engine) seqBefore(ctx context.Context, sm *shardMeta, s *shardRT, from uint64) string {
	if from <= 1 {
		return sm.seq(0, sm.CreatedSec*1000)
	}
	if recs, err := s.log.Read(ctx, from-1, 1, 1); err == nil && len(recs) == 1 && recs[0].SeqIx == from-1 {
		return sm.seq(from-1, recs[0].ArrivalMs)
	}
	return sm.seq(from-1, sm.CreatedSec*1000)
}

// ShardID is the shard the Reader reads.
func (r *Reader) ShardID() string { return shardIDOf(r.index) }

func (r *Reader) current() (*streamRT, *streamMeta, *shardMeta, error) {
	rt := r.e.lookup(r.key)
	if rt == nil {
		return nil, nil, nil, errShardGone(r.key, r.ShardID())
	}
	m := rt.snap.Load().meta
	sm := m.shard(r.index)
	if m.ID != r.streamID || sm == nil || m.expired(sm, r.e.nowMs()) {
		return nil, nil, nil, errShardGone(r.key, r.ShardID())
	}
	return rt, m, sm, nil
}

// Read returns what is available now, up to maxRecords and maxBytes of data (at least
// one record if any); it never blocks. After the end of a closed shard it reports End
// and ChildShards.
func (r *Reader) Read(ctx context.Context, maxRecords, maxBytes int) (ReadBatch, error) {
	rt, m, sm, err := r.current()
	if err != nil {
		return ReadBatch{}, err
	}
	if maxRecords <= 0 {
		maxRecords = maxGetRecords
	}
	if maxBytes <= 0 {
		maxBytes = MaxGetRecordsBytes
	}
	b, err := r.e.readRange(ctx, m, sm, r.s, r.from, maxRecords, maxBytes)
	if err != nil {
		return ReadBatch{}, err
	}
	r.from = b.next
	if b.lastIx > 0 {
		r.cont = sm.seq(b.lastIx, b.lastArrMs)
	}
	rt.outBytes.Add(float64(b.bytes))
	rt.outRecs.Add(float64(len(b.recs)))
	out := ReadBatch{Records: b.recs, Continuation: r.cont, Skipped: int64(b.skipped)}
	if !sm.open() && r.from > r.s.log.Last() {
		r.ended = true
		out.End = true
		out.ChildShards = m.childShards(sm.Index)
		return out, nil
	}
	out.MillisBehindLatest = r.e.behind(r.s, b)
	r.e.met.iteratorAge.WithLabelValues(rt.label, sm.id()).Set(float64(out.MillisBehindLatest))
	return out, nil
}

// Wait blocks until records past the reader's position exist, the shard has ended or
// gone, or ctx is done (then it returns ctx.Err()). It is woken by the log, not polled.
func (r *Reader) Wait(ctx context.Context) error {
	for {
		ch := r.s.log.Notify()
		if r.ended || r.s.log.Last() >= r.from {
			return nil
		}
		select {
		case <-r.s.done:
			return nil
		default:
		}
		select {
		case <-ch:
		case <-r.s.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

var _ = time.Second
