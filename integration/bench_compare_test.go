//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
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

// rawPutRecordsBody is a pre-encoded PutRecords JSON body of n records of size bytes.
func rawPutRecordsBody(stream string, n, size int) []byte {
	data := make([]byte, size)
	_, _ = rand.Read(data)
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"StreamName":%q,"Records":[`, stream)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"Data":%q,"PartitionKey":"k-%d"}`, enc, i)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// rawPutRecordsRequest is a PutRecords call carrying body, with a SigV4 header that is
// well formed but not verified (Sluice without credentials and kinesalite accept it).
func rawPutRecordsRequest(ctx context.Context, endpoint string, body []byte) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	now := time.Now().UTC()
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/"+now.Format("20060102")+
		"/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00")
	return req
}

var failedCountRE = regexp.MustCompile(`"FailedRecordCount":\s*(\d+)`)

// rawPutLoad is putLoad with a client that costs next to nothing: the same pre-encoded
// body on every call, a fixed (unverified) SigV4 header, HTTP/1.1 keep-alive. It measures
// the servers rather than the client sharing their CPU.
func rawPutLoad(b *testing.B, endpoint, stream string, clients int, d time.Duration) float64 {
	b.Helper()
	body := rawPutRecordsBody(stream, 500, 1024)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var ok, failed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := hc.Do(rawPutRecordsRequest(ctx, endpoint, body))
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				m := failedCountRE.FindSubmatch(out)
				if resp.StatusCode != 200 || m == nil {
					failed.Add(1)
					continue
				}
				n, _ := strconv.Atoi(string(m[1]))
				ok.Add(int64(500 - n))
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Logf("%s %s: %d failed calls", endpoint, stream, failed.Load())
	}
	return float64(ok.Load()) / time.Since(start).Seconds()
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
// same client and load: 8 concurrent clients, PutRecords of 500 × 1 KiB records, once
// with aws-sdk-go-v2 and once with a raw HTTP client whose own cost is negligible (both
// servers share the machine's 2 cores with the client).
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
	waitActive(b, kc, "bench")
	type client struct {
		name string
		run  func(endpoint string, c *kinesis.Client) float64
	}
	for _, cl := range []client{
		{"aws-sdk-go-v2", func(_ string, c *kinesis.Client) float64 { return putLoad(b, c, "bench", clients, d) }},
		{"raw-http", func(ep string, _ *kinesis.Client) float64 { return rawPutLoad(b, ep, "bench", clients, d) }},
	} {
		var sl, ki float64
		for i := 0; i < b.N; i++ {
			sl += cl.run(s.Endpoint, kinesisClient(s.Endpoint))
			ki += cl.run(k.Endpoint, kc)
		}
		sl, ki = sl/float64(b.N), ki/float64(b.N)
		b.Logf("%s client: sluice %.0f records/s, kinesalite %.0f records/s, %.1fx", cl.name, sl, ki, sl/ki)
		b.ReportMetric(sl, cl.name+"_sluice_records/s")
		b.ReportMetric(ki, cl.name+"_kinesalite_records/s")
		if ki > 0 {
			b.ReportMetric(sl/ki, cl.name+"_speedup_x")
		}
	}
}
