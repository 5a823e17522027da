// Package sinktest is the conformance suite every Sluice destination passes, in two halves.
// Run checks the sink alone against the contract of package sinks: it delivers batches
// byte-for-byte, is safe for concurrent writes, refuses to write before Connect with
// sinks.ErrNotConnected, reports an unreachable destination as sinks.Unavailable, reports
// a broken destination as a failure and delivers the same batch once it is back, answers
// record by record when it refuses some records of a batch, and keeps what it delivered
// across a restart. RunDelivery drives the real runner (package delivery) through the sink
// behind a Faulty that injects every failure the contract names, and checks where each
// record ends up. A destination's own tests call both with a Harness that knows how to
// build its sink and read what the destination holds; Memory is an in-memory destination
// the suite is checked against.
package sinktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
)

// Harness adapts one sink to the suite.
type Harness struct {
	// New builds a fresh, unconnected sink for the same destination each time it is called.
	New func(t testing.TB) sinks.Sink
	// For, when set, builds the sink of the delivery stream named stream; RunDelivery
	// uses it, each case being a delivery stream of its own. An exactly-once sink stores
	// its positions per delivery stream and needs it.
	For func(t testing.TB, stream string) sinks.Sink
	// Classify is the sink's classifier.
	Classify func(error) sinks.Outcome
	// Delivered returns the payloads the destination holds: one []byte per delivered batch
	// (records concatenated, decompressed), in any order.
	Delivered func(t testing.TB) [][]byte
	// Break makes the destination fail; Fix restores it. Both nil skips the failure test.
	Break, Fix func(t testing.TB)
	// Unreachable, when set, builds a sink of the same kind aimed at an address where
	// nothing listens: its Connect must fail or its writes must report sinks.Unavailable.
	Unreachable func(t testing.TB) sinks.Sink
	// Refused, when set, returns a payload the destination refuses for good (a mapping
	// conflict, a constraint violation): in a batch with good records, that record must
	// come back Rejected and the others Delivered. Destinations that take any bytes (S3)
	// leave it nil.
	Refused func() []byte
}

// Run runs the suite. Each subtest starts from what the previous ones left; Delivered is
// compared by inclusion, so destinations may hold other data.
func Run(t *testing.T, h Harness) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connect := func(t *testing.T) sinks.Sink {
		t.Helper()
		s := h.New(t)
		if err := s.Connect(ctx); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Cleanup(func() { _ = s.Close(ctx) })
		return s
	}
	seq := 0
	batch := func(n int) (sinks.Batch, []byte) {
		seq++
		var b sinks.Batch
		var want []byte
		for i := range n {
			d := fmt.Appendf(nil, `{"batch":%d,"i":%d,"bin":"%s"}`, seq, i, bytes.Repeat([]byte{'a' + byte(i%26)}, i%50))
			if i%3 == 0 {
				d = append(d, '\n') // records carry their own delimiters, if any
			}
			b.Records = append(b.Records, record.Record{Data: d, ArrivalMs: time.Now().UnixMilli(), SequenceNumber: fmt.Sprint(i)})
			want = append(want, d...)
		}
		b.OldestArrivalMs = b.Records[0].ArrivalMs
		return b, want
	}
	expect := func(t *testing.T, want ...[]byte) {
		t.Helper()
		got := h.Delivered(t)
		for _, w := range want {
			if !slices.ContainsFunc(got, func(g []byte) bool { return bytes.Equal(g, w) }) {
				t.Fatalf("destination lacks a batch of %d bytes (holds %d batches)", len(w), len(got))
			}
		}
	}

	t.Run("Delivers", func(t *testing.T) {
		s := connect(t)
		var wants [][]byte
		for _, n := range []int{1, 10, 500} {
			b, w := batch(n)
			if err := s.Write(ctx, b).Err; err != nil {
				t.Fatalf("WriteBatch(%d records): %v", n, err)
			}
			if o := h.Classify(nil); o != sinks.Delivered {
				t.Fatalf("Classify(nil) = %v", o)
			}
			wants = append(wants, w)
		}
		expect(t, wants...)
	})

	t.Run("WriteBeforeConnect", func(t *testing.T) {
		s := h.New(t)
		defer s.Close(ctx)
		b, _ := batch(2)
		err := s.Write(ctx, b).Err
		if !errors.Is(err, sinks.ErrNotConnected) {
			t.Fatalf("Write before Connect = %v; want sinks.ErrNotConnected", err)
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		if h.Unreachable == nil {
			t.Skip("harness has no unreachable address")
		}
		s := h.Unreachable(t)
		defer s.Close(ctx)
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		if err := s.Connect(cctx); err != nil {
			return // Connect checks reachability: the runner retries it, records wait
		}
		b, _ := batch(2)
		err := s.Write(cctx, b).Err
		if err == nil || !sinks.Held(err) {
			t.Fatalf("Write to an unreachable destination = %v; want sinks.Unavailable", err)
		}
	})

	t.Run("RefusesRecordByRecord", func(t *testing.T) {
		if h.Refused == nil {
			t.Skip("the destination refuses no record on its own")
		}
		s := connect(t)
		b, _ := batch(3)
		b.Records[1].Data = h.Refused()
		res := s.Write(ctx, b)
		if len(res.Records) != 3 {
			t.Fatalf("Write answered %+v; want one outcome per record", res)
		}
		for i, want := range []sinks.Outcome{sinks.Delivered, sinks.Rejected, sinks.Delivered} {
			if got := res.Records[i].Outcome; got != want {
				t.Errorf("record %d: outcome %v (%v), want %v", i, got, res.Records[i].Err, want)
			}
		}
	})

	t.Run("ConcurrentWrites", func(t *testing.T) {
		s := connect(t)
		var wg sync.WaitGroup
		wants := make([][]byte, 8)
		errs := make([]error, 8)
		bs := make([]sinks.Batch, 8)
		for i := range bs {
			bs[i], wants[i] = batch(20 + i)
		}
		for i := range bs {
			wg.Go(func() { errs[i] = s.Write(ctx, bs[i]).Err })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		expect(t, wants...)
	})

	t.Run("FailureThenRecovery", func(t *testing.T) {
		if h.Break == nil || h.Fix == nil {
			t.Skip("harness cannot break the destination")
		}
		s := connect(t)
		b, w := batch(5)
		h.Break(t)
		err := s.Write(ctx, b).Err
		if err == nil {
			h.Fix(t)
			t.Fatal("WriteBatch succeeded against a broken destination")
		}
		if o := h.Classify(err); o == sinks.Delivered {
			h.Fix(t)
			t.Fatalf("error %v classified as delivered", err)
		}
		h.Fix(t)
		// the runner retries the very same batch: it must land (duplicates allowed)
		r := retry.Retrier{Classify: h.Classify, Backoff: retry.Backoff{Base: 10 * time.Millisecond, Max: 200 * time.Millisecond}}
		if res := r.Do(ctx, 30*time.Second, func(ctx context.Context) error { return s.Write(ctx, b).Err }); res.Outcome != sinks.Delivered {
			t.Fatalf("after Fix: %+v", res)
		}
		expect(t, w)
	})

	t.Run("Restart", func(t *testing.T) {
		s := connect(t)
		b1, w1 := batch(7)
		if err := s.Write(ctx, b1).Err; err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s2 := connect(t)
		b2, w2 := batch(3)
		if err := s2.Write(ctx, b2).Err; err != nil {
			t.Fatal(err)
		}
		expect(t, w1, w2)
	})
}
