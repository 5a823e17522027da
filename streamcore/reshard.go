package streamcore

import (
	"context"
	"math/big"
	"strconv"
	"strings"
)

// parseShardID applies the lenient shard-id rule of reference §3.2.
func parseShardID(in string) (int, bool) {
	t := in
	if i := strings.IndexByte(in, '-'); i >= 0 {
		rest := in[i+1:]
		if j := strings.IndexByte(rest, '-'); j >= 0 {
			rest = rest[:j]
		}
		if rest != "" {
			t = rest
		}
	}
	if t == "" || len(t) > 20 {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n > 2147483647 {
		return 0, false
	}
	return int(n), true
}

func errNoShard(key StreamKey, input string) *Error {
	return newErr(CodeResourceNotFound, "Could not find shard %s in stream %s under account %s.", input, key.Name, key.Account)
}

func errOnDemand(op string, key StreamKey) *Error {
	return newErr(CodeValidation, "%s is not supported for stream %s under account %s in ON_DEMAND capacity mode.", op, key.Name, key.Account)
}

// findShard resolves a lenient shard id among the stream's unexpired shards.
func (e *Engine) findShard(m *streamMeta, input string) *shardMeta {
	idx, ok := parseShardID(input)
	if !ok {
		return nil
	}
	s := m.shard(idx)
	if s == nil || m.expired(s, e.nowMs()) {
		return nil
	}
	return s
}

// reshardable checks what Split/Merge/UpdateShardCount share.
func (e *Engine) reshardable(op string, m *streamMeta) error {
	if m.Mode == ModeOnDemand {
		return errOnDemand(op, m.key())
	}
	if m.Status != StatusActive {
		return errNotActive(m.key(), m.Status)
	}
	return nil
}

func errClosedShard(key StreamKey, id string) *Error {
	return newErr(CodeInvalidArgument, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", id, key.Name, key.Account)
}

// accountOpenShards counts open shards of every stream of account in region.
func (e *Engine) accountOpenShards(account, region string) (open, onDemand int) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, rt := range e.streams {
		if rt.key.Account != account || rt.key.Region != region {
			continue
		}
		m := rt.snap.Load().meta
		open += len(m.openShards())
		if m.Mode == ModeOnDemand {
			onDemand++
		}
	}
	return open, onDemand
}

func (e *Engine) checkShardLimit(key StreamKey, extra int) error {
	open, _ := e.accountOpenShards(key.Account, key.Region)
	if open+extra > e.opts.ShardLimit {
		return newErr(CodeLimitExceeded, "This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
			key.Account, key.Region, open, e.opts.ShardLimit, extra)
	}
	return nil
}

// SplitShard closes shardID and creates two children split at newStartingHashKey.
func (e *Engine) SplitShard(ctx context.Context, key StreamKey, shardID, newStartingHashKey string) error {
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.reshardable("SplitShard", m); err != nil {
			return err
		}
		s := e.findShard(m, shardID)
		if s == nil {
			return errNoShard(key, shardID)
		}
		if !s.open() {
			return errClosedShard(key, s.id())
		}
		bad := newErr(CodeInvalidArgument, "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			newStartingHashKey, s.id(), key.Name, key.Account, s.Start, s.End)
		k, err := ParseHashKey(newStartingHashKey)
		if err != nil {
			return bad
		}
		// Start + 1 < K < End
		if s.Start.Add(1).Cmp(k) >= 0 || k.Cmp(s.End) >= 0 || s.Start.Add(1).Cmp(s.Start) < 0 {
			return bad
		}
		if err := e.checkShardLimit(key, 1); err != nil {
			return err
		}
		e.begin(m, pendingOp{Kind: "split", ShardA: s.Index, HashKey: newStartingHashKey}, StatusUpdating, e.opts.UpdateDelay)
		return nil
	})
}

// MergeShards closes two adjacent shards and creates their union.
func (e *Engine) MergeShards(ctx context.Context, key StreamKey, shardID, adjacentShardID string) error {
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.reshardable("MergeShards", m); err != nil {
			return err
		}
		a := e.findShard(m, shardID)
		if a == nil {
			return errNoShard(key, shardID)
		}
		b := e.findShard(m, adjacentShardID)
		if b == nil {
			return errNoShard(key, adjacentShardID)
		}
		if !a.open() {
			return errClosedShard(key, a.id())
		}
		if !b.open() {
			return errClosedShard(key, b.id())
		}
		if a.End == MaxHashKey || a.End.Add(1) != b.Start {
			return newErr(CodeInvalidArgument, "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging", a.id(), b.id(), key.Name, key.Account)
		}
		e.begin(m, pendingOp{Kind: "merge", ShardA: a.Index, ShardB: b.Index}, StatusUpdating, e.opts.UpdateDelay)
		return nil
	})
}

const (
	maxShardsPerStream = 10000
	maxScalingsPerDay  = 10
)

// UpdateShardCount reshards uniformly to target open shards (reference §3.4) and returns
// the open shard count before the change.
func (e *Engine) UpdateShardCount(ctx context.Context, key StreamKey, target int) (int, error) {
	var current int
	err := e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.reshardable("UpdateShardCount", m); err != nil {
			return err
		}
		open := m.openShards()
		current = len(open)
		if target > maxShardsPerStream || current > maxShardsPerStream {
			return newErr(CodeLimitExceeded, "Target shard count or number of open shards cannot be greater than %d. Current open shard count: %d, Target shard count: %d", maxShardsPerStream, current, target)
		}
		if target > 2*current {
			return newErr(CodeLimitExceeded, "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: %d, Target shard count: %d", current, target)
		}
		if 2*target < current {
			return newErr(CodeLimitExceeded, "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: %d, Target shard count: %d", current, target)
		}
		if target > current {
			if err := e.checkShardLimit(key, target-current); err != nil {
				return err
			}
		}
		if target == current && uniform(open) {
			return errNoChange
		}
		nowMs := e.nowMs()
		recent := m.Scalings[:0]
		for _, t := range m.Scalings {
			if t > nowMs-24*3600_000 {
				recent = append(recent, t)
			}
		}
		m.Scalings = recent
		if len(recent) >= maxScalingsPerDay {
			return newErr(CodeLimitExceeded, "UpdateShardCount cannot be called more than %d times in a rolling 24 hour period for stream %s under account %s.", maxScalingsPerDay, key.Name, key.Account)
		}
		m.Scalings = append(m.Scalings, nowMs)
		if _, ok := planCount(open, target); !ok {
			return newErr(CodeInvalidArgument, "UpdateShardCount cannot reach %d shards from the current shard layout of stream %s under account %s; reshard to an even layout first.", target, key.Name, key.Account)
		}
		e.begin(m, pendingOp{Kind: "count", Target: target}, StatusUpdating, e.opts.UpdateDelay)
		return nil
	})
	if err == errNoChange {
		err = nil
	}
	return current, err
}

var errNoChange = &Error{Code: CodeInternal, Msg: "no change"}

func uniform(open []*shardMeta) bool {
	even := EvenRanges(len(open))
	for i, s := range open {
		if s.rng() != even[i] {
			return false
		}
	}
	return true
}

var lineageMin = new(big.Int).Lsh(big.NewInt(1), 32)

// lineage gives each new range its parents among old (indexes into old, lower range
// first) and reports whether the KCL can follow it: 1–2 parents each, and an old shard
// with a single child only when that child has two parents.
func lineage(old []HashKeyRange, next []HashKeyRange) ([][]int, bool) {
	parents := make([][]int, len(next))
	childCount := make([]int, len(old))
	for i, n := range next {
		for j, o := range old {
			if n.overlap(o).Cmp(lineageMin) >= 0 {
				parents[i] = append(parents[i], j)
				childCount[j]++
			}
		}
		if len(parents[i]) < 1 || len(parents[i]) > 2 {
			return nil, false
		}
	}
	for i := range next {
		for _, j := range parents[i] {
			if childCount[j] == 1 && len(parents[i]) != 2 {
				return nil, false
			}
		}
	}
	return parents, true
}

// planCount returns the generations UpdateShardCount creates: [N] or [2N, N].
func planCount(open []*shardMeta, n int) ([][]HashKeyRange, bool) {
	var old []HashKeyRange
	for _, s := range open {
		old = append(old, s.rng())
	}
	direct := EvenRanges(n)
	if _, ok := lineage(old, direct); ok {
		return [][]HashKeyRange{direct}, true
	}
	double := EvenRanges(2 * n)
	if _, ok := lineage(old, double); ok {
		if _, ok := lineage(double, direct); ok {
			return [][]HashKeyRange{double, direct}, true
		}
	}
	return nil, false
}

func maxSec(nowMs int64, parents ...*shardMeta) int64 {
	sec := nowMs / 1000
	for _, p := range parents {
		if p.CreatedSec+1 > sec {
			sec = p.CreatedSec + 1
		}
	}
	return sec
}

func (m *streamMeta) addShard(r HashKeyRange, parent, adjacent int, nowMs, sec int64) *shardMeta {
	m.Shards = append(m.Shards, shardMeta{Index: m.NextIndex, Parent: parent, Adjacent: adjacent,
		Start: r.Start, End: r.End, CreatedMs: nowMs, CreatedSec: sec})
	m.NextIndex++
	return &m.Shards[len(m.Shards)-1]
}

func applySplit(m *streamMeta, idx int, hashKey string, nowMs int64) {
	p := m.shard(idx)
	k, err := ParseHashKey(hashKey)
	if p == nil || !p.open() || err != nil {
		return
	}
	pc := *p
	sec := maxSec(nowMs, &pc)
	p.ClosedMs = nowMs
	m.addShard(HashKeyRange{Start: pc.Start, End: k.Sub(1)}, pc.Index, -1, nowMs, sec)
	m.addShard(HashKeyRange{Start: k, End: pc.End}, pc.Index, -1, nowMs, sec)
}

func applyMerge(m *streamMeta, ia, ib int, nowMs int64) {
	a, b := m.shard(ia), m.shard(ib)
	if a == nil || b == nil || !a.open() || !b.open() {
		return
	}
	ac, bc := *a, *b
	sec := maxSec(nowMs, &ac, &bc)
	a.ClosedMs, b.ClosedMs = nowMs, nowMs
	m.addShard(HashKeyRange{Start: ac.Start, End: bc.End}, ac.Index, bc.Index, nowMs, sec)
}

func applyCount(m *streamMeta, n int, nowMs int64) {
	open := m.openShards()
	gens, ok := planCount(open, n)
	if !ok {
		return
	}
	for _, gen := range gens {
		var old []HashKeyRange
		var olds []shardMeta
		for _, s := range open {
			old = append(old, s.rng())
			olds = append(olds, *s)
		}
		parents, _ := lineage(old, gen)
		ptrs := make([]*shardMeta, len(olds))
		for i := range olds {
			ptrs[i] = &olds[i]
		}
		sec := maxSec(nowMs, ptrs...)
		for _, s := range olds {
			m.shard(s.Index).ClosedMs = nowMs
		}
		var created []int
		for i, r := range gen {
			p, a := olds[parents[i][0]].Index, -1
			if len(parents[i]) == 2 {
				a = olds[parents[i][1]].Index
			}
			created = append(created, m.addShard(r, p, a, nowMs, sec).Index)
		}
		open = open[:0]
		for _, idx := range created {
			open = append(open, m.shard(idx))
		}
	}
}
