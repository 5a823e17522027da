package streamcore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/filestore"
)

func benchEngine(b *testing.B, kind string) (*streamcore.Engine, streamcore.StreamKey) {
	return benchEngineWith(b, kind, filestore.Options{}, 4)
}

func benchEngineWith(b *testing.B, kind string, o filestore.Options, shards int) (*streamcore.Engine, streamcore.StreamKey) {
	b.Helper()
	dir := b.TempDir()
	var store streamcore.Store
	if kind == "file" {
		o.Logger = quiet
		fs, err := filestore.Open(dir+"/store", o)
		if err != nil {
			b.Fatal(err)
		}
		store = fs
	} else {
		store = streamcore.NewMemStore()
	}
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: store, DataDir: dir, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(context.Background()); store.Close() })
	k := key("bench")
	if err := eng.CreateStream(context.Background(), k, streamcore.CreateOptions{ShardCount: shards, Quotas: streamcore.Quotas{Unlimited: true}}); err != nil {
		b.Fatal(err)
	}
	return eng, k
}

// BenchmarkPutRecords: 1 KiB records, 8 concurrent writers, 4 shards, through the public
// API; b.N counts records.
func BenchmarkPutRecords(b *testing.B) {
	for _, kind := range []string{"file", "mem"} {
		for _, batch := range []int{100, 500} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, batch), func(b *testing.B) {
				eng, k := benchEngine(b, kind)
				benchPut(b, eng, k, batch)
			})
		}
	}
}

// BenchmarkPutRecordsShards is BenchmarkPutRecords (file store, 500-record calls, random
// partition keys) over 4 to 10,000 shards, with and without the journal, side by side:
//
//	go test -run '^$' -bench PutRecordsShards -benchtime 3s -count 3 ./streamcore/
//
// Each (shards, journal) pair follows the other, so -count interleaves the layouts.
func BenchmarkPutRecordsShards(b *testing.B) {
	for _, shards := range []int{4, 64, 1000, 10000} {
		for _, mode := range []filestore.JournalMode{filestore.JournalOff, filestore.JournalOn} {
			b.Run(fmt.Sprintf("shards=%d/journal=%s", shards, mode), func(b *testing.B) {
				eng, k := benchEngineWith(b, "file", filestore.Options{Journal: mode}, shards)
				putN(b, eng, k, 500, 64*500, false) // warm-up: the shards' first segments exist
				benchPut(b, eng, k, 500)
			})
		}
	}
}

// benchPut runs PutRecords of batch 1 KiB records from 8 goroutines until n records
// went in, and reports records/s. Each goroutine rotates over 8 sets of partition keys,
// so the calls of a many-shard stream do not keep hitting the same shards.
func benchPut(b *testing.B, eng *streamcore.Engine, k streamcore.StreamKey, batch int) {
	putN(b, eng, k, batch, b.N, true)
}

func putN(b *testing.B, eng *streamcore.Engine, k streamcore.StreamKey, batch, n int, report bool) {
	const writers, sets = 8, 8
	data := make([]byte, 1024)
	entries := make([][][]streamcore.PutEntry, writers)
	for w := range entries {
		entries[w] = make([][]streamcore.PutEntry, sets)
		for j := range entries[w] {
			for i := 0; i < batch; i++ {
				entries[w][j] = append(entries[w][j], streamcore.PutEntry{PartitionKey: fmt.Sprintf("w%d-%d-%d", w, j, i), Data: data})
			}
		}
	}
	var left atomic.Int64
	left.Store(int64(n))
	if report {
		b.SetBytes(1024)
		b.ResetTimer()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; left.Add(-int64(batch)) > -int64(batch); c++ {
				res, err := eng.PutRecords(context.Background(), k, entries[w][c%sets])
				if err != nil {
					b.Error(err)
					return
				}
				for _, r := range res {
					if r.Err != nil {
						b.Error(r.Err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if report {
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
	}
}

// BenchmarkGetRecords reads back a filled shard with GetRecords; b.N counts records.
func BenchmarkGetRecords(b *testing.B) {
	eng, k := benchEngine(b, "file")
	ctx := context.Background()
	data := make([]byte, 1024)
	var es []streamcore.PutEntry
	for i := 0; i < 500; i++ {
		es = append(es, streamcore.PutEntry{PartitionKey: "p", ExplicitHashKey: "0", Data: data})
	}
	const total = 100000
	for n := 0; n < total; n += len(es) {
		if _, err := eng.PutRecords(ctx, k, es); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	read := 0
	for read < b.N {
		it, err := eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		if err != nil {
			b.Fatal(err)
		}
		for read < b.N {
			res, err := eng.GetRecords(ctx, it, 10000)
			if err != nil {
				b.Fatal(err)
			}
			read += len(res.Records)
			if len(res.Records) == 0 {
				break
			}
			it = res.NextShardIterator
		}
	}
	b.ReportMetric(float64(read)/time.Since(start).Seconds(), "records/s")
}
