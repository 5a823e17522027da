package kinesisapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-io/sluice/daemon/procs"
	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/filestore"
)

// benchEnv serves the API over a durable file store (fsync before every reply). Unless
// GOMAXPROCS is set in the environment, the benchmark runs with the processor count
// `sluice serve` uses (procs.For); the benchmarks report it as the procs metric.
func benchEnv(b *testing.B, shards int) (*testEnv, streamcore.StreamKey) {
	b.Helper()
	if os.Getenv("GOMAXPROCS") == "" {
		prev := runtime.GOMAXPROCS(procs.For(runtime.GOMAXPROCS(0)))
		b.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	fs, err := filestore.Open(b.TempDir(), filestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fs.Close() })
	env := newEnv(b, Options{}, func(o *streamcore.Options) {
		o.Store = fs
		o.Logger = slog.New(slog.DiscardHandler)
	})
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "bench"}
	err = env.eng.CreateStream(context.Background(), key, streamcore.CreateOptions{ShardCount: shards, Quotas: streamcore.Quotas{Unlimited: true}})
	if err != nil {
		b.Fatal(err)
	}
	return env, key
}

// putRecordsBody is a pre-encoded PutRecords JSON body of n records of size bytes.
func putRecordsBody(n, size int) []byte {
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), size))
	var buf bytes.Buffer
	buf.WriteString(`{"StreamName":"bench","Records":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"Data":"%s","PartitionKey":"key-%d"}`, data, i)
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// BenchmarkPutRecordsHTTP: PutRecords of 500 × 1 KiB over HTTP/1.1 from 8 concurrent
// clients (pre-encoded bodies, so the server is what is measured), durable before 200.
func BenchmarkPutRecordsHTTP(b *testing.B) {
	for _, shards := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) { benchPutRecordsHTTP(b, shards) })
	}
}

// BenchmarkPutRecordsH2C is BenchmarkPutRecordsHTTP (4 shards) with all 8 clients
// multiplexed on one h2c connection, as the Java SDK v2 / KCL send.
func BenchmarkPutRecordsH2C(b *testing.B) { benchPutRecords(b, 4, h2cClient()) }

func benchPutRecordsHTTP(b *testing.B, shards int) {
	benchPutRecords(b, shards, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}})
}

func benchPutRecords(b *testing.B, shards int, hc *http.Client) {
	env, _ := benchEnv(b, shards)
	body := putRecordsBody(500, 1024)
	var failed atomic.Int64
	b.SetBytes(500 * 1024)
	b.SetParallelism(max(1, 8/runtimeProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, env.srv.URL, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
			req.Header.Set("Authorization", anyAuth)
			req.Header.Set("X-Amz-Date", "20260101T000000Z")
			resp, err := hc.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.HasPrefix(out, []byte(`{"FailedRecordCount":0,`)) {
				failed.Add(1)
			}
		}
	})
	reportRecordRate(b, start, &failed, 500)
}

// BenchmarkPutRecordsSDK is the same load through aws-sdk-go-v2 clients (what users run).
func BenchmarkPutRecordsSDK(b *testing.B) {
	env, _ := benchEnv(b, 8)
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(env.srv.URL),
		Credentials: staticCreds{}, RetryMaxAttempts: 1})
	data := bytes.Repeat([]byte("x"), 1024)
	var failed atomic.Int64
	b.SetBytes(500 * 1024)
	b.SetParallelism(max(1, 8/runtimeProcs()))
	b.ResetTimer()
	start := time.Now()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		w := seq.Add(1)
		es := make([]types.PutRecordsRequestEntry, 500)
		for i := range es {
			es[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(fmt.Sprintf("k-%d-%d", w, i))}
		}
		for pb.Next() {
			out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: es})
			if err != nil || *out.FailedRecordCount != 0 {
				failed.Add(1)
			}
		}
	})
	reportRecordRate(b, start, &failed, 500)
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret"}, nil
}

// BenchmarkPutToSubscribeLatency measures PutRecord → SubscribeToShard delivery while a
// background PutRecords load runs at SLUICE_BENCH_BG_RATE records/s (default 100000,
// half of BenchmarkPutRecordsHTTP's ~200k peak on the 2-core box) from 4 clients. Each op is one probe record; p50/p99 are reported in ms.
func BenchmarkPutToSubscribeLatency(b *testing.B) { benchPutToConsumer(b, false) }

// BenchmarkPutToGetRecordsLatency is the same with a GetRecords consumer polling the
// probe shard back to back (its quotas are off, so it may poll without pausing).
func BenchmarkPutToGetRecordsLatency(b *testing.B) { benchPutToConsumer(b, true) }

func benchPutToConsumer(b *testing.B, polling bool) {
	env, key := benchEnv(b, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probeKey := streamcore.StreamKey{Account: key.Account, Region: key.Region, Name: "probe"}
	if err := env.eng.CreateStream(ctx, probeKey, streamcore.CreateOptions{ShardCount: 1, Quotas: streamcore.Quotas{Unlimited: true}}); err != nil {
		b.Fatal(err)
	}
	c := env.sdk("AKIDBENCH", "secret")
	got := make(chan time.Time, 1024)
	if polling {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("probe"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
		if err != nil {
			b.Fatal(err)
		}
		pc := env.sdk("AKIDBENCH", "secret")
		go func() {
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
			}
		}()
	} else {
		reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(probeKey.ARN()), ConsumerName: aws.String("lat")})
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, "consumer active", func() bool {
			d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
			return err == nil && d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive
		})
		sub, err := env.sdk("AKIDBENCH", "secret").SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
			StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
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
	// Background load.
	body := putRecordsBody(500, 1024)
	var wg sync.WaitGroup
	var loaded atomic.Int64
	rate := 100000.0 // records/s: half of BenchmarkPutRecordsHTTP's peak on the 2-core box
	if v, err := strconv.ParseFloat(os.Getenv("SLUICE_BENCH_BG_RATE"), 64); err == nil {
		rate = v
	}
	interval := time.Duration(float64(time.Second) * 4 * 500 / max(rate, 1))
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
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
				req.Header.Set("Authorization", anyAuth)
				req.Header.Set("X-Amz-Date", "20260101T000000Z")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 && bytes.HasPrefix(out, []byte(`{"FailedRecordCount":0,`)) {
						loaded.Add(500)
					}
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	lats := make([]time.Duration, 0, b.N)
	afterAck := make([]time.Duration, 0, b.N)
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
		acked := time.Now()
		select {
		case at := <-got:
			lats = append(lats, at.Sub(sent))
			afterAck = append(afterAck, max(0, at.Sub(acked)))
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
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	b.ReportMetric(pct(lats, 0.5), "p50-ms")
	b.ReportMetric(pct(lats, 0.99), "p99-ms")
	b.ReportMetric(pct(afterAck, 0.99), "p99-after-ack-ms")
	b.ReportMetric(float64(loaded.Load())/el.Seconds(), "bg-records/s")
}

// BenchmarkDecodePutRecords is the hand-written decoder alone on a 500 × 1 KiB body.
func BenchmarkDecodePutRecords(b *testing.B) {
	body := putRecordsBody(500, 1024)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, ok := decodePutRecordsJSON(body); !ok {
			b.Fatal("not decoded")
		}
	}
}

// BenchmarkDecodePutRecordsGeneric is encoding/json + the typed reader, for comparison.
func BenchmarkDecodePutRecordsGeneric(b *testing.B) {
	body := putRecordsBody(500, 1024)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, ok := genericPutRecords(body); !ok {
			b.Fatal("not decoded")
		}
	}
}

// reportRecordRate stops the timer, fails the benchmark if any request failed, and
// reports records/s for perOp records an iteration since start.
func reportRecordRate(b *testing.B, start time.Time, failed *atomic.Int64, perOp int) {
	b.Helper()
	el := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)*float64(perOp)/el.Seconds(), "records/s")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}
