//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// The speed bar of issue 21: HTTP endpoint delivery Sluice → Sluice with GZIP, end to end,
// at least 50 MB/s on this machine.
const (
	httpBenchRecord  = 1024   // bytes per record: JSON text, compressible like logs
	httpBenchRecords = 300000 // per iteration ≈ 307 MB
	httpBenchBatch   = 500    // records per PutRecordBatch
	httpBenchPutters = 4      // concurrent producers
)

var sourceRecordsRE = regexp.MustCompile(`(?m)^sluice_http_source_records_total\{path="/firehose/inbox"\} (\S+)$`)

// BenchmarkHTTPEndpointSluiceToSluice measures, per iteration, 300,000 records of 1 KiB
// (≈ 307 MB) put with PutRecordBatch into the sender's DirectPut delivery stream (8 MiB /
// 1 s buffers, ContentEncoding GZIP) until the receiver's HTTP endpoint source has
// appended all of them to its stream (8 shards, unlimited quotas; each reply is sent
// after the records are durable): the clock covers intake, the sender's WAL, buffering,
// request building and gzip, the transfer, the receiver's gunzip and parse, and its WAL
// append. Reported: MB/s of record bytes (10⁶) and records/s. Both processes share this
// machine's two cores with the producers.
func BenchmarkHTTPEndpointSluiceToSluice(b *testing.B) {
	m := harness.MinIO(b)
	bucket := m.CreateBucket(b, "httpep-bench")
	const key = "bench-key"
	prof := os.Getenv("SLUICE_BENCH_PPROF") // a directory: CPU profiles of both processes go there
	srv := ""
	if prof != "" {
		srv = "  pprof: true\n"
	}
	recv := harness.StartSluiceServer(b, srv, receiverYAML(8, key))
	send := harness.StartSluiceServer(b, srv, senderYAML(m, bucket, recv.Endpoint+"/firehose/inbox", key, "{size: 8MiB, interval: 1s}", "300s"))
	fc := firehoseClient(send.Endpoint)

	// the records: JSON of 1 KiB, varied enough that gzip has work to do
	recs := make([][]types.Record, httpBenchRecords/httpBenchBatch)
	for k := range recs {
		recs[k] = make([]types.Record, httpBenchBatch)
		for j := range recs[k] {
			i := k*httpBenchBatch + j
			head := fmt.Sprintf(`{"i":%d,"user":"u%05d","path":"/api/v1/items/%d","status":%d,"ms":%d,"msg":"`, i, i%7919, i%1000, 200+i%5, i%977)
			pad := httpBenchRecord - len(head) - 3
			var sb strings.Builder
			sb.WriteString(head)
			for sb.Len() < len(head)+pad {
				fmt.Fprintf(&sb, "%x ", uint32(i*2654435761+sb.Len()))
			}
			s := sb.String()[:len(head)+pad] + "\"}\n"
			recs[k][j] = types.Record{Data: []byte(s)}
		}
	}
	var total int64
	for _, batch := range recs {
		for _, r := range batch {
			total += int64(len(r.Data))
		}
	}
	received := func() int64 {
		resp, err := http.Get(recv.Endpoint + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := sourceRecordsRE.FindSubmatch(body)
		if m == nil {
			return 0
		}
		f, _ := strconv.ParseFloat(string(m[1]), 64)
		return int64(f)
	}
	b.SetBytes(total)
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		start, base := time.Now(), received()
		if prof != "" {
			for name, s := range map[string]*harness.Sluice{"sender": send, "receiver": recv} {
				go func() {
					resp, err := http.Get(s.Endpoint + "/debug/pprof/profile?seconds=3")
					if err != nil {
						return
					}
					defer resp.Body.Close()
					data, _ := io.ReadAll(resp.Body)
					_ = os.WriteFile(filepath.Join(prof, name+".pprof"), data, 0o644)
				}()
			}
		}
		var wg sync.WaitGroup
		next := make(chan []types.Record)
		for range httpBenchPutters {
			wg.Go(func() {
				for batch := range next {
					for {
						out, err := fc.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("out"), Records: batch})
						if err == nil && aws.ToInt32(out.FailedPutCount) == 0 {
							break
						}
						time.Sleep(50 * time.Millisecond) // backpressure: send the batch again (a few duplicates at most)
					}
				}
			})
		}
		for _, batch := range recs {
			next <- batch
		}
		close(next)
		wg.Wait()
		put := time.Since(start)
		deadline := time.Now().Add(5 * time.Minute)
		for received()-base < httpBenchRecords {
			if time.Now().After(deadline) {
				b.Fatalf("after 5 min the receiver appended %d of %d records", received()-base, httpBenchRecords)
			}
			time.Sleep(20 * time.Millisecond)
		}
		elapsed += time.Since(start)
		b.Logf("intake done after %v, all received after %v", put.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	b.StopTimer()
	secs := elapsed.Seconds()
	b.ReportMetric(float64(total)*float64(b.N)/1e6/secs, "MB/s")
	b.ReportMetric(float64(httpBenchRecords)*float64(b.N)/secs, "records/s")
}
