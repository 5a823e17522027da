package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-io/sluice/streamcore"
)

// A full disk, end to end through the engine: a CreateStream that cannot create its logs
// fails and leaves no stream (in memory, after a restart) and no folder; the engine
// restarts on the full disk and serves the acknowledged records; puts fail naming the
// cause and the store reports itself full; freeing space lets writes resume.
func TestFullDiskEngine(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS(nil)
	st, eng := openEngine(t, dir, ffs)
	keep := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "keep"}
	if err := eng.CreateStream(bg, keep, streamcore.CreateOptions{ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	putN(t, eng, keep, 0, 20)

	fillDisk(ffs)
	lost := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "lost"}
	err := eng.CreateStream(bg, lost, streamcore.CreateOptions{ShardCount: 2})
	if err == nil || !streamcore.StorageFull(err) {
		t.Fatalf("CreateStream on a full disk: %v, want a storage-full InternalFailure", err)
	}
	checkOnly(t, eng, "keep")
	if res, err := eng.PutRecord(bg, keep, streamcore.PutEntry{PartitionKey: "p", Data: []byte("x")}); err == nil && res.Err == nil {
		t.Fatal("PutRecord on a full disk succeeded")
	} else if e := errors.Join(err, res.Err); !streamcore.StorageFull(e) {
		t.Fatalf("PutRecord on a full disk: %v, want a storage-full InternalFailure", e)
	}
	if err := st.Full(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Full() = %v after a failed append, want ENOSPC", err)
	}
	if s := st.Stats(); s.NoSpaceErrors == 0 {
		t.Fatalf("Stats.NoSpaceErrors = 0 after failed writes: %+v", s)
	}
	closeEngine(t, st, eng)

	// Restart with the disk still full.
	st, eng = openEngine(t, dir, ffs)
	checkOnly(t, eng, "keep")
	if got := readAll(t, eng, keep); len(got) != 20 {
		t.Fatalf("after a restart on a full disk: read %d records, want 20", len(got))
	}
	checkLogDirs(t, st, eng, keep)

	ffs.Clear() // space freed
	putN(t, eng, keep, 20, 5)
	if err := st.Full(); err != nil {
		t.Fatalf("Full() = %v after a successful append", err)
	}
	if err := eng.CreateStream(bg, lost, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatalf("CreateStream once space is back: %v", err)
	}
	closeEngine(t, st, eng)
}

// A CreateStream whose metadata commit fails (after its logs were created) leaves no
// stream and no log folder.
func TestCreateStreamFailedCommitLeavesNoLogs(t *testing.T) {
	dir := t.TempDir()
	st := openT(t, dir, Options{})
	fs := &failingMeta{Store: st}
	eng, err := streamcore.Open(bg, streamcore.Options{Store: fs, DataDir: dir, Logger: quiet, OnDemandCheck: -1})
	if err != nil {
		t.Fatal(err)
	}
	fs.fail = fmt.Errorf("bbolt: write: %w", syscall.ENOSPC)
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "s"}
	if err := eng.CreateStream(bg, key, streamcore.CreateOptions{ShardCount: 3}); !streamcore.StorageFull(err) {
		t.Fatalf("CreateStream with a failing commit: %v, want a storage-full InternalFailure", err)
	}
	checkOnly(t, eng)
	if ids := st.LogIDs(); len(ids) != 0 {
		t.Fatalf("logs left by a failed CreateStream: %v", ids)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, logsDirName)); len(entries) != 0 {
		t.Fatalf("folders left by a failed CreateStream: %v", entries)
	}
	closeEngine(t, st, eng)
}

// Log folders no stream's metadata names (a crash between creating them and committing
// the stream) are removed when the engine opens.
func TestOrphanLogsRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	st, eng := openEngine(t, dir, nil)
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "s"}
	if err := eng.CreateStream(bg, key, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	putN(t, eng, key, 0, 3)
	orphan := mustLog(t, st, "orphanstreamid0000000-abc/shardId-000000000000")
	fill(t, orphan, 1, 3, 10)
	mustLog(t, st, "orphanstreamid0000000-abc/shardId-000000000001") // empty
	closeEngine(t, st, eng)

	st, eng = openEngine(t, dir, nil)
	defer closeEngine(t, st, eng)
	checkLogDirs(t, st, eng, key)
	if got := readAll(t, eng, key); len(got) != 3 {
		t.Fatalf("the stream's own records: read %d, want 3", len(got))
	}
}

// Opening an empty log writes no file (only its folder), so it works on a full disk; the
// first append creates the first segment.
func TestEmptyLogHasNoSegmentFileUntilAppend(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS(nil)
	s := openT(t, dir, Options{FS: ffs})
	l := s.mustLog(t, "a/0")
	logDir := filepath.Join(dir, logsDirName, "a%2F0")
	if entries, err := os.ReadDir(logDir); err != nil || len(entries) != 0 {
		t.Fatalf("OpenLog of a new log: folder %v (err %v), want an empty folder", entries, err)
	}
	if recs, err := l.Read(bg, 1, 10, 1<<20); err != nil || len(recs) != 0 {
		t.Fatalf("Read of an empty log: %v, %v", recs, err)
	}
	if seq, err := l.SeekTime(bg, 0); err != nil || seq != 1 {
		t.Fatalf("SeekTime of an empty log: %d, %v; want 1", seq, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	fillDisk(ffs)
	s = openT(t, dir, Options{FS: ffs})
	l = s.mustLog(t, "a/0")
	if _, _, err := l.Append(bg, []streamcore.LogRecord{{Data: []byte("x")}}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
	}
	if entries, _ := os.ReadDir(logDir); len(entries) != 0 {
		t.Fatalf("failed first append left %v", entries)
	}
	ffs.Clear()
	fill(t, l, 1, 3, 10)
	checkRecords(t, l, 1, 3, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{FS: ffs})
	defer s.Close()
	checkRecords(t, s.mustLog(t, "a/0"), 1, 3, 10)
}

// ---- helpers ----

// fillDisk makes ffs behave like a full disk: writes and creates fail with ENOSPC.
func fillDisk(ffs *FaultFS) {
	ffs.FailWrites(ErrNoSpace, 0, -1)
	ffs.FailCreates(ErrNoSpace)
}

// failingMeta is a Store whose metadata commits fail with fail while it is set.
type failingMeta struct {
	*Store
	fail error
}

func (f *failingMeta) Update(ctx context.Context, fn func(tx streamcore.MetaTx) error) error {
	if f.fail != nil {
		return f.fail
	}
	return f.Store.Update(ctx, fn)
}

func openEngine(t *testing.T, dir string, ffs *FaultFS) (*Store, *streamcore.Engine) {
	t.Helper()
	o := Options{}
	if ffs != nil {
		o.FS = ffs
	}
	st := openT(t, dir, o)
	eng, err := streamcore.Open(bg, streamcore.Options{Store: st, DataDir: dir, Logger: quiet, OnDemandCheck: -1})
	if err != nil {
		_ = st.Close()
		t.Fatalf("engine open: %v", err)
	}
	return st, eng
}

func closeEngine(t *testing.T, st *Store, eng *streamcore.Engine) {
	t.Helper()
	_ = eng.Close(bg)
	if err := st.Close(); err != nil && !errors.Is(err, ErrClosed) {
		t.Logf("store close: %v", err)
	}
}

func putN(t *testing.T, eng *streamcore.Engine, key streamcore.StreamKey, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		res, err := eng.PutRecord(bg, key, streamcore.PutEntry{PartitionKey: fmt.Sprint("p", i), Data: []byte(fmt.Sprint("r", i))})
		if err == nil {
			err = res.Err
		}
		if err != nil {
			t.Fatalf("PutRecord %d: %v", i, err)
		}
	}
}

// checkOnly fails unless the account's streams are exactly names.
func checkOnly(t *testing.T, eng *streamcore.Engine, names ...string) {
	t.Helper()
	ds, err := eng.ListStreams(bg, "000000000000", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.Key.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Fatalf("streams %v, want %v", got, names)
	}
}

// readAll reads every shard of key from the trim horizon.
func readAll(t *testing.T, eng *streamcore.Engine, key streamcore.StreamKey) []streamcore.Record {
	t.Helper()
	d, err := eng.DescribeStream(bg, key)
	if err != nil {
		t.Fatal(err)
	}
	var out []streamcore.Record
	for _, sh := range d.Shards {
		it, err := eng.GetShardIterator(bg, key, sh.ShardID, streamcore.Position{Type: streamcore.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		res, err := eng.GetRecords(bg, it, 10000)
		if err != nil {
			t.Fatalf("GetRecords %s: %v", sh.ShardID, err)
		}
		out = append(out, res.Records...)
	}
	return out
}

// checkLogDirs fails unless the store's logs and folders are exactly key's shards.
func checkLogDirs(t *testing.T, st *Store, eng *streamcore.Engine, key streamcore.StreamKey) {
	t.Helper()
	d, err := eng.DescribeStream(bg, key)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, sh := range d.Shards {
		want = append(want, d.StreamID+"/"+sh.ShardID)
	}
	slices.Sort(want)
	if got := st.LogIDs(); !slices.Equal(got, want) {
		t.Fatalf("logs %v, want %v", got, want)
	}
	entries, err := os.ReadDir(filepath.Join(st.Dir(), logsDirName))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Fatalf("log folders %v, want %d (one per shard of %s)", entries, len(want), key.Name)
	}
}

// A disk flapping between full and writable logs the first transition at Error and the
// next ones within fullLogEvery at Debug; Full and the counter follow every one.
func TestFullDiskLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ffs := NewFaultFS(nil)
	s := openT(t, t.TempDir(), Options{FS: ffs, Logger: logger})
	defer s.Close()
	l := s.mustLog(t, "a/0")
	fill(t, l, 1, 1, 10)
	for i := 0; i < 3; i++ {
		ffs.FailWrites(ErrNoSpace, 0, -1)
		if _, _, err := l.Append(bg, []streamcore.LogRecord{{Data: []byte("x")}}); err == nil {
			t.Fatal("append on a full disk succeeded")
		}
		if s.Full() == nil {
			t.Fatalf("flap %d: not Full after ENOSPC", i)
		}
		ffs.Clear()
		fill(t, l, 2+i, 2+i, 10)
		if s.Full() != nil {
			t.Fatalf("flap %d: still Full after a successful append", i)
		}
	}
	if got := s.Stats().NoSpaceErrors; got != 3 {
		t.Fatalf("NoSpaceErrors = %d, want 3", got)
	}
	out := buf.String()
	if n := strings.Count(out, "level=ERROR msg=\"storage full"); n != 1 {
		t.Fatalf("%d Error lines for 3 flaps within a minute, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "storage writable again"); n != 1 {
		t.Fatalf("%d 'writable again' lines at Info, want 1:\n%s", n, out)
	}
}

// On a full disk, a log the journal holds no records of is deleted without writing
// anything: a CreateStream that failed there leaves no folders, and orphans go at Open.
// A log with records still in the journal needs its delete entry (refused while full);
// once the journal is checkpointed it too deletes on a full disk.
func TestDeleteLogOnFullDiskWritesNothing(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS(nil)
	s := openT(t, dir, Options{FS: ffs, Journal: JournalOn})
	defer func() { _ = s.Close() }() // the store open at the end
	mustLog(t, s, "a/0") // empty
	fill(t, mustLog(t, s, "b/0"), 1, 3, 10)
	fillDisk(ffs)
	if err := s.DeleteLog(bg, "a/0"); err != nil {
		t.Fatalf("deleting an empty log on a full disk: %v", err)
	}
	if err := s.DeleteLog(bg, "b/0"); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("deleting a log with records in the journal on a full disk: %v, want ENOSPC", err)
	}
	if ids := s.LogIDs(); len(ids) != 0 {
		t.Fatalf("logs after the deletes: %v", ids)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, logsDirName)); len(entries) != 1 {
		t.Fatalf("log folders after the deletes: %v, want only b/0's", entries)
	}
	ffs.Clear()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{FS: ffs, Journal: JournalOn}) // recovery checkpoints the journal
	fillDisk(ffs)
	if err := s.DeleteLog(bg, "b/0"); err != nil {
		t.Fatalf("deleting a checkpointed log on a full disk: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, logsDirName)); len(entries) != 0 {
		t.Fatalf("log folders left: %v", entries)
	}
}
