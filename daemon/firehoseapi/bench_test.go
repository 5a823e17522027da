package firehoseapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	s3sink "github.com/sluice-io/sluice/sinks/s3"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/sluice-io/sluice/daemon/firehose"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/filestore"
)

// discardSink accepts every batch (the benchmark measures ingest, not S3).
type discardSink struct{}

func (discardSink) Connect(context.Context) error                   { return nil }
func (discardSink) Close(context.Context) error                     { return nil }
func (discardSink) Write(context.Context, sinks.Batch) sinks.Result { return sinks.Done() }
func (discardSink) WriteFailures(context.Context, string, []record.FailureRecord) error {
	return nil
}

// BenchmarkPutRecordBatchIngest drives PutRecordBatch (500 records of 100-byte JSON per
// request) through the handler into a file-store engine with group commit (sync always),
// from parallel clients, with the delivery pipeline running. Reported: records/s.
func BenchmarkPutRecordBatchIngest(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, shards := range []int{2} { // the default of firehose.Options.DirectPutShards
			for _, par := range []int{8, 32} {
				b.Run(fmt.Sprintf("record=%dB/shards=%d/clients=%d", size, shards, par*runtime.GOMAXPROCS(0)), func(b *testing.B) { benchIngest(b, size, shards, par) })
			}
		}
	}
}

func benchIngest(b *testing.B, size, shards, par int) {
	fs, err := filestore.Open(b.TempDir(), filestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: fs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	mgr, err := firehose.NewManager(firehose.Options{Engine: eng, Logger: slog.New(slog.DiscardHandler), DirectPutShards: shards,
		NewDestination: func(*firehose.Definition, firehose.S3Conn) (*firehose.Built, error) {
			return &firehose.Built{Sink: discardSink{}, Errors: discardSink{}}, nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	mgr.Start(context.Background(), nil)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		mgr.Close(ctx)
		cancel()
		eng.Close(context.Background())
		fs.Close()
	}()
	h := New(mgr, HandlerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err := mgr.Create(context.Background(), &firehose.Definition{Name: "bench", Type: firehose.TypeDirectPut,
		Dest: firehose.Destination{Kind: "s3", Config: &s3sink.API{BucketARN: "arn:aws:s3:::b"}}}); err != nil {
		b.Fatal(err)
	}
	rec := bytes.Repeat([]byte("x"), size-12)
	data := base64.StdEncoding.EncodeToString(append(append([]byte(`{"payload":"`), rec...), '"', '}'))
	var body bytes.Buffer
	body.WriteString(`{"DeliveryStreamName":"bench","Records":[`)
	for i := 0; i < 500; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{"Data":"` + data + `"}`)
	}
	body.WriteString(`]}`)
	payload := body.Bytes()
	date := time.Now().UTC().Format("20060102T150405Z")

	b.SetBytes(int64(500 * size))
	b.SetParallelism(par)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/", bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", TargetPrefix+"PutRecordBatch")
			req.Header.Set("X-Amz-Date", date)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/firehose/aws4_request, SignedHeaders=host, Signature=x")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes()[:40], []byte(`"FailedPutCount":0,`)) == false {
				b.Fatalf("status %d: %.200s", w.Code, w.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N*500)/time.Since(start).Seconds(), "records/s")
}
