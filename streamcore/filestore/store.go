package filestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sluice-io/sluice/streamcore"
)

// SyncPolicy says when an Append is durable.
type SyncPolicy string

const (
	// SyncAlways: Append returns after an fsync covering its records (group commit).
	SyncAlways SyncPolicy = "always"
	// SyncInterval: Append returns after the write; the log fsyncs every SyncInterval.
	SyncInterval SyncPolicy = "interval"
)

// Defaults of Options.
const (
	DefaultSegmentBytes      = 64 << 20
	DefaultSyncInterval      = 100 * time.Millisecond
	DefaultIndexEveryRecords = 4096
	DefaultIndexEveryBytes   = 256 << 10
	DefaultMaxOpenFiles      = 256
	DefaultCheckpointBytes   = 4 << 20
	DefaultCacheWindow       = 32 << 20
	DefaultJournalBytes      = 64 << 20
	DefaultJournalGroupBytes = 256 << 10
)

// JournalMode says whether appends go through the store-wide journal.
type JournalMode string

const (
	// JournalOn: every commit round costs one fsync of the journal, whatever the
	// number of logs in it; segment files are written behind it and synced at
	// checkpoints (see the package documentation).
	JournalOn JournalMode = "on"
	// JournalOff: each log's group is fsynced in its own segment file.
	JournalOff JournalMode = "off"
)

// defaultJournal is the mode of Options.Journal's zero value.
const defaultJournal = JournalOn

// Options tune a Store. The zero value is the default.
type Options struct {
	SegmentBytes      int64         // roll to a new segment beyond this size; default 64 MiB
	Sync              SyncPolicy    // default SyncAlways
	SyncInterval      time.Duration // for SyncInterval; default 100ms
	IndexEveryRecords int           // sparse index density; default 4096 records…
	IndexEveryBytes   int64         // …or 256 KiB of frames, whichever comes first
	MaxOpenFiles      int           // open sealed-segment handles kept; default 256
	CheckpointBytes   int64         // checkpoint the active segment's index every so many bytes; default 4 MiB
	CacheWindow       int64         // synced bytes kept in the page cache behind each log's write head; default 32 MiB, <0 keeps all
	Journal           JournalMode   // default JournalOn
	JournalBytes      int64         // journal mode: checkpoint once a journal segment is this long; default 64 MiB
	JournalGroupBytes int64         // journal mode: a log's group at least this large is fsynced in its segment instead; default 256 KiB
	FS                FS            // default OSFS
	Logger            *slog.Logger  // default slog.Default()
	Now               func() time.Time
}

func (o *Options) withDefaults() (Options, error) {
	r := *o
	if r.SegmentBytes == 0 {
		r.SegmentBytes = DefaultSegmentBytes
	}
	if r.SegmentBytes < SegmentHeaderSize+FrameHeaderSize+FrameBodyFixed {
		return r, fmt.Errorf("filestore: SegmentBytes %d is too small", r.SegmentBytes)
	}
	switch r.Sync {
	case "":
		r.Sync = SyncAlways
	case SyncAlways, SyncInterval:
	default:
		return r, fmt.Errorf("filestore: unknown sync policy %q (want %q or %q)", r.Sync, SyncAlways, SyncInterval)
	}
	if r.SyncInterval <= 0 {
		r.SyncInterval = DefaultSyncInterval
	}
	if r.IndexEveryRecords <= 0 {
		r.IndexEveryRecords = DefaultIndexEveryRecords
	}
	if r.IndexEveryBytes <= 0 {
		r.IndexEveryBytes = DefaultIndexEveryBytes
	}
	if r.CheckpointBytes <= 0 {
		r.CheckpointBytes = DefaultCheckpointBytes
	}
	if r.CacheWindow == 0 {
		r.CacheWindow = DefaultCacheWindow
	}
	switch r.Journal {
	case "":
		r.Journal = defaultJournal
	case JournalOn, JournalOff:
	default:
		return r, fmt.Errorf("filestore: unknown journal mode %q (want %q or %q)", r.Journal, JournalOn, JournalOff)
	}
	if r.JournalBytes <= 0 {
		r.JournalBytes = DefaultJournalBytes
	}
	if r.JournalGroupBytes <= 0 {
		r.JournalGroupBytes = DefaultJournalGroupBytes
	}
	if r.MaxOpenFiles <= 0 {
		r.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if r.FS == nil {
		r.FS = OSFS{}
	}
	if r.Logger == nil {
		r.Logger = slog.Default().With("component", "filestore")
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r, nil
}

// Truncation is one torn or corrupt tail that recovery cut off.
type Truncation struct {
	Log          string
	Segment      string
	Offset       int64 // where the segment now ends
	DroppedBytes int64
	Kind         error // ErrTornFrame, ErrBadCRC, …
	Detail       string
}

// RecoveryReport says what Open (and OpenLog of logs not seen at Open) found.
type RecoveryReport struct {
	Logs             int
	Segments         int
	IndexRebuilt     int // sealed segments whose .idx was missing or stale and was rebuilt
	Records          uint64
	Truncations      []Truncation
	Replayed         uint64 // records written from the journal into segment files
	Duration         time.Duration
	RemovedTempFiles int
}

// Store is the file-backed streamcore.Store. Safe for concurrent use.
type Store struct {
	dir   string
	opt   Options
	log   *slog.Logger
	db    *bolt.DB
	cache *handleCache
	ctr   counters
	com   *committer
	jr    *journal // nil without a journal
	full  atomic.Pointer[noSpace]
	// fullLogged is when (UnixNano) a full disk was last logged at Error.
	fullLogged atomic.Int64

	mu     sync.Mutex
	logs   map[string]*shardLog
	closed bool
	report RecoveryReport
	// openFailed: Open gave up; Close must keep the journal for the next attempt.
	openFailed bool
}

var _ streamcore.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir, recovering every shard log found there.
func Open(dir string, opts Options) (*Store, error) {
	start := time.Now()
	opt, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := opt.FS.MkdirAll(filepath.Join(dir, logsDirName), dirPerm); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if err := opt.FS.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, metaFileName), filePerm, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("filestore: open metadata %s: %w", filepath.Join(dir, metaFileName), err)
	}
	s := &Store{
		dir:   dir,
		opt:   opt,
		log:   opt.Logger,
		db:    db,
		cache: &handleCache{fs: opt.FS, max: opt.MaxOpenFiles},
		logs:  map[string]*shardLog{},
	}
	if opt.Journal == JournalOn {
		s.jr = &journal{st: s, dir: filepath.Join(dir, journalDirName), logs: map[*shardLog]struct{}{}}
	}
	s.com = newCommitter(s)
	entries, err := opt.FS.ReadDir(filepath.Join(dir, logsDirName))
	if err != nil {
		s.com.close()
		_ = db.Close()
		return nil, fmt.Errorf("filestore: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.HasPrefix(e.Name(), tombstonePrefix) { // a DeleteLog cut short
			if err := opt.FS.RemoveAll(filepath.Join(dir, logsDirName, e.Name())); err != nil {
				s.log.Warn("removing a deleted log failed", "dir", e.Name(), "err", err)
			}
			continue
		}
		id, err := url.PathUnescape(e.Name())
		if err != nil || url.PathEscape(id) != e.Name() {
			s.log.Warn("ignoring unexpected directory", "dir", e.Name())
			continue
		}
		ids = append(ids, id)
	}
	if err := s.recoverLogs(ids); err != nil {
		s.openFailed = true
		s.com.start()
		_ = s.Close()
		return nil, err
	}
	if err := s.recoverJournal(); err != nil {
		s.openFailed = true
		s.com.start()
		_ = s.Close()
		return nil, err
	}
	s.checkFreeSpace()
	s.report.Duration = time.Since(start)
	if n := len(s.report.Truncations); n > 0 {
		s.log.Warn("recovered with truncated tails", "truncations", n, "duration", s.report.Duration)
	} else {
		s.log.Info("recovered", "logs", s.report.Logs, "segments", s.report.Segments, "duration", s.report.Duration)
	}
	s.com.start()
	return s, nil
}

// recoveryWorkers bounds how many logs Open recovers at once.
const recoveryWorkers = 4

// recoverLogs opens the logs found on disk, a few at a time.
func (s *Store) recoverLogs(ids []string) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		next  = make(chan string)
		merge = func(l *shardLog, id string, rep *RecoveryReport) {
			mu.Lock()
			defer mu.Unlock()
			s.logs[id] = l
			s.report.Logs += rep.Logs
			s.report.Segments += rep.Segments
			s.report.IndexRebuilt += rep.IndexRebuilt
			s.report.Records += rep.Records
			s.report.RemovedTempFiles += rep.RemovedTempFiles
			s.report.Truncations = append(s.report.Truncations, rep.Truncations...)
		}
	)
	for w := 0; w < min(recoveryWorkers, len(ids)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				var rep RecoveryReport
				l, err := openShardLog(s, id, s.logDir(id), &rep)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				merge(l, id, &rep)
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	slices.SortFunc(s.report.Truncations, func(a, b Truncation) int { return strings.Compare(a.Segment, b.Segment) })
	return errors.Join(errs...)
}

// RecoveryReport returns what recovery found and repaired so far.
func (s *Store) RecoveryReport() RecoveryReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.report
	r.Truncations = slices.Clone(r.Truncations)
	return r
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) logDir(id string) string {
	return filepath.Join(s.dir, logsDirName, url.PathEscape(id))
}

func validLogID(id string) error {
	if id == "" || id == "." || id == ".." {
		return fmt.Errorf("filestore: invalid log id %q", id)
	}
	return nil
}

// OpenLog opens (creating if needed) the log with this id.
func (s *Store) OpenLog(ctx context.Context, id string) (streamcore.ShardLog, error) {
	if err := validLogID(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.openLogLocked(id)
}

func (s *Store) openLogLocked(id string) (*shardLog, error) {
	if l, ok := s.logs[id]; ok {
		return l, nil
	}
	l, err := openShardLog(s, id, s.logDir(id), &s.report)
	if err != nil {
		return nil, err
	}
	s.logs[id] = l
	return l, nil
}

// forget is called by a closing log.
func (s *Store) forget(id string, l *shardLog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs[id] == l {
		delete(s.logs, id)
	}
}

// LogIDs returns the id of every log in the store: Open recovers all of them, so this is
// every log on disk (streamcore.LogLister).
func (s *Store) LogIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.logs))
}

var _ streamcore.LogLister = (*Store)(nil)

// DeleteLog closes and removes a shard's log with all its segments.
func (s *Store) DeleteLog(ctx context.Context, id string) error {
	if err := validLogID(id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	l := s.logs[id]
	if l != nil {
		delete(s.logs, id)
		_ = l.closeFiles(true)
	}
	if s.jr != nil && (l == nil || s.jr.mayHold(l)) {
		// The journal may still hold records of this log: a delete entry voids them, so
		// a crash does not replay them into a log re-created under the same id.
		if err := s.jr.control(finishedEntry(appendEntryHead(nil, entryDelete, id))); err != nil {
			return fmt.Errorf("filestore: delete log %q: %w", id, err)
		}
	}
	// Rename first, so a crash halfway through the removal never leaves a log with
	// segments missing from its middle: Open removes leftover tombstones.
	dir := s.logDir(id)
	tomb := filepath.Join(filepath.Dir(dir), fmt.Sprintf("%s%d-%s", tombstonePrefix, time.Now().UnixNano(), filepath.Base(dir)))
	if err := s.opt.FS.Rename(dir, tomb); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("filestore: delete log %q: %w", id, err)
	}
	if err := s.opt.FS.SyncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("filestore: delete log %q: %w", id, err)
	}
	if err := s.opt.FS.RemoveAll(tomb); err != nil {
		return fmt.Errorf("filestore: delete log %q: %w", id, err)
	}
	return nil
}

// Close closes every log (syncing them) and the metadata file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	logs := make([]*shardLog, 0, len(s.logs))
	for _, l := range s.logs {
		logs = append(logs, l)
	}
	s.logs = map[string]*shardLog{}
	s.mu.Unlock()
	var errs []error
	if s.jr != nil {
		errs = append(errs, s.closeJournalMode(logs))
	} else {
		for _, l := range logs {
			errs = append(errs, l.closeFiles(false))
		}
	}
	s.com.close()
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// loadIndex reads a sealed segment's .idx, or rebuilds it by scanning the segment.
func (s *Store) loadIndex(seg *segment, f File) ([]indexEntry, error) {
	if b, err := readWhole(s.opt.FS, seg.idxPath); err == nil {
		if _, idx, err := decodeIndex(b, seg.base, seg.size, true); err == nil {
			return idx, nil
		}
	}
	r := scanSegment(f, seg.segPath, seg.base, seg.size, seg.firstMs, &s.opt)
	if r.bad != nil {
		return nil, r.bad
	}
	return r.idx, nil
}

// ---- metadata ----

// Update runs fn in a read-write bbolt transaction; an error from fn rolls it back.
func (s *Store) Update(ctx context.Context, fn func(tx streamcore.MetaTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var fnErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		fnErr = fn(metaTx{tx})
		return fnErr
	})
	if err != nil && fnErr == nil { // the commit's write failed, not fn
		s.noteWrite(err)
		return fmt.Errorf("filestore: metadata commit: %w", err)
	}
	if err == nil {
		s.noteWrite(nil)
	}
	return err
}

// View runs fn in a read-only bbolt transaction.
func (s *Store) View(ctx context.Context, fn func(tx streamcore.MetaTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error { return fn(metaTx{tx}) })
}

type metaTx struct{ tx *bolt.Tx }

func (m metaTx) Get(bucket, key string) []byte {
	b := m.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Get([]byte(key))
}

func (m metaTx) Put(bucket, key string, value []byte) error {
	if !m.tx.Writable() {
		return fmt.Errorf("filestore: put %s/%s: %w", bucket, key, bolt.ErrTxNotWritable)
	}
	b, err := m.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("filestore: bucket %q: %w", bucket, err)
	}
	return b.Put([]byte(key), slices.Clone(value))
}

func (m metaTx) Delete(bucket, key string) error {
	if !m.tx.Writable() {
		return fmt.Errorf("filestore: delete %s/%s: %w", bucket, key, bolt.ErrTxNotWritable)
	}
	b := m.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

func (m metaTx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	b := m.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
}
