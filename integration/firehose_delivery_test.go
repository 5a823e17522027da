//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// Dynamic partitioning: a JQ MetadataExtraction query fans records out to one prefix per
// customer; a record the query cannot read goes to partitioning-failed.
func TestFirehoseDynamicPartitioningToPrefixes(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-dp")
	s := startFirehoseSluice(t, m, "")
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	cfg := extS3(bucket, "p/customer=!{partitionKeyFromQuery:customer}/", types.CompressionFormatUncompressed, 1)
	cfg.ErrorOutputPrefix = aws.String("err/!{firehose:error-output-type}/")
	cfg.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
	cfg.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		{Type: types.ProcessorTypeMetadataExtraction, Parameters: []types.ProcessorParameter{
			{ParameterName: types.ProcessorParameterNameMetadataExtractionQuery, ParameterValue: aws.String("{customer: .customer}")},
			{ParameterName: types.ProcessorParameterNameJsonParsingEngine, ParameterValue: aws.String("JQ-1.6")},
		}},
		{Type: types.ProcessorTypeAppendDelimiterToRecord},
	}}
	if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("parts"), ExtendedS3DestinationConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	customers := []string{"acme", "globex", "initech"}
	var recs []types.Record
	want := map[string][]string{}
	for i := 0; i < 300; i++ {
		cu := customers[i%3]
		r := fmt.Sprintf(`{"customer":"%s","n":%d}`, cu, i)
		recs = append(recs, types.Record{Data: []byte(r)})
		want[cu] = append(want[cu], r)
	}
	recs = append(recs, types.Record{Data: []byte("not-json")})
	out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("parts"), Records: recs})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	// a Prefix with expressions gets no default YYYY/MM/DD/HH/ (reference §5.1)
	re := keyRE(`p/customer=[a-z]+/`, "parts", "")
	for _, cu := range customers {
		prefix := "p/customer=" + cu + "/"
		seen, objs := waitRecords(t, m, bucket, prefix, s3sink.Uncompressed, want[cu], 60*time.Second)
		for l := range seen {
			if !strings.Contains(l, `"customer":"`+cu+`"`) {
				t.Errorf("record %s landed under %s", l, prefix)
			}
		}
		for k := range objs {
			if !re.MatchString(k) {
				t.Errorf("key %q", k)
			}
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		objs := readObjects(t, m, bucket, "err/partitioning-failed/", s3sink.Uncompressed)
		raws, codes := failureRaw(t, objs)
		if len(raws) > 0 {
			if raws[0] != "not-json" || codes["DynamicPartitioning.MetadataExtractionFailed"] != 1 {
				t.Fatalf("failure records: raw %q codes %v", raws, codes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no partitioning-failed object for the non-JSON record")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// A bucket that does not exist: deliveries are retried (status and metrics show it), then
// the pipeline waits on the error output; once the bucket exists, every record is there
// at least once — as data or as a failure record.
func TestFirehoseMissingBucketRetriesThenErrorOutput(t *testing.T) {
	m := harness.MinIO(t)
	bucket := fmt.Sprintf("fh-missing-%d", time.Now().UnixNano()%1_000_000_000)
	s := startFirehoseSluice(t, m, "delivery_streams:\n  - name: nob\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n      retry_duration: 2s\n"+
		s3YAML(m, bucket, ", prefix: data/, error_output_prefix: err/"))
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	want := putBatches(t, c, "nob", 40, func(i int) string { return fmt.Sprintf(`{"nob":%d}`, i) })

	waitFailureDescription(t, c, "nob", "NoSuchBucket", "DescribeDeliveryStream never reported the failing destination")
	// after the 2 s retry duration the batch is given up (outcome="failure") and the
	// pipeline waits on the error output, which lives in the same missing bucket
	waitBatchGivenUp(t, s, "nob")
	if _, err := m.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	delivered, raws, codes := waitDataOrFailures(t, m, bucket, "data/", "err/", want, 120*time.Second, "records neither delivered nor in the error output")
	if codes["S3.NoSuchBucket"] == 0 {
		t.Fatalf("no failure record with errorCode S3.NoSuchBucket (codes %v, %d delivered as data)", codes, delivered)
	}
	t.Logf("%d records as data, %d failure records %v", delivered, len(raws), codes)
}

// kill -9 while records stream in and objects are being flushed; after a restart every
// acknowledged record is in S3 at least once.
func TestFirehoseKillDuringFlushLosesNoAcknowledgedRecord(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-crash")
	s := startFirehoseSluice(t, m, "delivery_streams:\n  - name: crash\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n"+
		s3YAML(m, bucket, ", prefix: c/, compression: GZIP"))
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	pad := strings.Repeat("z", 180)

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := 0; ; b++ {
			select {
			case <-stop:
				return
			default:
			}
			recs := make([]types.Record, 500)
			for i := range recs {
				recs[i] = types.Record{Data: []byte(fmt.Sprintf(`{"b":%d,"i":%d,"p":"%s"}`+"\n", b, i, pad))}
			}
			out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("crash"), Records: recs})
			if err != nil {
				continue // the daemon is down: nothing acknowledged
			}
			mu.Lock()
			for i, r := range out.RequestResponses {
				if r.RecordId != nil {
					acked = append(acked, strings.TrimSuffix(string(recs[i].Data), "\n"))
				}
			}
			mu.Unlock()
		}
	}()
	// wait for a few objects so the kill lands while deliveries are going on
	deadline := time.Now().Add(60 * time.Second)
	for {
		keys, _ := m.Objects(ctx, bucket, "c/")
		if len(keys) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no objects before the kill")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Kill()
	close(stop)
	<-done
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	if len(want) < 2000 {
		t.Fatalf("only %d records acknowledged before the kill", len(want))
	}
	s.Start()
	seen, _ := waitRecords(t, m, bucket, "c/", s3sink.GZIP, want, 120*time.Second)
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	t.Logf("%d acknowledged records all delivered after kill -9; %d delivered more than once (at-least-once)", len(want), dups)
}

// KinesisStreamAsSource: records written before and after a shard split are all delivered.
func TestFirehoseKinesisSourceAcrossSplit(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-kds")
	s := startFirehoseSluice(t, m, "streams:\n  - name: src\n    shards: 1\ndelivery_streams:\n  - name: fromkds\n    source: {type: kinesis_stream, stream: src}\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n"+
		s3YAML(m, bucket, ", prefix: k/"))
	kc := kinesisClient(s.Endpoint)
	ctx := context.Background()
	var want []string
	put := func(from, n int) {
		var entries []ktypes.PutRecordsRequestEntry
		for i := from; i < from+n; i++ {
			r := fmt.Sprintf(`{"k":%d}`, i)
			want = append(want, r)
			entries = append(entries, ktypes.PutRecordsRequestEntry{Data: []byte(r + "\n"), PartitionKey: aws.String(fmt.Sprintf("pk-%d", i))})
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("src"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %v", err)
		}
	}
	put(0, 100)
	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("src"),
		ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("src")})
		if err == nil && d.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream not ACTIVE after split")
		}
		time.Sleep(100 * time.Millisecond)
	}
	put(100, 200)
	waitRecords(t, m, bucket, "k/", s3sink.Uncompressed, want, 60*time.Second)
	// Put* is refused on a KinesisStreamAsSource delivery stream
	_, err := firehoseClient(s.Endpoint).PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("fromkds"), Record: &types.Record{Data: []byte("x")}})
	if err == nil || !strings.Contains(err.Error(), "This operation is not permitted on KinesisStreamAsSource delivery stream type.") {
		t.Fatalf("PutRecord on a KDS-sourced stream: %v", err)
	}
}

// SIGHUP applies a changed delivery_streams section: the changed stream gets VersionId 2
// and its new prefix, a new stream appears.
func TestFirehoseConfigReload(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-reload")
	s := startFirehoseSluice(t, m, "delivery_streams:\n  - name: rl\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n"+
		s3YAML(m, bucket, ", prefix: a/"))
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	waitRecords(t, m, bucket, "a/", s3sink.Uncompressed, putBatches(t, c, "rl", 5, func(i int) string { return fmt.Sprintf(`{"a":%d}`, i) }), 60*time.Second)

	cfg, err := os.ReadFile(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(cfg), "prefix: a/", "prefix: b/", 1) +
		"  - name: rl2\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n" + s3YAML(m, bucket, ", prefix: c/")
	if err := os.WriteFile(s.ConfigPath, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := c.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
		if err == nil && len(l.DeliveryStreamNames) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new delivery stream not created on SIGHUP: %+v %v\n%s", l, err, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("rl")})
	if err != nil || aws.ToString(d.DeliveryStreamDescription.VersionId) != "2" ||
		aws.ToString(d.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.Prefix) != "b/" {
		t.Fatalf("changed stream after reload: %+v %v", d, err)
	}
	_, objs := waitRecords(t, m, bucket, "b/", s3sink.Uncompressed, putBatches(t, c, "rl", 5, func(i int) string { return fmt.Sprintf(`{"b":%d}`, i) }), 60*time.Second)
	for k := range objs {
		if !regexp.MustCompile(`^b/\d{4}/\d{2}/\d{2}/\d{2}/rl-2-`).MatchString(k) {
			t.Errorf("key after reload %q", k)
		}
	}
	waitRecords(t, m, bucket, "c/", s3sink.Uncompressed, putBatches(t, c, "rl2", 3, func(i int) string { return fmt.Sprintf(`{"c":%d}`, i) }), 60*time.Second)
}
