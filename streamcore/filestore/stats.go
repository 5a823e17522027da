package filestore

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"
)

// Stats is a snapshot of the store's counters, for metrics and logs.
type Stats struct {
	Logs             int
	Segments         int
	Bytes            int64  // durable bytes in all segments
	OpenFiles        int    // sealed-segment handles open now (active segments not counted)
	TrimmedSegments  uint64 // segments deleted by TrimBefore since Open
	TrimmedRecords   uint64
	AppendErrors     uint64 // Append calls that failed on a write, fsync or roll
	Fsyncs           uint64 // fsyncs (and syncfs calls) of segment and journal files by writers
	JournalFsyncs    uint64 // of which fsyncs of the journal: one per commit round
	Checkpoints      uint64 // journal checkpoints done
	NoSpaceErrors    uint64 // writes (appends, segment creates, metadata commits) that failed with ENOSPC
	OtherWriteErrors uint64 // writes that failed for another reason
}

type counters struct {
	trimmedSegments  atomic.Uint64
	trimmedRecords   atomic.Uint64
	appendErrors     atomic.Uint64
	fsyncs           atomic.Uint64
	journalFsyncs    atomic.Uint64
	checkpoints      atomic.Uint64
	noSpaceErrors    atomic.Uint64
	otherWriteErrors atomic.Uint64
}

// Stats returns current counters. It takes each log's lock briefly.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	logs := make([]*shardLog, 0, len(s.logs))
	for _, l := range s.logs {
		logs = append(logs, l)
	}
	s.mu.Unlock()
	st := Stats{
		Logs:             len(logs),
		TrimmedSegments:  s.ctr.trimmedSegments.Load(),
		TrimmedRecords:   s.ctr.trimmedRecords.Load(),
		AppendErrors:     s.ctr.appendErrors.Load(),
		Fsyncs:           s.ctr.fsyncs.Load(),
		JournalFsyncs:    s.ctr.journalFsyncs.Load(),
		Checkpoints:      s.ctr.checkpoints.Load(),
		NoSpaceErrors:    s.ctr.noSpaceErrors.Load(),
		OtherWriteErrors: s.ctr.otherWriteErrors.Load(),
	}
	for _, l := range logs {
		l.mu.RLock()
		st.Segments += len(l.segs)
		for _, seg := range l.segs {
			st.Bytes += seg.size
		}
		l.mu.RUnlock()
	}
	s.cache.mu.Lock()
	st.OpenFiles = s.cache.lru.Len()
	s.cache.mu.Unlock()
	return st
}

// noSpace is the store's full-disk state: set by a write that failed with ENOSPC (a
// segment write, fsync or create, or a metadata commit), cleared by the next write that
// succeeds.
type noSpace struct {
	err    error
	since  time.Time
	logged bool // its start was logged at Error (not rate-limited to Debug)
}

// fullLogEvery bounds how often a store flapping between full and writable (writes that
// fit in already allocated blocks succeed) logs the transitions at Error/Info; the
// others go to Debug. Metrics and Full follow every transition.
const fullLogEvery = time.Minute

// noteWrite records the outcome of a write to the disk: every ENOSPC is counted, and the
// first after a success marks the store full (logged with the cause, at Error at most
// once per fullLogEvery); a success after that marks it writable again.
func (s *Store) noteWrite(err error) {
	if err == nil {
		if s.full.Load() == nil { // the common case: no shared write
			return
		}
		if old := s.full.Swap(nil); old != nil {
			lvl := slog.LevelInfo
			if !old.logged {
				lvl = slog.LevelDebug
			}
			s.log.Log(context.Background(), lvl, "storage writable again: writes resume", "dir", s.dir,
				"full_for", time.Since(old.since).Round(time.Millisecond))
		}
		return
	}
	if !errors.Is(err, syscall.ENOSPC) {
		s.ctr.otherWriteErrors.Add(1)
		return
	}
	s.ctr.noSpaceErrors.Add(1)
	if s.full.Load() != nil { // already full: counted only
		return
	}
	now := time.Now()
	last := s.fullLogged.Load()
	logIt := now.UnixNano()-last >= int64(fullLogEvery) && s.fullLogged.CompareAndSwap(last, now.UnixNano())
	if !s.full.CompareAndSwap(nil, &noSpace{err: err, since: now, logged: logIt}) {
		return
	}
	lvl := slog.LevelDebug
	if logIt {
		lvl = slog.LevelError
	}
	s.log.Log(context.Background(), lvl, "storage full (ENOSPC, no space left on device): writes are refused until space is freed; acknowledged records stay readable",
		"dir", s.dir, "err", err)
}

// checkFreeSpace marks the store full at Open when its filesystem has no free blocks, so
// a daemon started on a full disk says so before the first write fails. Only for the
// real filesystem (OSFS).
func (s *Store) checkFreeSpace() {
	if _, ok := s.opt.FS.(OSFS); !ok || !noSpaceLeft(s.dir) {
		return
	}
	err := &fs.PathError{Op: "statfs", Path: s.dir, Err: syscall.ENOSPC}
	now := time.Now()
	s.fullLogged.Store(now.UnixNano())
	s.full.Store(&noSpace{err: err, since: now, logged: true})
	s.log.Error("storage full at start (ENOSPC, no space left on device): writes will be refused until space is freed; reads are served",
		"dir", s.dir)
}

// Full returns the error of the write that found the disk full (it wraps syscall.ENOSPC)
// while no write has succeeded since, else nil. Safe for concurrent use.
func (s *Store) Full() error {
	if f := s.full.Load(); f != nil {
		return f.err
	}
	return nil
}
