package streamcore

import (
	"context"
	"math/big"
)

// Automatic scaling of ON_DEMAND streams. Kinesis grows an on-demand stream's capacity
// with its traffic; Sluice does it by splitting hot shards: every Options.OnDemandCheck,
// each open shard of an ACTIVE ON_DEMAND stream that took more than a provisioned shard's
// write capacity (1 MiB/s or 1,000 records/s) on average since the previous check is
// split at the middle of its hash-key range, all at once and without the stream leaving
// ACTIVE, with parent/child lineage as SplitShard leaves it. ON_DEMAND writes are never
// throttled, so scaling spreads the load (and the parallelism open to consumers) without
// refusing any. The account's shard limit and Options.OnDemandMaxShards bound it;
// on-demand streams are not scaled down.
const (
	hotShardBytesPerSec   = 1 << 20
	hotShardRecordsPerSec = 1000
)

// ScaleOnDemand runs one scaling pass now over the writes since the previous pass (the
// background loop calls it every Options.OnDemandCheck).
func (e *Engine) ScaleOnDemand(ctx context.Context) error {
	now := e.now()
	e.scaleMu.Lock()
	elapsed := now.Sub(e.lastScale).Seconds()
	e.lastScale = now
	e.scaleMu.Unlock()
	var firstErr error
	for _, rt := range e.allStreams() {
		sn := rt.snap.Load()
		var hot []int
		for _, s := range sn.open {
			b, r := s.written.Swap(0), s.writtenRecs.Swap(0)
			if elapsed > 0 && (float64(b)/elapsed > hotShardBytesPerSec || float64(r)/elapsed > hotShardRecordsPerSec) {
				hot = append(hot, s.index)
			}
		}
		if len(hot) == 0 || sn.meta.Mode != ModeOnDemand {
			continue
		}
		var split []int
		err := e.modify(ctx, rt.key, func(m *streamMeta) error {
			if m.Mode != ModeOnDemand || m.Status != StatusActive || m.Pending != nil {
				return errNoChange // changed meanwhile, or busy: the next pass sees it again
			}
			open, _ := e.accountOpenShards(rt.key.Account, rt.key.Region)
			room := min(e.opts.ShardLimit-open, e.opts.OnDemandMaxShards-len(m.openShards()))
			for _, idx := range hot {
				if s := m.shard(idx); s != nil && s.open() && len(split) < room && splittable(s.rng()) {
					split = append(split, idx)
				}
			}
			if len(split) == 0 {
				return errNoChange
			}
			// at once: the stream stays ACTIVE (control-plane calls do not meet UPDATING)
			e.begin(m, pendingOp{Kind: "splits", Shards: split}, StatusUpdating, 0)
			return nil
		})
		switch {
		case err == errNoChange:
			e.log.Debug("on-demand stream has hot shards it cannot split now", "stream", rt.label, "hot", len(hot))
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		default:
			e.log.Info("on-demand stream scaling up", "stream", rt.label, "shards_split", len(split),
				"open_shards", len(sn.open)+len(split))
		}
	}
	return firstErr
}

// midpoint is where a range is split in two halves: the first key of the upper half.
func midpoint(r HashKeyRange) HashKey {
	m := new(big.Int).Add(r.Start.big(), r.End.big())
	m.Add(m, big.NewInt(1))
	return hashFromBig(m.Rsh(m, 1))
}

// splittable reports whether r's midpoint is a valid SplitShard key (Start+1 < k < End).
func splittable(r HashKeyRange) bool {
	k := midpoint(r)
	return r.Start.Add(1).Cmp(k) < 0 && k.Cmp(r.End) < 0
}
