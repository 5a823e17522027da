package sinktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// Plan says which faults a Faulty injects in front of a real sink. Records are told apart
// by their payload. The zero Plan injects nothing.
type Plan struct {
	// Flaky, when set, says for a record how many of its attempts fail (Errored) before it
	// is passed on.
	Flaky func(data []byte) int
	// Reject, when set, picks records the destination refuses for good (Rejected).
	Reject func(data []byte) bool
	// NotConnected is how many writes answer sinks.ErrNotConnected (the first ones).
	NotConnected int
	// Down, when set, makes every write answer sinks.Unavailable while it returns true.
	Down func() bool
	// RetryAfter, when positive, makes the first write of each record answer
	// sinks.RetryAfter with it.
	RetryAfter time.Duration
	// Async, when positive, makes writes answer Pending and send their final Result that
	// long after the inner sink answered.
	Async time.Duration
}

// Write is what a Faulty saw of one Write.
type Write struct {
	Start, End time.Time // End: when the final Result was known (after Async)
	Attempt    int
	Records    [][]byte
	Passed     int // records handed to the inner sink
}

// Faulty injects the faults of its Plan in front of the sinks it wraps and logs what the
// runner asked of them. Faults that concern a record the inner sink never sees; the other
// records of the batch go to the inner sink as one batch, and its outcomes come back in
// place. With an inner sinks.ExactlyOnce sink, a batch with a record due to fail
// transiently fails whole (the contract forbids committing part of a batch it reports
// Errored), and the wrapper stays ExactlyOnce.
type Faulty struct {
	plan Plan

	mu       sync.Mutex
	failures map[string]int  // Flaky attempts that failed, by payload
	afters   map[string]bool // records that got their RetryAfter answer
	writes   []Write
	connects int
	refused  int // writes answered NotConnected
}

// NewFaulty returns a Faulty with plan.
func NewFaulty(plan Plan) *Faulty {
	return &Faulty{plan: plan, failures: map[string]int{}, afters: map[string]bool{}}
}

// Wrap returns inner behind the faults (ExactlyOnce when inner is).
func (f *Faulty) Wrap(inner sinks.Sink) sinks.Sink {
	s := &faultySink{f: f, inner: inner}
	if eo, ok := inner.(sinks.ExactlyOnce); ok {
		return &faultyEOSink{faultySink: s, eo: eo}
	}
	return s
}

// Writes returns the writes seen so far, in the order they started.
func (f *Faulty) Writes() []Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

// Connects returns how many times Connect was called.
func (f *Faulty) Connects() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects
}

type faultySink struct {
	f     *Faulty
	inner sinks.Sink
}

type faultyEOSink struct {
	*faultySink
	eo sinks.ExactlyOnce
}

func (s *faultyEOSink) Positions(ctx context.Context) ([]sinks.Position, error) {
	return s.eo.Positions(ctx)
}

func (s *faultySink) Connect(ctx context.Context) error {
	s.f.mu.Lock()
	s.f.connects++
	s.f.mu.Unlock()
	return s.inner.Connect(ctx)
}

func (s *faultySink) Close(ctx context.Context) error { return s.inner.Close(ctx) }

var errInjected = errors.New("sinktest: injected fault")

func (s *faultySink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	f, p := s.f, s.f.plan
	_, exactlyOnce := s.inner.(sinks.ExactlyOnce)
	w := Write{Start: time.Now(), Attempt: b.Attempt}
	for _, r := range b.Records {
		w.Records = append(w.Records, slices.Clone(r.Data))
	}
	f.mu.Lock()
	idx := len(f.writes)
	f.writes = append(f.writes, w)
	whole := error(nil)
	switch {
	case f.refused < p.NotConnected:
		f.refused++
		whole = sinks.NotConnected("Sinktest.NotConnected", errInjected)
	case p.Down != nil && p.Down():
		whole = sinks.Unavailable("Sinktest.Down", errInjected)
	}
	out := make([]sinks.RecordResult, len(b.Records))
	var fwd []int
	if whole == nil {
		for i, r := range b.Records {
			key := string(r.Data)
			switch {
			case p.RetryAfter > 0 && !f.afters[key]:
				f.afters[key] = true
				out[i] = sinks.RecordResult{Outcome: sinks.Errored, Err: sinks.RetryAfter(p.RetryAfter, "Sinktest.Busy", errInjected)}
			case p.Reject != nil && p.Reject(r.Data):
				out[i] = sinks.RecordResult{Outcome: sinks.Rejected, Err: sinks.Permanent("Sinktest.Rejected", errInjected),
					Fields: []record.Field{{Key: "sinktestRecord", Value: key}}}
			case p.Flaky != nil && f.failures[key] < p.Flaky(r.Data):
				f.failures[key]++
				out[i] = sinks.RecordResult{Outcome: sinks.Errored, Err: sinks.Retryable("Sinktest.Flaky", errInjected)}
			default:
				fwd = append(fwd, i)
			}
		}
		if exactlyOnce && len(fwd) > 0 && slices.ContainsFunc(out, func(r sinks.RecordResult) bool { return r.Outcome == sinks.Errored && r.Err != nil }) {
			whole = sinks.Retryable("Sinktest.Flaky", fmt.Errorf("%w (the whole exactly-once batch)", errInjected))
		}
	}
	f.mu.Unlock()

	var res sinks.Result
	if whole != nil {
		res = sinks.Failed(whole)
	} else {
		if len(fwd) > 0 {
			sub := b
			sub.Records = make([]record.Record, len(fwd))
			for j, i := range fwd {
				sub.Records[j] = b.Records[i]
			}
			ir := s.inner.Write(ctx, sub)
			if ir.Pending != nil {
				select {
				case ir = <-ir.Pending:
				case <-ctx.Done():
					ir = sinks.Failed(sinks.Retryable("Sinktest.Canceled", ctx.Err()))
				}
			}
			for j, i := range fwd {
				switch {
				case ir.Records == nil && ir.Err == nil:
					out[i] = sinks.RecordResult{Outcome: sinks.Delivered}
				case ir.Records == nil:
					out[i] = sinks.RecordResult{Outcome: sinks.Classify(ir.Err), Err: ir.Err}
				case j < len(ir.Records):
					out[i] = ir.Records[j]
				default:
					out[i] = sinks.RecordResult{Outcome: sinks.Errored, Err: errors.New("sinktest: inner sink answered for fewer records")}
				}
			}
		}
		res = sinks.Result{Records: out}
	}
	finish := func() {
		f.mu.Lock()
		f.writes[idx].End, f.writes[idx].Passed = time.Now(), len(fwd)
		f.mu.Unlock()
	}
	if p.Async <= 0 {
		finish()
		return res
	}
	ch := make(chan sinks.Result, 1)
	go func() {
		t := time.NewTimer(p.Async)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		finish()
		ch <- res
	}()
	return sinks.Result{Pending: ch}
}
