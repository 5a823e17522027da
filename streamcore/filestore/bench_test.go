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
func BenchmarkReadCold(b *testing.B) { benchReadModes(b, true) }

// BenchmarkReadWarm is the same with the page cache left warm: the CPU cost of Read.
func BenchmarkReadWarm(b *testing.B) { benchReadModes(b, false) }

// benchReadModes runs benchRead on data written without and with the journal.
func benchReadModes(b *testing.B, cold bool) {
	for _, mode := range []JournalMode{JournalOff, JournalOn} {
		b.Run("journal="+string(mode), func(b *testing.B) { benchRead(b, cold, mode) })
	}
}

func benchRead(b *testing.B, cold bool, mode JournalMode) {
	const total = 200_000
	dir := b.TempDir()
	s, err := Open(dir, Options{Logger: quiet, Journal: mode})
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
		s, err := Open(dir, Options{Logger: quiet, Journal: mode})
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

// BenchmarkRecoverShards: Open after a crash of a journal-mode store holding many logs
// (8 KiB in each, the journal not yet checkpointed, the segment files' unsynced tails
// lost): the time to recover them all, and the open files and heap after it.
//
//	go test -run '^$' -bench RecoverShards -benchtime 1x ./streamcore/filestore/
func BenchmarkRecoverShards(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("shards=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			o := Options{Logger: quiet, Journal: JournalOn, CheckpointBytes: 512}
			s, err := Open(dir, o)
			if err != nil {
				b.Fatal(err)
			}
			logs := make([]streamcore.ShardLog, n)
			for i := range logs {
				if logs[i], err = s.OpenLog(bg, fmt.Sprintf("bench/shardId-%012d", i)); err != nil {
					b.Fatal(err)
				}
			}
			recs := benchRecords(8, 1024)
			for k := 0; k < 8; k++ {
				ops := make([]streamcore.AppendOp, n)
				for i, l := range logs {
					ops[i] = streamcore.AppendOp{Log: l, Recs: recs[k : k+1]}
				}
				s.AppendMulti(bg, ops)
			}
			s.abandon()
			loseUnsynced(b, dir)
			b.ResetTimer()
			var took time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				s, err = Open(dir, o)
				took += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				rep := s.RecoveryReport()
				b.ReportMetric(float64(rep.Replayed), "replayed")
				b.ReportMetric(float64(countFDs()), "fds")
				b.ReportMetric(float64(heapInuse())/(1<<20), "heap_MiB")
				b.ReportMetric(float64(rssKiB())/1024, "rss_MiB")
				s.abandon()
			}
			b.ReportMetric(took.Seconds()/float64(b.N), "s/recovery")
		})
	}
}
