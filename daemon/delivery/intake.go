package delivery

import (
	"sync"
	"sync/atomic"
	"time"
)

// Limits are per-delivery-stream Direct PUT quotas per second (firehose.md §12); zero
// fields are unlimited.
type Limits struct {
	Records, Requests, Bytes int64
}

func (l Limits) enabled() bool { return l.Records > 0 || l.Requests > 0 || l.Bytes > 0 }

// intake is the admission state of one DirectPut delivery stream: undelivered bytes for
// the WAL high-water mark, and the token buckets of the throttling profile. It outlives
// pipeline restarts (UpdateDestination, reload) and goes with the delivery stream.
type intake struct {
	// undelivered is the bytes accepted by Put* and not yet checkpointed by the pipeline.
	// After a daemon restart it starts at 0: bytes accepted before are not counted, and
	// committing them only brings the count down to 0.
	undelivered atomic.Int64

	mu                 sync.Mutex
	limits             Limits
	last               time.Time
	records, req, byts float64 // tokens
}

func newIntake(l Limits, now time.Time) *intake {
	return &intake{limits: l, last: now, records: float64(l.Records), req: float64(l.Requests), byts: float64(l.Bytes)}
}

// committed subtracts delivered bytes, never below zero.
func (in *intake) committed(n int64) int64 {
	for {
		cur := in.undelivered.Load()
		next := max(cur-n, 0)
		if in.undelivered.CompareAndSwap(cur, next) {
			return next
		}
	}
}

// admit takes one request token and then record and byte tokens for the records in
// order; it returns how many leading records are admitted, or -1 when the request bucket
// is empty. Buckets hold one second of quota and refill continuously.
func (in *intake) admit(sizes []int, now time.Time) int {
	l := in.limits
	if !l.enabled() {
		return len(sizes)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	dt := now.Sub(in.last).Seconds()
	if dt > 0 {
		in.last = now
		in.records = min(in.records+dt*float64(l.Records), float64(l.Records))
		in.req = min(in.req+dt*float64(l.Requests), float64(l.Requests))
		in.byts = min(in.byts+dt*float64(l.Bytes), float64(l.Bytes))
	}
	if l.Requests > 0 {
		if in.req < 1 {
			return -1
		}
		in.req--
	}
	n := 0
	for _, sz := range sizes {
		if l.Records > 0 && in.records < 1 {
			break
		}
		if l.Bytes > 0 && in.byts < float64(sz) {
			break
		}
		if l.Records > 0 {
			in.records--
		}
		if l.Bytes > 0 {
			in.byts -= float64(sz)
		}
		n++
	}
	return n
}
