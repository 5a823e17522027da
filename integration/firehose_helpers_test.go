//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// startFirehoseSluice starts sluice with API-created delivery streams pointed at m
// through the `firehose.s3` config keys.
func startFirehoseSluice(t *testing.T, m *harness.MinIOServer, extraYAML string) *harness.Sluice {
	t.Helper()
	return startFirehoseSluiceWith(t, m, "", extraYAML)
}

// startFirehoseSluiceWith also sets other `firehose:` keys (firehoseKeys: lines indented
// by two spaces, e.g. "  throttling: aws-small\n").
func startFirehoseSluiceWith(t *testing.T, m *harness.MinIOServer, firehoseKeys, extraYAML string) *harness.Sluice {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fh := fmt.Sprintf("firehose:\n  s3: {endpoint: '%s', region: %s, access_key_id: %s, secret_access_key: %s}\n%s",
		m.Endpoint, m.Region, m.AccessKey, m.SecretKey, firehoseKeys)
	return harness.StartSluice(t, fh+extraYAML)
}

func firehoseClient(endpoint string) *firehose.Client {
	return firehose.New(firehose.Options{
		BaseEndpoint: aws.String(endpoint), Region: "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

// s3YAML is the destination block of a config-declared delivery stream on MinIO.
func s3YAML(m *harness.MinIOServer, bucket, extra string) string {
	return fmt.Sprintf("      s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s%s}\n",
		bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey, extra)
}

// readObjects downloads and decodes every object under prefix.
func readObjects(t *testing.T, m *harness.MinIOServer, bucket, prefix string, f s3sink.CompressionFormat) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	keys, err := m.Objects(ctx, bucket, prefix)
	if err != nil {
		t.Fatalf("list %s/%s: %v", bucket, prefix, err)
	}
	out := map[string][]byte{}
	for _, k := range keys {
		b, _, err := m.Get(ctx, bucket, k)
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		d, err := decodeObject(f, b)
		if err != nil {
			t.Fatalf("decode %s: %v", k, err)
		}
		out[k] = d
	}
	return out
}

// lines splits newline-terminated records.
func lines(b []byte) []string {
	var out []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}

// waitRecords polls until every record of want is found (at least once) in the objects
// under prefix, and returns the per-record counts.
func waitRecords(t *testing.T, m *harness.MinIOServer, bucket, prefix string, f s3sink.CompressionFormat, want []string, timeout time.Duration) (map[string]int, map[string][]byte) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		objs := readObjects(t, m, bucket, prefix, f)
		seen := map[string]int{}
		for _, d := range objs {
			for _, l := range lines(d) {
				seen[l]++
			}
		}
		missing := 0
		for _, w := range want {
			if seen[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return seen, objs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records missing under s3://%s/%s after %s (%d objects)", missing, len(want), bucket, prefix, timeout, len(objs))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// failureRaw decodes the rawData of every failure record in NDJSON failure objects.
func failureRaw(t *testing.T, objs map[string][]byte) (raws []string, codes map[string]int) {
	t.Helper()
	codes = map[string]int{}
	for k, d := range objs {
		for _, l := range lines(d) {
			var fr struct {
				AttemptsMade     int    `json:"attemptsMade"`
				ArrivalTimestamp int64  `json:"arrivalTimestamp"`
				ErrorCode        string `json:"errorCode"`
				RawData          []byte `json:"rawData"`
			}
			if err := json.Unmarshal([]byte(l), &fr); err != nil {
				t.Fatalf("%s: failure line %q: %v", k, l, err)
			}
			if fr.ArrivalTimestamp == 0 || fr.AttemptsMade == 0 {
				t.Fatalf("%s: failure record lacks arrivalTimestamp/attemptsMade: %s", k, l)
			}
			codes[fr.ErrorCode]++
			raws = append(raws, strings.TrimSuffix(string(fr.RawData), "\n"))
		}
	}
	return raws, codes
}

func extS3(bucket, prefix string, f types.CompressionFormat, intervalSec int32) *types.ExtendedS3DestinationConfiguration {
	return &types.ExtendedS3DestinationConfiguration{
		BucketARN:         aws.String("arn:aws:s3:::" + bucket),
		RoleARN:           aws.String("arn:aws:iam::000000000000:role/firehose"),
		Prefix:            aws.String(prefix),
		CompressionFormat: f,
		BufferingHints:    &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(intervalSec)},
	}
}

// putBatches sends n records (JSON lines built by gen) in batches of 500 and returns the
// acknowledged ones.
func putBatches(t *testing.T, c *firehose.Client, stream string, n int, gen func(i int) string) []string {
	t.Helper()
	var acked []string
	for start := 0; start < n; start += 500 {
		end := min(start+500, n)
		recs := make([]types.Record, 0, end-start)
		for i := start; i < end; i++ {
			recs = append(recs, types.Record{Data: []byte(gen(i) + "\n")})
		}
		out, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: recs})
		if err != nil {
			t.Fatalf("PutRecordBatch: %v", err)
		}
		for i, r := range out.RequestResponses {
			if r.RecordId != nil {
				acked = append(acked, gen(start+i))
			}
		}
	}
	return acked
}

var keyRE = func(prefixRE, stream, ext string) *regexp.Regexp {
	return regexp.MustCompile(`^` + prefixRE + regexp.QuoteMeta(stream) + `-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}` + regexp.QuoteMeta(ext) + `$`)
}

// httpGet returns the body of GET url (see fetch).
func httpGet(t *testing.T, url string) string {
	t.Helper()
	_, body := fetch(t, url)
	return body
}

// countMissing counts the records of want that are not in seen.
func countMissing(want []string, seen map[string]bool) int {
	missing := 0
	for _, w := range want {
		if !seen[w] {
			missing++
		}
	}
	return missing
}

// waitDataOrFailures polls until every record of want is either delivered as data under
// dataPrefix or stands as a failure record under errPrefix (both in bucket, uncompressed),
// and returns how many distinct lines were found as data and the failure records' raw
// data and error codes. On timeout it fails with "<missing> of <len(want)> <what>".
func waitDataOrFailures(t *testing.T, m *harness.MinIOServer, bucket, dataPrefix, errPrefix string, want []string, timeout time.Duration, what string) (delivered int, raws []string, codes map[string]int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		seen := map[string]bool{}
		for _, d := range readObjects(t, m, bucket, dataPrefix, s3sink.Uncompressed) {
			for _, l := range lines(d) {
				seen[l] = true
			}
		}
		delivered = len(seen)
		raws, codes = failureRaw(t, readObjects(t, m, bucket, errPrefix, s3sink.Uncompressed))
		for _, r := range raws {
			seen[r] = true
		}
		missing := countMissing(want, seen)
		if missing == 0 {
			return delivered, raws, codes
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d %s", missing, len(want), what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitFailureDescription polls DescribeDeliveryStream (for up to 60 s) until the stream's
// FailureDescription details contain substr, and returns that description; failMsg is
// the fatal message when it never does.
func waitFailureDescription(t *testing.T, c *firehose.Client, stream, substr, failMsg string) *types.FailureDescription {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := c.DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			t.Fatal(err)
		}
		if fd := d.DeliveryStreamDescription.FailureDescription; fd != nil && strings.Contains(aws.ToString(fd.Details), substr) {
			return fd
		}
		if time.Now().After(deadline) {
			t.Fatal(failMsg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitBatchGivenUp polls /metrics (for up to 60 s) until stream has a delivery attempt
// with outcome="failure": a batch given up after the retry duration.
func waitBatchGivenUp(t *testing.T, s *harness.Sluice, stream string) {
	t.Helper()
	gaveUp := regexp.MustCompile(`sluice_firehose_delivery_attempts_total\{destination="s3",outcome="failure",stream="` + regexp.QuoteMeta(stream) + `"\} [1-9]`)
	deadline := time.Now().Add(60 * time.Second)
	for !gaveUp.MatchString(httpGet(t, s.Endpoint+"/metrics")) {
		if time.Now().After(deadline) {
			t.Fatal("metrics never showed a batch given up after the retry duration")
		}
		time.Sleep(250 * time.Millisecond)
	}
}
