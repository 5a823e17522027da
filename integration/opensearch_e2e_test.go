//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// Records put through the Firehose API of the sluice binary land in OpenSearch, in the
// rotated index, one document each (the destination as a user configures it in YAML).
func TestOpenSearchThroughTheDaemon(t *testing.T) {
	os := harness.OpenSearch(t)
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "os-e2e")
	s := harness.StartSluice(t, fmt.Sprintf("delivery_streams:\n  - name: logs\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: opensearch\n"+
		"      opensearch:\n        endpoint: '%s'\n        index: e2e-logs\n        rotation: NoRotation\n"+
		"        s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}\n",
		os.URL, bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey))
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	const n = 50
	recs := make([]types.Record, n)
	for i := range recs {
		recs[i] = types.Record{Data: []byte(fmt.Sprintf(`{"i":%d,"msg":"hello %d"}`+"\n", i, i))}
	}
	out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("logs"), Records: recs})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	if got := osWaitCount(t, os, "e2e-logs", n, 60*time.Second); got != n {
		t.Fatalf("after 60 s: %d documents, want %d", got, n)
	}
	code, body, err := os.Do(ctx, "GET", "/e2e-logs/_search?q=i:7", "")
	if err != nil || code != 200 || !strings.Contains(string(body), `"msg":"hello 7"`) {
		t.Fatalf("search for document 7: %d %s %v", code, body, err)
	}
}

// A delivery stream created with the Firehose API names its domain by DomainARN, as on AWS;
// firehose.opensearch_domains maps it to the cluster. Records land; an unmapped DomainARN is
// refused with an InvalidArgumentException naming the config key.
func TestOpenSearchAPIDomainARN(t *testing.T) {
	node := harness.OpenSearch(t)
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "os-api")
	const arn = "arn:aws:es:us-east-1:123456789012:domain/logs"
	s := startFirehoseSluiceWith(t, m, fmt.Sprintf("  opensearch_domains: {'%s': '%s'}\n", arn, node.URL), "")
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	create := func(name, domain string) error {
		_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String(name),
			AmazonopensearchserviceDestinationConfiguration: &types.AmazonopensearchserviceDestinationConfiguration{
				RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose"), DomainARN: aws.String(domain),
				IndexName: aws.String("api-logs"), IndexRotationPeriod: types.AmazonopensearchserviceIndexRotationPeriodNoRotation,
				BufferingHints: &types.AmazonopensearchserviceBufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)},
				S3Configuration: &types.S3DestinationConfiguration{BucketARN: aws.String("arn:aws:s3:::" + bucket),
					RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose")},
			},
		})
		return err
	}
	if err := create("api-logs", "arn:aws:es:us-east-1:123456789012:domain/other"); err == nil || !strings.Contains(err.Error(), "firehose.opensearch_domains") {
		t.Fatalf("unmapped DomainARN: %v, want an InvalidArgumentException naming firehose.opensearch_domains", err)
	}
	if err := create("api-logs", arn); err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("api-logs")})
		if err == nil && d.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery stream not ACTIVE: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	recs := []types.Record{{Data: []byte(`{"via":"api","n":1}`)}, {Data: []byte(`{"via":"api","n":2}`)}}
	if out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("api-logs"), Records: recs}); err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	if got := osWaitCount(t, node, "api-logs", 2, 60*time.Second); got != 2 {
		t.Fatalf("after 60 s: %d documents, want 2", got)
	}
}

// The Serverless variant: AmazonOpenSearchServerlessDestinationConfiguration with a
// CollectionEndpoint, described under its own name; documents land in the one index (no
// rotation); a refused document's failure fields are osDocumentId and osIndexName.
func TestOpenSearchServerlessVariant(t *testing.T) {
	node := harness.OpenSearch(t)
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "os-serverless")
	s := startFirehoseSluice(t, m, "")
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	_, _, _ = node.Do(ctx, "PUT", "/coll-logs", `{"mappings":{"properties":{"n":{"type":"integer"}}}}`)
	_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("coll"),
		AmazonOpenSearchServerlessDestinationConfiguration: &types.AmazonOpenSearchServerlessDestinationConfiguration{
			RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose"), CollectionEndpoint: aws.String(node.URL),
			IndexName:      aws.String("coll-logs"),
			BufferingHints: &types.AmazonOpenSearchServerlessBufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)},
			S3Configuration: &types.S3DestinationConfiguration{BucketARN: aws.String("arn:aws:s3:::" + bucket),
				RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose")},
		},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("coll")})
	if err != nil || len(d.DeliveryStreamDescription.Destinations) != 1 {
		t.Fatalf("Describe: %v", err)
	}
	desc := d.DeliveryStreamDescription.Destinations[0].AmazonOpenSearchServerlessDestinationDescription
	if desc == nil || aws.ToString(desc.CollectionEndpoint) != node.URL || aws.ToString(desc.IndexName) != "coll-logs" {
		t.Fatalf("AmazonOpenSearchServerlessDestinationDescription = %+v", desc)
	}
	recs := []types.Record{{Data: []byte(`{"n":1}`)}, {Data: []byte(`{"n":"not a number"}`)}, {Data: []byte(`{"n":3}`)}}
	for {
		out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("coll"), Records: recs})
		if err == nil && aws.ToInt32(out.FailedPutCount) == 0 {
			break
		}
		if !strings.Contains(fmt.Sprint(err), "ResourceNotFound") && !strings.Contains(fmt.Sprint(err), "not ACTIVE") && !strings.Contains(fmt.Sprint(err), "CREATING") {
			t.Fatalf("PutRecordBatch: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		keys, _ := m.Objects(ctx, bucket, "")
		var failed []byte
		for _, k := range keys {
			if strings.Contains(k, "failed") {
				failed, _, _ = m.Get(ctx, bucket, k)
			}
		}
		if len(failed) > 0 {
			var f map[string]any
			if err := json.Unmarshal([]byte(strings.SplitN(strings.TrimSpace(string(failed)), "\n", 2)[0]), &f); err != nil {
				t.Fatalf("failure record %s: %v", failed, err)
			}
			if f["osDocumentId"] == nil || f["osIndexName"] != "coll-logs" || f["esDocumentId"] != nil || f["esTypeName"] != nil {
				t.Fatalf("failure record fields %v; want osDocumentId and osIndexName only", f)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failure record after 60 s; objects %v", keys)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := osWaitCount(t, node, "coll-logs", 2, 0); got != 2 {
		t.Fatalf("%d documents, want the 2 good ones", got)
	}
}
