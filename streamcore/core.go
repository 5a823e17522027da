package streamcore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Engine is the stream engine: Kinesis Data Streams semantics over a Store. All methods
// are safe for concurrent use. Control operations are serialized; the data plane
// (PutRecords, reads) runs concurrently per shard.
type Engine struct {
	opts  Options
	store Store
	now   func() time.Time
	log   *slog.Logger
	met   *metrics
	seal  *sealer

	iterKey []byte

	ctl     sync.Mutex // serializes metadata changes
	mu      sync.RWMutex
	streams map[string]*streamRT
	timers  map[string]*time.Timer // guarded by ctl

	stop   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool

	scaleMu   sync.Mutex
	lastScale time.Time // guarded by scaleMu
}

// streamRT is the runtime of one stream; snap is replaced on every metadata change.
type streamRT struct {
	key                                StreamKey
	label                              string
	inBytes, inRecs, outBytes, outRecs prometheus.Counter
	snap                               atomic.Pointer[streamSnap]
	shards                             map[int]*shardRT // guarded by Engine.ctl
}

// streamSnap is an immutable view: meta must not be modified.
type streamSnap struct {
	meta   *streamMeta
	shards map[int]*shardRT
	open   []*shardRT // open shards in hash order
}

type shardRT struct {
	index      int
	logID      string
	log        ShardLog
	start, end HashKey
	meta       shardMeta // as installed; ClosedMs may lag, use the snapshot's meta for lineage

	gate   sync.RWMutex // appends hold it shared; closing holds it exclusively
	closed bool         // guarded by gate

	done     chan struct{} // closed when the shard closes or goes away
	doneOnce sync.Once

	qmu   sync.Mutex
	quota shardQuota

	// bytes and records appended since the last on-demand scaling check
	written, writtenRecs atomic.Int64
}

func (s *shardRT) finish() { s.doneOnce.Do(func() { close(s.done) }) }

// internalErr wraps a failure of the store. A full disk (ENOSPC) says so in Msg, which
// the APIs pass on (see Error.StorageFull); other causes stay unworded.
func internalErr(err error) *Error {
	if errors.Is(err, syscall.ENOSPC) {
		return &Error{Code: CodeInternal, Msg: MsgStorageFull, Err: err}
	}
	return &Error{Code: CodeInternal, Msg: "Internal service failure.", Err: err}
}

// MsgStorageFull is the message of an InternalFailure caused by a full disk.
const MsgStorageFull = "Internal service failure: the storage is full (no space left on device); nothing of the request was written."

// Open recovers the engine state from opts.Store and starts the background work.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("streamcore: Options.Store is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ShardLimit <= 0 {
		opts.ShardLimit = 20000
	}
	if opts.OnDemandStreamLimit <= 0 {
		opts.OnDemandStreamLimit = 50
	}
	if opts.OnDemandCheck == 0 {
		opts.OnDemandCheck = time.Minute
	}
	if opts.OnDemandMaxShards <= 0 {
		opts.OnDemandMaxShards = 8
	}
	if opts.RetentionCheck <= 0 {
		opts.RetentionCheck = time.Minute
	}
	key, err := loadIteratorKey(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("streamcore: %w", err)
	}
	seal, err := newSealer(opts.Keys, key)
	if err != nil {
		return nil, fmt.Errorf("streamcore: %w", err)
	}
	e := &Engine{
		opts: opts, store: opts.Store, now: opts.Now, log: opts.Logger.With("component", "streamcore"),
		met: newMetrics(opts.Registerer), seal: seal, iterKey: key,
		streams: map[string]*streamRT{}, timers: map[string]*time.Timer{}, stop: make(chan struct{}),
	}
	var metas []*streamMeta
	err = e.store.View(ctx, func(tx MetaTx) error {
		return tx.ForEach(bucketStreams, func(k string, v []byte) error {
			var m streamMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("stream %s: %w", k, err)
			}
			metas = append(metas, &m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("streamcore: load metadata: %w", err)
	}
	e.removeOrphanLogs(ctx, metas)
	e.ctl.Lock()
	for _, m := range metas {
		rt := &streamRT{key: m.key(), label: streamKeyID(m.key()), shards: map[int]*shardRT{}}
		if err := e.installLocked(ctx, rt, m); err != nil {
			e.ctl.Unlock()
			return nil, fmt.Errorf("streamcore: open stream %s: %w", rt.label, err)
		}
		e.streams[rt.label] = rt
		e.scheduleLocked(rt, m)
	}
	e.ctl.Unlock()
	e.lastScale = e.now()
	e.every(opts.RetentionCheck, "retention pass", e.EnforceRetention)
	if opts.OnDemandCheck > 0 {
		e.every(opts.OnDemandCheck, "on-demand scaling pass", e.ScaleOnDemand)
	}
	return e, nil
}

// Close stops timers and the trimmer. It does not close the Store (the caller owns it).
func (e *Engine) Close(ctx context.Context) error {
	if e.closed.Swap(true) {
		return nil
	}
	close(e.stop)
	e.ctl.Lock()
	for k, t := range e.timers {
		t.Stop()
		delete(e.timers, k)
	}
	e.ctl.Unlock()
	e.wg.Wait()
	return nil
}

func (e *Engine) nowMs() int64 { return e.now().UnixMilli() }

func (e *Engine) lookup(key StreamKey) *streamRT {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.streams[streamKeyID(key)]
}

func errStreamNotFound(key StreamKey) *Error {
	return newErr(CodeResourceNotFound, "Stream %s under account %s not found.", key.Name, key.Account)
}

func errNotActive(key StreamKey, st StreamStatus) *Error {
	return newErr(CodeResourceInUse, "Stream %s under account %s not ACTIVE, instead in state %s", key.Name, key.Account, st)
}

// snapshot returns the stream's current view or RNF.
func (e *Engine) snapshot(key StreamKey) (*streamRT, *streamSnap, error) {
	rt := e.lookup(key)
	if rt == nil {
		return nil, nil, errStreamNotFound(key)
	}
	return rt, rt.snap.Load(), nil
}

// dataSnapshot is snapshot for the data plane: CREATING and DELETING streams are RNF.
func (e *Engine) dataSnapshot(key StreamKey) (*streamRT, *streamSnap, error) {
	rt, sn, err := e.snapshot(key)
	if err != nil {
		return nil, nil, err
	}
	if st := sn.meta.Status; st == StatusCreating || st == StatusDeleting {
		return nil, nil, errStreamNotFound(key)
	}
	return rt, sn, nil
}

// installLocked builds a new snapshot for m: opens logs of new shards, marks closed
// ones and drops removed ones. Caller holds ctl (or is Open).
func (e *Engine) installLocked(ctx context.Context, rt *streamRT, m *streamMeta) error {
	if rt.inBytes == nil {
		rt.inBytes = e.met.incomingBytes.WithLabelValues(rt.label)
		rt.inRecs = e.met.incomingRecords.WithLabelValues(rt.label)
		rt.outBytes = e.met.getRecordsBytes.WithLabelValues(rt.label)
		rt.outRecs = e.met.getRecordsRecords.WithLabelValues(rt.label)
	}
	sn := &streamSnap{meta: m, shards: map[int]*shardRT{}}
	for i := range m.Shards {
		sm := &m.Shards[i]
		s := rt.shards[sm.Index]
		if s == nil {
			id := m.ID + "/" + sm.id()
			l, err := e.store.OpenLog(ctx, id)
			if err != nil {
				return fmt.Errorf("open log %s: %w", id, err)
			}
			s = &shardRT{index: sm.Index, logID: id, log: l, start: sm.Start, end: sm.End, meta: *sm, done: make(chan struct{})}
			rt.shards[sm.Index] = s
		}
		if !sm.open() && !s.closed {
			s.closed = true // writers are excluded by the gate held in commitLocked
			s.finish()
		}
		if old := rt.snap.Load(); old != nil && (old.meta.MaxRecordSizeKiB != m.MaxRecordSizeKiB || old.meta.Quotas != m.Quotas) {
			s.qmu.Lock()
			s.quota.init = false // re-read limits on next use
			s.qmu.Unlock()
		}
		sn.shards[sm.Index] = s
	}
	for idx, s := range rt.shards {
		if _, ok := sn.shards[idx]; !ok {
			s.finish()
			delete(rt.shards, idx)
		}
	}
	for _, sm := range m.openShards() {
		sn.open = append(sn.open, sn.shards[sm.Index])
	}
	rt.snap.Store(sn)
	e.met.openShards.WithLabelValues(rt.label).Set(float64(len(sn.open)))
	return nil
}

// commitLocked persists m as the stream's new state in one transaction and installs it.
// extra runs in the same transaction. Shards m closes are write-locked across the commit
// so no append lands after their end.
func (e *Engine) commitLocked(ctx context.Context, rt *streamRT, m *streamMeta, extra func(tx MetaTx) error) error {
	var gates []*shardRT
	if old := rt.snap.Load(); old != nil {
		for _, s := range old.open {
			if sm := m.shard(s.index); sm == nil || !sm.open() {
				gates = append(gates, s)
			}
		}
	}
	sort.Slice(gates, func(i, j int) bool { return gates[i].index < gates[j].index })
	for _, s := range gates {
		s.gate.Lock()
	}
	defer func() {
		for _, s := range gates {
			s.gate.Unlock()
		}
	}()
	b, err := json.Marshal(m)
	if err != nil {
		return internalErr(err)
	}
	// The logs of new shards are opened before the metadata naming them is committed, and
	// deleted again if that fails, so a failed write (a full disk) half-applies nothing: no
	// stream or shard whose log is missing, in memory or after a restart. A crash in
	// between leaves log folders no metadata names, which Open removes.
	created, err := e.openNewLogs(ctx, rt, m)
	if err != nil {
		e.dropLogs(created)
		return internalErr(err)
	}
	err = e.store.Update(ctx, func(tx MetaTx) error {
		if err := tx.Put(bucketStreams, rt.label, b); err != nil {
			return err
		}
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
	if err != nil {
		e.dropLogs(created)
		return internalErr(err)
	}
	if err := e.installLocked(ctx, rt, m); err != nil {
		return internalErr(err)
	}
	e.scheduleLocked(rt, m)
	return nil
}

// openNewLogs opens the logs of m's shards that rt has none for yet and returns the ids
// it opened (also on error, for dropLogs).
func (e *Engine) openNewLogs(ctx context.Context, rt *streamRT, m *streamMeta) ([]string, error) {
	var created []string
	for i := range m.Shards {
		sm := &m.Shards[i]
		if rt.shards[sm.Index] != nil {
			continue
		}
		id := m.ID + "/" + sm.id()
		if _, err := e.store.OpenLog(ctx, id); err != nil {
			return created, fmt.Errorf("open log %s: %w", id, err)
		}
		created = append(created, id)
	}
	return created, nil
}

// dropLogs deletes logs opened for a change that was not committed.
func (e *Engine) dropLogs(ids []string) {
	for _, id := range ids {
		if err := e.store.DeleteLog(context.Background(), id); err != nil {
			e.log.Warn("deleting the log of a failed change", "log", id, "err", err)
		}
	}
}

// removeOrphanLogs deletes the logs no stream's metadata names: left by a crash between
// creating a shard's log and committing its metadata. It needs a store that lists its
// logs (LogLister).
func (e *Engine) removeOrphanLogs(ctx context.Context, metas []*streamMeta) {
	ll, ok := e.store.(LogLister)
	if !ok {
		return
	}
	known := map[string]bool{}
	for _, m := range metas {
		for i := range m.Shards {
			known[m.ID+"/"+m.Shards[i].id()] = true
		}
	}
	for _, id := range ll.LogIDs() {
		if known[id] {
			continue
		}
		if err := e.store.DeleteLog(ctx, id); err != nil {
			e.log.Warn("removing orphan shard log failed", "log", id, "err", err)
			continue
		}
		e.log.Info("removed orphan shard log (no stream metadata names it)", "log", id)
	}
}

// modify runs fn on a copy of the stream's metadata and commits it.
func (e *Engine) modify(ctx context.Context, key StreamKey, fn func(m *streamMeta) error) error {
	e.ctl.Lock()
	defer e.ctl.Unlock()
	rt := e.lookup(key)
	if rt == nil {
		return errStreamNotFound(key)
	}
	m := rt.snap.Load().meta.clone()
	if err := fn(m); err != nil {
		return err
	}
	return e.commitLocked(ctx, rt, m, nil)
}

// --- delayed transitions -------------------------------------------------------------

func wallMs() int64 { return time.Now().UnixMilli() }

func dueIn(d time.Duration) int64 { return wallMs() + d.Milliseconds() }

// scheduleLocked arms the stream's timer for its earliest pending transition.
func (e *Engine) scheduleLocked(rt *streamRT, m *streamMeta) {
	if t, ok := e.timers[rt.label]; ok {
		t.Stop()
		delete(e.timers, rt.label)
	}
	if e.closed.Load() {
		return
	}
	due := int64(-1)
	if m.Pending != nil {
		due = m.Pending.DueMs
	}
	for _, d := range m.ConsumerDue {
		if due < 0 || d < due {
			due = d
		}
	}
	if due < 0 {
		return
	}
	wait := time.Duration(due-wallMs()) * time.Millisecond
	if wait < 0 {
		wait = 0
	}
	key, id := rt.key, m.ID
	e.timers[rt.label] = time.AfterFunc(wait, func() { e.fire(key, id) })
}

func (e *Engine) fire(key StreamKey, id string) {
	if e.closed.Load() {
		return
	}
	ctx := context.Background()
	e.ctl.Lock()
	defer e.ctl.Unlock()
	rt := e.lookup(key)
	if rt == nil || rt.snap.Load().meta.ID != id {
		return
	}
	m := rt.snap.Load().meta.clone()
	now := wallMs()
	if m.Pending != nil && m.Pending.DueMs <= now && m.Pending.Kind == "delete" {
		if err := e.removeStreamLocked(ctx, rt, m); err != nil {
			e.log.Error("delete stream", "stream", rt.label, "err", err)
		}
		return
	}
	if m.Pending != nil && m.Pending.DueMs <= now {
		e.applyPending(m)
	}
	e.applyConsumerDue(m, now)
	if err := e.commitLocked(ctx, rt, m, nil); err != nil {
		e.log.Error("finish stream transition", "stream", rt.label, "err", err)
		// retry later
		e.timers[rt.label] = time.AfterFunc(time.Second, func() { e.fire(key, id) })
	}
}

// applyPending lands m.Pending on m and makes the stream ACTIVE.
func (e *Engine) applyPending(m *streamMeta) {
	p := m.Pending
	m.Pending = nil
	nowMs := e.nowMs()
	switch p.Kind {
	case "split":
		applySplit(m, p.ShardA, p.HashKey, nowMs)
	case "splits":
		for _, idx := range p.Shards {
			if s := m.shard(idx); s != nil {
				applySplit(m, idx, midpoint(s.rng()).String(), nowMs)
			}
		}
	case "merge":
		applyMerge(m, p.ShardA, p.ShardB, nowMs)
	case "count":
		applyCount(m, p.Target, nowMs)
	case "mode":
		m.Mode = StreamMode(p.Mode)
	case "encrypt":
		if p.Encrypt {
			m.EncryptionType, m.KeyID = "KMS", p.KeyID
		} else {
			m.EncryptionType, m.KeyID = "NONE", ""
		}
	}
	m.Status = StatusActive
}

func (e *Engine) applyConsumerDue(m *streamMeta, now int64) {
	for name, due := range m.ConsumerDue {
		if due > now {
			continue
		}
		delete(m.ConsumerDue, name)
		for i := range m.Consumers {
			if m.Consumers[i].Name != name {
				continue
			}
			switch m.Consumers[i].Status {
			case "CREATING":
				m.Consumers[i].Status = "ACTIVE"
			case "DELETING":
				m.Consumers = append(m.Consumers[:i], m.Consumers[i+1:]...)
			}
			break
		}
	}
	if len(m.ConsumerDue) == 0 {
		m.ConsumerDue = nil
	}
}

// begin sets a pending transition; with a zero delay it lands at once (same commit).
func (e *Engine) begin(m *streamMeta, p pendingOp, status StreamStatus, delay time.Duration) {
	p.DueMs = dueIn(delay)
	m.Pending = &p
	m.Status = status
	if delay <= 0 {
		e.applyPending(m)
	}
}

// removeStreamLocked deletes a stream, its checkpoints and its logs.
func (e *Engine) removeStreamLocked(ctx context.Context, rt *streamRT, m *streamMeta) error {
	prefix := m.ID + "/"
	err := e.store.Update(ctx, func(tx MetaTx) error {
		if err := tx.Delete(bucketStreams, rt.label); err != nil {
			return err
		}
		var keys []string
		_ = tx.ForEach(bucketCheckpoints, func(k string, _ []byte) error {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				keys = append(keys, k)
			}
			return nil
		})
		for _, k := range keys {
			if err := tx.Delete(bucketCheckpoints, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return internalErr(err)
	}
	e.mu.Lock()
	delete(e.streams, rt.label)
	e.mu.Unlock()
	if t, ok := e.timers[rt.label]; ok {
		t.Stop()
		delete(e.timers, rt.label)
	}
	for _, s := range rt.shards {
		s.finish()
		if err := e.store.DeleteLog(ctx, s.logID); err != nil {
			e.log.Warn("delete shard log", "log", s.logID, "err", err)
		}
	}
	e.met.forget(rt.label)
	return nil
}

// newStreamID returns [a-z0-9]{20}-[a-z0-9]{3}.
func newStreamID() string {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 23)
	_, _ = rand.Read(b)
	out := make([]byte, 24)
	j := 0
	for i := 0; i < 24; i++ {
		if i == 20 {
			out[i] = '-'
			continue
		}
		out[i] = alpha[int(b[j])%len(alpha)]
		j++
	}
	return string(out)
}
