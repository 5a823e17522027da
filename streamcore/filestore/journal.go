package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Journal format constants (see the package documentation, "Journal").
const (
	JournalMagic      = "SLJN"
	JournalVersion    = 1
	JournalHeaderSize = 16
	JournalNameFormat = "%020d.jnl"
	JournalExt        = ".jnl"
	journalDirName    = "journal"

	entryVersion    = 1
	entryRecords    = 1 // a group of frames of one log
	entryDelete     = 2 // DeleteLog: earlier entries of the log are void
	entryFixed      = 4 // version u8, kind u8, idLen u16
	entryRecsFixed  = 12
	maxJournalEntry = 1 << 30
)

// journal is the store-wide write-ahead journal (Options.Journal on). The committer
// goroutine owns the write side (f, off, dirty, needSync, buf); mu guards the dirty-log
// set and the checkpoint state shared with the checkpoint goroutine.
type journal struct {
	st  *Store
	dir string

	f        File
	seq      uint64 // number of the segment f is, or will be when created
	off      int64
	dirty    bool // bytes past off may be on disk (a failed write not yet cut back)
	needSync bool // SyncInterval: written, not yet fsynced
	buf      []byte
	staged   []staged
	dropped  int64

	mu      sync.Mutex
	logs    map[*shardLog]struct{} // written through the journal since the last checkpoint began
	ckptLog map[*shardLog]struct{} // those of the running checkpoint (its journal segments still exist)
	oldest  uint64                 // oldest journal segment that may still exist
	ckpt    bool                   // a checkpoint is running
	ckptEnd chan struct{}          // closed when the running checkpoint ends (nil: none ran yet)
	ctl     []*ctlReq // control entries (DeleteLog) for the next round
	failCkp error     // the last checkpoint's error, for Close
}

// ctlReq is a control entry waiting for a round.
type ctlReq struct {
	entry []byte
	err   error
	done  chan struct{}
}

// staged is one log's group written to its segment file in this round, published once
// the journal write holding it is durable. The log's cmu is held meanwhile.
type staged struct {
	l       *shardLog
	reqs    []*appendReq
	lastSeq uint64
	lastMs  int64
	newOff  int64
}

func (j *journal) path(seq uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf(JournalNameFormat, seq))
}

func journalHeader(seq uint64) []byte {
	b := make([]byte, JournalHeaderSize)
	copy(b, JournalMagic)
	binary.LittleEndian.PutUint16(b[4:], JournalVersion)
	binary.LittleEndian.PutUint64(b[8:], seq)
	return b
}

// appendEntryHead starts an entry of kind for log id at the end of b; finishEntry fills
// in its length and crc once the body is complete.
func appendEntryHead(b []byte, kind uint8, id string) []byte {
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, entryVersion, kind)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(id)))
	return append(b, id...)
}

func finishEntry(b []byte, start int) {
	body := b[start+FrameHeaderSize:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], crcOf(body))
}

// ---- writing ----

// write appends b to the current journal segment (creating it if needed) and, under
// SyncAlways, fsyncs it: the one fsync of a commit round. On failure the segment is cut
// back to where it was.
func (j *journal) write(b []byte) error {
	fsys := j.st.opt.FS
	if j.dirty && j.f != nil {
		if err := j.f.Truncate(j.off); err != nil {
			return fmt.Errorf("filestore: journal: repairing a failed write: %w", err)
		}
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("filestore: journal: repairing a failed write: %w", err)
		}
		j.dirty = false
	}
	if j.f == nil {
		if err := j.create(); err != nil {
			return fmt.Errorf("filestore: journal: new segment: %w", err)
		}
	}
	_, err := j.f.WriteAt(b, j.off)
	if err == nil && j.st.opt.Sync == SyncAlways {
		j.st.ctr.fsyncs.Add(1)
		j.st.ctr.journalFsyncs.Add(1)
		err = j.f.Sync()
	}
	if err != nil {
		j.dirty = true
		if terr := j.f.Truncate(j.off); terr == nil && j.f.Sync() == nil {
			j.dirty = false
		}
		return fmt.Errorf("filestore: journal: %w", err)
	}
	j.off += int64(len(b))
	if j.st.opt.Sync == SyncInterval {
		j.needSync = true
	} else {
		j.dropBehind()
	}
	_ = fsys
	return nil
}

// dropBehind frees the page cache of the synced journal: it is read only by recovery.
func (j *journal) dropBehind() {
	if j.off-j.dropped < 4<<20 {
		return
	}
	if d, ok := j.f.(cacheDropper); ok {
		d.DropCache(j.dropped, j.off-j.dropped)
	}
	j.dropped = j.off
}

// create starts journal segment j.seq: header written and synced with its directory
// entry, so that records acknowledged in it are never in a file a crash forgets.
func (j *journal) create() error {
	fsys := j.st.opt.FS
	if err := fsys.MkdirAll(j.dir, dirPerm); err != nil {
		return err
	}
	p := j.path(j.seq)
	f, err := fsys.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(journalHeader(j.seq), 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = fsys.SyncDir(j.dir)
	}
	if err != nil {
		_ = f.Close()
		_ = fsys.Remove(p)
		return err
	}
	j.f, j.off, j.dropped, j.dirty, j.needSync = f, JournalHeaderSize, 0, false, false
	return nil
}

// sync fsyncs the journal under SyncInterval.
func (j *journal) sync() {
	if !j.needSync || j.f == nil {
		return
	}
	j.st.ctr.fsyncs.Add(1)
	j.st.ctr.journalFsyncs.Add(1)
	if err := j.f.Sync(); err != nil {
		j.st.log.Warn("periodic journal fsync failed", "err", err)
		return
	}
	j.needSync = false
	j.dropBehind()
}

// ---- rounds ----

// round commits one round in journal mode. Logs with a large group are committed on
// their own (write and fsync of their segment, in parallel, as without a journal);
// the others are written to their segment files one after the other with no fsync,
// their frames gathered into one journal write, and published once that write is
// durable: one fsync for all of them.
func (c *committer) journalRound(round []*shardLog) {
	st := c.st
	j := st.jr
	var direct []*shardLog
	var stops []*shardLog
	j.mu.Lock()
	ctl := j.ctl
	j.ctl = nil
	j.mu.Unlock()
	jb := j.buf[:0]
	for _, r := range ctl {
		jb = append(jb, r.entry...)
	}
	nctl := len(jb)
	staged := j.staged[:0]
	now := st.opt.Now().UnixMilli()
	for _, l := range round {
		if st.opt.Sync == SyncAlways && l.queuedBytes() >= st.opt.JournalGroupBytes {
			direct = append(direct, l)
			continue
		}
		s, stopping := l.stage(&jb, now)
		if s.l != nil {
			staged = append(staged, s)
		}
		if stopping {
			stops = append(stops, l)
		}
	}
	var wg sync.WaitGroup
	res := make([]commitResult, len(direct))
	for i, l := range direct {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = l.commit()
		}()
	}
	var err error
	if len(jb) > 0 {
		err = j.write(jb)
	}
	if len(staged) > 0 || nctl > 0 {
		st.noteWrite(err) // before anyone is released: a caller sees the store writable
	}
	for i := range staged {
		s := &staged[i]
		if err != nil {
			s.l.unstage(s, err)
		} else {
			s.l.publish(s)
		}
	}
	if err == nil && len(staged) > 0 {
		j.mu.Lock()
		for i := range staged {
			j.logs[staged[i].l] = struct{}{}
		}
		j.mu.Unlock()
	}
	for _, r := range ctl {
		r.err = err
		close(r.done)
	}
	wg.Wait()
	for i, l := range direct {
		if res[i].stopping {
			stops = append(stops, l)
		}
	}
	for _, l := range stops {
		close(l.done)
	}
	clear(staged)
	j.staged = staged[:0]
	if cap(jb) > 64<<20 {
		jb = nil
	}
	j.buf = jb[:0]
	if j.off >= st.opt.JournalBytes {
		j.startCheckpoint()
	}
}

// queuedBytes is the size of l's queued records.
func (l *shardLog) queuedBytes() int64 {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.qbytes
}

// stage takes l's queue and writes it to the active segment (no fsync) and as one
// entry into jb. On success the returned staged has l set and l.cmu stays held until
// publish or unstage. stopping reports that l saw its close: the caller closes l.done
// after the round.
func (l *shardLog) stage(jb *[]byte, now int64) (s staged, stopping bool) {
	l.cmu.Lock()
	l.qmu.Lock()
	batch := l.queue
	l.queue = l.batch[:0]
	l.qbytes = 0
	l.pending = false
	stopping = l.qclosed
	l.qmu.Unlock()
	if len(batch) == 0 {
		l.cmu.Unlock()
		return s, stopping
	}
	w := &l.w
	release := func() {
		l.detach()
		l.recycle(batch)
		l.cmu.Unlock()
	}
	if err := l.prepareWrite(); err != nil {
		l.fail(batch, err)
		release()
		return s, stopping
	}
	// Roll before a group that does not fit; take the requests that fit (at least
	// one) and queue the rest for the next round, which rolls again.
	sizes := func(r *appendReq) int64 {
		n := 0
		for i := range r.recs {
			n += frameSize(len(r.recs[i].PartitionKey), len(r.recs[i].Data))
		}
		return int64(n)
	}
	if w.off > SegmentHeaderSize && w.off+sizes(batch[0]) > l.opt.SegmentBytes {
		if err := l.roll(); err != nil {
			l.fail(batch, fmt.Errorf("filestore: log %q: new segment: %w", l.id, err))
			release()
			return s, stopping
		}
	}
	n, total := 0, int64(0)
	for n < len(batch) {
		b := sizes(batch[n])
		if n > 0 && w.off+total+b > l.opt.SegmentBytes {
			break
		}
		total += b
		n++
	}
	reqs := batch[:n]
	if n < len(batch) {
		l.requeue(batch[n:])
		if stopping { // its done is closed after the round that takes the rest
			stopping = false
		}
	}
	start := len(*jb)
	b := appendEntryHead(*jb, entryRecords, l.id)
	seq, ms := w.last+1, max(now, w.lastMs)
	b = binary.LittleEndian.AppendUint64(b, seq)
	count := 0
	for _, r := range reqs {
		count += len(r.recs)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(count))
	framesAt := len(b)
	w.pendIdx = w.pendIdx[:0]
	w.markRecs, w.markBytes = w.sinceRecs, w.sinceBytes
	for _, req := range reqs {
		req.first, req.ms = seq, ms
		for k := range req.recs {
			r := &req.recs[k]
			if w.sinceRecs >= l.opt.IndexEveryRecords || w.sinceBytes >= l.opt.IndexEveryBytes {
				w.pendIdx = append(w.pendIdx, indexEntry{seq: seq, off: w.off + int64(len(b)-framesAt), ms: ms})
				w.sinceRecs, w.sinceBytes = 0, 0
			}
			k0 := len(b)
			b = appendFrame(b, r.Flags, seq, ms, r.PartitionKey, r.Data)
			w.sinceRecs++
			w.sinceBytes += int64(len(b) - k0)
			seq++
		}
	}
	finishEntry(b, start)
	*jb = b
	w.dirty = true // until the journal write is durable, bytes past off are not ours
	if _, err := w.f.WriteAt(b[framesAt:], w.off); err != nil {
		*jb = b[:start]
		err = fmt.Errorf("filestore: log %q: append: %w", l.id, err)
		rerr := l.repair()
		w.sinceRecs, w.sinceBytes = w.markRecs, w.markBytes
		w.pendIdx = w.pendIdx[:0]
		l.st.log.Warn("append failed; nothing of it is visible", "log", l.id, "err", err, "repair_err", rerr)
		l.fail(reqs, err)
		release()
		return s, stopping
	}
	return staged{l: l, reqs: reqs, lastSeq: seq - 1, lastMs: ms, newOff: w.off + int64(len(b)-framesAt)}, stopping
}

// requeue puts reqs back at the head of l's queue and schedules l for the next round.
func (l *shardLog) requeue(reqs []*appendReq) {
	l.qmu.Lock()
	l.queue = append(slices.Clone(reqs), l.queue...)
	for _, r := range reqs {
		l.qbytes += int64(recordBytes(r.recs))
	}
	kick := !l.pending
	l.pending = true
	l.qmu.Unlock()
	if kick {
		l.st.com.enqueue(l)
	}
}

// publish makes a staged group visible once the journal holds it durably.
func (l *shardLog) publish(s *staged) {
	w := &l.w
	w.off, w.dirty = s.newOff, false
	w.markRecs, w.markBytes = w.sinceRecs, w.sinceBytes
	a := w.active
	l.mu.Lock()
	if a.empty() {
		a.firstMs = s.reqs[0].ms
	}
	a.last, a.lastMs, a.size = s.lastSeq, s.lastMs, w.off
	a.idx = append(a.idx, w.pendIdx...)
	l.last, l.lastMs = s.lastSeq, s.lastMs
	ch := l.notify
	l.notify = nil
	l.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	w.last, w.lastMs = s.lastSeq, s.lastMs
	w.pendIdx = w.pendIdx[:0]
	l.detach()
	for _, r := range s.reqs {
		close(r.done)
	}
	l.recycle(s.reqs)
	l.cmu.Unlock()
}

// recycle keeps the slice a round took as l's next spare queue (cmu held).
func (l *shardLog) recycle(reqs []*appendReq) {
	clear(reqs[:cap(reqs)])
	l.batch = reqs[:0]
}

// unstage fails a staged group whose journal write failed: its frames are cut from
// the segment file and nothing of it becomes visible.
func (l *shardLog) unstage(s *staged, err error) {
	w := &l.w
	rerr := l.repair()
	w.sinceRecs, w.sinceBytes = w.markRecs, w.markBytes
	w.pendIdx = w.pendIdx[:0]
	l.st.log.Warn("append failed; nothing of it is visible", "log", l.id, "err", err, "repair_err", rerr)
	l.detach()
	l.fail(s.reqs, err)
	l.recycle(s.reqs)
	l.cmu.Unlock()
}

// control writes a control entry to the journal in the next round and waits for it.
func (j *journal) control(entry []byte) error {
	r := &ctlReq{entry: entry, done: make(chan struct{})}
	j.mu.Lock()
	j.ctl = append(j.ctl, r)
	j.mu.Unlock()
	j.st.com.kick()
	<-r.done
	return r.err
}

// mayHold reports whether a journal segment still on disk may hold records of l: it
// was written through the journal since the last checkpoint that finished. A log that
// was not needs no delete entry, so deleting it writes nothing (it works on a full disk).
func (j *journal) mayHold(l *shardLog) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, a := j.logs[l]
	_, b := j.ckptLog[l]
	return a || b
}

// ---- checkpoints ----

// waitCheckpoint waits for the checkpoint running now, if any, to end. Unlike a
// WaitGroup it may be called while the committer starts the next one.
func (j *journal) waitCheckpoint() {
	j.mu.Lock()
	end, running := j.ckptEnd, j.ckpt
	j.mu.Unlock()
	if running {
		<-end
	}
}

// ckptLog is a log's published state when a checkpoint began.
type ckptLog struct {
	l   *shardLog
	seg segment // summary copy of the active segment
	act *segment
	idx []indexEntry
}

// startCheckpoint (committer, between rounds) closes the current journal segment and,
// unless one is running, starts a checkpoint of everything written before it: the
// segment files written through the journal are synced, their index checkpoints
// written, and the journal segments before the new one deleted.
func (j *journal) startCheckpoint() {
	j.mu.Lock()
	if j.ckpt {
		j.mu.Unlock()
		return
	}
	if j.f != nil {
		if j.needSync {
			j.sync()
			if j.needSync {
				j.mu.Unlock()
				return
			}
		}
		_ = j.f.Close()
		j.f = nil
		j.seq++
	}
	upTo := j.seq - 1
	logs := j.logs
	j.logs = map[*shardLog]struct{}{}
	j.ckptLog = logs
	j.ckpt = true
	end := make(chan struct{})
	j.ckptEnd = end
	j.mu.Unlock()
	snap := snapshotLogs(logs)
	go func() {
		err := j.checkpoint(snap, upTo)
		j.mu.Lock()
		j.ckpt = false
		j.ckptLog = nil
		j.failCkp = err
		close(end)
		if err != nil {
			for _, c := range snap {
				j.logs[c.l] = struct{}{}
			}
		}
		j.mu.Unlock()
		if err != nil {
			j.st.log.Warn("journal checkpoint failed; the journal is kept until the next one", "err", err)
		}
	}()
}

func snapshotLogs(logs map[*shardLog]struct{}) []ckptLog {
	out := make([]ckptLog, 0, len(logs))
	for l := range logs {
		l.mu.RLock()
		if !l.closed && len(l.segs) > 0 {
			a := l.segs[len(l.segs)-1]
			out = append(out, ckptLog{l: l, act: a, seg: segment{base: a.base, segPath: a.segPath, idxPath: a.idxPath,
				last: a.last, firstMs: a.firstMs, lastMs: a.lastMs, size: a.size}, idx: a.idx[:len(a.idx):len(a.idx)]})
		}
		l.mu.RUnlock()
	}
	return out
}

// checkpoint makes the segment files of snap durable up to the snapshot, writes their
// index checkpoints and deletes the journal segments up to upTo.
func (j *journal) checkpoint(snap []ckptLog, upTo uint64) error {
	if err := j.st.syncData(snap); err != nil {
		return err
	}
	j.st.ctr.checkpoints.Add(1)
	j.st.writeCheckpoints(snap)
	return j.removeUpTo(upTo)
}

// writeCheckpoints writes the index checkpoint of each synced snapshot whose segment is
// still its log's active one.
//
// Writing one small file per log costs more than the fsync it follows with thousands of
// logs, so a log that grew less than CheckpointBytes/16 is skipped while the skipped
// growth stays under 64 × CheckpointBytes: recovery scans at most that much more.
func (s *Store) writeCheckpoints(snap []ckptLog) {
	small, budget := s.opt.CheckpointBytes/16, 64*s.opt.CheckpointBytes
	var skipped int64
	for _, c := range snap {
		l := c.l
		l.cmu.Lock()
		l.mu.RLock()
		ok := !l.closed && l.w.active == c.act && !c.seg.empty()
		l.mu.RUnlock()
		grew := c.seg.size - l.w.ckptOff
		if ok && grew > 0 && grew < small && skipped+grew <= budget {
			skipped += grew
			ok = false
		}
		if ok && l.w.ckptOff < c.seg.size {
			if err := writeIndexSnapshot(l.opt.FS, &c.seg, c.idx); err != nil {
				l.st.log.Warn("writing index checkpoint failed", "log", l.id, "segment", c.seg.segPath, "err", err)
			} else {
				l.w.ckptOff = c.seg.size
			}
		}
		l.cmu.Unlock()
	}
}

// removeUpTo deletes journal segments up to upTo, oldest first.
func (j *journal) removeUpTo(upTo uint64) error {
	fsys := j.st.opt.FS
	j.mu.Lock()
	from := j.oldest
	j.mu.Unlock()
	for seq := from; seq <= upTo; seq++ {
		if err := fsys.Remove(j.path(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("filestore: journal: %w", err)
		}
		j.mu.Lock()
		j.oldest = seq + 1
		j.mu.Unlock()
	}
	if err := fsys.SyncDir(j.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("filestore: journal: %w", err)
	}
	return nil
}

// writeIndexSnapshot writes a checkpoint index for a snapshot of an active segment.
func writeIndexSnapshot(fsys FS, seg *segment, idx []indexEntry) error {
	n := len(idx)
	for n > 0 && idx[n-1].off >= seg.size {
		n--
	}
	return writeIndexFile(fsys, filepath.Dir(seg.segPath), seg, idx[:n], false)
}

// syncer is an optional FS method: make every written file of the filesystem holding
// dir durable at once (syncfs(2)).
type syncer interface {
	SyncFS(dir string) error
}

// syncData makes the segment files of snap durable: one syncfs where the FS has it,
// else an fsync of each file and directory.
func (s *Store) syncData(snap []ckptLog) error {
	if sf, ok := s.opt.FS.(syncer); ok {
		s.ctr.fsyncs.Add(1)
		return sf.SyncFS(s.dir)
	}
	fsys := s.opt.FS
	dirs := map[string]bool{}
	for _, c := range snap {
		f, err := fsys.OpenFile(c.seg.segPath, os.O_RDONLY, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue // trimmed or deleted since
		}
		if err != nil {
			return err
		}
		s.ctr.fsyncs.Add(1)
		err = f.Sync()
		_ = f.Close()
		if err != nil {
			return err
		}
		dirs[filepath.Dir(c.seg.segPath)] = true
	}
	for d := range dirs {
		if err := fsys.SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if len(dirs) > 0 {
		return fsys.SyncDir(filepath.Join(s.dir, logsDirName))
	}
	return nil
}

// ---- recovery ----

// journalEntry is a decoded journal entry.
type journalEntry struct {
	kind   uint8
	id     string
	first  uint64
	count  int
	frames []byte
	path   string
	off    int64
}

// listJournal returns the numbers of the journal segments in dir, oldest first.
func listJournal(fsys FS, dir string) ([]uint64, error) {
	entries, err := fsys.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpExt) {
			_ = fsys.Remove(filepath.Join(dir, name))
			continue
		}
		if !strings.HasSuffix(name, JournalExt) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, JournalExt), 10, 64)
		if err != nil || fmt.Sprintf(JournalNameFormat, n) != name {
			continue
		}
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// scanJournal decodes the entries of one journal segment. A bad entry in the last
// segment is a torn tail (bad != nil, goodEnd where it starts); in an earlier one the
// caller refuses it.
func scanJournal(b []byte, path string, seq uint64) (entries []journalEntry, goodEnd int64, bad *CorruptError) {
	if len(b) < JournalHeaderSize || string(b[:4]) != JournalMagic || binary.LittleEndian.Uint64(b[8:]) != seq {
		return nil, 0, &CorruptError{Path: path, Kind: ErrBadHeader, Detail: "journal segment header"}
	}
	if binary.LittleEndian.Uint16(b[4:]) != JournalVersion {
		return nil, 0, &CorruptError{Path: path, Kind: ErrBadVersion, Detail: "journal segment header"}
	}
	off := int64(JournalHeaderSize)
	for off < int64(len(b)) {
		badAt := func(kind error, detail string) ([]journalEntry, int64, *CorruptError) {
			return entries, off, &CorruptError{Path: path, Offset: off, Kind: kind, Detail: detail}
		}
		rest := b[off:]
		if len(rest) < FrameHeaderSize {
			return badAt(ErrTornFrame, fmt.Sprintf("%d bytes left, entry header needs %d", len(rest), FrameHeaderSize))
		}
		n := int64(binary.LittleEndian.Uint32(rest))
		if n < entryFixed || n > maxJournalEntry {
			return badAt(ErrBadLength, fmt.Sprintf("entry length %d", n))
		}
		if n > int64(len(rest))-FrameHeaderSize {
			return badAt(ErrTornFrame, fmt.Sprintf("entry of %d bytes, %d left", n, len(rest)-FrameHeaderSize))
		}
		body := rest[FrameHeaderSize : FrameHeaderSize+n]
		if crcOf(body) != binary.LittleEndian.Uint32(rest[4:]) {
			return badAt(ErrBadCRC, "journal entry")
		}
		if body[0] != entryVersion {
			return badAt(ErrBadVersion, "journal entry")
		}
		idLen := int(binary.LittleEndian.Uint16(body[2:]))
		if entryFixed+idLen > len(body) {
			return badAt(ErrBadLength, "journal entry id")
		}
		e := journalEntry{kind: body[1], id: string(body[entryFixed : entryFixed+idLen]), path: path, off: off}
		p := body[entryFixed+idLen:]
		switch e.kind {
		case entryRecords:
			if len(p) < entryRecsFixed {
				return badAt(ErrBadLength, "journal records entry")
			}
			e.first = binary.LittleEndian.Uint64(p)
			e.count = int(binary.LittleEndian.Uint32(p[8:]))
			e.frames = p[entryRecsFixed:]
		case entryDelete:
		default:
			return badAt(ErrBadVersion, fmt.Sprintf("journal entry kind %d", e.kind))
		}
		entries = append(entries, e)
		off += FrameHeaderSize + n
	}
	return entries, off, nil
}

// replayJournal (Open) brings every log up to the journal: the records of entries
// after a log's segment file ends are written to it. It returns the logs it wrote to.
func (s *Store) replayJournal(j *journal) (found bool, err error) {
	fsys := s.opt.FS
	seqs, err := listJournal(fsys, j.dir)
	if err != nil {
		return false, fmt.Errorf("filestore: journal: %w", err)
	}
	if len(seqs) == 0 {
		j.seq, j.oldest = 1, 1
		return false, nil
	}
	j.oldest, j.seq = seqs[0], seqs[len(seqs)-1]+1
	var all []journalEntry
	for i, seq := range seqs {
		p := j.path(seq)
		b, err := readWhole(fsys, p)
		if err != nil {
			return true, fmt.Errorf("filestore: journal: %w", err)
		}
		entries, goodEnd, bad := scanJournal(b, p, seq)
		if bad != nil {
			if i < len(seqs)-1 {
				return true, fmt.Errorf("filestore: sealed journal segment is damaged: %w", bad)
			}
			t := Truncation{Log: journalDirName, Segment: p, Offset: goodEnd, DroppedBytes: int64(len(b)) - goodEnd,
				Kind: bad.Kind, Detail: bad.Error()}
			if err := truncateFile(fsys, p, goodEnd); err != nil {
				return true, fmt.Errorf("filestore: journal: truncating torn tail: %w", err)
			}
			s.log.Warn("truncated torn journal tail", "segment", p, "offset", goodEnd, "dropped_bytes", t.DroppedBytes,
				"kind", t.Kind.Error(), "detail", bad.Detail)
			s.report.Truncations = append(s.report.Truncations, t)
		}
		all = append(all, entries...)
	}
	// A delete entry voids the log's earlier entries (a log re-created under the same id
	// starts afresh).
	lastDelete := map[string]int{}
	for i, e := range all {
		if e.kind == entryDelete {
			lastDelete[e.id] = i
		}
	}
	replayed := map[*shardLog]struct{}{}
	for i, e := range all {
		if e.kind != entryRecords {
			continue
		}
		if d, ok := lastDelete[e.id]; ok && d > i {
			continue
		}
		l := s.logs[e.id]
		if l == nil {
			if err := validLogID(e.id); err != nil {
				return true, &CorruptError{Path: e.path, Offset: e.off, Kind: ErrBadHeader, Detail: err.Error()}
			}
			l, err = openShardLog(s, e.id, s.logDir(e.id), &s.report)
			if err != nil {
				return true, err
			}
			s.logs[e.id] = l
		}
		wrote, err := l.replay(e)
		if err != nil {
			return true, err
		}
		if wrote {
			replayed[l] = struct{}{}
			s.report.Replayed += uint64(e.count)
		}
	}
	j.logs = replayed
	return true, nil
}

// recoverJournal (Open) replays the journal, whatever Options.Journal says (a store
// that ran with one and is opened without must not lose its tail), then makes every
// log durable and deletes the journal.
func (s *Store) recoverJournal() error {
	j := s.jr
	if j == nil {
		j = &journal{st: s, dir: filepath.Join(s.dir, journalDirName), logs: map[*shardLog]struct{}{}}
	}
	found, err := s.replayJournal(j)
	if err != nil || !found {
		return err
	}
	all := make(map[*shardLog]struct{}, len(s.logs))
	for _, l := range s.logs {
		all[l] = struct{}{}
	}
	snap := snapshotLogs(all)
	if err := s.syncData(snap); err != nil {
		if s.jr == nil {
			return fmt.Errorf("filestore: syncing logs replayed from the journal: %w", err)
		}
		s.log.Warn("syncing logs after recovery failed; the journal is kept", "err", err)
		j.logs = all
		return nil
	}
	// No index checkpoints here: one small file per log cost most of a 10,000-log
	// recovery, and what the next recovery scans instead is at most what was replayed.
	if err := j.removeUpTo(j.seq - 1); err != nil {
		if s.jr == nil {
			return err
		}
		s.log.Warn("removing the replayed journal failed", "err", err)
		j.logs = all // what is left may hold records of any log
	}
	return nil
}

func truncateFile(fsys FS, path string, size int64) error {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replay writes the records of e that l's segment files lack. A gap between the log's
// end and the entry means synced data went missing: that is refused.
func (l *shardLog) replay(e journalEntry) (bool, error) {
	w := &l.w
	last := w.last
	end := e.first + uint64(e.count) - 1
	if e.count == 0 || end <= last {
		return false, nil
	}
	if e.first > last+1 {
		return false, &CorruptError{Path: e.path, Offset: e.off, Kind: ErrBadSequence,
			Detail: fmt.Sprintf("journal entry for log %q starts at %d, the log ends at %d", l.id, e.first, last)}
	}
	frames := e.frames
	for seq := e.first; seq <= last; seq++ {
		n, err := checkLength(frames)
		if err != nil || FrameHeaderSize+n > len(frames) {
			return false, &CorruptError{Path: e.path, Offset: e.off, Kind: ErrBadLength, Detail: "frame in journal entry"}
		}
		frames = frames[FrameHeaderSize+n:]
	}
	if err := l.prepareWrite(); err != nil {
		return false, err
	}
	defer l.detach()
	seg := w.active
	if _, err := w.f.WriteAt(frames, w.off); err != nil {
		return false, fmt.Errorf("filestore: log %q: replaying the journal: %w", l.id, err)
	}
	r := scanResult{last: seg.last, firstMs: seg.firstMs, lastMs: w.lastMs, goodEnd: w.off, idx: seg.idx}
	r = scanFrames(w.f, seg.segPath, seg.base, w.off+int64(len(frames)), r, l.opt)
	if r.bad != nil {
		return false, fmt.Errorf("filestore: log %q: replaying the journal: %w", l.id, r.bad)
	}
	if seg.empty() {
		seg.firstMs = r.firstMs
	}
	seg.last, seg.lastMs, seg.size, seg.idx = r.last, r.lastMs, r.goodEnd, r.idx
	l.last, l.lastMs = r.last, r.lastMs
	w.off, w.last, w.lastMs = r.goodEnd, r.last, r.lastMs
	w.sinceRecs, w.sinceBytes = r.sinceRecs, r.sinceBytes
	return true, nil
}

// ---- close ----

func finishedEntry(b []byte) []byte {
	finishEntry(b, 0)
	return b
}

// closeJournalMode closes every log of a journal-mode store: all writers are stopped
// together (one round), all segment files synced at once (syncData), index checkpoints
// written, and the journal deleted when that all worked.
func (s *Store) closeJournalMode(logs []*shardLog) error {
	var kicks []*shardLog
	var stopped []*shardLog
	for _, l := range logs {
		l.qmu.Lock()
		if l.qclosed {
			l.qmu.Unlock()
			continue
		}
		l.qclosed = true
		if !l.pending {
			l.pending = true
			kicks = append(kicks, l)
		}
		l.qmu.Unlock()
		stopped = append(stopped, l)
	}
	s.com.enqueue(kicks...)
	all := make(map[*shardLog]struct{}, len(stopped))
	for _, l := range stopped {
		<-l.done
		all[l] = struct{}{}
	}
	s.jr.waitCheckpoint()
	snap := snapshotLogs(all)
	err := s.syncData(snap)
	if err == nil {
		s.writeCheckpoints(snap)
	}
	for _, l := range stopped {
		_ = l.finishClose(false)
	}
	s.com.close() // no tick touches the journal from here on
	if jerr := s.jr.closeJournal(err == nil && !s.openFailed); jerr != nil {
		err = errors.Join(err, jerr)
	}
	if err != nil {
		return fmt.Errorf("filestore: close: %w", err)
	}
	return nil
}

// closeJournal (Store.Close, after every log is closed and synced) waits for a running
// checkpoint and deletes the journal when nothing in it is needed any more.
func (j *journal) closeJournal(logsSynced bool) error {
	j.waitCheckpoint()
	if j.f != nil {
		j.sync()
		_ = j.f.Close()
		j.f = nil
		j.seq++
	}
	if !logsSynced {
		return nil
	}
	return j.removeUpTo(j.seq - 1)
}

var _ = time.Now
