//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	dto "github.com/prometheus/client_model/go"

	delivery "github.com/sluice-io/sluice/daemon/firehose"
	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/filestore"
)

// BenchmarkFirehoseEndToEndGzip: 1 KiB JSON records via PutRecordBatch (16 clients) into
// a sluice child process, delivered GZIP to the co-located MinIO. One iteration = 768 MiB
// accepted and then fully delivered (768 MiB, so the final partial buffer's interval matters little) (per the daemon's delivery_bytes metric). Reported:
// end-to-end MB/s and the daemon's peak RSS.
func BenchmarkFirehoseEndToEndGzip(b *testing.B) {
	m := harness.MinIO(b)
	bucket := m.CreateBucket(b, "fh-bench")
	s := harness.StartSluice(b, "delivery_streams:\n  - name: bench\n    buffer: {size: 32MiB, interval: 1s}\n    destination:\n      type: s3\n"+
		fmt.Sprintf("      s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s, prefix: b/, compression: GZIP}\n",
			bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey))
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()

	rec := make([]byte, 0, 1024)
	rec = append(rec, `{"ticker_symbol":"AMZN","sector":"TECHNOLOGY","change":-1.25,"price":181.5,"note":"`...)
	for len(rec) < 1021 {
		rec = append(rec, "lorem ipsum dolor sit amet "[len(rec)%27])
	}
	rec = append(rec, "\"}\n"...)
	batch := make([]types.Record, 500)
	for i := range batch {
		batch[i] = types.Record{Data: rec}
	}
	const perIter = 768 << 20
	batchesPerIter := perIter / (500 * len(rec))
	var sent atomic.Int64
	b.SetBytes(int64(batchesPerIter * 500 * len(rec)))
	b.ResetTimer()
	start := time.Now()
	var putTime time.Duration
	for b.Loop() {
		putStart := time.Now()
		var wg sync.WaitGroup
		var next atomic.Int64
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(batchesPerIter) {
					out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("bench"), Records: batch})
					if err != nil {
						b.Errorf("PutRecordBatch: %v", err)
						return
					}
					if n := aws.ToInt32(out.FailedPutCount); n != 0 {
						for _, r := range out.RequestResponses {
							if r.ErrorCode != nil {
								b.Errorf("PutRecordBatch: %d of %d records failed, e.g. %s: %s", n, len(batch), aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
								break
							}
						}
						return
					}
					sent.Add(int64(500 * len(rec)))
				}
			}()
		}
		wg.Wait()
		putTime += time.Since(putStart)
		waitDelivered(b, s.Endpoint, sent.Load())
	}
	el := time.Since(start)
	b.ReportMetric(float64(sent.Load())/el.Seconds()/1e6, "MB/s_e2e")
	b.ReportMetric(float64(sent.Load())/putTime.Seconds()/1e6, "MB/s_accepted")
	if rss := peakRSS(s.ConfigPath); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "MiB_peak_rss")
	}
}

var deliveredRE = regexp.MustCompile(`sluice_firehose_delivery_bytes_total\{destination="s3",stream="bench"\} ([0-9.e+]+)`)

func waitDelivered(b *testing.B, endpoint string, want int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		resp := httpGetB(b, endpoint+"/metrics")
		if m := deliveredRE.FindStringSubmatch(resp); m != nil {
			if v, _ := strconv.ParseFloat(m[1], 64); int64(v) >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("delivery did not catch up with %d bytes", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpGetB(b *testing.B, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return buf.String()
}

// peakRSS finds the sluice process serving configPath and returns its VmHWM in bytes.
func peakRSS(configPath string) int64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmd, err := os.ReadFile(d + "/cmdline")
		if err != nil || !bytes.Contains(cmd, []byte(configPath)) || !bytes.Contains(cmd, []byte("serve")) {
			continue
		}
		st, err := os.ReadFile(d + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				f := strings.Fields(l)
				if len(f) >= 2 {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					return kb << 10
				}
			}
		}
	}
	return 0
}

// BenchmarkFirehosePipelineInProcessGzip measures the delivery path without HTTP and SDK
// client costs: delivery.Manager.Put (the PutRecordBatch core: WAL append with group
// commit) from 8 goroutines, 500 × 1 KiB records per call, GZIP objects of 32 MiB into
// MinIO. One iteration = 500 MiB accepted and delivered.
func BenchmarkFirehosePipelineInProcessGzip(b *testing.B) {
	m := harness.MinIO(b)
	bucket := m.CreateBucket(b, "fh-inproc")
	fs, err := filestore.Open(b.TempDir(), filestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: fs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	mgr, err := delivery.NewManager(delivery.Options{Engine: eng, Logger: slog.New(slog.DiscardHandler),
		DefaultS3: delivery.S3Conn{Endpoint: m.Endpoint, Region: m.Region, PathStyle: true, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}})
	if err != nil {
		b.Fatal(err)
	}
	mgr.Start(context.Background(), nil)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		mgr.Close(ctx)
		cancel()
		eng.Close(context.Background())
		fs.Close()
	}()
	size, interval := 32, 1
	if err := mgr.Create(context.Background(), &delivery.Definition{Name: "inproc", Type: delivery.TypeDirectPut,
		Dest: delivery.Destination{Kind: "s3", Config: &s3sink.API{BucketARN: "arn:aws:s3:::" + bucket, CompressionFormat: "GZIP",
			BufferingHints: &sinks.BufferingHints{SizeInMBs: &size, IntervalInSeconds: &interval}}}}); err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 1024)
	for i := range rec {
		rec[i] = "lorem ipsum dolor sit amet "[i%27]
	}
	rec[1023] = '\n'
	batch := make([][]byte, 500)
	for i := range batch {
		batch[i] = rec
	}
	const callsPerIter = 1024 // × 500 KiB = 500 MiB, so the last partial buffer's interval weighs little
	b.SetBytes(callsPerIter * 500 * 1024)
	delivered := mgr.Metrics().DeliveryBytes.WithLabelValues("inproc", "s3")
	var sent int64
	var putTime time.Duration
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= callsPerIter {
					if _, _, err := mgr.Put(context.Background(), "inproc", batch); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		putTime += time.Since(t0)
		sent += callsPerIter * 500 * 1024
		deadline := time.Now().Add(5 * time.Minute)
		for counterValue(delivered) < float64(sent) {
			if time.Now().After(deadline) {
				b.Fatal("delivery did not catch up")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(sent)/time.Since(start).Seconds()/1e6, "MB/s_e2e")
	b.ReportMetric(float64(sent)/putTime.Seconds()/1e6, "MB/s_accepted")
}

func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
