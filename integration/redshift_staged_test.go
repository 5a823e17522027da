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
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/delivery"
	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/redshift"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// stagedArrival is the arrival time of the staged test batches: keys under 2026/07/13/14/.
var stagedArrival = time.Date(2026, 7, 13, 14, 5, 9, 0, time.UTC)

const (
	stagedPrefix = "stage/"
	stagedUUID   = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}`
	stagedName   = `orders-1-2026-07-13-14-05-09-` + stagedUUID
)

// stagedSink builds a Redshift-mode destination the way the API does
// (RedshiftDestinationConfiguration with SluiceLoadMode redshift), its intermediate bucket
// on MinIO under stage/.
func stagedSink(t *testing.T, m *harness.MinIOServer, pg *harness.PostgresServer, bucket, table, cols, options string,
	comp s3sink.CompressionFormat, retrySeconds int) sinks.Sink {
	t.Helper()
	a := &redshift.API{
		RoleARN:         "arn:aws:iam::123456789012:role/firehose",
		ClusterJDBCURL:  strings.Replace(pg.DSN(), "postgres://", "jdbc:postgresql://", 1),
		CopyCommand:     &redshift.CopyCommand{DataTableName: table, DataTableColumns: &cols, CopyOptions: &options},
		RetryOptions:    &sinks.RetryOptions{DurationInSeconds: &retrySeconds},
		S3Configuration: &s3sink.API{BucketARN: "arn:aws:s3:::" + bucket, Prefix: aws.String(stagedPrefix), CompressionFormat: string(comp)},
		SluiceLoadMode:  redshift.ModeRedshift,
	}
	if cols == "" {
		a.CopyCommand.DataTableColumns = nil
	}
	built, err := a.Build(sinks.Env{DeliveryStream: "orders", VersionID: "1",
		S3: sinks.S3Conn{Endpoint: m.Endpoint, Region: m.Region, PathStyle: true, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	s := built.Sink
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(ctx) })
	return s
}

// stagedBatch is a batch of payloads, the first arriving at stagedArrival.
func stagedBatch(attempt int, payloads ...string) sinks.Batch {
	b := sinks.Batch{Attempt: attempt}
	for i, p := range payloads {
		b.Records = append(b.Records, record.Record{Data: []byte(p), ArrivalMs: stagedArrival.UnixMilli() + int64(i),
			SequenceNumber: fmt.Sprint(1000 + i)})
	}
	return b
}

// stagedObjects lists the bucket: data objects, manifests and error manifests.
func stagedObjects(t *testing.T, m *harness.MinIOServer, bucket string) (data, manifests, errManifests []string) {
	t.Helper()
	keys, err := m.Objects(context.Background(), bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, stagedPrefix+"errors/manifests/"):
			errManifests = append(errManifests, k)
		case strings.HasPrefix(k, stagedPrefix+"manifests/"):
			manifests = append(manifests, k)
		default:
			data = append(data, k)
		}
	}
	return data, manifests, errManifests
}

// checkStaged checks the bucket holds one data object (content want once decoded) and
// its manifest, with their exact layout, and returns the manifest's key and content.
func checkStaged(t *testing.T, m *harness.MinIOServer, bucket string, comp s3sink.CompressionFormat, want []byte) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	data, mans, errs := stagedObjects(t, m, bucket)
	if len(data) != 1 || len(mans) != 1 || len(errs) != 0 {
		t.Fatalf("objects: data %q, manifests %q, error manifests %q; want one data object and one manifest", data, mans, errs)
	}
	if re := regexp.MustCompile(`^stage/2026/07/13/14/` + stagedName + regexp.QuoteMeta(comp.Extension()) + `$`); !re.MatchString(data[0]) {
		t.Errorf("data object key %q", data[0])
	}
	if re := regexp.MustCompile(`^stage/manifests/2026/07/13/14/` + stagedName + `$`); !re.MatchString(mans[0]) {
		t.Errorf("manifest key %q", mans[0])
	}
	body, _, err := m.Get(ctx, bucket, data[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeObject(comp, body); err != nil || !bytes.Equal(got, want) {
		t.Errorf("data object %q (%v), want %q", got, err, want)
	}
	man, out, err := m.Get(ctx, bucket, mans[0])
	if err != nil {
		t.Fatal(err)
	}
	if w := `{"entries":[{"url":"s3://` + bucket + `/` + data[0] + `","mandatory":true}]}`; string(man) != w {
		t.Errorf("manifest\n got %s\nwant %s", man, w)
	}
	if ct := aws.ToString(out.ContentType); ct != "application/json" {
		t.Errorf("manifest Content-Type %q", ct)
	}
	return mans[0], man
}

// Redshift mode loads a batch through the intermediate bucket: data object, manifest, then
// the manifest's objects read back into the table — uncompressed delimited text with a
// header line, and GZIP JSON 'auto'.
func TestRedshiftStagedLoad(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	ctx := context.Background()
	cases := []struct {
		name, options, cols string
		comp                s3sink.CompressionFormat
		records             []string
	}{
		{"uncompressed text", "DELIMITER ',' IGNOREHEADER 1", "id,name", s3sink.Uncompressed,
			[]string{"id,name\n", "1,alpha\n", "2,beta\n3,gamma\n"}},
		{"gzip json auto", "JSON 'auto' GZIP", "", s3sink.GZIP,
			[]string{`{"id":1,"name":"alpha"}` + "\n", `{"name":"beta","id":2,"extra":true}`, `{"id":3,"name":"gamma"}`}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			table := fmt.Sprintf("staged_load_%d", i)
			pgExec(t, pg, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id bigint, name text)")
			bucket := m.CreateBucket(t, "staged-load")
			s := stagedSink(t, m, pg, bucket, table, c.cols, c.options, c.comp, 60)
			if res := s.Write(ctx, stagedBatch(1, c.records...)); res.Err != nil || res.Records != nil {
				t.Fatalf("Write: %v %v", res.Err, res.Records)
			}
			if got := strings.Join(pgQuery(t, pg, "SELECT id || ':' || name FROM "+table+" ORDER BY id"), " "); got != "1:alpha 2:beta 3:gamma" {
				t.Errorf("rows %q", got)
			}
			checkStaged(t, m, bucket, c.comp, []byte(strings.Join(c.records, "")))
		})
	}
}

// A batch with one bad row loads nothing (one transaction, no per-row isolation in this
// mode) and is retryable with Redshift.DataLoadFailed; its retries reuse the staged
// objects; once the retry duration is over the failing load copies its manifest under
// errors/manifests/.
func TestRedshiftStagedAtomicAndErrorManifest(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	ctx := context.Background()
	pgExec(t, pg, "DROP TABLE IF EXISTS staged_atomic", "CREATE TABLE staged_atomic (id bigint, name text)")
	bucket := m.CreateBucket(t, "staged-atomic")
	s := stagedSink(t, m, pg, bucket, "staged_atomic", "", "", s3sink.Uncompressed, 1)
	recs := []string{"1|alpha\n", "not-a-number|beta\n", "3|gamma\n"}
	start := time.Now()
	res := s.Write(ctx, stagedBatch(1, recs...))
	if res.Err == nil || sinks.Classify(res.Err) != sinks.Errored || sinks.ErrorCode(res.Err, "") != redshift.CodeDataLoadFailed {
		t.Fatalf("bad row: %v (outcome %v), want a retryable %s", res.Err, sinks.Classify(res.Err), redshift.CodeDataLoadFailed)
	}
	if !strings.Contains(res.Err.Error(), "line 2") {
		t.Errorf("the error does not say where: %v", res.Err)
	}
	if n := pgQuery(t, pg, "SELECT count(*)::text FROM staged_atomic"); n[0] != "0" {
		t.Errorf("%s rows loaded from a failing batch", n[0])
	}
	manKey, man := checkStaged(t, m, bucket, s3sink.Uncompressed, []byte(strings.Join(recs, "")))
	if time.Since(start) < time.Second { // still within the retry duration: no error manifest
		if _, _, errs := stagedObjects(t, m, bucket); len(errs) != 0 {
			t.Errorf("error manifest %q before the retry duration is over", errs)
		}
	}
	time.Sleep(time.Until(start.Add(1100 * time.Millisecond)))
	if res := s.Write(ctx, stagedBatch(2, recs...)); sinks.ErrorCode(res.Err, "") != redshift.CodeDataLoadFailed {
		t.Fatalf("retry: %v", res.Err)
	}
	data, mans, errs := stagedObjects(t, m, bucket)
	if len(data) != 1 || len(mans) != 1 {
		t.Errorf("the retry staged again: data %q, manifests %q", data, mans)
	}
	want := stagedPrefix + "errors/manifests/" + strings.TrimPrefix(manKey, stagedPrefix+"manifests/")
	if len(errs) != 1 || errs[0] != want {
		t.Fatalf("error manifests %q, want [%s]", errs, want)
	}
	if got, _, err := m.Get(ctx, bucket, errs[0]); err != nil || !bytes.Equal(got, man) {
		t.Errorf("error manifest %q (%v), want the manifest %q", got, err, man)
	}
	if n := pgQuery(t, pg, "SELECT count(*)::text FROM staged_atomic"); n[0] != "0" {
		t.Errorf("%s rows loaded from a failing batch", n[0])
	}
}

// A missing table is retried (Redshift.TableNotFound) and the batch loads once it exists,
// from the objects staged by the first attempt.
func TestRedshiftStagedMissingTableRetried(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	ctx := context.Background()
	pgExec(t, pg, "DROP TABLE IF EXISTS staged_later")
	bucket := m.CreateBucket(t, "staged-later")
	s := stagedSink(t, m, pg, bucket, "staged_later", "id,name", "CSV GZIP", s3sink.GZIP, 3600)
	recs := []string{"1,alpha\n", "2,\"b,eta\"\n"}
	res := s.Write(ctx, stagedBatch(1, recs...))
	if sinks.Classify(res.Err) != sinks.Errored || sinks.ErrorCode(res.Err, "") != redshift.CodeTableNotFound {
		t.Fatalf("missing table: %v, want a retryable %s", res.Err, redshift.CodeTableNotFound)
	}
	checkStaged(t, m, bucket, s3sink.GZIP, []byte(strings.Join(recs, "")))
	pgExec(t, pg, "CREATE TABLE staged_later (id bigint, name text)")
	if res := s.Write(ctx, stagedBatch(2, recs...)); res.Err != nil {
		t.Fatalf("retry: %v", res.Err)
	}
	if got := strings.Join(pgQuery(t, pg, "SELECT id || ':' || name FROM staged_later ORDER BY id"), " "); got != "1:alpha 2:b,eta" {
		t.Errorf("rows %q", got)
	}
	checkStaged(t, m, bucket, s3sink.GZIP, []byte(strings.Join(recs, ""))) // still one of each: reused
}

// A manifest entry whose object is gone fails the load with Redshift.MissingS3File.
func TestRedshiftStagedMissingObject(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	ctx := context.Background()
	pgExec(t, pg, "DROP TABLE IF EXISTS staged_gone")
	bucket := m.CreateBucket(t, "staged-gone")
	s := stagedSink(t, m, pg, bucket, "staged_gone", "", "", s3sink.Uncompressed, 3600)
	recs := []string{"1|alpha\n"}
	if res := s.Write(ctx, stagedBatch(1, recs...)); sinks.ErrorCode(res.Err, "") != redshift.CodeTableNotFound {
		t.Fatalf("missing table: %v", res.Err)
	}
	data, _, _ := stagedObjects(t, m, bucket)
	if len(data) != 1 {
		t.Fatalf("data objects %q", data)
	}
	if _, err := m.S3().DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(data[0])}); err != nil {
		t.Fatal(err)
	}
	pgExec(t, pg, "CREATE TABLE staged_gone (id bigint, name text)")
	res := s.Write(ctx, stagedBatch(2, recs...))
	if sinks.Classify(res.Err) != sinks.Errored || sinks.ErrorCode(res.Err, "") != redshift.CodeMissingS3File {
		t.Fatalf("missing object: %v, want a retryable %s", res.Err, redshift.CodeMissingS3File)
	}
	if n := pgQuery(t, pg, "SELECT count(*)::text FROM staged_gone"); n[0] != "0" {
		t.Errorf("%s rows loaded", n[0])
	}
}

// Through the real runner: a batch with a bad row is retried for the retry duration (2 s,
// attempts 0.1 s apart, the same staged objects each time), then its records go to the
// error output (redshift-failed, Redshift.DataLoadFailed) and its manifest is copied under
// errors/manifests/; the table holds none of its rows. A good batch then loads.
func TestRedshiftStagedRunnerGivesUp(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pgExec(t, pg, "DROP TABLE IF EXISTS staged_runner", "CREATE TABLE staged_runner (id bigint, name text)")
	bucket := m.CreateBucket(t, "staged-runner")
	const retrySeconds = 2
	a := &redshift.API{
		RoleARN:         "arn:aws:iam::123456789012:role/firehose",
		ClusterJDBCURL:  strings.Replace(pg.DSN(), "postgres://", "jdbc:postgresql://", 1),
		CopyCommand:     &redshift.CopyCommand{DataTableName: "staged_runner"},
		RetryOptions:    &sinks.RetryOptions{DurationInSeconds: aws.Int(retrySeconds)},
		S3Configuration: &s3sink.API{BucketARN: "arn:aws:s3:::" + bucket, Prefix: aws.String(stagedPrefix)},
		SluiceLoadMode:  redshift.ModeRedshift,
	}
	built, err := a.Build(sinks.Env{DeliveryStream: "orders", VersionID: "1",
		S3: sinks.S3Conn{Endpoint: m.Endpoint, Region: m.Region, PathStyle: true, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := streamcore.Open(ctx, streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "orders"}
	if err := eng.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 10*time.Second, func() error {
		if d, err := eng.DescribeStream(ctx, key); err != nil || d.Status != streamcore.StatusActive {
			return fmt.Errorf("stream not active: %v", err)
		}
		return nil
	})
	put := func(payloads ...string) {
		var es []streamcore.PutEntry
		for _, p := range payloads {
			es = append(es, streamcore.PutEntry{PartitionKey: "k", Data: []byte(p)})
		}
		res, err := eng.PutRecords(ctx, key, es)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	r := delivery.New(delivery.Config{
		Name: "orders", Destination: "redshift",
		Source:        sources.NewStreamSource(eng, sources.Options{Stream: key, Group: "orders"}),
		Sink:          built.Sink,
		Errors:        built.Errors,
		FailedType:    built.FailedType,
		RetryDuration: retrySeconds * time.Second,
		Hints:         buffer.Hints{Size: 1 << 20, Interval: 200 * time.Millisecond},
		Backoff:       retry.Backoff{Base: 100 * time.Millisecond, Max: 100 * time.Millisecond, Jitter: -1},
	})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() { stop(); <-done; _ = built.Sink.Close(context.Background()) }()

	bad := []string{"1|alpha\n", "two|beta\n", "3|gamma\n"}
	start := time.Now()
	put(bad...)
	var failed []string
	harness.Eventually(t, 30*time.Second, func() error {
		keys, err := m.Objects(ctx, bucket, stagedPrefix+redshift.FailedType+"/")
		if failed = keys; len(keys) == 0 {
			return fmt.Errorf("no failed batch in the error output (%v)", err)
		}
		return nil
	})
	if took := time.Since(start); took < retrySeconds*time.Second {
		t.Errorf("gave up after %v, before the retry duration", took)
	}
	body, _, err := m.Get(ctx, bucket, failed[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		var fr struct {
			AttemptsMade            int
			ErrorCode, ErrorMessage string
			RawData                 []byte
		}
		if err := json.Unmarshal([]byte(line), &fr); err != nil {
			t.Fatalf("failure record %q: %v", line, err)
		}
		if fr.ErrorCode != redshift.CodeDataLoadFailed || fr.AttemptsMade < 2 {
			t.Errorf("failure record: code %s after %d attempts (%s)", fr.ErrorCode, fr.AttemptsMade, fr.ErrorMessage)
		}
		got = append(got, string(fr.RawData))
	}
	if strings.Join(got, "") != strings.Join(bad, "") {
		t.Errorf("error output holds %q, want %q", got, bad)
	}
	data, mans, errs := stagedObjects(t, m, bucket)
	var staged []string
	for _, k := range data {
		if !strings.HasPrefix(k, stagedPrefix+redshift.FailedType+"/") {
			staged = append(staged, k)
		}
	}
	if len(staged) != 1 || len(mans) != 1 {
		t.Errorf("the retries staged again: data %q, manifests %q", staged, mans)
	}
	if len(mans) == 1 && (len(errs) != 1 || errs[0] != stagedPrefix+"errors/manifests/"+strings.TrimPrefix(mans[0], stagedPrefix+"manifests/")) {
		t.Errorf("error manifests %q for manifest %s", errs, mans[0])
	}
	if n := pgQuery(t, pg, "SELECT count(*)::text FROM staged_runner"); n[0] != "0" {
		t.Errorf("%s rows of the failed batch loaded", n[0])
	}

	put("4|delta\n", "5|epsilon\n")
	harness.Eventually(t, 30*time.Second, func() error {
		if got := strings.Join(pgQuery(t, pg, "SELECT id || ':' || name FROM staged_runner ORDER BY id"), " "); got != "4:delta 5:epsilon" {
			return fmt.Errorf("rows %q", got)
		}
		return nil
	})
	if _, mans, errs := stagedObjects(t, m, bucket); len(mans) != 2 || len(errs) != 1 {
		t.Errorf("after the good batch: manifests %q, error manifests %q", mans, errs)
	}
}
