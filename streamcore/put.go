package streamcore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

const maxPutRecordsBytes = 10 << 20

// PutRecords appends entries to the open shards their hash keys fall in. Whole-request
// problems (unknown or inactive stream, bad keys, oversized records) are the error;
// throttling and storage faults are per entry in PutResult.Err. Successful entries are
// durable on return. The shards' records are committed together when the store is a
// MultiAppender, else appended concurrently, one Append per shard.
func (e *Engine) PutRecords(ctx context.Context, key StreamKey, entries []PutEntry) ([]PutResult, error) {
	return e.put(ctx, key, entries, false)
}

// PutRecord is PutRecords for one entry with PutRecord's wording: an oversized record
// is reported at 'data', and throttling is the returned error.
func (e *Engine) PutRecord(ctx context.Context, key StreamKey, entry PutEntry) (PutResult, error) {
	res, err := e.put(ctx, key, []PutEntry{entry}, true)
	if err != nil {
		return PutResult{}, err
	}
	if res[0].Err != nil {
		return PutResult{}, res[0].Err
	}
	return res[0], nil
}

func validationErr(items []string, total int) *Error {
	head := "1 validation error detected: "
	if total > 1 {
		head = fmt.Sprintf("%d validation errors detected: ", total)
	}
	if len(items) > 10 {
		items = items[:10]
	}
	return &Error{Code: CodeValidation, Msg: head + strings.Join(items, "; ")}
}

func (e *Engine) put(ctx context.Context, key StreamKey, entries []PutEntry, single bool) ([]PutResult, error) {
	rt, sn, err := e.dataSnapshot(key)
	if err != nil {
		return nil, err
	}
	m := sn.meta
	maxData := m.MaxRecordSizeKiB * 1024
	auto := m.distribution() == DistributeAuto
	var items []string
	total := 0
	for i, en := range entries {
		path := func() string {
			if single {
				return ""
			}
			return fmt.Sprintf("records.%d.member.", i+1)
		}
		if en.NoPartitionKey {
			if !auto {
				total++
				items = append(items, fmt.Sprintf("Value null at '%spartitionKey' failed to satisfy constraint: Member must not be null", path()))
			}
		} else if n := utf8.RuneCountInString(en.PartitionKey); n < 1 || n > 256 {
			total++
			rule := "Member must have length greater than or equal to 1"
			if n > 256 {
				rule = "Member must have length less than or equal to 256"
			}
			items = append(items, fmt.Sprintf("Value '%s' at '%spartitionKey' failed to satisfy constraint: %s", en.PartitionKey, path(), rule))
		}
		if len(en.Data) > maxData {
			total++
			items = append(items, fmt.Sprintf("Value 'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]' at '%sdata' failed to satisfy constraint: Member must have length less than or equal to %d", len(en.Data), len(en.Data), path(), maxData))
		}
	}
	if total > 0 {
		return nil, validationErr(items, total)
	}
	hashes := make([]HashKey, len(entries))
	size := 0
	for i, en := range entries {
		if auto {
			// AUTO: keys and explicit hash keys are ignored; records spread evenly
			// (uniform random hash keys, so on-demand scaling still sees the load)
			hashes[i] = randomHashKey()
		} else if en.ExplicitHashKey != "" {
			h, err := ParseHashKey(en.ExplicitHashKey)
			if err != nil {
				return nil, err
			}
			hashes[i] = h
		}
		size += len(en.Data) + len(en.PartitionKey)
	}
	// MD5 of the partition keys, computed only when there is more than one open shard
	// to choose from (a lone open shard covers every hash key).
	hashed := false
	hashKeys := func() {
		if !hashed {
			for i, en := range entries {
				if en.ExplicitHashKey == "" && !auto {
					hashes[i] = PartitionHash(en.PartitionKey)
				}
			}
			hashed = true
		}
	}
	for _, en := range entries {
		if en.SequenceNumberForOrdering != "" && !e.validOrdering(sn, en.SequenceNumberForOrdering) {
			return nil, newErr(CodeInvalidArgument, "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is invalid.", en.SequenceNumberForOrdering, key.Name, key.Account)
		}
	}
	if !single && size > maxPutRecordsBytes {
		return nil, newErr(CodeInvalidArgument, "Records size exceeds 10 MB limit")
	}

	results := make([]PutResult, len(entries))
	todo := make([]int, len(entries))
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt > 0 {
			if rt, sn, err = e.dataSnapshot(key); err != nil {
				return nil, err
			}
		}
		groups := map[*shardRT][]int{}
		var order []*shardRT
		lone := len(sn.open) == 1
		if !lone {
			hashKeys()
		}
		for _, i := range todo {
			var s *shardRT
			if lone {
				s = sn.open[0]
			} else {
				s = route(sn.open, hashes[i])
			}
			if s == nil {
				results[i].Err = internalErr(fmt.Errorf("no open shard for hash key %s", hashes[i]))
				continue
			}
			if _, ok := groups[s]; !ok {
				order = append(order, s)
			}
			groups[s] = append(groups[s], i)
		}
		var mu sync.Mutex
		var retry []int
		ma, multi := e.store.(MultiAppender)
		run := func(s *shardRT) {
			if again := e.putShard(ctx, rt, sn.meta, s, entries, groups[s], results); len(again) > 0 {
				mu.Lock()
				retry = append(retry, again...)
				mu.Unlock()
			}
		}
		if len(order) == 1 {
			run(order[0])
		} else if multi {
			retry = e.putShards(ctx, ma, rt, sn.meta, order, groups, entries, results)
		} else {
			var wg sync.WaitGroup
			for _, s := range order {
				wg.Add(1)
				go func() { defer wg.Done(); run(s) }()
			}
			wg.Wait()
		}
		sort.Ints(retry)
		todo = retry
		if attempt >= 5 && len(todo) > 0 {
			for _, i := range todo {
				results[i].Err = internalErr(fmt.Errorf("shard kept closing under the write"))
			}
			break
		}
	}
	return results, nil
}

// route finds the open shard (sorted by start) whose range holds h.
func route(open []*shardRT, h HashKey) *shardRT {
	i := sort.Search(len(open), func(i int) bool { return open[i].start.Cmp(h) > 0 }) - 1
	if i < 0 || open[i].end.Cmp(h) < 0 {
		return nil
	}
	return open[i]
}

func errRate(key StreamKey, shardID string) *Error {
	return newErr(CodeThroughputExceeded, "Rate exceeded for shard %s in stream %s under account %s.", shardID, key.Name, key.Account)
}

// putShard appends entries idx to shard s. It returns the indexes to re-route when the
// shard closed meanwhile.
func (e *Engine) putShard(ctx context.Context, rt *streamRT, m *streamMeta, s *shardRT, entries []PutEntry, idx []int, results []PutResult) []int {
	s.gate.RLock()
	defer s.gate.RUnlock()
	p, retry := e.admitShard(rt, m, s, entries, idx, results)
	if p == nil {
		return retry
	}
	first, arrival, err := s.log.Append(ctx, p.recs)
	e.finishShard(rt, m, p, results, first, arrival, err)
	return nil
}

// putShards is putShard for several shards with one AppendMulti, so their records are
// committed together. Gates are taken in shard order, as commitLocked takes them.
func (e *Engine) putShards(ctx context.Context, ma MultiAppender, rt *streamRT, m *streamMeta, order []*shardRT, groups map[*shardRT][]int, entries []PutEntry, results []PutResult) (retry []int) {
	order = slices.Clone(order)
	slices.SortFunc(order, func(a, b *shardRT) int { return a.index - b.index })
	puts := make([]*shardPut, 0, len(order))
	ops := make([]AppendOp, 0, len(order))
	for _, s := range order {
		s.gate.RLock()
		p, again := e.admitShard(rt, m, s, entries, groups[s], results)
		if p == nil {
			s.gate.RUnlock()
			retry = append(retry, again...)
			continue
		}
		puts = append(puts, p)
		ops = append(ops, AppendOp{Log: s.log, Recs: p.recs})
	}
	if len(ops) > 0 {
		ma.AppendMulti(ctx, ops)
	}
	for i, p := range puts {
		e.finishShard(rt, m, p, results, ops[i].First, ops[i].ArrivalMs, ops[i].Err)
		p.s.gate.RUnlock()
	}
	return retry
}

// shardPut is one shard's part of a put: the entries its quota admitted, as log records.
type shardPut struct {
	s        *shardRT
	shardID  string
	accepted []int
	recs     []LogRecord
	bytes    int
}

// admitShard applies s's write quota to the entries idx routed to it and builds their log
// records. The caller holds s.gate (read). A nil put means nothing is to be appended:
// retry lists the entries to route again because s has closed.
func (e *Engine) admitShard(rt *streamRT, m *streamMeta, s *shardRT, entries []PutEntry, idx []int, results []PutResult) (p *shardPut, retry []int) {
	if s.closed {
		return nil, idx
	}
	shardID := shardIDOf(s.index)
	accepted := idx
	if !m.Quotas.Unlimited && m.Mode != ModeOnDemand {
		accepted = make([]int, 0, len(idx))
		now := e.now()
		s.qmu.Lock()
		if !s.quota.init {
			s.quota.setup(m.Quotas, m.MaxRecordSizeKiB, now)
		}
		throttled := 0
		for _, i := range idx {
			if s.quota.admitWrite(len(entries[i].Data)+len(entries[i].PartitionKey), now) {
				accepted = append(accepted, i)
			} else {
				results[i].Err = errRate(rt.key, shardID)
				throttled++
			}
		}
		s.qmu.Unlock()
		if throttled > 0 {
			e.met.writeThrottled.WithLabelValues(rt.label, shardID).Add(float64(throttled))
		}
	}
	if len(accepted) == 0 {
		return nil, nil
	}
	p = &shardPut{s: s, shardID: shardID, accepted: accepted, recs: make([]LogRecord, len(accepted))}
	for j, i := range accepted {
		p.recs[j] = LogRecord{PartitionKey: entries[i].PartitionKey, Data: entries[i].Data}
		p.bytes += len(entries[i].Data)
		if m.EncryptionType == "KMS" {
			sealed, err := e.seal.seal(m.KeyID, entries[i].Data)
			if err != nil {
				for _, i := range accepted {
					results[i].Err = internalErr(err)
				}
				return nil, nil
			}
			p.recs[j].Data, p.recs[j].Flags = sealed, FlagEncrypted
		}
	}
	return p, nil
}

// finishShard records the outcome of p's append in results and the stream's metrics.
func (e *Engine) finishShard(rt *streamRT, m *streamMeta, p *shardPut, results []PutResult, first uint64, arrival int64, err error) {
	if err != nil {
		lvl := slog.LevelWarn
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			lvl = slog.LevelDebug // the caller went away before the append started
		}
		e.log.Log(context.Background(), lvl, "append failed", "stream", rt.label, "shard", p.shardID, "err", err)
		for _, i := range p.accepted {
			results[i].Err = internalErr(err)
		}
		return
	}
	seqs := p.s.meta.seqs(first, len(p.accepted), arrival)
	for j, i := range p.accepted {
		results[i] = PutResult{ShardID: p.shardID, SequenceNumber: seqs[j], Encrypted: m.EncryptionType == "KMS"}
	}
	rt.inBytes.Add(float64(p.bytes))
	rt.inRecs.Add(float64(len(p.accepted)))
	p.s.written.Add(int64(p.bytes))
	p.s.writtenRecs.Add(int64(len(p.accepted)))
}

// validOrdering accepts a sequence number of one of the stream's shards that is not
// beyond what the shard has issued.
func (e *Engine) validOrdering(sn *streamSnap, seq string) bool {
	// as on AWS, any sequence number that decodes (AWS's and Sluice's share the version-2
	// layout) and is not from the future; it need not be of this shard or stream: Sluice's
	// sequence numbers always grow, so it only has to be a sequence number at all
	n, kind := parseSeqNum(seq)
	return kind == seqOK && n.ArrivalSec*1000 <= e.nowMs()
}
