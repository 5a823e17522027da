package filestore

import (
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/storetest"
)

// SeekTime across many segments and index entries, with a controlled clock: record i
// arrives at ms 1000+10*(i/3), so each ms step maps to a known SeqIx.
func TestSeekTimeAcrossSegments(t *testing.T) {
	var now atomic.Int64
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	dir := t.TempDir()
	o := Options{SegmentBytes: 2 << 10, IndexEveryRecords: 2, Now: clock}
	s := openT(t, dir, o)
	l := s.mustLog(t, "a/0")
	const n = 90
	for i := 0; i < n; i++ {
		now.Store(int64(1000 + 10*(i/3)))
		if _, _, err := l.Append(bg, []streamcore.LogRecord{storetest.Rec(i+1, 300)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l streamcore.ShardLog) {
		t.Helper()
		for ms := int64(990); ms <= 1000+10*(n/3)+5; ms++ {
			want := uint64(1)
			if ms > 1000 {
				step := (ms - 1000 + 9) / 10 // first group arriving at or after ms
				want = uint64(step*3 + 1)
			}
			want = min(want, n+1)
			if got, err := l.SeekTime(bg, ms); err != nil || got != want {
				t.Fatalf("SeekTime(%d) = %d, %v; want %d", ms, got, err, want)
			}
		}
	}
	check(l)
	// The same answers after a reopen (sealed segments answer from their index files).
	s.Close()
	s = openT(t, dir, o)
	defer s.Close()
	check(s.mustLog(t, "a/0"))
	// A clock that goes backwards does not make arrival times decrease.
	now.Store(1)
	first, ms, err := s.mustLog(t, "a/0").Append(bg, []streamcore.LogRecord{storetest.Rec(n+1, 10)})
	if err != nil || first != n+1 || ms != 1000+10*((n-1)/3) {
		t.Fatalf("append with the clock behind: first=%d ms=%d err=%v", first, ms, err)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// Reading a log with many segments keeps at most MaxOpenFiles sealed segments open.
func TestOpenFilesBounded(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: 2 << 10, MaxOpenFiles: 3}
	s := openT(t, dir, o)
	fill(t, s.mustLog(t, "a/0"), 1, 60, 900) // ~30 segments
	s.Close()
	base := openFDs(t)
	s = openT(t, dir, o)
	defer s.Close()
	l := s.mustLog(t, "a/0")
	checkRecords(t, l, 1, 60, 900)
	for at := uint64(1); at <= 60; at += 7 {
		if _, err := l.Read(bg, at, 1, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	// meta.db, its lock-free mmap'd handle, the active segment, and at most 3 sealed ones.
	if got := openFDs(t) - base; got > 2+1+3 {
		t.Fatalf("%d more files open after reading 30 segments with MaxOpenFiles=3", got)
	}
}
