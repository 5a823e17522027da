// Package directput is the intake of Firehose DirectPut delivery streams. The records of
// PutRecord and PutRecordBatch go into an internal streamcore stream, one per delivery
// stream, which the delivery pipeline then reads like any other source (package sources).
//
// An Intake is that intake for one delivery stream:
//
//   - Admission (Admit): how many leading records of a request go in. None while the bytes
//     accepted and not yet delivered are over the WAL high-water mark (backpressure); else
//     as many as the throttling quotas (token buckets of one second) allow.
//   - Append: one PutRecords into the internal stream, under one partition key per request,
//     taken in turn from keys that land in each open shard, so requests spread evenly over
//     the shards. Records are durable when Append returns.
//   - Accounting (Undelivered): Append adds the Data bytes it stored; Committed takes off
//     what a checkpoint commit of the pipeline covers (never below zero); CountBacklog and
//     Recount replace the count with a scan of the stream after the pipeline's checkpoints
//     (Backlog), at daemon start and after retention removed records before they were read.
//
// The control plane (daemon/firehose) keeps one Intake per DirectPut delivery stream for
// the delivery stream's whole life: it survives pipeline restarts (UpdateDestination,
// reload) and goes when the delivery stream is deleted. The API-facing checks, the error
// codes clients see and the metrics are the control plane's.
//
// Every method of an Intake is safe for concurrent use. Admit and Undelivered never block;
// Append blocks for the group commit of the engine; Backlog, CountBacklog and Recount read
// the stream (up to all of it).
package directput

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

// Engine is the part of *streamcore.Engine an Intake uses.
type Engine interface {
	PutRecords(ctx context.Context, key streamcore.StreamKey, entries []streamcore.PutEntry) ([]streamcore.PutResult, error)
	Checkpoints(ctx context.Context, key streamcore.StreamKey, group string) (map[string]string, error)
	ListShards(ctx context.Context, key streamcore.StreamKey, f streamcore.ShardFilter) ([]streamcore.Shard, error)
	OpenReader(ctx context.Context, key streamcore.StreamKey, shardID string, pos streamcore.Position) (*streamcore.Reader, error)
}

// Limits are per-delivery-stream Direct PUT quotas per second (firehose.md §12); zero
// fields are unlimited.
type Limits struct {
	Records, Requests, Bytes int64
}

// Enabled reports whether any quota is set.
func (l Limits) Enabled() bool { return l.Records > 0 || l.Requests > 0 || l.Bytes > 0 }

// ErrThrottled is Admit's answer when the request quota refuses the whole request.
var ErrThrottled = errors.New("directput: request quota exceeded")

// Options configure an Intake.
type Options struct {
	Engine Engine
	// Stream is the internal stream records are appended to.
	Stream streamcore.StreamKey
	// Group is the checkpoint group of the delivery stream's pipeline (Backlog counts
	// after its checkpoints).
	Group string
	// Limits are the throttling quotas (zero = unlimited).
	Limits Limits
	// HighWater is how many accepted bytes may wait undelivered before Admit refuses
	// every record (0 = no mark).
	HighWater int64
	// Now is the clock of the token buckets (default time.Now).
	Now func() time.Time
}

// Intake is the DirectPut intake of one delivery stream. Build it with New.
type Intake struct {
	eng       Engine
	key       streamcore.StreamKey
	group     string
	highWater int64
	now       func() time.Time

	// keys are Append's partition keys (Route); rr picks the next one
	keys atomic.Pointer[[]string]
	rr   atomic.Uint64

	// undelivered is the bytes accepted by Append and not yet committed by the pipeline
	undelivered atomic.Int64
	// committedTotal sums what Committed took off; recounting marks a Recount running
	committedTotal atomic.Int64
	recounting     atomic.Bool

	buckets buckets
}

// New returns an intake with full token buckets and nothing counted as undelivered; it
// routes every record under one key until Route is called.
func New(o Options) *Intake {
	if o.Now == nil {
		o.Now = time.Now
	}
	in := &Intake{eng: o.Engine, key: o.Stream, group: o.Group, highWater: o.HighWater, now: o.Now}
	in.buckets = newBuckets(o.Limits, o.Now())
	return in
}

// Admit says how many leading records of a request may be appended. Over the high-water
// mark it admits none and takes no token; else it takes one request token and then record
// and byte tokens for the records in order, while they last. When the request bucket is
// empty it returns ErrThrottled and takes nothing. Admit never blocks.
func (in *Intake) Admit(records [][]byte) (int, error) {
	if in.highWater > 0 && in.undelivered.Load() > in.highWater {
		return 0, nil // backpressure (§10): the destination is behind by more than the mark
	}
	if !in.buckets.limits.Enabled() {
		return len(records), nil
	}
	sizes := make([]int, len(records))
	for i, d := range records {
		sizes[i] = len(d)
	}
	n := in.buckets.admit(sizes, in.now())
	if n < 0 {
		return 0, ErrThrottled
	}
	return n, nil
}

// Undelivered is the bytes accepted and not yet committed as delivered (an estimate after
// a Recount, see there). It is what Admit checks against the high-water mark.
func (in *Intake) Undelivered() int64 { return in.undelivered.Load() }

// Committed takes n delivered bytes off the undelivered count, never below zero, and
// returns the new count. The pipeline calls it after each checkpoint commit.
func (in *Intake) Committed(n int64) int64 {
	in.committedTotal.Add(n)
	for {
		cur := in.undelivered.Load()
		next := max(cur-n, 0)
		if in.undelivered.CompareAndSwap(cur, next) {
			return next
		}
	}
}

// buckets are the token buckets of the throttling quotas. Each holds one second of quota
// and refills continuously.
type buckets struct {
	mu                 sync.Mutex
	limits             Limits // read-only after newBuckets
	last               time.Time
	records, req, byts float64 // tokens
}

func newBuckets(l Limits, now time.Time) buckets {
	return buckets{limits: l, last: now, records: float64(l.Records), req: float64(l.Requests), byts: float64(l.Bytes)}
}

// admit takes one request token and then record and byte tokens for the records in
// order; it returns how many leading records are admitted, or -1 when the request bucket
// is empty.
func (b *buckets) admit(sizes []int, now time.Time) int {
	l := b.limits
	if !l.Enabled() {
		return len(sizes)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	dt := now.Sub(b.last).Seconds()
	if dt > 0 {
		b.last = now
		b.records = min(b.records+dt*float64(l.Records), float64(l.Records))
		b.req = min(b.req+dt*float64(l.Requests), float64(l.Requests))
		b.byts = min(b.byts+dt*float64(l.Bytes), float64(l.Bytes))
	}
	if l.Requests > 0 {
		if b.req < 1 {
			return -1
		}
		b.req--
	}
	n := 0
	for _, sz := range sizes {
		if l.Records > 0 && b.records < 1 {
			break
		}
		if l.Bytes > 0 && b.byts < float64(sz) {
			break
		}
		if l.Records > 0 {
			b.records--
		}
		if l.Bytes > 0 {
			b.byts -= float64(sz)
		}
		n++
	}
	return n
}
