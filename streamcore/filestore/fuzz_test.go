package filestore

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecoverTail: whatever bytes follow the valid frames of an active segment, Open
// neither panics nor loses the valid records, and the log accepts appends afterwards.
func FuzzRecoverTail(f *testing.F) {
	good := appendFrame(nil, 1, 3, 5, "pk", []byte("data"))
	f.Add([]byte{})
	f.Add(good)
	f.Add(good[:10])
	f.Add(make([]byte, 64))
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		s := openT(t, dir, Options{})
		l := s.mustLog(t, "f/0")
		fill(t, l, 1, 2, 10)
		s.Close()
		seg := filepath.Join(s.logDir("f/0"), fmtSeg(1))
		appendBytes(t, seg, tail)
		_ = os.Remove(filepath.Join(s.logDir("f/0"), "00000000000000000001"+IndexExt))
		s, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		l = s.mustLog(t, "f/0")
		if l.Last() < 2 {
			t.Fatalf("valid records lost: Last=%d", l.Last())
		}
		recs, err := l.Read(bg, 1, 100, 1<<20)
		if err != nil || uint64(len(recs)) != l.Last() {
			t.Fatalf("Read: %d records, %v", len(recs), err)
		}
		fill(t, l, int(l.Last())+1, int(l.Last())+1, 10)
	})
}

// FuzzJournalTail: whatever bytes follow the valid entries of the newest journal
// segment, Open neither panics nor loses the records the valid entries hold, and the
// log accepts appends afterwards.
func FuzzJournalTail(f *testing.F) {
	entry := appendEntryHead(nil, entryRecords, "a/0")
	entry = append(entry, make([]byte, 12)...)
	f.Add([]byte{})
	f.Add(entry)
	f.Add(make([]byte, 64))
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		p := writeJournal(t, dir, 1, 1, 3)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(b, tail...), 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{Logger: quiet, Journal: JournalOn})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		l := s.mustLog(t, "a/0")
		if l.Last() != 3 {
			t.Fatalf("Last=%d after replaying 3 records and a tail", l.Last())
		}
		checkRecords(t, l, 1, 3, 100)
		fill(t, l, 4, 4, 10)
	})
}
