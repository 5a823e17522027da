package filestore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

func benchRecords(n, size int) []streamcore.LogRecord {
	recs := make([]streamcore.LogRecord, n)
	for i := range recs {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		recs[i] = streamcore.LogRecord{PartitionKey: fmt.Sprintf("partition-key-%d", i), Data: data}
	}
	return recs
}

// BenchmarkAppend: 1 KiB records, 8 concurrent writers over 4 shard logs, group commit
// (SyncAlways). batch is how many records one Append carries (PutRecords sends up to 500).
func BenchmarkAppend(b *testing.B) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval} {
		for _, batch := range []int{1, 10, 100, 500} {
			b.Run(fmt.Sprintf("sync=%s/batch=%d", policy, batch), func(b *testing.B) {
				benchAppend(b, Options{Sync: policy, Logger: quiet}, batch)
			})
		}
	}
}

func benchAppend(b *testing.B, o Options, batch int) {
	{
		{
			s, err := Open(b.TempDir(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var logs []streamcore.ShardLog
			for i := 0; i < 4; i++ {
				l, err := s.OpenLog(bg, fmt.Sprintf("bench/shardId-%012d", i))
				if err != nil {
					b.Fatal(err)
				}
				logs = append(logs, l)
			}
			recs := benchRecords(batch, 1024)
			var claimed atomic.Int64
			b.SetBytes(1024)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := logs[w%4]
					for claimed.Add(int64(batch)) <= int64(b.N)+int64(batch)-1 {
						if _, _, err := l.Append(bg, recs); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		}
	}
}

// BenchmarkReadCold reads a 1 KiB-record shard from start to end with GetRecords-sized
// calls (10,000 records / 10 MiB) from a freshly opened store with the page cache dropped.
func BenchmarkReadCold(b *testing.B) { benchRead(b, true) }

// BenchmarkReadWarm is the same with the page cache left warm: the CPU cost of Read.
func BenchmarkReadWarm(b *testing.B) { benchRead(b, false) }

func benchRead(b *testing.B, cold bool) {
	const total = 200_000
	dir := b.TempDir()
	s, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	l, _ := s.OpenLog(bg, "bench/shardId-000000000000")
	recs := benchRecords(500, 1024)
	for n := 0; n < total; n += len(recs) {
		if _, _, err := l.Append(bg, recs); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.SetBytes(total * 1024)
	b.ReportAllocs()
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if cold {
			dropCache(b, dir)
		}
		s, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		l, _ := s.OpenLog(bg, "bench/shardId-000000000000")
		b.StartTimer()
		t0 := time.Now()
		n, from := 0, uint64(1)
		for {
			got, err := l.Read(bg, from, 10000, 10<<20)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
			n += len(got)
			from = got[len(got)-1].SeqIx + 1
		}
		elapsed += time.Since(t0)
		b.StopTimer()
		if n != total {
			b.Fatalf("read %d records, want %d", n, total)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "records/s")
}
