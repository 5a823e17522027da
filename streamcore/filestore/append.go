package filestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

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
	if err := checkFrameable(recs); err != nil {
		return 0, 0, err
	}
	req := &appendReq{recs: recs, done: make(chan struct{})}
	kick, err := l.queueAppend(req)
	if err != nil {
		return 0, 0, err
	}
	if kick {
		if l.st.jr == nil && l.opt.Sync == SyncAlways && recordBytes(recs) <= inlineMaxBytes && l.cmu.TryLock() {
			stopping, _ := l.commitLocked()
			l.cmu.Unlock()
			if stopping {
				close(l.done)
			}
		} else {
			l.st.com.enqueue(l)
		}
	}
	<-req.done
	return req.first, req.ms, req.err
}

// inlineMaxBytes bounds an Append that its caller writes and syncs itself when the log
// is idle (it was not queued for a round and no commit of it is running): a lone small
// write then costs its own write and fsync instead of waiting for the committer's
// current round, whose large groups of other logs take milliseconds. Larger appends, and
// appends that find the log busy, join rounds (SyncAlways only).
const inlineMaxBytes = 16 << 10

func recordBytes(recs []streamcore.LogRecord) int {
	n := 0
	for i := range recs {
		n += len(recs[i].Data) + len(recs[i].PartitionKey)
	}
	return n
}

// AppendMulti queues every op's records on its log and hands all of those logs to the
// committer together, so they are written and synced in the same round; it waits for
// all of them (streamcore.MultiAppender).
func (s *Store) AppendMulti(ctx context.Context, ops []streamcore.AppendOp) {
	if err := ctx.Err(); err != nil {
		for i := range ops {
			ops[i].Err = err
		}
		return
	}
	reqs := make([]appendReq, len(ops))
	kicks := make([]*shardLog, 0, len(ops))
	for i := range ops {
		op := &ops[i]
		l, ok := op.Log.(*shardLog)
		if !ok || l.st != s {
			op.Err = fmt.Errorf("filestore: AppendMulti: log %d is not this store's", i)
			continue
		}
		if len(op.Recs) == 0 {
			op.First, op.ArrivalMs, op.Err = l.Append(ctx, nil)
			continue
		}
		if op.Err = checkFrameable(op.Recs); op.Err != nil {
			continue
		}
		reqs[i] = appendReq{recs: op.Recs, done: make(chan struct{})}
		kick, err := l.queueAppend(&reqs[i])
		if err != nil {
			op.Err, reqs[i].done = err, nil
			continue
		}
		if kick {
			kicks = append(kicks, l)
		}
	}
	s.com.enqueue(kicks...)
	for i := range ops {
		if r := &reqs[i]; r.done != nil {
			<-r.done
			ops[i].First, ops[i].ArrivalMs, ops[i].Err = r.first, r.ms, r.err
		}
	}
}

// checkFrameable refuses records the frame format cannot hold.
func checkFrameable(recs []streamcore.LogRecord) error {
	for i := range recs {
		if len(recs[i].PartitionKey) > MaxPartitionKey {
			return fmt.Errorf("filestore: record %d: partition key of %d bytes is over %d", i, len(recs[i].PartitionKey), MaxPartitionKey)
		}
		if FrameBodyFixed+len(recs[i].PartitionKey)+len(recs[i].Data) > MaxFrameBody {
			return fmt.Errorf("filestore: record %d: %d bytes of data is over the frame limit", i, len(recs[i].Data))
		}
	}
	return nil
}

// queueAppend adds req to l's queue. kick reports that l is not yet scheduled for the
// next round: the caller must hand it to the committer.
func (l *shardLog) queueAppend(req *appendReq) (kick bool, err error) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if l.qclosed {
		return false, ErrClosed
	}
	l.queue = append(l.queue, req)
	l.qbytes += int64(recordBytes(req.recs))
	kick = !l.pending
	l.pending = true
	return kick, nil
}

// committer runs the store's commit rounds. A round takes every log with queued appends
// (or a pending close), writes each log's group and, under SyncAlways, fsyncs it; the
// logs of a round are handled in parallel and the next round starts when all of them
// are done. Appends that arrive meanwhile queue for the next round, so one round commits
// the records of every concurrent writer across all shard logs together, and callers
// whose records span several shards are released at the same moment.
type committer struct {
	st        *Store
	mu        sync.Mutex
	logs      []*shardLog // logs with queued work, each once (shardLog.pending)
	wake      chan struct{}
	stop      chan struct{}
	closeOnce sync.Once
	startOnce sync.Once
	done      chan struct{}
}

// newCommitter makes the store's committer; start runs it. Open starts it once recovery
// has set the journal's state up (a round reads that state), or before closing a store
// whose recovery failed.
func newCommitter(st *Store) *committer {
	return &committer{st: st, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

func (c *committer) start() { c.startOnce.Do(func() { go c.run() }) }

// enqueue schedules logs for the next round, together. The caller has set their pending.
func (c *committer) enqueue(logs ...*shardLog) {
	if len(logs) == 0 {
		return
	}
	c.mu.Lock()
	c.logs = append(c.logs, logs...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// kick wakes the committer for work that is not a log (journal control entries).
func (c *committer) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close stops the committer once every log is closed.
func (c *committer) close() {
	c.start() // a committer never started still closes done
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	var tick <-chan time.Time
	if c.st.opt.Sync == SyncInterval {
		t := time.NewTicker(c.st.opt.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	unsynced := map[*shardLog]struct{}{} // SyncInterval: written, not yet fsynced
	var round []*shardLog
	var res []commitResult
	var wg sync.WaitGroup
	for {
		select {
		case <-c.wake:
		case <-tick:
			if c.st.jr != nil {
				c.st.jr.sync()
				continue
			}
			for l := range unsynced {
				l.cmu.Lock()
				l.syncIfNeeded()
				synced := !l.w.needSync
				l.cmu.Unlock()
				if synced {
					delete(unsynced, l)
				}
			}
			continue
		case <-c.stop:
			return
		}
		c.mu.Lock()
		round, c.logs = c.logs, round[:0]
		c.mu.Unlock()
		if c.st.jr != nil {
			c.journalRound(round)
			clear(round)
			continue
		}
		if len(round) == 0 {
			continue
		}
		res = slices.Grow(res[:0], len(round))[:len(round)]
		for i, l := range round[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i+1] = l.commit()
			}()
		}
		res[0] = round[0].commit()
		wg.Wait()
		for i, l := range round {
			if res[i].stopping {
				delete(unsynced, l)
				close(l.done)
			} else if res[i].needSync {
				unsynced[l] = struct{}{}
			}
		}
		clear(round)
	}
}

type commitResult struct{ stopping, needSync bool }

// commit is l's part of a commit round: write (and sync) what is queued; on a close,
// sync and stop taking work.
func (l *shardLog) commit() commitResult {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	stopping, needSync := l.commitLocked()
	return commitResult{stopping, needSync}
}

// commitLocked is commit with l.cmu held. stopping reports that the log saw its close:
// the caller must close l.done.
func (l *shardLog) commitLocked() (stopping, needSync bool) {
	l.qmu.Lock()
	batch := l.queue
	l.queue = l.batch[:0]
	l.qbytes = 0
	l.pending = false
	stopping = l.qclosed
	l.qmu.Unlock()
	if len(batch) > 0 {
		l.writeGroup(batch)
		l.detach()
	}
	clear(batch)
	l.batch = batch
	if stopping {
		l.syncIfNeeded()
	}
	return stopping, l.w.needSync
}

func (l *shardLog) syncIfNeeded() {
	if !l.w.needSync {
		return
	}
	l.st.ctr.fsyncs.Add(1)
	if err := l.w.f.Sync(); err != nil {
		l.st.log.Warn("periodic fsync failed", "log", l.id, "err", err)
		return
	}
	l.w.needSync = false
	l.maybeCheckpoint(false)
	l.dropBehind()
}

// maybeCheckpoint writes the active segment's index once CheckpointBytes of synced frames
// accumulated since the last one (or always, if force), so recovery after a crash scans
// only what came after it. The caller guarantees everything up to w.off is synced.
func (l *shardLog) maybeCheckpoint(force bool) {
	w := &l.w
	if w.off == w.ckptOff || (!force && w.off-w.ckptOff < l.opt.CheckpointBytes) {
		return
	}
	if err := writeIndexFile(l.opt.FS, l.dir, w.active, w.active.idx, false); err != nil {
		l.st.log.Warn("writing index checkpoint failed", "log", l.id, "segment", w.active.segPath, "err", err)
		return
	}
	w.ckptOff = w.off
}

func (l *shardLog) fail(reqs []*appendReq, err error) {
	l.st.ctr.appendErrors.Add(uint64(len(reqs)))
	l.st.noteWrite(err)
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

// prepareWrite readies the active segment's file for a write: created if the log has
// none yet, attached (journal mode: taken from the handle cache) and cut back after a
// failed write. The caller detaches when done.
func (l *shardLog) prepareWrite() error {
	w := &l.w
	if !w.hasFile {
		if err := l.createFirstSegment(); err != nil {
			return fmt.Errorf("filestore: log %q: create first segment: %w", l.id, err)
		}
	} else if err := l.attach(); err != nil {
		return fmt.Errorf("filestore: log %q: %w", l.id, err)
	}
	if err := l.repair(); err != nil {
		return fmt.Errorf("filestore: log %q: repairing a failed write: %w", l.id, err)
	}
	return nil
}

// attach takes the active segment's file from the handle cache (journal mode; without
// a journal it is always open).
func (l *shardLog) attach() error {
	w := &l.w
	if l.st.jr == nil || !w.hasFile || w.attached != nil {
		return nil
	}
	f, err := l.st.cache.acquire(w.active, l.st)
	if err != nil {
		return err
	}
	w.f, w.attached = f, w.active
	return nil
}

// detach gives the active segment's file back to the handle cache (journal mode).
func (l *shardLog) detach() {
	w := &l.w
	if l.st.jr == nil || w.attached == nil {
		return
	}
	l.st.cache.release(w.attached)
	w.f, w.attached = nil, nil
}

// writeGroup writes every queued Append with one write and one fsync per segment touched.
func (l *shardLog) writeGroup(batch []*appendReq) {
	w := &l.w
	if err := l.prepareWrite(); err != nil {
		l.fail(batch, err)
		return
	}
	if !w.dirSync {
		// A journal-mode log whose first segment was created lazily: this group is
		// durable by its own fsync, not the journal, so its file must be found again.
		if err := l.opt.FS.SyncDir(l.dir); err != nil {
			l.fail(batch, fmt.Errorf("filestore: log %q: %w", l.id, err))
			return
		}
		if err := l.opt.FS.SyncDir(filepath.Dir(l.dir)); err != nil {
			l.fail(batch, fmt.Errorf("filestore: log %q: %w", l.id, err))
			return
		}
		w.dirSync = true
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
					l.fail(batch[i:], err)
					return
				}
			}
			if err := l.roll(); err != nil {
				l.fail(batch[i:], fmt.Errorf("filestore: log %q: new segment: %w", l.id, err))
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
		if wo, ok := w.f.(writerOut); ok && len(w.buf) >= writeOutMin {
			err = wo.WriteOut(w.off, int64(len(w.buf)))
		}
		if err == nil {
			err = w.f.Sync()
			l.st.ctr.fsyncs.Add(1)
		}
	}
	if err != nil {
		w.dirty = true
		rerr := l.repair()
		w.sinceRecs, w.sinceBytes = w.markRecs, w.markBytes
		w.buf, w.pendIdx = w.buf[:0], w.pendIdx[:0]
		err = fmt.Errorf("filestore: log %q: append: %w", l.id, err)
		l.st.log.Warn("append failed; nothing of it is visible", "log", l.id, "err", err, "repair_err", rerr)
		l.fail(reqs, err)
		return err
	}
	l.st.noteWrite(nil)
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
		l.dropBehind()
	}
	return nil
}

// writeOutMin: groups this large have their data written out before the fsync, so the
// filesystem's journal commit that the fsync triggers carries metadata only and stays
// short for every other log's fsync that has to wait for it (ext4 data=ordered).
const writeOutMin = 64 << 10

// dropBehind frees the page cache of synced frames more than CacheWindow behind the
// write head (and, once the head is that far into a new segment, the cached tail of the
// segment sealed before it). Tailing readers stay inside the window and keep reading
// from memory; the kernel gets back pages at the rate new ones are written, so writes
// reuse freed memory instead of growing the cache (writing into fresh page-cache pages
// cost about twice the system CPU per byte on the test VM).
func (l *shardLog) dropBehind() {
	w := &l.w
	win := l.opt.CacheWindow
	if win < 0 {
		return
	}
	step := min(4<<20, max(win, 4<<10)) // advise in chunks, not after every group
	if w.off-win-w.dropped >= step {
		if d, ok := w.f.(cacheDropper); ok {
			d.DropCache(w.dropped, w.off-win-w.dropped)
		}
		w.dropped = w.off - win
	}
	if w.sealTail != "" && w.off >= win {
		if f, err := l.opt.FS.OpenFile(w.sealTail, os.O_RDONLY, 0); err == nil {
			if d, ok := f.(cacheDropper); ok {
				d.DropCache(w.sealFrom, 0) // n=0: to the end of the file
			}
			_ = f.Close()
		}
		w.sealTail = ""
	}
}

// roll seals the active segment (sync, index file) and starts a new one.
func (l *shardLog) roll() error {
	w := &l.w
	old := w.active
	if w.needSync || l.st.jr != nil { // journal mode: the segment holds unsynced frames
		if err := w.f.Sync(); err != nil {
			return err
		}
		w.needSync = false
	}
	if err := writeIndexFile(l.opt.FS, l.dir, old, old.idx, true); err != nil {
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
	if l.st.jr != nil {
		l.st.cache.addActive(seg, f)
		l.st.cache.deactivate(old)
		l.detach()
		w.attached = seg
	} else {
		l.st.cache.add(seg, f)
		l.st.cache.unpin(old)
	}
	if l.opt.CacheWindow >= 0 {
		w.sealTail, w.sealFrom = old.segPath, w.dropped
	}
	w.active, w.f, w.off, w.ckptOff, w.dropped = seg, f, SegmentHeaderSize, SegmentHeaderSize, 0
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

// createFirstSegment creates the file of an empty log's active segment (which Open left
// without one). On error nothing is left on disk and the next append tries again.
func (l *shardLog) createFirstSegment() error {
	w := &l.w
	if l.st.jr != nil {
		// Journal mode: no fsync. Until a checkpoint syncs it, what is written here is
		// in the journal too, and recovery re-creates a file a crash forgot.
		if err := l.opt.FS.MkdirAll(l.dir, dirPerm); err != nil {
			return err
		}
		f, err := l.opt.FS.OpenFile(w.active.segPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, filePerm)
		if err != nil {
			return err
		}
		if _, err := f.WriteAt(segmentHeader(w.active.base), 0); err != nil {
			_ = f.Close()
			_ = l.opt.FS.Remove(w.active.segPath)
			return err
		}
		l.st.cache.addActive(w.active, f)
		w.f, w.attached, w.hasFile, w.dirSync = f, w.active, true, false
		return nil
	}
	f, err := l.writeSegmentFile(w.active)
	if err == nil {
		if err = l.opt.FS.SyncDir(filepath.Dir(l.dir)); err != nil { // the log's directory entry
			_ = f.Close()
			_ = l.opt.FS.Remove(w.active.segPath)
		}
	}
	if err != nil {
		return err
	}
	l.st.cache.add(w.active, f)
	w.f, w.hasFile, w.dirSync = f, true, true
	return nil
}

// createSegment creates an empty, synced segment file starting at base.
func (l *shardLog) createSegment(base uint64, prevMs int64) (*segment, File, error) {
	seg := l.segmentFor(base, prevMs)
	f, err := l.writeSegmentFile(seg)
	if err != nil {
		return nil, nil, err
	}
	return seg, f, nil
}

// writeSegmentFile creates seg's file with its header, synced along with the directory
// entry. On error the file is removed.
func (l *shardLog) writeSegmentFile(seg *segment) (File, error) {
	f, err := l.opt.FS.OpenFile(seg.segPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteAt(segmentHeader(seg.base), 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = l.opt.FS.SyncDir(l.dir)
	}
	if err != nil {
		_ = f.Close()
		_ = l.opt.FS.Remove(seg.segPath)
		return nil, err
	}
	return f, nil
}
