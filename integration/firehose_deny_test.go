//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// assumeRole gets temporary MinIO credentials limited by an inline session policy (STS
// AssumeRole with the root user). MinIO applies bucket policies to anonymous requests
// only and never restricts the root user, so a session policy is how a plain S3/STS
// client gets credentials that a bucket refuses.
func assumeRole(t *testing.T, m *harness.MinIOServer, policy string) aws.Credentials {
	t.Helper()
	c := sts.New(sts.Options{BaseEndpoint: aws.String(m.Endpoint), Region: m.Region,
		Credentials: credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, "")})
	out, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::000000000000:role/sluice-test"), RoleSessionName: aws.String("sluice"),
		Policy: aws.String(policy), DurationSeconds: aws.Int32(3600)})
	if err != nil {
		t.Fatalf("STS AssumeRole on MinIO: %v", err)
	}
	return aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)}
}

// startDeniedSluice starts Sluice with one delivery stream (1 s buffer, 2 s retry
// duration, data under data/, failures under errorPrefix) on bucket, using MinIO session
// credentials that may do anything but s3:PutObject on the keys matched by deniedKeys
// (e.g. "*" or "data/*"). The credentials reach the S3 sink through the standard chain
// (environment), as the config names no keys.
func startDeniedSluice(t *testing.T, m *harness.MinIOServer, bucket, stream, deniedKeys, errorPrefix string) *harness.Sluice {
	t.Helper()
	denied := assumeRole(t, m, fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]},`+
		`{"Effect":"Deny","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::%s/%s"]}]}`, bucket, deniedKeys))
	t.Setenv("AWS_ACCESS_KEY_ID", denied.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", denied.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", denied.SessionToken)
	t.Setenv("AWS_REGION", m.Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return harness.StartSluice(t, fmt.Sprintf("firehose:\n  s3: {endpoint: '%s'}\n", m.Endpoint)+
		fmt.Sprintf("delivery_streams:\n  - name: %s\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n      retry_duration: 2s\n", stream)+
		fmt.Sprintf("      s3: {bucket: %s, prefix: data/, error_output_prefix: %s}\n", bucket, errorPrefix))
}

// A bucket that exists but denies Sluice's writes (data prefix and error prefix alike):
// deliveries are retried, given up after the retry duration, and then the pipeline waits
// on the error output — it never drops. DescribeDeliveryStream shows AccessDenied. Once
// the denial is lifted (Sluice restarted with credentials the bucket accepts; the data
// dir keeps the undelivered records), every acknowledged record arrives.
func TestFirehoseBucketDenyingWritesWaitsThenDeliversEverything(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-deny")
	s := startDeniedSluice(t, m, bucket, "deny", "*", "err/")
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	want := putBatches(t, c, "deny", 60, func(i int) string { return fmt.Sprintf(`{"deny":%d}`, i) })
	if len(want) != 60 {
		t.Fatalf("%d of 60 records acknowledged", len(want))
	}

	fd := waitFailureDescription(t, c, "deny", "AccessDenied", "DescribeDeliveryStream never reported the access denied")
	t.Logf("DescribeDeliveryStream: %s: %s", fd.Type, aws.ToString(fd.Details))
	// the batch is given up after 2 s; its failure records cannot be written either
	waitBatchGivenUp(t, s, "deny")
	// the error output (same bucket) is retried: still nothing written, nothing dropped
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(s.Log(), "writing to the error output failed; retrying") {
		if time.Now().After(deadline) {
			t.Fatal("the pipeline never retried the error output")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if keys, err := m.Objects(ctx, bucket, ""); err != nil || len(keys) != 0 {
		t.Fatalf("objects in the denying bucket: %v %v", keys, err)
	}
	if met := httpGet(t, s.Endpoint+"/metrics"); strings.Contains(met, `sluice_firehose_dropped_records_total{reason=`) {
		t.Fatalf("records dropped while the bucket denied writes")
	}

	// lift the denial: restart with credentials the bucket accepts
	s.Kill()
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	s.Start()
	delivered, raws, codes := waitDataOrFailures(t, m, bucket, "data/", "err/", want, 120*time.Second, "acknowledged records missing after the denial was lifted")
	t.Logf("after lifting the denial: %d records as data, %d failure records %v", delivered, len(raws), codes)
}

// A bucket that denies writes under the data prefix only: deliveries are retried for the
// retry duration, then every record lands as a failure record (errorCode S3.AccessDenied)
// under the error prefix of the same bucket, as Firehose does.
func TestFirehoseDeniedPrefixRetriesThenErrorOutput(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-denyp")
	s := startDeniedSluice(t, m, bucket, "denyp", "data/*", "'err/!{firehose:error-output-type}/'")
	c := firehoseClient(s.Endpoint)
	want := putBatches(t, c, "denyp", 30, func(i int) string { return fmt.Sprintf(`{"denyp":%d}`, i) })
	deadline := time.Now().Add(90 * time.Second)
	for {
		raws, codes := failureRaw(t, readObjects(t, m, bucket, "err/delivery-failed/", s3sink.Uncompressed))
		seen := map[string]bool{}
		for _, r := range raws {
			seen[r] = true
		}
		missing := countMissing(want, seen)
		if missing == 0 {
			if codes["S3.AccessDenied"] != len(raws) {
				t.Fatalf("failure records with codes %v, want S3.AccessDenied only", codes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records not in the error output (codes so far %v)", missing, len(want), codes)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if keys, err := m.Objects(context.Background(), bucket, "data/"); err != nil || len(keys) != 0 {
		t.Fatalf("objects under the denied prefix: %v %v", keys, err)
	}
}
