//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sluice-io/sluice/integration/harness"
)

// With the bucket missing, undelivered data grows to firehose.wal_high_water: then
// PutRecord answers 503 ServiceUnavailableException and PutRecordBatch marks records
// "Slow down." (HTTP 200). Once the bucket exists, delivery catches up, intake resumes,
// and every acknowledged record is in S3.
func TestFirehoseWALHighWaterBackpressure(t *testing.T) {
	m := harness.MinIO(t)
	bucket := fmt.Sprintf("fh-hw-%d", time.Now().UnixNano()%1_000_000_000)
	s := startFirehoseSluiceWith(t, m, "  wal_high_water: 1MiB\n",
		"delivery_streams:\n  - name: hw\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n      retry_duration: 1s\n"+
			s3YAML(m, bucket, ", prefix: data/, error_output_prefix: err/"))
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	pad := strings.Repeat("x", 1000)
	gen := func(i int) string { return fmt.Sprintf(`{"hw":%d,"pad":"%s"}`, i, pad) }
	var acked []string
	slowed := 0
	for b := 0; b < 10 && slowed == 0; b++ { // 500 KiB a batch: the third one is over 1 MiB
		recs := make([]types.Record, 500)
		for i := range recs {
			recs[i] = types.Record{Data: []byte(gen(b*500+i) + "\n")}
		}
		out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("hw"), Records: recs})
		if err != nil {
			t.Fatalf("PutRecordBatch %d: %v", b, err)
		}
		for i, r := range out.RequestResponses {
			switch {
			case r.RecordId != nil:
				acked = append(acked, gen(b*500+i))
			case aws.ToString(r.ErrorCode) == "ServiceUnavailableException" && aws.ToString(r.ErrorMessage) == "Slow down.":
				slowed++
			default:
				t.Fatalf("record %d: %s %s", i, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
		}
	}
	if slowed == 0 {
		t.Fatalf("%d records accepted with a missing bucket and a 1 MiB high-water mark; none refused", len(acked))
	}
	_, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("hw"), Record: &types.Record{Data: []byte("x\n")}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailableException" || ae.ErrorMessage() != "Slow down." {
		t.Fatalf("PutRecord over the high-water mark: %v", err)
	}
	if met := httpGet(t, s.Endpoint+"/metrics"); !strings.Contains(met, `sluice_firehose_throttled_records_total{stream="hw"}`) {
		t.Fatal("throttled_records_total not exported")
	}
	t.Logf("%d records acknowledged, %d refused at the mark", len(acked), slowed)

	if _, err := m.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		rec := gen(99_999)
		out, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("hw"), Record: &types.Record{Data: []byte(rec + "\n")}})
		if err == nil && out.RecordId != nil {
			acked = append(acked, rec)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("intake never resumed after the bucket appeared: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitDataOrFailures(t, m, bucket, "data/", "err/", acked, 120*time.Second, "acknowledged records missing")
}

// firehose.throttling: aws-small exports the quotas and refuses a PutRecordBatch over
// 1 MiB/s with per-record "Slow down." entries.
func TestFirehoseThrottlingProfile(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-thr")
	s := startFirehoseSluiceWith(t, m, "  throttling: aws-small\n",
		"delivery_streams:\n  - name: thr\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n"+s3YAML(m, bucket, ", prefix: t/"))
	c := firehoseClient(s.Endpoint)
	met := httpGet(t, s.Endpoint+"/metrics")
	for _, want := range []string{
		`sluice_firehose_limit_records_per_second{stream="thr"} 100000`,
		`sluice_firehose_limit_put_requests_per_second{stream="thr"} 1000`,
		`sluice_firehose_limit_bytes_per_second{stream="thr"} 1.048576e+06`,
	} {
		if !strings.Contains(met, want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	// batches of 500 x 1000 bytes until one is cut: 40 of them (20 MB) would take 19 s
	// to be within the quota, so a working limit cuts one long before
	slowed, b := 0, 0
	for ; b < 40 && slowed == 0; b++ {
		recs := make([]types.Record, 500)
		for i := range recs {
			recs[i] = types.Record{Data: make([]byte, 1000)}
		}
		out, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("thr"), Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.RequestResponses {
			if aws.ToString(r.ErrorCode) == "ServiceUnavailableException" {
				slowed++
			}
		}
	}
	if slowed == 0 {
		t.Fatal("20 MB of quick batches passed a 1 MiB/s quota")
	}
	t.Logf("batch %d: %d of 500 records refused by the 1 MiB/s bucket", b, slowed)
}
