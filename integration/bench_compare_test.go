//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// kinesisClient is an aws-sdk-go-v2 Kinesis client for endpoint with dummy credentials.
func kinesisClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

// putLoad drives PutRecords of 500 × 1 KiB records from `clients` goroutines for d and
// returns the records/s that were acknowledged.
func putLoad(b *testing.B, c *kinesis.Client, stream string, clients int, d time.Duration) float64 {
	b.Helper()
	data := make([]byte, 1024)
	_, _ = rand.Read(data)
	var ok, failed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			entries := make([]types.PutRecordsRequestEntry, 500)
			for i := range entries {
				entries[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(fmt.Sprintf("k-%d-%d", w, i))}
			}
			for ctx.Err() == nil {
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				ok.Add(int64(len(entries)) - int64(aws.ToInt32(out.FailedRecordCount)))
			}
		}(w)
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Logf("%s: %d failed calls", stream, failed.Load())
	}
	return float64(ok.Load()) / time.Since(start).Seconds()
}

// BenchmarkPutRecordsVsKinesalite measures Sluice and kinesalite side by side with the
// same client and load: 8 concurrent clients, PutRecords of 500 × 1 KiB records.
//
//	go test -tags integration -run '^$' -bench PutRecordsVsKinesalite -benchtime 1x ./integration/
func BenchmarkPutRecordsVsKinesalite(b *testing.B) {
	const shards, clients = 8, 8
	d := 10 * time.Second
	s := harness.StartSluice(b, fmt.Sprintf("streams:\n  - name: bench\n    shards: %d\n    quotas:\n      unlimited: true\n", shards))
	k := harness.Kinesalite(b)
	kc := kinesisClient(k.Endpoint)
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bench"), ShardCount: aws.Int32(shards)}); err != nil {
		b.Fatalf("kinesalite create-stream: %v", err)
	}
	harness.Eventually(b, 30*time.Second, func() error {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("bench")})
		if err != nil {
			return err
		}
		if out.StreamDescriptionSummary.StreamStatus != types.StreamStatusActive {
			return fmt.Errorf("status %s", out.StreamDescriptionSummary.StreamStatus)
		}
		return nil
	})
	var sl, ki float64
	for i := 0; i < b.N; i++ {
		sl += putLoad(b, kinesisClient(s.Endpoint), "bench", clients, d)
		ki += putLoad(b, kc, "bench", clients, d)
	}
	sl, ki = sl/float64(b.N), ki/float64(b.N)
	b.ReportMetric(sl, "sluice_records/s")
	b.ReportMetric(ki, "kinesalite_records/s")
	if ki > 0 {
		b.ReportMetric(sl/ki, "speedup_x")
	}
}
