package streamcore

import (
	"context"
	"time"
)

// every runs pass each interval until the engine closes (the retention and on-demand
// scaling loops); a failed pass is logged as what and retried at the next tick.
func (e *Engine) every(interval time.Duration, what string, pass func(context.Context) error) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				if err := pass(context.Background()); err != nil {
					e.log.Warn(what, "err", err)
				}
			}
		}
	}()
}

// allStreams is a snapshot of the engine's streams, for the background passes.
func (e *Engine) allStreams() []*streamRT {
	e.mu.RLock()
	defer e.mu.RUnlock()
	rts := make([]*streamRT, 0, len(e.streams))
	for _, rt := range e.streams {
		rts = append(rts, rt)
	}
	return rts
}

// EnforceRetention runs one retention pass now: it trims expired segments of every
// shard log and forgets closed shards past close+retention (deleting their logs). The
// background trimmer calls it every Options.RetentionCheck.
func (e *Engine) EnforceRetention(ctx context.Context) error {
	var firstErr error
	for _, rt := range e.allStreams() {
		sn := rt.snap.Load()
		m := sn.meta
		nowMs := e.nowMs()
		cutoff := nowMs - m.retentionMs()
		expired := false
		for idx, s := range sn.shards {
			sm := m.shard(idx)
			if sm != nil && m.expired(sm, nowMs) {
				expired = true
				continue
			}
			n, err := s.log.TrimBefore(ctx, cutoff)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if n > 0 {
				e.met.trimmedRecords.WithLabelValues(rt.label).Add(float64(n))
				e.met.trimRuns.WithLabelValues(rt.label).Inc()
			}
		}
		if expired {
			if err := e.dropExpired(ctx, rt.key); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

// dropExpired removes closed shards past close+retention from the stream's metadata
// (one transaction), then deletes their logs.
func (e *Engine) dropExpired(ctx context.Context, key StreamKey) error {
	e.ctl.Lock()
	defer e.ctl.Unlock()
	rt := e.lookup(key)
	if rt == nil {
		return nil
	}
	m := rt.snap.Load().meta.clone()
	nowMs := e.nowMs()
	var gone []*shardRT
	kept := m.Shards[:0]
	for _, s := range m.Shards {
		if m.expired(&s, nowMs) {
			if srt := rt.shards[s.Index]; srt != nil {
				gone = append(gone, srt)
			}
			continue
		}
		kept = append(kept, s)
	}
	if len(gone) == 0 {
		return nil
	}
	m.Shards = kept
	if err := e.commitLocked(ctx, rt, m, nil); err != nil {
		return err
	}
	for _, s := range gone {
		if err := e.store.DeleteLog(ctx, s.logID); err != nil {
			e.log.Warn("delete expired shard log", "log", s.logID, "err", err)
		}
	}
	return nil
}
