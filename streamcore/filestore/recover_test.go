package filestore

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/storetest"
)

var bg = context.Background()

func mustLog(t *testing.T, s *Store, id string) streamcore.ShardLog {
	t.Helper()
	l, err := s.OpenLog(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func fill(t *testing.T, l streamcore.ShardLog, from, to int, size int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, _, err := l.Append(bg, []streamcore.LogRecord{storetest.Rec(i, size)}); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func checkRecords(t *testing.T, l streamcore.ShardLog, first, last int, size int) {
	t.Helper()
	if l.First() != uint64(first) || l.Last() != uint64(last) {
		t.Fatalf("First=%d Last=%d, want %d, %d", l.First(), l.Last(), first, last)
	}
	from := uint64(first)
	for from <= uint64(last) {
		recs, err := l.Read(bg, from, 500, 1<<20)
		if err != nil {
			t.Fatalf("Read(%d): %v", from, err)
		}
		if len(recs) == 0 {
			t.Fatalf("Read(%d) returned nothing, Last=%d", from, last)
		}
		for _, r := range recs {
			if r.SeqIx != from || !storetest.SameRecord(r, storetest.Rec(int(from), size)) {
				t.Fatalf("record %d differs (SeqIx %d, key %q)", from, r.SeqIx, r.PartitionKey)
			}
			from++
		}
	}
}

func segFiles(t *testing.T, s *Store, id string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(s.logDir(id), "*"+SegmentExt))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// Every kind of damage at the tail of the active segment is cut off and reported; the
// records before it are intact and appends continue right after them.
func TestRecoveryTruncatesTornTail(t *testing.T) {
	good := appendFrame(nil, 0, 21, 5, "pk", []byte("hello"))
	cases := []struct {
		name   string
		damage func(t *testing.T, seg string)
		kind   error
	}{
		{"torn frame header", func(t *testing.T, seg string) { appendBytes(t, seg, []byte{9, 0, 0}) }, ErrTornFrame},
		{"torn frame body", func(t *testing.T, seg string) { appendBytes(t, seg, good[:len(good)-2]) }, ErrTornFrame},
		{"zeroed tail", func(t *testing.T, seg string) { appendBytes(t, seg, make([]byte, 4096)) }, ErrBadLength},
		{"huge length", func(t *testing.T, seg string) {
			b := binary.LittleEndian.AppendUint32(nil, 1<<31)
			appendBytes(t, seg, append(b, make([]byte, 40)...))
		}, ErrBadLength},
		{"bad crc", func(t *testing.T, seg string) {
			b := append([]byte(nil), good...)
			b[len(b)-1] ^= 0xff
			appendBytes(t, seg, b)
		}, ErrBadCRC},
		{"bad version", func(t *testing.T, seg string) {
			b := appendFrame(nil, 0, 21, 5, "pk", []byte("hello"))
			b[FrameHeaderSize] = 7
			binary.LittleEndian.PutUint32(b[4:], crc32c(b[FrameHeaderSize:]))
			appendBytes(t, seg, b)
		}, ErrBadVersion},
		{"sequence gap", func(t *testing.T, seg string) {
			appendBytes(t, seg, appendFrame(nil, 0, 99, 1<<62, "pk", []byte("x")))
		}, ErrBadSequence},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{SegmentBytes: 8 << 10}
			s := openT(t, dir, o)
			fill(t, s.mustLog(t, "a/0"), 1, 20, 700) // two sealed segments and an active one
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			segs := segFiles(t, s, "a/0")
			if len(segs) < 2 {
				t.Fatalf("want several segments, have %d", len(segs))
			}
			active := segs[len(segs)-1]
			goodSize := fileSize(t, active)
			tc.damage(t, active)

			s = openT(t, dir, o)
			defer s.Close()
			rep := s.RecoveryReport()
			if len(rep.Truncations) != 1 {
				t.Fatalf("report has %d truncations, want 1: %+v", len(rep.Truncations), rep)
			}
			tr := rep.Truncations[0]
			if !errors.Is(tr.Kind, tc.kind) || tr.Offset != goodSize || tr.Log != "a/0" {
				t.Fatalf("truncation %+v, want kind %v at %d", tr, tc.kind, goodSize)
			}
			if got := fileSize(t, active); got != goodSize {
				t.Fatalf("active segment is %d bytes after recovery, want %d", got, goodSize)
			}
			l := s.mustLog(t, "a/0")
			checkRecords(t, l, 1, 20, 700)
			fill(t, l, 21, 25, 700)
			checkRecords(t, l, 1, 25, 700)
		})
	}
}

func crc32c(b []byte) uint32 { return crcOf(b) }

// A torn segment header (crash while a segment was being created) is repaired.
func TestRecoveryTornSegmentHeader(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{SegmentBytes: 4 << 10})
	fill(t, s.mustLog(t, "a/0"), 1, 10, 1000)
	s.Close()
	segs := segFiles(t, s, "a/0")
	last := segs[len(segs)-1]
	base := strings.TrimSuffix(filepath.Base(last), SegmentExt)
	_ = base
	// A new segment after the last one, with only part of its header.
	var lastSeq uint64 = 10
	next := filepath.Join(filepath.Dir(last), fmtSeg(lastSeq+1))
	if err := os.WriteFile(next, []byte("SLS"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{SegmentBytes: 4 << 10})
	defer s.Close()
	if rep := s.RecoveryReport(); len(rep.Truncations) != 1 || !errors.Is(rep.Truncations[0].Kind, ErrBadHeader) {
		t.Fatalf("report %+v, want one bad-header truncation", rep)
	}
	l := s.mustLog(t, "a/0")
	checkRecords(t, l, 1, 10, 1000)
	fill(t, l, 11, 12, 1000)
	checkRecords(t, l, 1, 12, 1000)
}

// Damage inside a sealed segment is not a crash artefact: Open refuses with the typed
// error instead of silently dropping data.
func TestRecoverySealedCorruptionFails(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{SegmentBytes: 8 << 10})
	fill(t, s.mustLog(t, "a/0"), 1, 30, 700)
	s.Close()
	segs := segFiles(t, s, "a/0")
	first := segs[0]
	b, _ := os.ReadFile(first)
	b[SegmentHeaderSize+FrameHeaderSize+40] ^= 0x55
	os.WriteFile(first, b, 0o644)
	os.Remove(strings.TrimSuffix(first, SegmentExt) + IndexExt) // force a scan
	_, err := Open(dir, Options{SegmentBytes: 8 << 10, Logger: quiet})
	var ce *CorruptError
	if !errors.Is(err, ErrBadCRC) || !errors.As(err, &ce) || ce.Path != first {
		t.Fatalf("Open = %v, want a CorruptError(ErrBadCRC) in %s", err, first)
	}
}

// Missing and stale index files are rebuilt, and reads still seek correctly.
func TestRecoveryRebuildsIndex(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: 16 << 10, IndexEveryRecords: 4}
	s := openT(t, dir, o)
	fill(t, s.mustLog(t, "a/0"), 1, 100, 500)
	s.Close()
	idx, _ := filepath.Glob(filepath.Join(s.logDir("a/0"), "*"+IndexExt))
	if len(idx) < 2 {
		t.Fatalf("want index files for sealed segments, have %d", len(idx))
	}
	os.Remove(idx[0])
	os.WriteFile(idx[1], []byte("garbage"), 0o644)
	s = openT(t, dir, o)
	if rep := s.RecoveryReport(); rep.IndexRebuilt != 2 || len(rep.Truncations) != 0 {
		t.Fatalf("report %+v, want 2 rebuilt indexes and no truncation", rep)
	}
	checkRecords(t, s.mustLog(t, "a/0"), 1, 100, 500)
	s.Close()
	s = openT(t, dir, o)
	defer s.Close()
	if rep := s.RecoveryReport(); rep.IndexRebuilt != 0 {
		t.Fatalf("rebuilt indexes were not saved: %+v", rep)
	}
}

func (s *Store) mustLog(t *testing.T, id string) streamcore.ShardLog { return mustLog(t, s, id) }

// abandon drops the store the way a kill -9 would: no final sync, no index checkpoint.
func (s *Store) abandon() {
	s.mu.Lock()
	s.closed = true
	logs := s.logs
	s.logs = nil
	s.mu.Unlock()
	for _, l := range logs {
		l.stopWriter()
		for _, seg := range l.segs {
			s.cache.drop(seg)
		}
	}
	s.com.close()
	if s.jr != nil {
		s.jr.waitCheckpoint()
		if s.jr.f != nil {
			_ = s.jr.f.Close()
		}
	}
	_ = s.db.Close()
}

// After a crash, recovery reads only what follows the active segment's last index
// checkpoint, not the whole segment.
func TestRecoveryScansOnlyAfterCheckpoint(t *testing.T) {
	dir := t.TempDir()
	o := Options{CheckpointBytes: 1 << 20}
	s := openT(t, dir, o)
	l := s.mustLog(t, "a/0")
	writeData(t, []streamcore.ShardLog{l}, 12<<20) // one 12 MiB active segment
	last := l.Last()
	s.abandon()

	ffs := NewFaultFS(nil)
	o.FS = ffs
	s = openT(t, dir, o)
	defer s.Close()
	if n := ffs.ReadBytes(); n > 2<<20 {
		t.Fatalf("recovery read %d bytes of a 12 MiB segment checkpointed every 1 MiB", n)
	}
	l = s.mustLog(t, "a/0")
	if l.Last() != last {
		t.Fatalf("Last = %d after recovery, want %d", l.Last(), last)
	}
	recs, err := l.Read(bg, last-3, 10, 1<<20)
	if err != nil || len(recs) != 4 || recs[3].SeqIx != last {
		t.Fatalf("tail read: %d records, %v", len(recs), err)
	}
	// A torn tail after the checkpoint is still cut.
	s.Close()
	appendBytes(t, segFiles(t, s, "a/0")[0], []byte{1, 2, 3})
	s = openT(t, dir, Options{})
	defer s.Close()
	if rep := s.RecoveryReport(); len(rep.Truncations) != 1 {
		t.Fatalf("report %+v, want one truncation", rep)
	}
}

// A DeleteLog interrupted by a crash leaves a tombstone directory that Open removes.
func TestDeleteLogTombstone(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{SegmentBytes: 4 << 10})
	fill(t, s.mustLog(t, "a/0"), 1, 20, 1000)
	fill(t, s.mustLog(t, "a/1"), 1, 3, 10)
	s.Close()
	// Simulate the crash: renamed, but only some files removed.
	logDir := s.logDir("a/0")
	tomb := filepath.Join(filepath.Dir(logDir), tombstonePrefix+"1-"+filepath.Base(logDir))
	if err := os.Rename(logDir, tomb); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(tomb, "*"+SegmentExt))
	os.Remove(segs[1])
	s = openT(t, dir, Options{SegmentBytes: 4 << 10})
	defer s.Close()
	if _, err := os.Stat(tomb); !os.IsNotExist(err) {
		t.Fatalf("tombstone still there: %v", err)
	}
	if rep := s.RecoveryReport(); rep.Logs != 1 {
		t.Fatalf("report %+v, want the one live log", rep)
	}
	if l := s.mustLog(t, "a/0"); l.Last() != 0 {
		t.Fatalf("deleted log has Last %d", l.Last())
	}
	checkRecords(t, s.mustLog(t, "a/1"), 1, 3, 10)
}
