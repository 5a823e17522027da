package directput

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-io/sluice/streamcore"
)

// ErrRecounting is Recount's answer while another Recount is running.
var ErrRecounting = errors.New("directput: a recount is already running")

// Backlog sums the Data bytes of the records in the internal stream after the group's
// checkpoints (from the oldest retained record where a shard has none): what the pipeline
// will still read and deliver. It reads all of that, so it may take a while; it changes
// nothing.
func (in *Intake) Backlog(ctx context.Context) (int64, error) {
	cps, err := in.eng.Checkpoints(ctx, in.key, in.group)
	if err != nil {
		return 0, err
	}
	shards, err := in.eng.ListShards(ctx, in.key, streamcore.ShardFilter{})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, sh := range shards {
		pos := streamcore.Position{Type: streamcore.TrimHorizon}
		if seq := cps[sh.ShardID]; seq != "" {
			pos = streamcore.Position{Type: streamcore.AfterSequenceNumber, SequenceNumber: seq}
		}
		r, err := in.eng.OpenReader(ctx, in.key, sh.ShardID, pos)
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

// CountBacklog sets the undelivered count to Backlog and returns it: records accepted
// before a restart and not yet delivered count from the start. Call it before the first
// Append (Appends during the scan would be counted twice); on error the count is unchanged.
func (in *Intake) CountBacklog(ctx context.Context) (int64, error) {
	n, err := in.Backlog(ctx)
	if err != nil {
		return 0, err
	}
	in.undelivered.Store(n)
	return n, nil
}

// Recount replaces the undelivered count with a fresh Backlog while Appends and commits go
// on, and returns it. After records expired unread, their bytes would otherwise stay
// counted forever and keep Admit refusing. What Committed took off during the scan (which
// the scan no longer saw) is taken off the result; Appends during the scan may go
// uncounted (an undercount, which Committed clamps at zero, rather than a count that never
// drains). One Recount runs at a time: a call meanwhile returns ErrRecounting at once. It
// blocks for the scan, so callers run it on a goroutine of their own; on error the count
// is unchanged.
func (in *Intake) Recount(ctx context.Context) (int64, error) {
	if !in.recounting.CompareAndSwap(false, true) {
		return 0, ErrRecounting
	}
	defer in.recounting.Store(false)
	c0 := in.committedTotal.Load()
	n, err := in.Backlog(ctx)
	if err != nil {
		return 0, err
	}
	n = max(n-(in.committedTotal.Load()-c0), 0)
	in.undelivered.Store(n)
	return n, nil
}
