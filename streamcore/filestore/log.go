package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

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
	pending bool  // queued in the committer for the next round
	qbytes  int64 // record bytes queued

	// cmu is held by whoever commits the log: the store's committer in a round, or an
	// Append writing a small group inline. It guards batch and w.
	cmu   sync.Mutex
	batch []*appendReq
	w     writer
	done  chan struct{} // closed by the committer after the round that saw qclosed

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

// writer is the log's write state, used only by the committer's rounds.
type writer struct {
	active   *segment
	f        File     // the active segment's file (journal mode: only while attached)
	hasFile  bool     // the active segment's file exists
	attached *segment // journal mode: the segment whose cache handle f is
	dirSync  bool     // the log's directory entries are durable (journal mode creates them lazily)
	off      int64    // end of the last good frame in the active segment
	dirty    bool     // bytes past off may be on disk (a failed write not yet repaired)
	needSync bool     // SyncInterval: written but not yet fsynced
	ckptOff  int64    // active segment size covered by its last index checkpoint
	last     uint64
	lastMs   int64

	sinceRecs  int
	sinceBytes int64
	markRecs   int
	markBytes  int64

	buf     []byte
	pendIdx []indexEntry

	dropped  int64  // the active segment's page cache is dropped below this offset
	sealTail string // path of the last sealed segment while its tail is still cached
	sealFrom int64  // …from this offset to its end
}

type readHint struct {
	seg *segment
	seq uint64
	off int64
}

var _ streamcore.ShardLog = (*shardLog)(nil)

func (l *shardLog) start() {
	l.done = make(chan struct{})
}

// stopWriter refuses new appends, lets the committer finish what is queued and waits
// for it. It reports false if the log was already stopped.
func (l *shardLog) stopWriter() bool {
	l.qmu.Lock()
	if l.qclosed {
		l.qmu.Unlock()
		return false
	}
	l.qclosed = true
	kick := !l.pending
	l.pending = true
	l.qmu.Unlock()
	if kick {
		l.st.com.enqueue(l)
	}
	<-l.done
	return true
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
	l.st.ctr.trimmedSegments.Add(uint64(k))
	l.st.ctr.trimmedRecords.Add(dropped)
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
	if !l.stopWriter() {
		return ErrClosed
	}
	return l.finishClose(!deleting)
}

// finishClose releases a stopped log's files, syncing the active segment first if
// syncIt.
func (l *shardLog) finishClose(syncIt bool) error {
	var err error
	if syncIt && l.w.hasFile {
		if aerr := l.attach(); aerr != nil {
			err = fmt.Errorf("filestore: log %q: sync on close: %w", l.id, aerr)
		} else if serr := l.w.f.Sync(); serr != nil {
			err = fmt.Errorf("filestore: log %q: sync on close: %w", l.id, serr)
		} else if !l.w.dirty {
			l.maybeCheckpoint(true)
		}
		l.detach()
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
