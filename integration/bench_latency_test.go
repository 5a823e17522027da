//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
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

// BenchmarkPutToConsumerLatency measures, against the real `sluice serve`, the time from
// a PutRecord call (aws-sdk-go-v2) to the record reaching a waiting consumer, while
// background PutRecords load (500 × 1 KiB, raw HTTP client) runs at half of the peak
// measured first in the same run on the same server. One probe record per op, 2 ms
// apart; p50/p99 in ms. The GetRecords consumer polls back to back (which takes most of
// a core on this 2-core VM); GetRecords-1ms waits 1 ms after an empty reply.
//
//	go test -tags integration -run '^$' -bench PutToConsumerLatency -benchtime 1500x ./integration/
func BenchmarkPutToConsumerLatency(b *testing.B) {
	s := harness.StartSluice(b, "streams:\n"+
		"  - name: bench\n    shards: 8\n    quotas:\n      unlimited: true\n"+
		"  - name: probe\n    shards: 1\n    quotas:\n      unlimited: true\n")
	peak := rawPutLoad(b, s.Endpoint, "bench", 8, 5*time.Second)
	b.Logf("peak %.0f records/s; background load at half of it", peak)
	for _, consumer := range []string{"SubscribeToShard", "GetRecords", "GetRecords-1ms"} {
		b.Run(consumer, func(b *testing.B) { benchProbeLatency(b, s.Endpoint, consumer, peak/2) })
	}
}

func h2cKinesis(endpoint string) *kinesis.Client {
	tr := &http.Transport{Protocols: new(http.Protocols), DialContext: (&net.Dialer{}).DialContext}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return kinesis.New(kinesis.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: tr},
	})
}

func benchProbeLatency(b *testing.B, endpoint, consumer string, bgRate float64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := kinesisClient(endpoint) // the SDK's default HTTP/1.1 client, as most Go producers run it
	got := make(chan time.Time, 1024)
	switch consumer {
	case "GetRecords", "GetRecords-1ms":
		pause := time.Duration(0)
		if consumer == "GetRecords-1ms" {
			pause = time.Millisecond
		}
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("probe"),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
		if err != nil {
			b.Fatal(err)
		}
		pc := kinesisClient(endpoint)
		go func() { // the stream's quotas are off
			iter := it.ShardIterator
			for ctx.Err() == nil && iter != nil {
				out, err := pc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
				if err != nil {
					continue
				}
				for range out.Records {
					got <- time.Now()
				}
				iter = out.NextShardIterator
				if len(out.Records) == 0 && pause > 0 {
					time.Sleep(pause)
				}
			}
		}()
	case "SubscribeToShard":
		desc, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("probe")})
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("lat-%d", time.Now().UnixNano())
		reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: desc.StreamDescriptionSummary.StreamARN, ConsumerName: aws.String(name)})
		if err != nil {
			b.Fatal(err)
		}
		harness.Eventually(b, 30*time.Second, func() error {
			d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
			if err != nil {
				return err
			}
			if d.ConsumerDescription.ConsumerStatus != types.ConsumerStatusActive {
				return fmt.Errorf("consumer %s", d.ConsumerDescription.ConsumerStatus)
			}
			return nil
		})
		// HTTP/2, as KCL subscribes.
		sub, err := h2cKinesis(endpoint).SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN,
			ShardId: aws.String("shardId-000000000000"), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for ev := range sub.GetStream().Events() {
				if e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); ok {
					for range e.Value.Records {
						got <- time.Now()
					}
				}
			}
		}()
	}

	// Background load from 4 paced clients.
	body := rawPutRecordsBody("bench", 500, 1024)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var loaded atomic.Int64
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) * 4 * 500 / max(bgRate, 1))
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now()
			for ctx.Err() == nil {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
				resp, err := hc.Do(rawPutRecordsRequest(ctx, endpoint, body))
				if err != nil {
					continue
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && bytes.HasPrefix(out, []byte(`{"FailedRecordCount":0`)) {
					loaded.Add(500)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	lats := make([]time.Duration, 0, b.N)
	acks := make([]time.Duration, 0, b.N) // the PutRecord call alone
	b.ResetTimer()
	start := time.Now()
	loaded.Store(0)
	for i := 0; i < b.N; i++ {
		var d [8]byte
		sent := time.Now()
		binary.BigEndian.PutUint64(d[:], uint64(sent.UnixNano()))
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("probe"), PartitionKey: aws.String("p"), Data: d[:]}); err != nil {
			b.Fatal(err)
		}
		acks = append(acks, time.Since(sent))
		select {
		case at := <-got:
			lats = append(lats, at.Sub(sent))
		case <-time.After(5 * time.Second):
			b.Fatal("probe record not delivered within 5 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	wg.Wait()
	pct := func(l []time.Duration, p float64) float64 {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		return float64(l[int(p*float64(len(l)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lats, 0.5), "p50-ms")
	b.ReportMetric(pct(lats, 0.99), "p99-ms")
	b.ReportMetric(pct(acks, 0.99), "put-p99-ms")
	bg := float64(loaded.Load()) / el.Seconds()
	if el > 2*time.Second && bg < bgRate/2 { // (the framework's first b.N=1 run is too short to tell)
		b.Fatalf("background load reached %.0f records/s of the %.0f asked for", bg, bgRate)
	}
	b.ReportMetric(bg, "bg-records/s")
}
