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
	b.Helper()
	dir := b.TempDir()
	var store streamcore.Store
	if kind == "file" {
		fs, err := filestore.Open(dir+"/store", filestore.Options{Logger: quiet})
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
	if err := eng.CreateStream(context.Background(), k, streamcore.CreateOptions{ShardCount: 4, Quotas: streamcore.Quotas{Unlimited: true}}); err != nil {
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
				data := make([]byte, 1024)
				entries := make([][]streamcore.PutEntry, 8)
				for w := range entries {
					for i := 0; i < batch; i++ {
						entries[w] = append(entries[w], streamcore.PutEntry{PartitionKey: fmt.Sprintf("w%d-%d", w, i), Data: data})
					}
				}
				var left atomic.Int64
				left.Store(int64(b.N))
				b.SetBytes(1024)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for w := 0; w < 8; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for left.Add(-int64(batch)) > -int64(batch) {
							res, err := eng.PutRecords(context.Background(), k, entries[w])
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
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
			})
		}
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
