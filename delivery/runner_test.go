package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// memSink keeps what it is given; memErrors keeps failure records by type.
type memSink struct {
	mu   sync.Mutex
	recs []string
}

func (m *memSink) Connect(context.Context) error { return nil }
func (m *memSink) Close(context.Context) error   { return nil }
func (m *memSink) Write(_ context.Context, b sinks.Batch) sinks.Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range b.Records {
		m.recs = append(m.recs, string(r.Data))
	}
	return sinks.Done()
}
func (m *memSink) count() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.recs) }

type memErrors struct {
	mu   sync.Mutex
	recs map[string][]record.FailureRecord
}

func (e *memErrors) WriteFailures(_ context.Context, typ string, recs []record.FailureRecord) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.recs == nil {
		e.recs = map[string][]record.FailureRecord{}
	}
	e.recs[typ] = append(e.recs[typ], recs...)
	return nil
}
func (e *memErrors) of(typ string) []record.FailureRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]record.FailureRecord(nil), e.recs[typ]...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamWith creates a one-shard stream holding data and returns a source over it.
func streamWith(t *testing.T, data ...string) Source {
	t.Helper()
	eng, key := engineWith(t, data...)
	return sources.NewStreamSource(eng, sources.Options{Stream: key, Group: "test"})
}

// engineWith creates a one-shard stream holding data.
func engineWith(t *testing.T, data ...string) (*streamcore.Engine, streamcore.StreamKey) {
	t.Helper()
	ctx := context.Background()
	eng, err := streamcore.Open(ctx, streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	key := streamcore.StreamKey{Account: "000000000000", Region: "r", Name: "s"}
	if err := eng.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stream active", func() bool {
		d, err := eng.DescribeStream(ctx, key)
		return err == nil && d.Status == streamcore.StatusActive
	})
	var entries []streamcore.PutEntry
	for _, d := range data {
		entries = append(entries, streamcore.PutEntry{PartitionKey: "k", Data: []byte(d)})
	}
	if _, err := eng.PutRecords(ctx, key, entries); err != nil {
		t.Fatal(err)
	}
	return eng, key
}

func TestPartitionLimitSendsNewPartitionsToErrorOutput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var data []string
	for i := 0; i < 9; i++ {
		data = append(data, fmt.Sprintf("c%d", i%3))
	}
	sink, errs := &memSink{}, &memErrors{}
	r := New(Config{
		Name: "p", Destination: "mem", Source: streamWith(t, data...), Sink: sink, Errors: errs, Partitioned: true, MaxPartitions: 2,
		Hints: buffer.Hints{Size: 1 << 20, Interval: time.Hour},
		Process: func(ctx context.Context, b sources.Batch) ([]record.Record, []Failure) {
			out, _ := passThrough(ctx, b)
			for i := range out {
				out[i].PartitionKeys = map[string]string{"c": string(out[i].Data)}
			}
			return out, nil
		},
	})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "3 records of the third partition in partitioning-failed", func() bool { return len(errs.of(record.PartitioningFailed)) == 3 })
	f := errs.of(record.PartitioningFailed)[0]
	if f.ErrorCode != record.CodePartitionCountExceeded || string(f.RawData) != "c2" {
		t.Fatalf("failure = %+v", f)
	}
	r.Drain()
	waitFor(t, "6 records of the 2 open partitions delivered on drain", func() bool { return sink.count() == 6 })
	if err := <-done; err != nil {
		t.Fatalf("Run after Drain: %v", err)
	}
}

// A processor that blocks (a Lambda function that hangs) returns when Run's context ends,
// and Run returns with it: what it was processing is neither delivered nor written to the
// error output (it is read again after a restart).
func TestRunEndsWhileAProcessorHangs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sink, errs := &memSink{}, &memErrors{}
	entered := make(chan struct{}, 1)
	r := New(Config{
		Name: "p", Destination: "mem", Source: streamWith(t, "a", "b"), Sink: sink, Errors: errs,
		Hints: buffer.Hints{Size: 1 << 20, Interval: 0},
		Process: func(ctx context.Context, b sources.Batch) ([]record.Record, []Failure) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-ctx.Done() // the function never answers
			out, _ := passThrough(ctx, b)
			return nil, []Failure{{Type: record.ProcessingFailed, Record: record.NewFailureRecord(out[0], 1, "Lambda.Timeout", "cancelled", 0)}}
		},
	})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-entered
	r.Drain() // a drain alone cannot interrupt the processor …
	cancel()  // … ending the context does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended while a processor hung")
	}
	if sink.count() != 0 || len(errs.of(record.ProcessingFailed)) != 0 {
		t.Fatalf("a cancelled processor's output was used: delivered %d, processing-failed %d", sink.count(), len(errs.of(record.ProcessingFailed)))
	}
}

// flakySink fails its first n writes, then keeps what it is given.
type flakySink struct {
	memSink
	failures atomic.Int32
}

func (f *flakySink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	if f.failures.Add(-1) >= 0 {
		return sinks.Failed(sinks.Retryable("S3.InternalError", errors.New("backup bucket unavailable")))
	}
	return f.memSink.Write(ctx, b)
}

// With a backup (AllData), a delivered batch counts as delivered only once the backup
// holds it too: while the backup fails, checkpoints stay; then both hold every record.
func TestBackupHoldsEveryRecordBeforeCheckpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng, key := engineWith(t, "a", "b", "c")
	src := sources.NewStreamSource(eng, sources.Options{Stream: key, Group: "g"})
	sink, backup := &memSink{}, &flakySink{}
	backup.failures.Store(3)
	r := New(Config{Name: "p", Destination: "mem", Source: src, Sink: sink, Errors: &memErrors{}, Backup: backup,
		Hints: buffer.Hints{Size: 1 << 20, Interval: 0}, Backoff: retry.Backoff{Base: 20 * time.Millisecond, Max: 20 * time.Millisecond, Jitter: -1}})
	go r.Run(ctx)
	waitFor(t, "the destination to get the records", func() bool { return sink.count() == 3 })
	if cps, _ := eng.Checkpoints(ctx, key, "g"); len(cps) != 0 && backup.count() == 0 {
		t.Fatalf("checkpoint %v moved while the backup held nothing", cps)
	}
	waitFor(t, "the backup to get them after its failures", func() bool { return backup.count() == 3 })
	waitFor(t, "the checkpoint", func() bool { cps, _ := eng.Checkpoints(ctx, key, "g"); return len(cps) == 1 })
}

// slowFailing answers every write with a transient error after taking d.
type slowFailing struct {
	memSink
	d     time.Duration
	calls atomic.Int32
}

func (s *slowFailing) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	s.calls.Add(1)
	time.Sleep(s.d)
	return sinks.Failed(sinks.Retryable("HttpEndpoint.DestinationException", errors.New("503")))
}

// FromFirstAttempt counts the attempts' own time against the retry duration;
// FromFirstFailure counts only the waits, so slow attempts do not use it up.
func TestRetryClocks(t *testing.T) {
	attempts := func(clock RetryClock) int32 {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink, errs := &slowFailing{d: 40 * time.Millisecond}, &memErrors{}
		r := New(Config{Name: "p", Destination: "mem", Source: streamWith(t, "a"), Sink: sink, Errors: errs,
			RetryDuration: 30 * time.Millisecond, RetryClock: clock, Hints: buffer.Hints{Size: 1 << 20, Interval: 0},
			Backoff: retry.Backoff{Base: 4 * time.Millisecond, Max: 4 * time.Millisecond, Jitter: -1}})
		go r.Run(ctx)
		waitFor(t, "the record in the error output", func() bool { return len(errs.of(record.DeliveryFailed)) == 1 })
		if f := errs.of(record.DeliveryFailed)[0]; int32(f.AttemptsMade) != sink.calls.Load() {
			t.Errorf("attemptsMade %d, sink saw %d attempts", f.AttemptsMade, sink.calls.Load())
		}
		return sink.calls.Load()
	}
	if n := attempts(FromFirstAttempt); n != 1 {
		t.Errorf("FromFirstAttempt: %d attempts, want 1 (the first one took longer than the retry duration)", n)
	}
	if n := attempts(FromFirstFailure); n < 8 {
		t.Errorf("FromFirstFailure: %d attempts, want at least 8 (30 ms of 4 ms waits)", n)
	}
}

// downSink answers every write: the destination is down.
type downSink struct {
	memSink
	calls atomic.Int32
}

func (s *downSink) Write(context.Context, sinks.Batch) sinks.Result {
	s.calls.Add(1)
	return sinks.Failed(sinks.Unavailable("S3.ConnectionFailed", errors.New("connection refused")))
}

// A drain does not wait for a destination that is down: the batches get their last
// attempt, Run returns at once, and the records stay in the stream (no checkpoint).
// (Before, Run retried until its context ended: SIGTERM took the whole shutdown timeout.)
func TestDrainDoesNotWaitForADownDestination(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng, key := engineWith(t, "a", "b", "c")
	sink, met := &downSink{}, NewMetrics()
	r := New(Config{Name: "p", Destination: "mem", Metrics: met, Source: sources.NewStreamSource(eng, sources.Options{Stream: key, Group: "g"}),
		Sink: sink, Errors: &memErrors{}, RetryDuration: time.Hour, Hints: buffer.Hints{Size: 1 << 20, Interval: time.Hour},
		Backoff: retry.Backoff{Base: 50 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: -1}})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "the records to be read", func() bool { return testutil.ToFloat64(met.KinesisReadRecords.WithLabelValues("p")) == 3 })
	r.Drain()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run still waiting for a down destination 5 s after Drain")
	}
	if sink.calls.Load() == 0 {
		t.Error("the buffered batch got no attempt on drain")
	}
	if cps, _ := eng.Checkpoints(context.Background(), key, "g"); len(cps) != 0 {
		t.Errorf("checkpoint %v moved past records the destination never took", cps)
	}
}

// holdingSink holds the write of one record until release is closed (or the write's
// context ends, as when the process dies).
type holdingSink struct {
	memSink
	hold    string
	release chan struct{}
}

func (h *holdingSink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	for _, r := range b.Records {
		if string(r.Data) == h.hold {
			select {
			case <-h.release:
			case <-ctx.Done():
				return sinks.Failed(ctx.Err())
			}
		}
	}
	return h.memSink.Write(ctx, b)
}

// While the oldest batch is stuck, at most FlushConcurrency batches are written past it,
// so a crash then repeats at most that much: the window of flush slots does not slide past
// a batch that is not settled. (Before, the other slots kept delivering the whole backlog,
// none of it covered by a checkpoint, and all of it was delivered again after a restart.)
func TestACrashRepeatsAtMostTheWindow(t *testing.T) {
	const n, flights = 20, 2
	var data []string
	for i := 0; i < n; i++ {
		data = append(data, fmt.Sprintf("r%d", i))
	}
	eng, key := engineWith(t, data...)
	run := func(ctx context.Context, sink sinks.Sink) *Runner {
		r := New(Config{Name: "p", Destination: "mem", Source: sources.NewStreamSource(eng, sources.Options{Stream: key, Group: "g"}),
			Sink: sink, Errors: &memErrors{}, FlushConcurrency: flights, Hints: buffer.Hints{Size: 1, Interval: time.Hour}})
		go r.Run(ctx)
		return r
	}
	ctx, crash := context.WithCancel(context.Background())
	first := &holdingSink{hold: "r0", release: make(chan struct{})}
	run(ctx, first)
	waitFor(t, "a batch after the stuck one to be delivered", func() bool { return first.count() >= 1 })
	time.Sleep(200 * time.Millisecond) // room for more batches to slip past the stuck one
	crash()
	if got := first.count(); got > flights-1 {
		t.Errorf("%d batches delivered while the oldest was stuck; want at most %d (flush concurrency %d, one slot held by the stuck batch)", got, flights-1, flights)
	}

	ctx2, stop := context.WithCancel(context.Background())
	defer stop()
	second := &memSink{}
	run(ctx2, second)
	waitFor(t, "every record after the restart", func() bool { return second.count() >= n })
	seen := map[string]int{}
	for _, s := range [][]string{first.recs, second.recs} {
		for _, r := range s {
			seen[r]++
		}
	}
	dups := 0
	for _, d := range data {
		if seen[d] == 0 {
			t.Errorf("%s never delivered", d)
		}
		dups += max(seen[d]-1, 0)
	}
	if dups > flights {
		t.Errorf("%d records delivered twice after the crash; want at most the window (%d)", dups, flights)
	}
}

// comebackSink fails every write until up is set; its probe succeeds once up is set.
type comebackSink struct {
	memSink
	up atomic.Bool
}

func (c *comebackSink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	if !c.up.Load() {
		return sinks.Failed(sinks.Retryable("Redshift.ConnectionFailed", errors.New("connection refused")))
	}
	return c.memSink.Write(ctx, b)
}

func (c *comebackSink) Probe(context.Context) error {
	if !c.up.Load() {
		return errors.New("still down")
	}
	return nil
}

// A destination that comes back is written to at the next probe, not at the end of the
// backoff (here an hour): the runner probes a sinks.Prober while a batch waits.
func TestProbeEndsTheBackoffWhenTheDestinationIsBack(t *testing.T) {
	old := probeEvery
	probeEvery = 20 * time.Millisecond
	defer func() { probeEvery = old }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &comebackSink{}
	met := NewMetrics()
	r := New(Config{Name: "p", Destination: "mem", Metrics: met, Source: streamWith(t, "a", "b"), Sink: sink, Errors: &memErrors{},
		RetryDuration: 2 * time.Hour, Hints: buffer.Hints{Size: 1 << 20, Interval: 0},
		Backoff: retry.Backoff{Base: time.Hour, Max: time.Hour, Jitter: -1}})
	go r.Run(ctx)
	waitFor(t, "a failed attempt", func() bool {
		return testutil.ToFloat64(met.DeliveryAttempts.WithLabelValues("p", "mem", "retry")) >= 1
	})
	sink.up.Store(true)
	waitFor(t, "the records delivered after the destination came back", func() bool { return sink.count() == 2 })
}
