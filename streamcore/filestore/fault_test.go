package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/storetest"
)

// Write faults (short write, full disk, failed fsync) fail the Append, leave earlier
// records intact and invisible garbage nowhere; once the fault clears, appends go on
// with no gap in SeqIx, and a reopen finds exactly the acknowledged records.
func TestFaultsNeverCorrupt(t *testing.T) {
	cases := []struct {
		name string
		arm  func(f *FaultFS)
	}{
		{"short write", func(f *FaultFS) { f.FailWrites(ErrInjected, 37, -1) }},
		{"disk full", func(f *FaultFS) { f.FailWrites(ErrNoSpace, 0, -1) }},
		{"disk full mid-frame", func(f *FaultFS) { f.FailWrites(ErrNoSpace, 1500, -1) }},
		{"fsync fails", func(f *FaultFS) { f.FailSyncs(ErrInjected, -1) }},
		{"fsync fails once", func(f *FaultFS) { f.FailSyncs(ErrInjected, 1) }},
		{"write fails and repair fails", func(f *FaultFS) {
			f.FailWrites(ErrNoSpace, 100, -1)
			f.FailTruncates(ErrInjected)
		}},
	}
	// 2 records go through the inline path (small append to an idle log), 17 (over
	// inlineMaxBytes) through a commit round.
	for _, tc := range cases {
		for _, n := range []int{2, 17} {
			for _, mode := range []JournalMode{JournalOn, JournalOff} {
				t.Run(fmt.Sprintf("%s/records=%d/journal=%s", tc.name, n, mode), func(t *testing.T) { faultCase(t, tc.name, tc.arm, n, mode) })
			}
		}
	}
}

// faultCase fills a log, arms the fault, checks that three appends of n records fail
// without a trace, then that the log works again once the fault clears, also after a
// reopen. name selects the "fsync fails once" expectations.
func faultCase(t *testing.T, name string, arm func(*FaultFS), n int, mode JournalMode) {
	dir := t.TempDir()
	ffs := NewFaultFS(nil)
	o := Options{FS: ffs, SegmentBytes: 32 << 10, Journal: mode}
	s := openT(t, dir, o)
	l := s.mustLog(t, "a/0")
	fill(t, l, 1, 10, 1000)
	ms := l.LastArrivalMs()

	arm(ffs)
	for i := 0; i < 3; i++ {
		var recs []streamcore.LogRecord
		for j := 0; j < n; j++ {
			recs = append(recs, storetest.Rec(100*(j+1)+i, 1000))
		}
		if _, _, err := l.Append(bg, recs); err == nil {
			if name == "fsync fails once" && i > 0 {
				continue // the single fault is spent
			}
			t.Fatalf("Append %d under fault succeeded", i)
		}
	}
	if name != "fsync fails once" {
		if l.Last() != 10 || l.LastArrivalMs() != ms {
			t.Fatalf("failed appends moved Last to %d", l.Last())
		}
		checkRecords(t, l, 1, 10, 1000)
	}
	if st := s.Stats(); st.AppendErrors == 0 {
		t.Fatalf("stats count no append error: %+v", st)
	}
	ffs.Clear()
	if name == "fsync fails once" {
		// Two later appends went through: move the expectations along.
		checkPrefix(t, l, 10)
		s.Close()
		return
	}
	fill(t, l, 11, 20, 1000)
	checkRecords(t, l, 1, 20, 1000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{SegmentBytes: 32 << 10, Journal: mode})
	defer s.Close()
	if rep := s.RecoveryReport(); len(rep.Truncations) != 0 {
		t.Fatalf("failed appends left a tail to truncate: %+v", rep.Truncations)
	}
	checkRecords(t, s.mustLog(t, "a/0"), 1, 20, 1000)
}

func checkPrefix(t *testing.T, l streamcore.ShardLog, n int) {
	t.Helper()
	recs, err := l.Read(bg, 1, 1000, 1<<30)
	if err != nil || len(recs) < n {
		t.Fatalf("Read: %d records, %v", len(recs), err)
	}
	for i := 0; i < n; i++ {
		if !storetest.SameRecord(recs[i], storetest.Rec(i+1, 1000)) {
			t.Fatalf("record %d changed", i+1)
		}
	}
	for i, r := range recs {
		if r.SeqIx != uint64(i+1) {
			t.Fatalf("gap at %d", i)
		}
	}
}

// A full disk while rolling to a new segment fails the appends; later ones succeed.
func TestFaultDuringRoll(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS(nil)
	s := openT(t, dir, Options{FS: ffs, SegmentBytes: 4 << 10})
	defer s.Close()
	l := s.mustLog(t, "a/0")
	fill(t, l, 1, 3, 1000) // the segment is nearly full
	ffs.FailWrites(ErrNoSpace, 0, -1)
	if _, _, err := l.Append(bg, []streamcore.LogRecord{storetest.Rec(4, 1000), storetest.Rec(5, 1000)}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Append during a failing roll = %v, want ENOSPC", err)
	}
	ffs.Clear()
	fill(t, l, 4, 12, 1000)
	checkRecords(t, l, 1, 12, 1000)
}

// One fsync covers many queued appends.
func TestGroupCommit(t *testing.T) {
	ffs := NewFaultFS(nil)
	s := openT(t, t.TempDir(), Options{FS: ffs})
	defer s.Close()
	l := s.mustLog(t, "a/0")
	_, syncs0 := ffs.Counts()
	const writers, each = 16, 30
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, _, err := l.Append(bg, []streamcore.LogRecord{storetest.Rec(i, 100)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	writes, syncs := ffs.Counts()
	syncs -= syncs0
	if l.Last() != writers*each {
		t.Fatalf("Last = %d", l.Last())
	}
	if syncs >= writers*each || writes >= writers*each {
		t.Fatalf("%d appends took %d writes and %d fsyncs: no group commit", writers*each, writes, syncs)
	}
	t.Logf("%d appends, %d writes, %d fsyncs", writers*each, writes, syncs)
}

// SyncInterval: appends return before an fsync; the periodic fsync follows.
func TestSyncIntervalPolicy(t *testing.T) {
	ffs := NewFaultFS(nil)
	s := openT(t, t.TempDir(), Options{FS: ffs, Sync: SyncInterval, SyncInterval: 5 * time.Millisecond})
	defer s.Close()
	l := s.mustLog(t, "a/0")
	fill(t, l, 1, 1, 100)          // creates the first segment file (synced under any policy)
	ffs.FailSyncs(ErrInjected, -1) // a failing fsync cannot fail an interval-policy append
	fill(t, l, 2, 5, 100)
	ffs.Clear()
	_, syncs0 := ffs.Counts()
	checkRecords(t, l, 1, 5, 100)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, syncs := ffs.Counts(); syncs > syncs0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no periodic fsync")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{Sync: "sometimes"}); err == nil {
		t.Error("unknown sync policy accepted")
	}
	if _, err := Open(t.TempDir(), Options{SegmentBytes: 10}); err == nil {
		t.Error("10-byte segments accepted")
	}
}

// Retention deletes whole sealed segments, never the active one, and their files go.
func TestTrimDeletesWholeSegments(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{SegmentBytes: 4 << 10})
	defer s.Close()
	l := s.mustLog(t, "a/0")
	fill(t, l, 1, 40, 1000) // ~3 records per segment
	before := segFiles(t, s, "a/0")
	ms := l.LastArrivalMs()
	dropped, err := l.TrimBefore(bg, ms+1)
	if err != nil {
		t.Fatal(err)
	}
	after := segFiles(t, s, "a/0")
	if len(after) != 1 || after[0] != before[len(before)-1] {
		t.Fatalf("after trim %d segments remain (%v), want only the active one", len(after), after)
	}
	if dropped == 0 || l.First() != 1+dropped || l.Last() != 40 {
		t.Fatalf("dropped %d, First %d, Last %d", dropped, l.First(), l.Last())
	}
	idx, _ := filepath.Glob(filepath.Join(s.logDir("a/0"), "*"+IndexExt))
	if len(idx) != 0 {
		t.Fatalf("index files of trimmed segments remain: %v", idx)
	}
	checkRecords(t, l, int(1+dropped), 40, 1000)
	if st := s.Stats(); st.TrimmedSegments != uint64(len(before)-1) || st.TrimmedRecords != dropped || st.Segments != 1 {
		t.Fatalf("stats after trim: %+v (trimmed %d segments, %d records)", st, len(before)-1, dropped)
	}
	if seq, _ := l.SeekTime(bg, 0); seq != 1+dropped {
		t.Fatalf("SeekTime(0) = %d after trim, want %d", seq, 1+dropped)
	}
}

// Readers holding a segment while retention deletes it still finish their read.
func TestTrimWhileReading(t *testing.T) {
	s := openT(t, t.TempDir(), Options{SegmentBytes: 4 << 10, MaxOpenFiles: 2})
	defer s.Close()
	l := s.mustLog(t, "a/0")
	fill(t, l, 1, 60, 1000)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				recs, err := l.Read(bg, 0, 5, 1<<20)
				if err != nil {
					t.Errorf("Read during trim: %v", err)
					return
				}
				for _, rec := range recs {
					if !storetest.SameRecord(rec, storetest.Rec(int(rec.SeqIx), 1000)) {
						t.Errorf("record %d wrong during trim", rec.SeqIx)
						return
					}
				}
			}
		}()
	}
	if _, err := l.TrimBefore(bg, l.LastArrivalMs()+1); err != nil {
		t.Error(err)
	}
	close(stop)
	wg.Wait()
}

// Log ids with path separators and odd characters map to one safe directory each.
func TestLogIDEscaping(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	for _, id := range []string{"a/b", "a%2Fb", "x/../y", "…ü"} {
		fill(t, s.mustLog(t, id), 1, 1, 10)
	}
	if _, err := s.OpenLog(bg, ".."); err == nil {
		t.Error(`log id ".." accepted`)
	}
	s.Close()
	ents, _ := os.ReadDir(filepath.Join(dir, logsDirName))
	if len(ents) != 4 {
		t.Fatalf("%d log directories, want 4", len(ents))
	}
	s = openT(t, dir, Options{})
	defer s.Close()
	if rep := s.RecoveryReport(); rep.Logs != 4 || rep.Records != 4 {
		t.Fatalf("report %+v", rep)
	}
}

// A roll whose first write fails leaves an empty active segment; reads, SeekTime and
// later appends still behave.
func TestEmptyActiveSegmentAfterFailedWrite(t *testing.T) {
	ffs := NewFaultFS(nil)
	s := openT(t, t.TempDir(), Options{FS: ffs, SegmentBytes: 4 << 10})
	defer s.Close()
	l := s.mustLog(t, "a/0")
	fill(t, l, 1, 3, 1000)
	ms := l.LastArrivalMs()
	ffs.FailWritesAfter(2, ErrNoSpace, 0, 1) // the sealed index and the new header go through, the frame does not
	if _, _, err := l.Append(bg, []streamcore.LogRecord{storetest.Rec(4, 1000), storetest.Rec(5, 1000)}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Append = %v, want ENOSPC", err)
	}
	if n := len(segFiles(t, s, "a/0")); n != 2 {
		t.Fatalf("%d segment files, want the old one and an empty new one", n)
	}
	recs, _ := l.Read(bg, 3, 1, 1<<20)
	if seq, err := l.SeekTime(bg, recs[0].ArrivalMs); err != nil || seq > 3 || seq < 1 {
		t.Fatalf("SeekTime(arrival of record 3) = %d, %v; want 1..3", seq, err)
	}
	if seq, _ := l.SeekTime(bg, ms+1); seq != 4 {
		t.Fatalf("SeekTime after everything = %d, want 4", seq)
	}
	checkRecords(t, l, 1, 3, 1000)
	fill(t, l, 4, 8, 1000)
	checkRecords(t, l, 1, 8, 1000)
}
