package firehoseapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"

	delivery "github.com/sluice-io/sluice/daemon/firehose"
)

func rawPost(t *testing.T, url, op, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", TargetPrefix+op)
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/firehose/aws4_request, SignedHeaders=host, Signature=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Over the throttling quota, PutRecordBatch admits records in order and marks the rest
// ServiceUnavailableException with HTTP 200; with the request bucket empty, PutRecord
// answers 503 (firehose.md §12).
func TestThrottledPutsOnTheWire(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	env := newEnvWith(t, delivery.Options{Throttle: delivery.Limits{Records: 2, Requests: 2, Bytes: 1 << 20},
		Now: func() time.Time { return now }})
	ctx := context.Background()
	if _, err := env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("t"), ExtendedS3DestinationConfiguration: s3Config("lake")}); err != nil {
		t.Fatal(err)
	}
	code, body := rawPost(t, env.url, "PutRecordBatch", `{"DeliveryStreamName":"t","Records":[{"Data":"YQ=="},{"Data":"Yg=="},{"Data":"Yw=="}]}`)
	if code != 200 || !strings.HasPrefix(body, `{"FailedPutCount":1,`) ||
		!strings.HasSuffix(body, `,{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."}]}`) {
		t.Fatalf("batch over the record quota: %d %s", code, body)
	}
	code, body = rawPost(t, env.url, "PutRecord", `{"DeliveryStreamName":"t","Record":{"Data":"ZA=="}}`)
	if code != 503 || body != `{"__type":"ServiceUnavailableException","message":"Slow down."}` {
		t.Fatalf("PutRecord with no record tokens left: %d %s", code, body)
	}
	code, body = rawPost(t, env.url, "PutRecordBatch", `{"DeliveryStreamName":"t","Records":[{"Data":"ZQ=="}]}`)
	if code != 503 || body != `{"__type":"ServiceUnavailableException","message":"Slow down."}` {
		t.Fatalf("third request with a 2 requests/s quota: %d %s", code, body)
	}
	now = now.Add(time.Second)
	code, body = rawPost(t, env.url, "PutRecord", `{"DeliveryStreamName":"t","Record":{"Data":"Zg=="}}`)
	if code != 200 {
		t.Fatalf("after the buckets refilled: %d %s", code, body)
	}
}
