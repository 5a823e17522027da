package filestore

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return -1
}

// writeData appends total bytes of 1 KiB records in 500-record batches over the logs.
func writeData(t testing.TB, logs []streamcore.ShardLog, total int64) {
	recs := benchRecords(500, 1024)
	var written int64
	for i := 0; written < total; i++ {
		if _, _, err := logs[i%len(logs)].Append(bg, recs); err != nil {
			t.Fatal(err)
		}
		written += 500 * 1024
	}
}

// Memory does not grow with the data stored: the heap after writing 4× more data (and
// many more segments) stays within a small constant of the heap before.
func TestMemoryFlat(t *testing.T) {
	s := openT(t, t.TempDir(), Options{SegmentBytes: 1 << 20, MaxOpenFiles: 8})
	defer s.Close()
	var logs []streamcore.ShardLog
	for i := 0; i < 4; i++ {
		logs = append(logs, s.mustLog(t, fmt.Sprintf("mem/%d", i)))
	}
	writeData(t, logs, 16<<20)
	before := heapInuse()
	writeData(t, logs, 64<<20)
	after := heapInuse()
	t.Logf("heap in use: %d KiB after 16 MiB, %d KiB after 80 MiB written", before>>10, after>>10)
	if after > before+4<<20 {
		t.Fatalf("heap grew from %d to %d KiB while writing 64 MiB", before>>10, after>>10)
	}
}

// A Read in the middle of a large segment starts at the nearest index entry instead of
// reading the segment from its start.
func TestReadSeeksWithIndex(t *testing.T) {
	ffs := NewFaultFS(nil)
	dir := t.TempDir()
	s := openT(t, dir, Options{FS: ffs})
	l := s.mustLog(t, "a/0")
	writeData(t, []streamcore.ShardLog{l}, 16<<20) // one 16 MiB segment
	s.Close()
	s = openT(t, dir, Options{FS: ffs})
	defer s.Close()
	l = s.mustLog(t, "a/0")
	before := ffs.ReadBytes()
	recs, err := l.Read(bg, 12000, 1, 1<<20)
	if err != nil || len(recs) != 1 || recs[0].SeqIx != 12000 {
		t.Fatalf("Read(12000) = %v, %v", recs, err)
	}
	if n := ffs.ReadBytes() - before; n > 1<<20 {
		t.Fatalf("reading one record read %d bytes", n)
	}
	seq, err := l.SeekTime(bg, recs[0].ArrivalMs)
	if err != nil || seq > 12000 {
		t.Fatalf("SeekTime = %d, %v", seq, err)
	}
}

// TestBigData writes SLUICE_FILESTORE_BIG_GIB GiB (default: skipped), reports RSS and heap
// along the way, then reopens the directory and reports how long recovery took.
func TestBigData(t *testing.T) {
	gib, _ := strconv.Atoi(os.Getenv("SLUICE_FILESTORE_BIG_GIB"))
	if gib <= 0 {
		t.Skip("set SLUICE_FILESTORE_BIG_GIB=N to write N GiB")
	}
	dir := os.Getenv("SLUICE_FILESTORE_BIG_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	s := openT(t, dir, Options{})
	var logs []streamcore.ShardLog
	for i := 0; i < 4; i++ {
		logs = append(logs, s.mustLog(t, fmt.Sprintf("big/shardId-%012d", i)))
	}
	start := time.Now()
	for g := 1; g <= gib; g++ {
		writeData(t, logs, 1<<30)
		t.Logf("%d GiB written in %v: RSS %d MiB, heap in use %d MiB", g, time.Since(start).Round(time.Millisecond), rssKiB()>>10, heapInuse()>>20)
	}
	s.abandon() // as after kill -9: no final sync or checkpoint
	dropCache(t, dir)
	t0 := time.Now()
	s = openT(t, dir, Options{})
	open := time.Since(t0)
	defer s.Close()
	rep := s.RecoveryReport()
	t.Logf("recovery (page cache dropped) after an abandoned, kill -9 style store of %d GiB (%d segments, %d records) took %v; RSS %d MiB", gib, rep.Segments, rep.Records, open, rssKiB()>>10)
}
