package streamcore

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// memStore is the in-memory twin of the file store: same contracts, nothing on disk.
type memStore struct {
	mu      sync.RWMutex // metadata; Update holds it exclusively
	buckets map[string]map[string][]byte
	now     func() time.Time

	logMu  sync.Mutex
	logs   map[string]*memLog
	closed bool
}

// NewMemStore returns an empty in-memory Store. Its logs stamp arrivals with the wall clock.
func NewMemStore() Store { return NewMemStoreClock(time.Now) }

// NewMemStoreClock is NewMemStore with the clock the logs use for ArrivalMs.
func NewMemStoreClock(now func() time.Time) Store {
	return &memStore{buckets: map[string]map[string][]byte{}, logs: map[string]*memLog{}, now: now}
}

var errStoreClosed = errors.New("store is closed")

func (s *memStore) Update(ctx context.Context, fn func(tx MetaTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	tx := &memTx{s: s, writable: true, dirty: map[string]map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err // nothing applied: changes lived only in tx.dirty
	}
	for b, kv := range tx.dirty {
		dst := s.buckets[b]
		if dst == nil {
			dst = map[string][]byte{}
			s.buckets[b] = dst
		}
		for k, v := range kv {
			if v == nil {
				delete(dst, k)
			} else {
				dst[k] = v
			}
		}
	}
	return nil
}

func (s *memStore) View(ctx context.Context, fn func(tx MetaTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errStoreClosed
	}
	return fn(&memTx{s: s})
}

func (s *memStore) OpenLog(ctx context.Context, id string) (ShardLog, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	if l, ok := s.logs[id]; ok {
		return l, nil
	}
	l := &memLog{now: s.now, first: 1, notify: make(chan struct{})}
	s.logs[id] = l
	return l, nil
}

// LogIDs lists the logs (LogLister).
func (s *memStore) LogIDs() []string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return slices.Sorted(maps.Keys(s.logs))
}

func (s *memStore) DeleteLog(ctx context.Context, id string) error {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if l, ok := s.logs[id]; ok {
		l.close()
	}
	delete(s.logs, id)
	return nil
}

func (s *memStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.logMu.Lock()
	s.closed = true
	for _, l := range s.logs {
		l.close()
	}
	s.logMu.Unlock()
	return nil
}

// memTx buffers writes in dirty (nil value = deleted) and applies them on commit.
type memTx struct {
	s        *memStore
	writable bool
	dirty    map[string]map[string][]byte
}

var errReadOnlyTx = errors.New("read-only transaction")

func (t *memTx) Get(bucket, key string) []byte {
	if kv, ok := t.dirty[bucket]; ok {
		if v, ok := kv[key]; ok {
			return v
		}
	}
	return t.s.buckets[bucket][key]
}

func (t *memTx) Put(bucket, key string, value []byte) error {
	if !t.writable {
		return errReadOnlyTx
	}
	kv := t.dirty[bucket]
	if kv == nil {
		kv = map[string][]byte{}
		t.dirty[bucket] = kv
	}
	kv[key] = append([]byte{}, value...)
	if value == nil {
		kv[key] = []byte{}
	}
	return nil
}

func (t *memTx) Delete(bucket, key string) error {
	if !t.writable {
		return errReadOnlyTx
	}
	kv := t.dirty[bucket]
	if kv == nil {
		kv = map[string][]byte{}
		t.dirty[bucket] = kv
	}
	kv[key] = nil
	return nil
}

func (t *memTx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	merged := map[string][]byte{}
	for k, v := range t.s.buckets[bucket] {
		merged[k] = v
	}
	for k, v := range t.dirty[bucket] {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, merged[k]); err != nil {
			return err
		}
	}
	return nil
}

// memLog keeps records in a slice; recs[0] has SeqIx first.
type memLog struct {
	now func() time.Time

	mu      sync.Mutex
	recs    []LogRecord
	first   uint64
	last    uint64
	lastArr int64
	notify  chan struct{}
	closed  bool
}

var errLogClosed = errors.New("shard log is closed")

func (l *memLog) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

// AppendMulti appends each op in turn (MultiAppender): memory appends never wait.
func (s *memStore) AppendMulti(ctx context.Context, ops []AppendOp) {
	for i := range ops {
		op := &ops[i]
		op.First, op.ArrivalMs, op.Err = op.Log.Append(ctx, op.Recs)
	}
}

func (l *memLog) Append(ctx context.Context, recs []LogRecord) (uint64, int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if len(recs) == 0 {
		return 0, 0, errors.New("empty append")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, 0, errLogClosed
	}
	arr := l.now().UnixMilli()
	if arr < l.lastArr {
		arr = l.lastArr
	}
	first := l.last + 1
	for i, r := range recs {
		r.SeqIx = first + uint64(i)
		r.ArrivalMs = arr
		r.Data = append([]byte(nil), r.Data...)
		l.recs = append(l.recs, r)
	}
	l.last += uint64(len(recs))
	l.lastArr = arr
	close(l.notify)
	l.notify = make(chan struct{})
	return first, arr, nil
}

func (l *memLog) Read(ctx context.Context, from uint64, maxRecords, maxBytes int) ([]LogRecord, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if from < l.first {
		from = l.first
	}
	var out []LogRecord
	size := 0
	for i := from - l.first; i < uint64(len(l.recs)); i++ {
		r := l.recs[i]
		if len(out) > 0 && (len(out) >= maxRecords || size+len(r.Data) > maxBytes) {
			break
		}
		r.Data = append([]byte(nil), r.Data...)
		out = append(out, r)
		size += len(r.Data)
	}
	return out, nil
}

func (l *memLog) SeekTime(ctx context.Context, ms int64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.recs), func(i int) bool { return l.recs[i].ArrivalMs >= ms })
	return l.first + uint64(i), nil
}

func (l *memLog) First() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

func (l *memLog) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

func (l *memLog) LastArrivalMs() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastArr
}

func (l *memLog) Notify() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.notify
}

// memSegment is how many records the in-memory log treats as one segment for trimming.
const memSegment = 64

func (l *memLog) TrimBefore(ctx context.Context, ms int64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var dropped uint64
	// Whole "segments" only, never the one being written (the last, possibly partial).
	for len(l.recs) > memSegment && l.recs[memSegment-1].ArrivalMs < ms {
		l.recs = append([]LogRecord(nil), l.recs[memSegment:]...)
		l.first += memSegment
		dropped += memSegment
	}
	return dropped, nil
}

func (l *memLog) Close() error { return nil }
