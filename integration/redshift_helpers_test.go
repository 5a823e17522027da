//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// typedDDL creates table with the typed columns the end-to-end tests load.
func typedDDL(table string) []string {
	return []string{"DROP TABLE IF EXISTS " + table,
		"CREATE TABLE " + table + " (id bigint, ts timestamptz, kind text, value double precision, payload jsonb)"}
}

// typedRowsSQL formats every row of a typedDDL table as "id | ts | kind | value | payload"
// (ts in UTC with microseconds, NULL spelt NULL), ordered by id.
func typedRowsSQL(table string) string {
	return `SELECT concat_ws(' | ', coalesce(id::text, 'NULL'),
		coalesce(to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'NULL'),
		coalesce(kind, 'NULL'), coalesce(value::text, 'NULL'), coalesce(payload::text, 'NULL')) FROM ` + table + ` ORDER BY id, ts`
}

// rsStreamYAML is one `delivery_streams` entry of type redshift loading table on pg, its
// intermediate bucket (and error output) on m with the keys s3Keys (e.g.
// "error_output_prefix: 'rs-err/'"); extra holds more lines of the redshift block, indented
// by eight spaces, and destExtra more destination keys (indented by six).
func rsStreamYAML(pg *harness.PostgresServer, m *harness.MinIOServer, bucket, name, table, cols, copyOptions, s3Keys, destExtra, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: redshift\n%s      redshift:\n", name, destExtra)
	fmt.Fprintf(&b, "        url: '%s'\n        table: %s\n", pg.DSN(), table)
	if cols != "" {
		fmt.Fprintf(&b, "        columns: %s\n", cols)
	}
	if copyOptions != "" {
		fmt.Fprintf(&b, "        copy_options: %s\n", yamlQuote(copyOptions))
	}
	b.WriteString(extra)
	if s3Keys != "" {
		s3Keys = ", " + s3Keys
	}
	fmt.Fprintf(&b, "        s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s%s}\n",
		bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey, s3Keys)
	return b.String()
}

// yamlQuote is s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	b, _ := json.Marshal(s) // JSON strings are YAML double-quoted scalars
	return string(b)
}

// putRecords sends recs to stream with PutRecordBatch (500 a call) and fails the test
// unless every record is acknowledged.
func putRecords(t *testing.T, c *firehose.Client, stream string, recs ...string) {
	t.Helper()
	for start := 0; start < len(recs); start += 500 {
		var batch []types.Record
		for _, r := range recs[start:min(start+500, len(recs))] {
			batch = append(batch, types.Record{Data: []byte(r)})
		}
		out, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: batch})
		if err != nil {
			t.Fatalf("PutRecordBatch %s: %v", stream, err)
		}
		if n := aws.ToInt32(out.FailedPutCount); n != 0 {
			t.Fatalf("PutRecordBatch %s: FailedPutCount %d", stream, n)
		}
	}
}

// waitQuery polls sql (first column of every row, as text) until it returns want or
// timeout passes; it returns the last result.
func waitQuery(t *testing.T, pg *harness.PostgresServer, sql string, want []string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := pgQuery(t, pg, sql)
		if strings.Join(got, "\n") == strings.Join(want, "\n") || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rsFailure is one failure record of the Redshift error output.
type rsFailure struct {
	Key              string `json:"-"`
	AttemptsMade     int    `json:"attemptsMade"`
	ArrivalTimestamp int64  `json:"arrivalTimestamp"`
	ErrorCode        string `json:"errorCode"`
	ErrorMessage     string `json:"errorMessage"`
	RawData          []byte `json:"rawData"`
}

// rsFailures reads every failure record under prefix in bucket (uncompressed NDJSON).
func rsFailures(t *testing.T, m *harness.MinIOServer, bucket, prefix string) []rsFailure {
	t.Helper()
	var out []rsFailure
	for k, d := range readObjects(t, m, bucket, prefix, s3sink.Uncompressed) {
		for _, l := range lines(d) {
			var f rsFailure
			if err := json.Unmarshal([]byte(l), &f); err != nil {
				t.Fatalf("%s: failure line %q: %v", k, l, err)
			}
			f.Key = k
			out = append(out, f)
		}
	}
	return out
}

// waitFailures polls until there are at least n failure records under prefix.
func waitFailures(t *testing.T, m *harness.MinIOServer, bucket, prefix string, n int, timeout time.Duration) []rsFailure {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		fs := rsFailures(t, m, bucket, prefix)
		if len(fs) >= n {
			return fs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failure records under s3://%s/%s after %s, want %d", len(fs), bucket, prefix, timeout, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// rawReplies is an HTTP client for the SDK that keeps the body of every reply, as the
// server sent it (the SDK's own view drops members it does not model).
type rawReplies struct {
	mu   sync.Mutex
	last []byte
}

func (r *rawReplies) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last = b
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// Last is the body of the last reply.
func (r *rawReplies) Last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.last)
}

// rawFirehoseClient is firehoseClient whose replies raw keeps.
func rawFirehoseClient(endpoint string, raw *rawReplies) *firehose.Client {
	return firehose.New(firehose.Options{
		BaseEndpoint: aws.String(endpoint), Region: "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1, HTTPClient: raw,
	})
}
