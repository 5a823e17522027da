package filestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

// shardLog is one shard's segmented log (streamcore.ShardLog).
type shardLog struct {
	st  *Store
	id  string
	dir string
	opt *Options

	// mu guards the published (durable) state: the segment list, the active segment's
	// summary and in-memory index, last/lastMs and the notify channel.
	mu     sync.RWMutex
	segs   []*segment
	last   uint64
	lastMs int64
	notify chan struct{}
	closed bool

	qmu     sync.Mutex
	queue   []*appendReq
	qclosed bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}

	w writer // owned by the writer goroutine

	hintMu   sync.Mutex
	hints    [8]readHint
	hintNext int
}

type appendReq struct {
	recs  []streamcore.LogRecord
	first uint64
	ms    int64
	err   error
	done  chan struct{}
}

// writer is the state of the log's single writer goroutine.
type writer struct {
	active   *segment
	f        File
	off      int64 // end of the last good frame in the active segment
	dirty    bool  // bytes past off may be on disk (a failed write not yet repaired)
	needSync bool  // SyncInterval: written but not yet fsynced
	ckptOff  int64 // active segment size covered by its last index checkpoint
	last     uint64
	lastMs   int64

	sinceRecs  int
	sinceBytes int64
	markRecs   int
	markBytes  int64

	buf     []byte
	pendIdx []indexEntry
}

type readHint struct {
	seg *segment
	seq uint64
	off int64
}

var _ streamcore.ShardLog = (*shardLog)(nil)

func (l *shardLog) start() {
	l.wake = make(chan struct{}, 1)
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	go l.run()
}

// ---- appending ----

// Append queues recs for the writer and waits until they are durable (or failed). Once
// queued, the call is not abandoned on ctx cancellation: its outcome must be reported.
func (l *shardLog) Append(ctx context.Context, recs []streamcore.LogRecord) (uint64, int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if len(recs) == 0 {
		l.mu.RLock()
		defer l.mu.RUnlock()
		return l.last + 1, l.lastMs, nil
	}
	for i := range recs {
		if len(recs[i].PartitionKey) > MaxPartitionKey {
			return 0, 0, fmt.Errorf("filestore: record %d: partition key of %d bytes is over %d", i, len(recs[i].PartitionKey), MaxPartitionKey)
		}
		if FrameBodyFixed+len(recs[i].PartitionKey)+len(recs[i].Data) > MaxFrameBody {
			return 0, 0, fmt.Errorf("filestore: record %d: %d bytes of data is over the frame limit", i, len(recs[i].Data))
		}
	}
	req := &appendReq{recs: recs, done: make(chan struct{})}
	l.qmu.Lock()
	if l.qclosed {
		l.qmu.Unlock()
		return 0, 0, ErrClosed
	}
	l.queue = append(l.queue, req)
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-req.done
	return req.first, req.ms, req.err
}

func (l *shardLog) run() {
	defer close(l.done)
	var tick <-chan time.Time
	if l.opt.Sync == SyncInterval {
		t := time.NewTicker(l.opt.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	var batch []*appendReq
	for {
		stopping := false
		select {
		case <-l.wake:
		case <-tick:
			l.syncIfNeeded()
			continue
		case <-l.stop:
			stopping = true
		}
		l.qmu.Lock()
		batch, l.queue = l.queue, batch[:0]
		l.qmu.Unlock()
		if len(batch) > 0 {
			l.writeGroup(batch)
			clear(batch)
		}
		if stopping {
			l.syncIfNeeded()
			return
		}
	}
}

func (l *shardLog) syncIfNeeded() {
	if !l.w.needSync {
		return
	}
	if err := l.w.f.Sync(); err != nil {
		l.st.log.Warn("periodic fsync failed", "log", l.id, "err", err)
		return
	}
	l.w.needSync = false
	l.maybeCheckpoint(false)
}

// maybeCheckpoint writes the active segment's index once CheckpointBytes of synced frames
// accumulated since the last one (or always, if force), so recovery after a crash scans
// only what came after it. The caller guarantees everything up to w.off is synced.
func (l *shardLog) maybeCheckpoint(force bool) {
	w := &l.w
	if w.off == w.ckptOff || (!force && w.off-w.ckptOff < l.opt.CheckpointBytes) {
		return
	}
	if err := writeIndexFile(l.opt.FS, l.dir, w.active, w.active.idx); err != nil {
		l.st.log.Warn("writing index checkpoint failed", "log", l.id, "segment", w.active.segPath, "err", err)
		return
	}
	w.ckptOff = w.off
}

func fail(reqs []*appendReq, err error) {
	for _, r := range reqs {
		r.err = err
		close(r.done)
	}
}

// repair truncates the active segment back to the last good offset after a failed write.
func (l *shardLog) repair() error {
	w := &l.w
	if !w.dirty {
		return nil
	}
	if err := w.f.Truncate(w.off); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	w.dirty = false
	return nil
}

// writeGroup writes every queued Append with one write and one fsync per segment touched.
func (l *shardLog) writeGroup(batch []*appendReq) {
	w := &l.w
	if err := l.repair(); err != nil {
		fail(batch, fmt.Errorf("filestore: log %q: repairing a failed write: %w", l.id, err))
		return
	}
	w.buf, w.pendIdx = w.buf[:0], w.pendIdx[:0]
	w.markRecs, w.markBytes = w.sinceRecs, w.sinceBytes
	seq, ms := w.last+1, max(l.opt.Now().UnixMilli(), w.lastMs)
	start := 0
	for i, req := range batch {
		reqBytes := 0
		for j := range req.recs {
			reqBytes += frameSize(len(req.recs[j].PartitionKey), len(req.recs[j].Data))
		}
		nonEmpty := w.off > SegmentHeaderSize || len(w.buf) > 0
		if nonEmpty && w.off+int64(len(w.buf)+reqBytes) > l.opt.SegmentBytes {
			if len(w.buf) > 0 {
				if err := l.flush(batch[start:i], seq-1, ms); err != nil {
					fail(batch[i:], err)
					return
				}
			}
			if err := l.roll(); err != nil {
				fail(batch[i:], fmt.Errorf("filestore: log %q: new segment: %w", l.id, err))
				return
			}
			start = i
		}
		req.first, req.ms = seq, ms
		for j := range req.recs {
			r := &req.recs[j]
			if w.sinceRecs >= l.opt.IndexEveryRecords || w.sinceBytes >= l.opt.IndexEveryBytes {
				w.pendIdx = append(w.pendIdx, indexEntry{seq: seq, off: w.off + int64(len(w.buf)), ms: ms})
				w.sinceRecs, w.sinceBytes = 0, 0
			}
			n := len(w.buf)
			w.buf = appendFrame(w.buf, r.Flags, seq, ms, r.PartitionKey, r.Data)
			w.sinceRecs++
			w.sinceBytes += int64(len(w.buf) - n)
			seq++
		}
	}
	if err := l.flush(batch[start:], seq-1, ms); err != nil {
		return
	}
	if cap(w.buf) > 16<<20 {
		w.buf = nil
	}
}

// flush writes w.buf (the frames of reqs, ending at lastSeq) to the active segment, syncs
// under SyncAlways and publishes the records. On failure every req gets the error and the
// segment is cut back to its last good offset.
func (l *shardLog) flush(reqs []*appendReq, lastSeq uint64, lastMs int64) error {
	w := &l.w
	_, err := w.f.WriteAt(w.buf, w.off)
	if err == nil && l.opt.Sync == SyncAlways {
		err = w.f.Sync()
	}
	if err != nil {
		w.dirty = true
		rerr := l.repair()
		w.sinceRecs, w.sinceBytes = w.markRecs, w.markBytes
		w.buf, w.pendIdx = w.buf[:0], w.pendIdx[:0]
		err = fmt.Errorf("filestore: log %q: append: %w", l.id, err)
		l.st.log.Warn("append failed; nothing of it is visible", "log", l.id, "err", err, "repair_err", rerr)
		fail(reqs, err)
		return err
	}
	w.off += int64(len(w.buf))
	w.markRecs, w.markBytes = w.sinceRecs, w.sinceBytes
	if l.opt.Sync == SyncInterval {
		w.needSync = true
	}
	a := w.active
	l.mu.Lock()
	if a.empty() {
		a.firstMs = reqs[0].ms
	}
	a.last, a.lastMs, a.size = lastSeq, lastMs, w.off
	a.idx = append(a.idx, w.pendIdx...)
	l.last, l.lastMs = lastSeq, lastMs
	ch := l.notify
	l.notify = nil
	l.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	w.last, w.lastMs = lastSeq, lastMs
	w.buf, w.pendIdx = w.buf[:0], w.pendIdx[:0]
	for _, r := range reqs {
		close(r.done)
	}
	if l.opt.Sync == SyncAlways {
		l.maybeCheckpoint(false)
	}
	return nil
}

// roll seals the active segment (sync, index file) and starts a new one.
func (l *shardLog) roll() error {
	w := &l.w
	old := w.active
	if w.needSync {
		if err := w.f.Sync(); err != nil {
			return err
		}
		w.needSync = false
	}
	if err := writeIndexFile(l.opt.FS, l.dir, old, old.idx); err != nil {
		// The index is an accelerator: recovery rebuilds a missing or stale one.
		l.st.log.Warn("writing segment index failed", "log", l.id, "segment", old.segPath, "err", err)
	}
	seg, f, err := l.createSegment(w.last+1, w.lastMs)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	l.st.cache.add(seg, f)
	l.st.cache.unpin(old)
	w.active, w.f, w.off, w.ckptOff = seg, f, SegmentHeaderSize, SegmentHeaderSize
	w.sinceRecs, w.sinceBytes, w.markRecs, w.markBytes = 0, 0, 0, 0
	return nil
}

func (l *shardLog) segmentFor(base uint64, prevMs int64) *segment {
	return &segment{
		base:    base,
		segPath: filepath.Join(l.dir, fmt.Sprintf(SegmentNameFormat, base)),
		idxPath: filepath.Join(l.dir, fmt.Sprintf(IndexNameFormat, base)),
		last:    base - 1,
		lastMs:  prevMs,
		size:    SegmentHeaderSize,
	}
}

// createSegment creates an empty, synced segment file starting at base.
func (l *shardLog) createSegment(base uint64, prevMs int64) (*segment, File, error) {
	seg := l.segmentFor(base, prevMs)
	f, err := l.opt.FS.OpenFile(seg.segPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, err
	}
	_, err = f.WriteAt(segmentHeader(base), 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = l.opt.FS.SyncDir(l.dir)
	}
	if err != nil {
		_ = f.Close()
		_ = l.opt.FS.Remove(seg.segPath)
		return nil, nil, err
	}
	return seg, f, nil
}

// ---- state ----

// First is the SeqIx of the oldest retained record, Last()+1 if there is none.
func (l *shardLog) First() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.firstLocked()
}

func (l *shardLog) firstLocked() uint64 {
	for _, s := range l.segs {
		if !s.empty() {
			return s.base
		}
	}
	return l.last + 1
}

// Last is the SeqIx of the newest durable record.
func (l *shardLog) Last() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.last
}

// LastArrivalMs is the arrival time of the newest durable record.
func (l *shardLog) LastArrivalMs() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lastMs
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Notify returns a channel closed when Last next grows (or the log closes).
func (l *shardLog) Notify() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return closedChan
	}
	if l.notify == nil {
		l.notify = make(chan struct{})
	}
	return l.notify
}

// TrimBefore deletes whole sealed segments whose newest record arrived before ms.
func (l *shardLog) TrimBefore(ctx context.Context, ms int64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	k := 0
	var dropped uint64
	for k < len(l.segs)-1 && l.segs[k].lastMs < ms {
		dropped += l.segs[k].last + 1 - l.segs[k].base
		k++
	}
	removed := slices.Clone(l.segs[:k])
	l.segs = slices.Clone(l.segs[k:])
	l.mu.Unlock()
	if k == 0 {
		return 0, nil
	}
	var errs []error
	for _, seg := range removed {
		l.st.cache.drop(seg)
		if err := l.opt.FS.Remove(seg.segPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := l.opt.FS.Remove(seg.idxPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := l.opt.FS.SyncDir(l.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return dropped, fmt.Errorf("filestore: log %q: trim: %w", l.id, err)
	}
	return dropped, nil
}

// Close stops the writer, syncs and releases the log's files.
func (l *shardLog) Close() error {
	err := l.closeFiles(false)
	l.st.forget(l.id, l)
	return err
}

func (l *shardLog) closeFiles(deleting bool) error {
	l.qmu.Lock()
	if l.qclosed {
		l.qmu.Unlock()
		return ErrClosed
	}
	l.qclosed = true
	l.qmu.Unlock()
	close(l.stop)
	<-l.done
	var err error
	if !deleting && l.w.f != nil {
		if serr := l.w.f.Sync(); serr != nil {
			err = fmt.Errorf("filestore: log %q: sync on close: %w", l.id, serr)
		} else if !l.w.dirty {
			l.maybeCheckpoint(true)
		}
	}
	l.mu.Lock()
	l.closed = true
	segs := l.segs
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	l.mu.Unlock()
	for _, seg := range segs {
		l.st.cache.drop(seg)
	}
	return err
}

// ---- reading ----

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 512<<10) }}

// chunkReader reads a segment in large chunks straight into fresh memory and hands
// out frames as slices of it, so records returned by Read share a few chunks instead of
// being copied one by one. A chunk is never reused: records may point into it.
type chunkReader struct {
	f    File
	off  int64 // file offset of buf[0]
	end  int64 // durable end of the segment
	buf  []byte
	pos  int
	next int // size of the next chunk
}

const maxChunk = 1 << 20

// at is the file offset of the next frame.
func (c *chunkReader) at() int64 { return c.off + int64(c.pos) }

// ensure makes k bytes from pos available, reading a new chunk if needed.
func (c *chunkReader) ensure(k int) error {
	avail := len(c.buf) - c.pos
	if avail >= k {
		return nil
	}
	fileLeft := c.end - (c.off + int64(len(c.buf)))
	if int64(k-avail) > fileLeft {
		return io.ErrUnexpectedEOF
	}
	size := max(k, int(min(int64(c.next), int64(avail)+fileLeft)))
	c.next = min(c.next*2, maxChunk)
	nb := make([]byte, size)
	copy(nb, c.buf[c.pos:])
	m := int(min(int64(size-avail), fileLeft))
	if _, err := c.f.ReadAt(nb[avail:avail+m], c.off+int64(len(c.buf))); err != nil {
		return err
	}
	c.off += int64(c.pos)
	c.buf, c.pos = nb[:avail+m], 0
	return nil
}

// frame returns the next frame's header and body, both slices of chunk memory.
func (c *chunkReader) frame() (fh, body []byte, err error) {
	if err := c.ensure(FrameHeaderSize); err != nil {
		return nil, nil, err
	}
	n, err := checkLength(c.buf[c.pos:])
	if err != nil {
		return nil, nil, err
	}
	if err := c.ensure(FrameHeaderSize + n); err != nil {
		return nil, nil, err
	}
	end := c.pos + FrameHeaderSize + n
	fr := c.buf[c.pos:end:end]
	c.pos = end
	return fr[:FrameHeaderSize], fr[FrameHeaderSize:], nil
}

// Read returns durable records from SeqIx from on (see streamcore.ShardLog).
func (l *shardLog) Read(ctx context.Context, from uint64, maxRecords, maxBytes int) ([]streamcore.LogRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	maxRecords = max(maxRecords, 1)
	for attempt := 0; ; attempt++ {
		out, err := l.read(from, maxRecords, maxBytes)
		// A segment trimmed between the snapshot and opening it: start again from the
		// new oldest record.
		if errors.Is(err, errTrimmed) && attempt < 3 {
			continue
		}
		return out, err
	}
}

var errTrimmed = errors.New("segment trimmed during read")

func (l *shardLog) read(from uint64, maxRecords, maxBytes int) ([]streamcore.LogRecord, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	last, segs, first := l.last, l.segs, l.firstLocked()
	l.mu.RUnlock()
	from = max(from, first)
	if from > last {
		return nil, nil
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > from }) - 1
	if i < 0 {
		return nil, nil
	}
	out := make([]streamcore.LogRecord, 0, min(uint64(maxRecords), last-from+1, 4096))
	rs := readState{from: from, maxRecords: maxRecords, maxBytes: maxBytes, out: out, next: 64 << 10}
	if maxRecords > 100 {
		rs.next = 256 << 10
	}
	for ; i < len(segs) && rs.from <= last; i++ {
		done, err := l.readSegment(segs[i], &rs)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	return rs.out, nil
}

type readState struct {
	from       uint64
	maxRecords int
	maxBytes   int
	bytes      int
	out        []streamcore.LogRecord
	next       int // chunk size to start the next segment with
}

// readSegment appends records of seg to rs.out; done reports that a limit was reached.
func (l *shardLog) readSegment(seg *segment, rs *readState) (done bool, err error) {
	f, err := l.st.cache.acquire(seg, l.st)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return false, errTrimmed
		}
		return false, err
	}
	defer l.st.cache.release(seg)
	l.mu.RLock()
	end, segLast := seg.size, seg.last
	seq, off := searchIdx(seg.idx, seg.base, rs.from)
	l.mu.RUnlock()
	if rs.from > segLast {
		return false, nil
	}
	slot := -1
	if hs, hoff, hslot, ok := l.hint(seg, rs.from); ok && hs >= seq {
		seq, off, slot = hs, hoff, hslot
	}
	c := chunkReader{f: f, off: off, end: end, next: rs.next}
	defer func() { rs.next = c.next }()
	for c.at() < end {
		at := c.at()
		if len(rs.out) >= rs.maxRecords {
			l.setHint(slot, seg, seq, at)
			return true, nil
		}
		fh, body, err := c.frame()
		if err != nil {
			kind := err
			if !errors.Is(err, ErrBadLength) {
				kind = ErrTornFrame
			}
			return false, l.corrupt(seg, at, kind, err.Error())
		}
		if seq < rs.from {
			seq++
			continue
		}
		h, err := decodeBody(fh, body)
		if err != nil {
			return false, l.corrupt(seg, at, err, "")
		}
		if h.seq != seq {
			return false, l.corrupt(seg, at, ErrBadSequence, fmt.Sprintf("SeqIx %d, want %d", h.seq, seq))
		}
		dataLen := len(body) - FrameBodyFixed - h.pkLen
		if len(rs.out) > 0 && rs.bytes+dataLen > rs.maxBytes {
			l.setHint(slot, seg, seq, at)
			return true, nil
		}
		rs.out = append(rs.out, streamcore.LogRecord{
			SeqIx:        h.seq,
			ArrivalMs:    h.ms,
			PartitionKey: bytesToString(body[FrameBodyFixed : FrameBodyFixed+h.pkLen]),
			Data:         body[FrameBodyFixed+h.pkLen:],
			Flags:        h.flags,
		})
		rs.bytes += dataLen
		seq++
		rs.from = seq
	}
	l.setHint(slot, seg, seq, c.at())
	return false, nil
}

func (l *shardLog) corrupt(seg *segment, off int64, kind error, detail string) error {
	return &CorruptError{Path: seg.segPath, Offset: off, Kind: kind, Detail: detail}
}

// hint returns where a previous Read of seg stopped, if it stopped exactly at seq.
func (l *shardLog) hint(seg *segment, seq uint64) (uint64, int64, int, bool) {
	l.hintMu.Lock()
	defer l.hintMu.Unlock()
	for i, h := range l.hints {
		if h.seg == seg && h.seq == seq {
			return h.seq, h.off, i, true
		}
	}
	return 0, 0, -1, false
}

func (l *shardLog) setHint(slot int, seg *segment, seq uint64, off int64) {
	l.hintMu.Lock()
	defer l.hintMu.Unlock()
	if slot < 0 {
		slot = l.hintNext
		l.hintNext = (l.hintNext + 1) % len(l.hints)
	}
	l.hints[slot] = readHint{seg: seg, seq: seq, off: off}
}

// SeekTime returns the SeqIx of the first record with ArrivalMs >= ms, or Last()+1.
func (l *shardLog) SeekTime(ctx context.Context, ms int64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		seq, err := l.seekTime(ms)
		if errors.Is(err, errTrimmed) && attempt < 3 {
			continue
		}
		return seq, err
	}
}

func (l *shardLog) seekTime(ms int64) (uint64, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	last, segs := l.last, l.segs
	i := sort.Search(len(segs), func(i int) bool { return !segs[i].empty() && segs[i].lastMs >= ms })
	l.mu.RUnlock()
	if i == len(segs) {
		return last + 1, nil
	}
	seg := segs[i]
	f, err := l.st.cache.acquire(seg, l.st)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return 0, errTrimmed
		}
		return 0, err
	}
	defer l.st.cache.release(seg)
	l.mu.RLock()
	end := seg.size
	seq, off := searchIdxTime(seg.idx, seg.base, ms)
	l.mu.RUnlock()
	rd := readerPool.Get().(*bufio.Reader)
	defer readerPool.Put(rd)
	rd.Reset(io.NewSectionReader(f, off, end-off))
	var fh [FrameHeaderSize]byte
	body := make([]byte, FrameBodyFixed)
	for off < end {
		if _, err := io.ReadFull(rd, fh[:]); err != nil {
			return 0, l.corrupt(seg, off, ErrTornFrame, err.Error())
		}
		n, err := checkLength(fh[:])
		if err != nil {
			return 0, l.corrupt(seg, off, err, "")
		}
		// The arrival time sits in the fixed part; the crc is checked by Read.
		if _, err := io.ReadFull(rd, body); err != nil {
			return 0, l.corrupt(seg, off, ErrTornFrame, err.Error())
		}
		if int64(leUint64(body[10:18])) >= ms {
			return leUint64(body[2:10]), nil
		}
		if _, err := rd.Discard(n - FrameBodyFixed); err != nil {
			return 0, l.corrupt(seg, off, ErrTornFrame, err.Error())
		}
		off += int64(FrameHeaderSize + n)
		seq++
	}
	return seq, nil
}
