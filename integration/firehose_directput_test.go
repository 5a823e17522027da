//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// DirectPut through aws-sdk-go-v2: an API-created delivery stream with GZIP delivers every
// acknowledged record to MinIO under Firehose's key layout, with Content-Encoding gzip.
func TestFirehoseDirectPutSDKGzipToMinIO(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-sdk")
	s := startFirehoseSluice(t, m, "")
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName:                 aws.String("orders"),
		ExtendedS3DestinationConfiguration: extS3(bucket, "logs/", types.CompressionFormatGzip, 1),
	}); err != nil {
		t.Fatal(err)
	}
	want := putBatches(t, c, "orders", 1800, func(i int) string { return fmt.Sprintf(`{"order":%d,"item":"sku-%04d"}`, i, i%97) })
	if len(want) != 1800 {
		t.Fatalf("%d of 1800 records acknowledged", len(want))
	}
	pr, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte(`{"order":"single"}` + "\n")}})
	if err != nil || len(aws.ToString(pr.RecordId)) != 56 {
		t.Fatalf("PutRecord: %+v %v", pr, err)
	}
	want = append(want, `{"order":"single"}`)

	seen, objs := waitRecords(t, m, bucket, "logs/", s3sink.GZIP, want, 60*time.Second)
	re := keyRE(`logs/\d{4}/\d{2}/\d{2}/\d{2}/`, "orders", ".gz")
	for k := range objs {
		if !re.MatchString(k) {
			t.Errorf("object key %q does not follow <prefix>YYYY/MM/DD/HH/<stream>-<version>-<time>-<uuid>.gz", k)
		}
		_, out, err := m.Get(ctx, bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ContentEncoding) != "gzip" {
			t.Errorf("%s: Content-Encoding %q, want gzip", k, aws.ToString(out.ContentEncoding))
		}
	}
	for l := range seen {
		if !strings.HasPrefix(l, `{"order":`) {
			t.Errorf("unexpected content in objects: %q", l)
		}
	}
	// Describe reflects the stream; metrics count the delivery.
	d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if err != nil || d.DeliveryStreamDescription.DeliveryStreamStatus != types.DeliveryStreamStatusActive {
		t.Fatalf("describe: %+v %v", d, err)
	}
	metrics := httpGet(t, s.Endpoint+"/metrics")
	for _, want := range []string{`sluice_firehose_incoming_records_total{stream="orders"} 1801`, `sluice_firehose_delivery_records_total{destination="s3",stream="orders"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// UpdateDestination: VersionId 2 shows in the new objects' names, under the new prefix.
	if _, err := c.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("orders"), CurrentDeliveryStreamVersionId: aws.String("1"),
		DestinationId:               aws.String("destinationId-000000000001"),
		ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("v2/")},
	}); err != nil {
		t.Fatal(err)
	}
	v2 := putBatches(t, c, "orders", 10, func(i int) string { return fmt.Sprintf(`{"v2":%d}`, i) })
	_, objs2 := waitRecords(t, m, bucket, "v2/", s3sink.GZIP, v2, 60*time.Second)
	re2 := regexp.MustCompile(`^v2/\d{4}/\d{2}/\d{2}/\d{2}/orders-2-`)
	for k := range objs2 {
		if !re2.MatchString(k) {
			t.Errorf("after UpdateDestination: key %q lacks version 2", k)
		}
	}
	// API-created delivery streams survive a restart.
	if err := s.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	s.Start()
	l, err := c.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
	if err != nil || len(l.DeliveryStreamNames) != 1 || l.DeliveryStreamNames[0] != "orders" {
		t.Fatalf("after restart: %+v %v", l, err)
	}
}

// DirectPut through the AWS CLI into a config-declared delivery stream (UNCOMPRESSED).
func TestFirehoseDirectPutAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-cli")
	s := startFirehoseSluice(t, m, "delivery_streams:\n  - name: cli\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n"+
		s3YAML(m, bucket, ", prefix: cli/"))
	cli := newAWSCLI(t, s.Endpoint, "AKIDCLI", "cli-secret")
	run := func(args ...string) []byte {
		t.Helper()
		full := append([]string{"--endpoint-url", s.Endpoint, "--output", "json", "firehose"}, args...)
		if cli.v2 && (args[0] == "put-record" || args[0] == "put-record-batch") {
			full = append(full, "--cli-binary-format", "raw-in-base64-out")
		}
		cmd := exec.Command("aws", full...)
		cmd.Env = cli.env
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws firehose %s: %v %s", args[0], err, stderr)
		}
		return out
	}
	var names struct{ DeliveryStreamNames []string }
	json.Unmarshal(run("list-delivery-streams"), &names)
	if len(names.DeliveryStreamNames) != 1 || names.DeliveryStreamNames[0] != "cli" {
		t.Fatalf("list-delivery-streams = %+v", names)
	}
	var desc struct {
		DeliveryStreamDescription struct {
			DeliveryStreamName, DeliveryStreamStatus, VersionId string
			CreateTimestamp                                     any
			Destinations                                        []struct {
				ExtendedS3DestinationDescription struct{ BucketARN, Prefix, CompressionFormat string }
			}
		}
	}
	json.Unmarshal(run("describe-delivery-stream", "--delivery-stream-name", "cli"), &desc)
	dd := desc.DeliveryStreamDescription
	if dd.DeliveryStreamStatus != "ACTIVE" || dd.VersionId != "1" || dd.CreateTimestamp == nil || len(dd.Destinations) != 1 ||
		dd.Destinations[0].ExtendedS3DestinationDescription.BucketARN != "arn:aws:s3:::"+bucket ||
		dd.Destinations[0].ExtendedS3DestinationDescription.Prefix != "cli/" {
		t.Fatalf("describe-delivery-stream = %+v", dd)
	}
	var want []string
	for i := 0; i < 5; i++ {
		rec := fmt.Sprintf(`{"cli":%d}`, i)
		b, _ := json.Marshal(map[string]string{"Data": rec + "\n"})
		var out struct{ RecordId string }
		json.Unmarshal(run("put-record", "--delivery-stream-name", "cli", "--record", string(b)), &out)
		if len(out.RecordId) != 56 {
			t.Fatalf("put-record RecordId = %q", out.RecordId)
		}
		want = append(want, rec)
	}
	var batch []map[string]string
	for i := 5; i < 25; i++ {
		rec := fmt.Sprintf(`{"cli":%d}`, i)
		batch = append(batch, map[string]string{"Data": rec + "\n"})
		want = append(want, rec)
	}
	bb, _ := json.Marshal(batch)
	var bout struct{ FailedPutCount int }
	json.Unmarshal(run("put-record-batch", "--delivery-stream-name", "cli", "--records", string(bb)), &bout)
	if bout.FailedPutCount != 0 {
		t.Fatalf("put-record-batch FailedPutCount = %d", bout.FailedPutCount)
	}
	seen, objs := waitRecords(t, m, bucket, "cli/", s3sink.Uncompressed, want, 60*time.Second)
	re := keyRE(`cli/\d{4}/\d{2}/\d{2}/\d{2}/`, "cli", "")
	for k := range objs {
		if !re.MatchString(k) {
			t.Errorf("key %q", k)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("objects hold %d distinct records, sent %d", len(seen), len(want))
	}
}
