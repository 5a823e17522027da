package sinktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/delivery"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// RunDelivery is the half of the suite that drives the real runner (package delivery):
// records put into a real stream (streamcore, two shards, in memory) are delivered
// through the harness's sink, behind a Faulty that injects each failure the sink contract
// names — records failing for a while or for good, a lost connection, a destination down
// as a whole, a request to back off, asynchronous confirmation, a restart before the
// checkpoints were stored. Each case then checks what a user would: every record is in
// the destination or, with the right error code, in the error output, never both and
// never neither; retries carry only the records that failed; checkpoints reach the end of
// every shard. For a sinks.ExactlyOnce sink it also checks that no record is held twice.
//
// Records are newline-terminated JSON lines tagged with the case, so Harness.Delivered
// may return whole objects (lines concatenated) and may hold other data.
func RunDelivery(t *testing.T, h Harness) {
	probe := h.New(t)
	_, exactlyOnce := probe.(sinks.ExactlyOnce)
	_ = probe.Close(context.Background())

	t.Run("PartialFailureRetriesOnlyFailedRecords", func(t *testing.T) {
		flaky := func(i int) bool { return i%7 == 3 }
		rejected := func(i int) bool { return i%11 == 5 }
		c := newCase(t, h, 200, Plan{
			Flaky:  func(d []byte) int { return pick(d, flaky, 2) },
			Reject: func(d []byte) bool { return pick(d, rejected, 1) == 1 },
		}, nil)
		c.settle()
		failed, got := c.errorOutput(record.DeliveryFailed), c.delivered()
		for i, p := range c.payloads {
			n := got[p]
			switch {
			case rejected(i):
				if n != 0 {
					t.Errorf("record %d, rejected, is in the destination %d times", i, n)
				}
				f, ok := failed[p]
				if !ok {
					t.Errorf("record %d, rejected, is not in the error output", i)
					continue
				}
				if f.ErrorCode != "Sinktest.Rejected" || !hasField(f, "sinktestRecord") {
					t.Errorf("record %d: failure record %+v lacks the sink's code or fields", i, f)
				}
			case n == 0:
				t.Errorf("record %d (flaky %v) was never delivered", i, flaky(i))
			case exactlyOnce && n > 1:
				t.Errorf("record %d delivered %d times by an exactly-once sink", i, n)
			}
			if _, ok := failed[p]; ok && !rejected(i) {
				t.Errorf("record %d is in the error output; its failures were transient", i)
			}
		}
		for _, w := range c.faults.Writes() {
			if w.Attempt <= 1 || exactlyOnce {
				continue // an exactly-once batch is retried whole
			}
			for _, d := range w.Records {
				if i := indexOf(d); !flaky(i) {
					t.Errorf("attempt %d carried record %d, which had not failed", w.Attempt, i)
				}
			}
		}
	})

	t.Run("GivesUpAfterRetryDuration", func(t *testing.T) {
		hopeless := func(i int) bool { return i%5 == 0 }
		c := newCase(t, h, 20, Plan{Flaky: func(d []byte) int { return pick(d, hopeless, 1<<30) }},
			func(cfg *delivery.Config) { cfg.RetryDuration = 300 * time.Millisecond })
		c.settle()
		failed, got := c.errorOutput(record.DeliveryFailed), c.delivered()
		for i, p := range c.payloads {
			f, inErrors := failed[p]
			switch n := got[p]; {
			case hopeless(i) && !inErrors:
				t.Errorf("record %d failed for the whole retry duration and is not in the error output", i)
			case hopeless(i) && (f.ErrorCode != "Sinktest.Flaky" || f.AttemptsMade < 2):
				t.Errorf("record %d: failure record %+v: want errorCode Sinktest.Flaky after several attempts", i, f)
			case hopeless(i) && n > 0:
				t.Errorf("record %d is both delivered and in the error output", i)
			case !hopeless(i) && n == 0 && !(exactlyOnce && inErrors):
				// (an exactly-once batch fails whole: its other records share the fate)
				t.Errorf("record %d was never delivered", i)
			case !hopeless(i) && n > 0 && inErrors:
				t.Errorf("record %d is both delivered and in the error output", i)
			}
		}
	})

	t.Run("ReconnectsAfterNotConnected", func(t *testing.T) {
		// one write at a time: each ErrNotConnected answer is then followed by a Connect
		// (concurrent failures may share one reconnect)
		c := newCase(t, h, 50, Plan{NotConnected: 3}, func(cfg *delivery.Config) { cfg.FlushConcurrency = 1 })
		c.settle()
		c.allDelivered(exactlyOnce)
		if n := c.faults.Connects(); n < 4 {
			t.Errorf("Connect called %d times; want one more after each of the 3 ErrNotConnected answers", n)
		}
	})

	t.Run("WaitsOutAnUnavailableDestination", func(t *testing.T) {
		until := time.Now().Add(time.Second)
		c := newCase(t, h, 30, Plan{Down: func() bool { return time.Now().Before(until) }},
			func(cfg *delivery.Config) { cfg.RetryDuration = 200 * time.Millisecond })
		c.settle()
		c.allDelivered(exactlyOnce) // the retry duration did not run while the destination was down
		down := 0
		for _, w := range c.faults.Writes() {
			if w.Start.Before(until) {
				down++
			}
		}
		if down < 2 {
			t.Errorf("%d writes while the destination was down; want it retried", down)
		}
	})

	t.Run("HonoursRetryAfter", func(t *testing.T) {
		const pause = 250 * time.Millisecond
		c := newCase(t, h, 10, Plan{RetryAfter: pause}, func(cfg *delivery.Config) {
			cfg.Hints = buffer.Hints{Size: 1 << 20, Interval: 20 * time.Millisecond}
		})
		c.settle()
		c.allDelivered(exactlyOnce)
		ws := c.faults.Writes()
		if len(ws) < 2 {
			t.Fatalf("%d writes; want a first one answered RetryAfter and a retry", len(ws))
		}
		if gap := ws[1].Start.Sub(ws[0].End); gap < pause {
			t.Errorf("retried %v after a RetryAfter of %v", gap, pause)
		}
	})

	t.Run("AsynchronousConfirmation", func(t *testing.T) {
		c := newCase(t, h, 60, Plan{Async: 150 * time.Millisecond}, func(cfg *delivery.Config) {
			cfg.FlushConcurrency = 1
		})
		c.settle()
		c.allDelivered(exactlyOnce)
		ws := c.faults.Writes()
		overlap := false
		for i := 1; i < len(ws); i++ {
			if ws[i].Start.Before(ws[i-1].End) {
				overlap = true
			}
		}
		switch {
		case len(ws) < 3:
			t.Fatalf("%d writes; want several batches", len(ws))
		case exactlyOnce && overlap:
			t.Error("an exactly-once sink got a batch while the previous one awaited confirmation")
		case !exactlyOnce && !overlap:
			t.Error("with one flush slot, no batch was written while another awaited confirmation: a pending write held the slot")
		}
	})

	t.Run("RestartReplaysWhatWasNotCheckpointed", func(t *testing.T) {
		c := newCase(t, h, 80, Plan{}, func(cfg *delivery.Config) { cfg.Source = noCommit{cfg.Source} })
		c.wait("every record in the destination before the restart", func() bool { return len(c.delivered()) == len(c.payloads) })
		c.stop()
		c.start(nil) // a new runner and a new sink over the same stream and checkpoint group
		c.settle()
		dups, got := 0, c.delivered()
		for i, p := range c.payloads {
			switch n := got[p]; {
			case n == 0:
				t.Errorf("record %d lost across the restart", i)
			case n > 1 && exactlyOnce:
				t.Errorf("record %d held %d times by an exactly-once sink after a restart", i, n)
			case n > 1:
				dups++
			}
		}
		t.Logf("%d of %d records delivered again after the restart (at least once)", dups, len(c.payloads))
	})
}

// pick returns n when the record's index satisfies which, else 0.
func pick(d []byte, which func(int) bool, n int) int {
	if i := indexOf(d); i >= 0 && which(i) {
		return n
	}
	return 0
}

// indexOf reads the index of a record made by newCase (-1 for other data).
func indexOf(d []byte) int {
	var i int
	k := bytes.LastIndex(d, []byte(`"i":`))
	if k < 0 {
		return -1
	}
	if _, err := fmt.Sscanf(string(d[k+4:]), "%d", &i); err != nil {
		return -1
	}
	return i
}

func hasField(f record.FailureRecord, key string) bool {
	for _, x := range f.Extra {
		if x.Key == key {
			return true
		}
	}
	return false
}

// noCommit is a source whose checkpoint store is down: nothing is ever checkpointed.
type noCommit struct{ delivery.Source }

func (noCommit) Commit(context.Context, []streamcore.Checkpoint) error {
	return errors.New("sinktest: the checkpoint store is down")
}

var caseSeq atomic.Int64 // tells the cases' tags apart

// deliveryCase is one run of the runner over a fresh stream.
type deliveryCase struct {
	t        *testing.T
	h        Harness
	tag      string
	eng      *streamcore.Engine
	key      streamcore.StreamKey
	payloads []string
	last     map[string]string // per shard, the last sequence number put
	faults   *Faulty
	errs     *failures
	cancel   context.CancelFunc
	done     chan error
}

func newCase(t *testing.T, h Harness, n int, plan Plan, tune func(*delivery.Config)) *deliveryCase {
	t.Helper()
	tag := fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "."), time.Now().UnixNano(), caseSeq.Add(1))
	ctx := context.Background()
	eng, err := streamcore.Open(ctx, streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "conformance"}
	if err := eng.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	c := &deliveryCase{t: t, h: h, tag: tag, eng: eng, key: key, last: map[string]string{}, faults: NewFaulty(plan), errs: &failures{}}
	c.wait("the stream to be active", func() bool {
		d, err := eng.DescribeStream(ctx, key)
		return err == nil && d.Status == streamcore.StatusActive
	})
	var entries []streamcore.PutEntry
	for i := range n {
		p := fmt.Sprintf(`{"case":%q,"i":%d}`+"\n", tag, i)
		c.payloads = append(c.payloads, p)
		entries = append(entries, streamcore.PutEntry{PartitionKey: fmt.Sprint(i), Data: []byte(p)})
	}
	res, err := eng.PutRecords(ctx, key, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		c.last[r.ShardID] = r.SequenceNumber // results are in order, so the last one wins
	}
	t.Cleanup(func() {
		ws := c.faults.Writes()
		var busy time.Duration
		for _, w := range ws {
			busy += w.End.Sub(w.Start)
		}
		if len(ws) > 0 {
			t.Logf("%d writes, %v each on average", len(ws), busy/time.Duration(len(ws)))
		}
	})
	c.start(tune)
	return c
}

// start runs a new runner (and a new sink from the harness) over the case's stream.
func (c *deliveryCase) start(tune func(*delivery.Config)) {
	cfg := delivery.Config{
		Name: c.tag, Destination: "sinktest",
		Source:           sources.NewStreamSource(c.eng, sources.Options{Stream: c.key, Group: "sinktest"}),
		Sink:             c.faults.Wrap(c.newSink()),
		Errors:           c.errs,
		RetryDuration:    20 * time.Second,
		Hints:            buffer.Hints{Size: 1024, Interval: 20 * time.Millisecond},
		Backoff:          retry.Backoff{Base: 5 * time.Millisecond, Max: 40 * time.Millisecond, Jitter: -1},
		FlushConcurrency: 2,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tune != nil {
		tune(&cfg)
	}
	r := delivery.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan error, 1)
	sink := cfg.Sink
	go func() { c.done <- r.Run(ctx) }()
	c.t.Cleanup(func() {
		c.stop()
		_ = sink.Close(context.Background())
	})
}

// newSink builds the case's sink.
func (c *deliveryCase) newSink() sinks.Sink {
	if c.h.For != nil {
		return c.h.For(c.t, c.tag)
	}
	return c.h.New(c.t)
}

// stop cancels the running runner (a crash, as far as the destination can tell) and waits
// for it to return.
func (c *deliveryCase) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.t.Error("the runner did not return within 30 s of its context ending")
	}
	c.cancel = nil
}

func (c *deliveryCase) wait(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until the checkpoints reach the last record of every shard: every record
// is then held by the destination or the error output.
func (c *deliveryCase) settle() {
	c.t.Helper()
	c.wait("the checkpoints to reach the end of every shard", func() bool {
		cps, err := c.eng.Checkpoints(context.Background(), c.key, "sinktest")
		if err != nil {
			return false
		}
		for shard, seq := range c.last {
			if cps[shard] != seq {
				return false
			}
		}
		return true
	})
}

// delivered counts the case's records the destination holds, by payload.
func (c *deliveryCase) delivered() map[string]int {
	out := map[string]int{}
	for _, b := range c.h.Delivered(c.t) {
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			if bytes.Contains(line, []byte(c.tag)) {
				out[string(line)]++
			}
		}
	}
	return out
}

// allDelivered checks that every record is in the destination (once, if exactlyOnce) and
// none in the error output.
func (c *deliveryCase) allDelivered(exactlyOnce bool) {
	c.t.Helper()
	got := c.delivered()
	for i, p := range c.payloads {
		switch n := got[p]; {
		case n == 0:
			c.t.Errorf("record %d was never delivered", i)
		case n > 1 && exactlyOnce:
			c.t.Errorf("record %d delivered %d times by an exactly-once sink", i, n)
		}
	}
	if n := c.errs.count(); n > 0 {
		c.t.Errorf("%d records in the error output; every failure was transient", n)
	}
}

// errorOutput returns the case's failure records of typ, by payload.
func (c *deliveryCase) errorOutput(typ string) map[string]record.FailureRecord {
	out := map[string]record.FailureRecord{}
	for _, f := range c.errs.of(typ) {
		out[string(f.RawData)] = f
	}
	return out
}

// failures is an in-memory error output.
type failures struct {
	mu   sync.Mutex
	recs map[string][]record.FailureRecord
}

func (e *failures) WriteFailures(_ context.Context, typ string, recs []record.FailureRecord) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.recs == nil {
		e.recs = map[string][]record.FailureRecord{}
	}
	e.recs[typ] = append(e.recs[typ], recs...)
	return nil
}

func (e *failures) of(typ string) []record.FailureRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]record.FailureRecord(nil), e.recs[typ]...)
}

func (e *failures) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, rs := range e.recs {
		n += len(rs)
	}
	return n
}
