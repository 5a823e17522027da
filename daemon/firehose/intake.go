package firehose

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/streamcore"
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
	// When the intake is created (daemon start) it is seeded with the Data bytes the
	// pipeline has still to deliver (Manager.backlogBytes).
	undelivered atomic.Int64
	// committedTotal sums what committed subtracted; recounting marks a recount running
	committedTotal atomic.Int64
	recounting     atomic.Bool

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
	in.committedTotal.Add(n)
	for {
		cur := in.undelivered.Load()
		next := max(cur-n, 0)
		if in.undelivered.CompareAndSwap(cur, next) {
			return next
		}
	}
}

// recount replaces the undelivered count with a fresh count of the stream (scan), in the
// background, one at a time: after records expired unread, their bytes would otherwise
// stay counted forever and keep Put refused. What was committed during the scan (which
// the scan saw) is taken off; Puts during the scan may go uncounted (an undercount,
// which delivery clamps at zero, rather than a count that never drains).
func (in *intake) recount(scan func() (int64, error), gauge prometheus.Gauge) {
	if !in.recounting.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer in.recounting.Store(false)
		c0 := in.committedTotal.Load()
		n, err := scan()
		if err != nil {
			return
		}
		n = max(n-(in.committedTotal.Load()-c0), 0)
		in.undelivered.Store(n)
		gauge.Set(float64(n))
	}()
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

// backlogBytes sums the Data bytes of the records in key after group's checkpoints (from
// the oldest retained record where a shard has none): what the pipeline will still read
// and deliver.
func (m *Manager) backlogBytes(ctx context.Context, key streamcore.StreamKey, group string) (int64, error) {
	eng := m.opts.Engine
	cps, err := eng.Checkpoints(ctx, key, group)
	if err != nil {
		return 0, err
	}
	shards, err := eng.ListShards(ctx, key, streamcore.ShardFilter{})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, sh := range shards {
		pos := streamcore.Position{Type: streamcore.TrimHorizon}
		if seq := cps[sh.ShardID]; seq != "" {
			pos = streamcore.Position{Type: streamcore.AfterSequenceNumber, SequenceNumber: seq}
		}
		r, err := eng.OpenReader(ctx, key, sh.ShardID, pos)
		if errors.Is(err, streamcore.ErrNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("shard %s: %w", sh.ShardID, err)
		}
		for {
			b, err := r.Read(ctx, 0, 0)
			if err != nil {
				return 0, fmt.Errorf("shard %s: %w", sh.ShardID, err)
			}
			for _, rec := range b.Records {
				n += int64(len(rec.Data))
			}
			if b.End || len(b.Records) == 0 {
				break
			}
		}
	}
	return n, nil
}
