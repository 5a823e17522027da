package firehoseapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-io/sluice/daemon/awsproto"
	delivery "github.com/sluice-io/sluice/daemon/firehose"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/streamcore"
)

// memSink collects delivered records (unit tests of the API only; S3 is proven in
// integration tests).
type memSink struct {
	mu   sync.Mutex
	recs [][]byte
}

func (m *memSink) Connect(context.Context) error { return nil }
func (m *memSink) Close(context.Context) error   { return nil }
func (m *memSink) Write(_ context.Context, b sinks.Batch) sinks.Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range b.Records {
		m.recs = append(m.recs, r.Data)
	}
	return sinks.Done()
}
func (m *memSink) WriteFailures(context.Context, string, []record.FailureRecord) error {
	return nil
}
func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

type testEnv struct {
	client *firehose.Client
	url    string
	sink   *memSink
	eng    *streamcore.Engine
	mgr    *delivery.Manager
}

func newEnv(t testing.TB) *testEnv { t.Helper(); return newEnvWith(t, delivery.Options{}) }

// newEnvWith starts an API server over a manager with opts (Engine, DataDir, Logger and,
// unless set, NewDestination are filled in).
func newEnvWith(t testing.TB, opts delivery.Options) *testEnv {
	t.Helper()
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	opts.Engine, opts.DataDir, opts.Logger = eng, t.TempDir(), slog.New(slog.DiscardHandler)
	if opts.NewDestination == nil {
		opts.NewDestination = func(def *delivery.Definition, _ delivery.S3Conn) (*delivery.Built, error) {
			if err := delivery.ValidateDestination(def); err != nil {
				return nil, err
			}
			return &delivery.Built{Sink: sink, Errors: sink}, nil
		}
	}
	mgr, err := delivery.NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(mgr, HandlerOptions{Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		mgr.Close(ctx)
		cancel()
		eng.Close(context.Background())
	})
	client := firehose.New(firehose.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})
	return &testEnv{client: client, url: srv.URL, sink: sink, eng: eng, mgr: mgr}
}

func s3Config(bucket string) *types.ExtendedS3DestinationConfiguration {
	return &types.ExtendedS3DestinationConfiguration{
		BucketARN: aws.String("arn:aws:s3:::" + bucket),
		RoleARN:   aws.String("arn:aws:iam::000000000000:role/firehose"),
		Prefix:    aws.String("logs/"),
		BufferingHints: &types.BufferingHints{
			IntervalInSeconds: aws.Int32(0), SizeInMBs: aws.Int32(1)},
		CompressionFormat: types.CompressionFormatGzip,
	}
}

func apiErr(t *testing.T, err error) (string, string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func TestCreateDescribePutDeleteWithSDK(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	out, err := env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName:                 aws.String("orders"),
		ExtendedS3DestinationConfiguration: s3Config("lake"),
		Tags:                               []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.DeliveryStreamARN); got != "arn:aws:firehose:us-east-1:000000000000:deliverystream/orders" {
		t.Fatalf("ARN = %s", got)
	}
	_, err = env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("orders"), ExtendedS3DestinationConfiguration: s3Config("lake")})
	if code, msg := apiErr(t, err); code != "ResourceInUseException" || msg != "Firehose orders under accountId 000000000000 already exists" {
		t.Fatalf("duplicate create: %s %q", code, msg)
	}

	d, err := env.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	desc := d.DeliveryStreamDescription
	if desc.DeliveryStreamStatus != types.DeliveryStreamStatusActive || aws.ToString(desc.VersionId) != "1" ||
		desc.DeliveryStreamType != types.DeliveryStreamTypeDirectPut || len(desc.Destinations) != 1 {
		t.Fatalf("description = %+v", desc)
	}
	dst := desc.Destinations[0]
	if aws.ToString(dst.DestinationId) != "destinationId-000000000001" || dst.ExtendedS3DestinationDescription == nil ||
		dst.ExtendedS3DestinationDescription.CompressionFormat != types.CompressionFormatGzip ||
		aws.ToInt32(dst.ExtendedS3DestinationDescription.BufferingHints.SizeInMBs) != 1 ||
		dst.S3DestinationDescription == nil || dst.ExtendedS3DestinationDescription.EncryptionConfiguration == nil {
		t.Fatalf("destination = %+v", dst)
	}
	if desc.DeliveryStreamEncryptionConfiguration == nil || desc.DeliveryStreamEncryptionConfiguration.Status != types.DeliveryStreamEncryptionStatusDisabled {
		t.Fatalf("encryption = %+v", desc.DeliveryStreamEncryptionConfiguration)
	}

	recs := make([]types.Record, 500)
	for i := range recs {
		recs[i] = types.Record{Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	pb, err := env.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("orders"), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(pb.FailedPutCount) != 0 || len(pb.RequestResponses) != 500 || len(aws.ToString(pb.RequestResponses[0].RecordId)) != 56 {
		t.Fatalf("PutRecordBatch = %d failed, %d responses", aws.ToInt32(pb.FailedPutCount), len(pb.RequestResponses))
	}
	pr, err := env.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte("x")}})
	if err != nil || len(aws.ToString(pr.RecordId)) != 56 {
		t.Fatalf("PutRecord = %+v, %v", pr, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for env.sink.count() < 501 {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d of 501", env.sink.count())
		}
		time.Sleep(10 * time.Millisecond)
	}

	l, err := env.client.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
	if err != nil || len(l.DeliveryStreamNames) != 1 || aws.ToBool(l.HasMoreDeliveryStreams) {
		t.Fatalf("list = %+v %v", l, err)
	}
	tags, err := env.client.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" {
		t.Fatalf("tags = %+v %v", tags, err)
	}

	if _, err := env.client.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte("x")}})
	if code, msg := apiErr(t, err); code != "ResourceNotFoundException" || msg != "Firehose orders under account 000000000000 not found." {
		t.Fatalf("put after delete: %s %q", code, msg)
	}
}

func TestUpdateDestinationVersions(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	if _, err := env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("u"), ExtendedS3DestinationConfiguration: s3Config("lake")}); err != nil {
		t.Fatal(err)
	}
	_, err := env.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("u"), CurrentDeliveryStreamVersionId: aws.String("1"),
		DestinationId:               aws.String("destinationId-000000000001"),
		ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("new/")},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := env.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("u")})
	e := d.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription
	if aws.ToString(d.DeliveryStreamDescription.VersionId) != "2" || aws.ToString(e.Prefix) != "new/" ||
		e.CompressionFormat != types.CompressionFormatGzip {
		t.Fatalf("after update: version %s prefix %s compression %s (merge lost members?)",
			aws.ToString(d.DeliveryStreamDescription.VersionId), aws.ToString(e.Prefix), e.CompressionFormat)
	}
	_, err = env.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("u"), CurrentDeliveryStreamVersionId: aws.String("1"),
		DestinationId:               aws.String("destinationId-000000000001"),
		ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("x/")},
	})
	if code, _ := apiErr(t, err); code != "ConcurrentModificationException" {
		t.Fatalf("stale version: %s", code)
	}
}

func TestWireErrors(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	cases := []struct{ op, body, want string }{
		{"CreateDeliveryStream", `{}`, `{"__type":"ValidationException","message":"1 validation error detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null"}`},
		{"CreateDeliveryStream", `{"DeliveryStreamName":"a"}`, `{"__type":"InvalidArgumentException","message":"Exactly one destination configuration is supported for a Firehose"}`},
		{"CreateDeliveryStream", `{"DeliveryStreamName":"a","HttpEndpointDestinationConfiguration":{"EndpointConfiguration":{"Url":"https://x"}}}`,
			`{"__type":"InvalidArgumentException","message":"HttpEndpointDestinationConfiguration is not supported yet by Sluice; use ExtendedS3DestinationConfiguration or S3DestinationConfiguration."}`},
		{"PutRecord", `{"DeliveryStreamName":"nope","Record":{"Data":"eA=="}}`, `{"__type":"ResourceNotFoundException","message":"Firehose nope under account 000000000000 not found."}`},
		{"PutRecordBatch", `{"DeliveryStreamName":"bad name!","Records":[]}`,
			`{"__type":"ValidationException","message":"2 validation errors detected: Value 'bad name!' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1"}`},
		{"PutRecord", `{"DeliveryStreamName":"x","Record":{"Data":"%%%"}}`, `{"__type":"SerializationException"}`},
	}
	for _, c := range cases {
		code, body := rawPost(t, env.url, c.op, c.body)
		if body != c.want || code != 400 {
			t.Errorf("%s %s:\n got %d %s\nwant 400 %s", c.op, c.body, code, body, c.want)
		}
	}
	// Put on a KinesisStreamAsSource delivery stream
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "src"}
	if err := env.eng.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("k"), DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource,
		KinesisStreamSourceConfiguration: &types.KinesisStreamSourceConfiguration{
			KinesisStreamARN: aws.String(key.ARN()), RoleARN: aws.String("arn:aws:iam::000000000000:role/r")},
		ExtendedS3DestinationConfiguration: s3Config("lake"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("k"), Record: &types.Record{Data: []byte("x")}})
	if code, msg := apiErr(t, err); code != "InvalidArgumentException" || msg != "This operation is not permitted on KinesisStreamAsSource delivery stream type." {
		t.Fatalf("put on KDS-sourced: %s %q", code, msg)
	}
	// 4 MiB batch limit
	big := make([]types.Record, 5)
	for i := range big {
		big[i] = types.Record{Data: make([]byte, 1_000_000)}
	}
	if _, err := env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("big"), ExtendedS3DestinationConfiguration: s3Config("lake")}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("big"), Records: big})
	if code, msg := apiErr(t, err); code != "InvalidArgumentException" || msg != "Records size exceeds 4 MB limit" {
		t.Fatalf("5 MB batch: %s %q", code, msg)
	}
}

func TestTagsAndEncryption(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	if _, err := env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("t"), ExtendedS3DestinationConfiguration: s3Config("lake")}); err != nil {
		t.Fatal(err)
	}
	var tags []types.Tag
	for i := 0; i < 50; i++ {
		tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("k%02d", i)), Value: aws.String("v")})
	}
	if _, err := env.client.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("t"), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	_, err := env.client.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("t"),
		Tags: []types.Tag{{Key: aws.String("one-too-many")}}})
	if code, _ := apiErr(t, err); code != "LimitExceededException" {
		t.Fatalf("51st tag: %s", code)
	}
	page, err := env.client.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{
		DeliveryStreamName: aws.String("t"), Limit: aws.Int32(10), ExclusiveStartTagKey: aws.String("k09")})
	if err != nil || len(page.Tags) != 10 || aws.ToString(page.Tags[0].Key) != "k10" || !aws.ToBool(page.HasMoreTags) {
		t.Fatalf("tag page = %+v %v", page, err)
	}
	if _, err := env.client.UntagDeliveryStream(ctx, &firehose.UntagDeliveryStreamInput{DeliveryStreamName: aws.String("t"), TagKeys: []string{"k00"}}); err != nil {
		t.Fatal(err)
	}
	all, _ := env.client.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("t")})
	if len(all.Tags) != 49 {
		t.Fatalf("%d tags after untag, want 49", len(all.Tags))
	}

	if _, err := env.client.StartDeliveryStreamEncryption(ctx, &firehose.StartDeliveryStreamEncryptionInput{DeliveryStreamName: aws.String("t"),
		DeliveryStreamEncryptionConfigurationInput: &types.DeliveryStreamEncryptionConfigurationInput{KeyType: types.KeyTypeAwsOwnedCmk}}); err != nil {
		t.Fatal(err)
	}
	d, _ := env.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("t")})
	if e := d.DeliveryStreamDescription.DeliveryStreamEncryptionConfiguration; e == nil || e.Status != types.DeliveryStreamEncryptionStatusEnabled || e.KeyType != types.KeyTypeAwsOwnedCmk {
		t.Fatalf("encryption after start = %+v", e)
	}
	pr, err := env.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("t"), Record: &types.Record{Data: []byte("x")}})
	if err != nil || !aws.ToBool(pr.Encrypted) {
		t.Fatalf("PutRecord on an encrypted stream: Encrypted=%v err=%v", aws.ToBool(pr.Encrypted), err)
	}
	if _, err := env.client.StopDeliveryStreamEncryption(ctx, &firehose.StopDeliveryStreamEncryptionInput{DeliveryStreamName: aws.String("t")}); err != nil {
		t.Fatal(err)
	}
	d, _ = env.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("t")})
	if e := d.DeliveryStreamDescription.DeliveryStreamEncryptionConfiguration; e == nil || e.Status != types.DeliveryStreamEncryptionStatusDisabled {
		t.Fatalf("encryption after stop = %+v", e)
	}
}

func TestSigV4ActionsAndStreamPatterns(t *testing.T) {
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	sink := &memSink{}
	mgr, _ := delivery.NewManager(delivery.Options{Engine: eng, Logger: slog.New(slog.DiscardHandler),
		NewDestination: func(*delivery.Definition, delivery.S3Conn) (*delivery.Built, error) {
			return &delivery.Built{Sink: sink, Errors: sink}, nil
		}})
	mgr.Start(context.Background(), nil)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		mgr.Close(ctx)
		cancel()
	}()
	srv := httptest.NewServer(New(mgr, HandlerOptions{Logger: slog.New(slog.DiscardHandler), Credentials: []awsproto.Credential{
		{AccessKeyID: "ADMIN", SecretAccessKey: "admin-secret"},
		{AccessKeyID: "PRODUCER", SecretAccessKey: "producer-secret", Actions: []string{"firehose:Put*"}, Resources: []string{"orders-*"}},
	}}))
	defer srv.Close()
	client := func(akid, secret string) *firehose.Client {
		return firehose.New(firehose.Options{BaseEndpoint: aws.String(srv.URL), Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
	}
	ctx := context.Background()
	admin, producer := client("ADMIN", "admin-secret"), client("PRODUCER", "producer-secret")
	for _, n := range []string{"orders-eu", "billing"} {
		if _, err := admin.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(n),
			ExtendedS3DestinationConfiguration: s3Config("lake")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := producer.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders-eu"), Record: &types.Record{Data: []byte("x")}}); err != nil {
		t.Fatalf("allowed put: %v", err)
	}
	_, err = producer.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("billing"), Record: &types.Record{Data: []byte("x")}})
	if code, _ := apiErr(t, err); code != "AccessDeniedException" {
		t.Fatalf("put outside the stream patterns: %s", code)
	}
	_, err = producer.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("orders-eu")})
	if code, _ := apiErr(t, err); code != "AccessDeniedException" {
		t.Fatalf("delete without the action: %s", code)
	}
	_, err = client("PRODUCER", "wrong").ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
	if code, _ := apiErr(t, err); code != "InvalidSignatureException" && code != "SignatureDoesNotMatch" {
		t.Fatalf("bad secret: %s", code)
	}
}
