package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/storetest"
)

// openLogs opens n logs named j/<i>.
func openLogs(t *testing.T, s *Store, n int) []streamcore.ShardLog {
	t.Helper()
	logs := make([]streamcore.ShardLog, n)
	for i := range logs {
		logs[i] = s.mustLog(t, fmt.Sprintf("j/%d", i))
	}
	return logs
}

// appendAll appends record k (100 bytes) to every log in one AppendMulti.
func appendAll(t *testing.T, s *Store, logs []streamcore.ShardLog, k int) {
	t.Helper()
	ops := make([]streamcore.AppendOp, len(logs))
	for i, l := range logs {
		ops[i] = streamcore.AppendOp{Log: l, Recs: []streamcore.LogRecord{storetest.Rec(k, 100)}}
	}
	s.AppendMulti(bg, ops)
	for i, op := range ops {
		if op.Err != nil {
			t.Fatalf("log %d: %v", i, op.Err)
		}
		if op.First != uint64(k) {
			t.Fatalf("log %d: record %d got SeqIx %d", i, k, op.First)
		}
	}
}

// One commit round over hundreds of logs costs one fsync (the journal's), not one per log.
func TestJournalOneFsyncPerRound(t *testing.T) {
	ffs := NewFaultFS(nil)
	s := openT(t, t.TempDir(), Options{FS: ffs, Journal: JournalOn})
	defer s.Close()
	logs := openLogs(t, s, 300)
	appendAll(t, s, logs, 1) // creates the segment files (no fsync either)
	_, syncs0 := ffs.Counts()
	st0 := s.Stats()
	const rounds = 5
	for k := 2; k < 2+rounds; k++ {
		appendAll(t, s, logs, k)
	}
	_, syncs := ffs.Counts()
	st := s.Stats()
	if d := syncs - syncs0; d > rounds {
		t.Fatalf("%d AppendMulti calls over %d logs took %d fsyncs, want at most %d", rounds, len(logs), d, rounds)
	}
	if st.JournalFsyncs-st0.JournalFsyncs == 0 {
		t.Fatal("no journal fsync counted")
	}
	for _, l := range logs {
		checkRecords(t, l, 1, 1+rounds, 100)
	}
}

// loseUnsynced does to each log's active segment what a power cut can do to data
// written but not fsynced: it cuts it back to what its index checkpoint vouches for.
// Checkpoints may skip logs that grew less than CheckpointBytes/16 (synced, no index
// written): tests using it keep CheckpointBytes under 16 × a frame so none is skipped.
func loseUnsynced(t testing.TB, dir string) (cut int) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, logsDirName, "*", "*"+SegmentExt))
	last := map[string]string{}
	for _, p := range segs { // Glob sorts: the last one of a directory is its active segment
		last[filepath.Dir(p)] = p
	}
	for _, p := range last {
		keep := int64(SegmentHeaderSize)
		base := uint64(0)
		fmt.Sscanf(filepath.Base(p), "%020d.seg", &base)
		if b, err := os.ReadFile(p[:len(p)-len(SegmentExt)] + IndexExt); err == nil {
			info, _ := os.Stat(p)
			if _, _, err := decodeIndexPrefix(b, base, info.Size()); err == nil {
				keep = int64(leUint64(b[40:]))
			}
		}
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > keep {
			if err := os.Truncate(p, keep); err != nil {
				t.Fatal(err)
			}
			cut++
		}
	}
	return cut
}

// After a crash that loses what the segment files had not synced, the journal brings
// every acknowledged record back.
func TestJournalReplayAfterLostWrites(t *testing.T) {
	for _, sync := range []SyncPolicy{SyncAlways, SyncInterval} {
		t.Run(string(sync), func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Journal: JournalOn, Sync: sync, SegmentBytes: 8 << 10}
			s := openT(t, dir, o)
			logs := openLogs(t, s, 50)
			for k := 1; k <= 120; k++ { // several segment rolls per log
				appendAll(t, s, logs, k)
			}
			s.jr.sync() // interval: what a kill keeps in the page cache, a power cut may not
			s.abandon()
			if cut := loseUnsynced(t, dir); cut == 0 {
				t.Fatal("nothing was unsynced: the test proves nothing")
			}
			s = openT(t, dir, o)
			defer s.Close()
			rep := s.RecoveryReport()
			if rep.Replayed == 0 {
				t.Fatalf("nothing replayed: %+v", rep)
			}
			for i := range logs {
				checkRecords(t, s.mustLog(t, fmt.Sprintf("j/%d", i)), 1, 120, 100)
			}
			if _, err := os.Stat(s.jr.path(1)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("replayed journal segment still there after recovery: %v", err)
			}
		})
	}
}

// Checkpoints sync the segment files and delete the journal behind them: the journal
// stays short, and what it dropped survives a crash that loses unsynced writes.
func TestJournalCheckpoint(t *testing.T) {
	dir := t.TempDir()
	o := Options{Journal: JournalOn, JournalBytes: 16 << 10, CheckpointBytes: 1 << 10} // no index checkpoint skipped: loseUnsynced cuts back to them
	s := openT(t, dir, o)
	logs := openLogs(t, s, 20)
	for k := 1; k <= 200; k++ {
		appendAll(t, s, logs, k)
	}
	s.jr.waitCheckpoint()
	if st := s.Stats(); st.Checkpoints == 0 {
		t.Fatalf("no checkpoint after %d KiB of journal: %+v", 200*20*130/1024, st)
	}
	left, _ := listJournal(OSFS{}, s.jr.dir)
	if len(left) > 3 {
		t.Fatalf("%d journal segments left behind checkpoints", len(left))
	}
	s.abandon()
	loseUnsynced(t, dir)
	s = openT(t, dir, o)
	defer s.Close()
	for i := range logs {
		checkRecords(t, s.mustLog(t, fmt.Sprintf("j/%d", i)), 1, 200, 100)
	}
}

// A log deleted and re-created under the same id does not get the old log's records
// back from the journal.
func TestJournalDeleteThenRecreate(t *testing.T) {
	dir := t.TempDir()
	o := Options{Journal: JournalOn}
	s := openT(t, dir, o)
	l := s.mustLog(t, "x/0")
	fill(t, l, 1, 5, 100)
	if err := s.DeleteLog(bg, "x/0"); err != nil {
		t.Fatal(err)
	}
	l = s.mustLog(t, "x/0")
	fill(t, l, 1, 2, 100)
	s.abandon()
	loseUnsynced(t, dir)
	s = openT(t, dir, o)
	defer s.Close()
	checkRecords(t, s.mustLog(t, "x/0"), 1, 2, 100)
}

// A data dir written without a journal opens with one, and one left by a crash with a
// journal opens without (the tail is replayed either way).
func TestJournalFormatsInterchange(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{Journal: JournalOff})
	fill(t, s.mustLog(t, "a/0"), 1, 10, 100)
	s.Close()
	s = openT(t, dir, Options{Journal: JournalOn})
	l := s.mustLog(t, "a/0")
	checkRecords(t, l, 1, 10, 100)
	fill(t, l, 11, 20, 100)
	s.abandon()
	loseUnsynced(t, dir)
	s = openT(t, dir, Options{Journal: JournalOff})
	defer s.Close()
	checkRecords(t, s.mustLog(t, "a/0"), 1, 20, 100)
	if left, _ := listJournal(OSFS{}, filepath.Join(dir, journalDirName)); len(left) != 0 {
		t.Fatalf("journal segments %v left after a replay without a journal", left)
	}
}

// writeJournal writes a journal segment holding entries for log "a/0" records
// from..to (100 bytes each).
func writeJournal(t *testing.T, dir string, seq uint64, from, to int) string {
	t.Helper()
	b := journalHeader(seq)
	for k := from; k <= to; k++ {
		start := len(b)
		b = appendEntryHead(b, entryRecords, "a/0")
		b = append(b, make([]byte, 12)...)
		putU64(b[len(b)-12:], uint64(k))
		putU32(b[len(b)-4:], 1)
		r := storetest.Rec(k, 100)
		b = appendFrame(b, r.Flags, uint64(k), int64(k), r.PartitionKey, r.Data)
		finishEntry(b, start)
	}
	p := filepath.Join(dir, journalDirName, fmt.Sprintf(JournalNameFormat, seq))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

// A torn tail of the newest journal segment is cut and reported; damage in an older
// one (synced before the next was created) is refused.
func TestJournalDamage(t *testing.T) {
	t.Run("torn tail", func(t *testing.T) {
		dir := t.TempDir()
		p := writeJournal(t, dir, 1, 1, 5)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)-30], 0o640)
		s := openT(t, dir, Options{Journal: JournalOn})
		defer s.Close()
		rep := s.RecoveryReport()
		if len(rep.Truncations) != 1 || !errors.Is(rep.Truncations[0].Kind, ErrTornFrame) {
			t.Fatalf("truncations %+v, want one torn frame", rep.Truncations)
		}
		checkRecords(t, s.mustLog(t, "a/0"), 1, 4, 100)
	})
	t.Run("sealed damage", func(t *testing.T) {
		dir := t.TempDir()
		p := writeJournal(t, dir, 1, 1, 5)
		writeJournal(t, dir, 2, 6, 8)
		b, _ := os.ReadFile(p)
		b[len(b)-10] ^= 0xff
		os.WriteFile(p, b, 0o640)
		_, err := Open(dir, Options{Journal: JournalOn, Logger: quiet})
		if !errors.Is(err, ErrBadCRC) {
			t.Fatalf("Open = %v, want ErrBadCRC", err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the damaged journal was not kept: %v", err)
		}
	})
	t.Run("gap", func(t *testing.T) {
		dir := t.TempDir()
		writeJournal(t, dir, 1, 3, 5) // records 1 and 2 are nowhere
		if _, err := Open(dir, Options{Journal: JournalOn, Logger: quiet}); !errors.Is(err, ErrBadSequence) {
			t.Fatalf("Open = %v, want ErrBadSequence", err)
		}
	})
}

// Open files stay bounded by MaxOpenFiles whatever the number of logs written.
func TestJournalOpenFilesBounded(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Journal: JournalOn, MaxOpenFiles: 16})
	defer s.Close()
	logs := openLogs(t, s, 200)
	fds0 := countFDs()
	for k := 1; k <= 3; k++ {
		appendAll(t, s, logs, k)
	}
	if st := s.Stats(); st.OpenFiles > 16 {
		t.Fatalf("%d segment handles open, want at most 16", st.OpenFiles)
	}
	if fds0 >= 0 {
		if d := countFDs() - fds0; d > 20 {
			t.Fatalf("%d more file descriptors open after writing 200 logs, want at most 20", d)
		}
	}
	for _, l := range logs {
		checkRecords(t, l, 1, 3, 100)
	}
}

// countFDs counts this process's open file descriptors, -1 where it cannot.
func countFDs() int {
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(e)
}

func putU64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

func putU32(b []byte, v uint32) {
	for i := 0; i < 4; i++ {
		b[i] = byte(v >> (8 * i))
	}
}
