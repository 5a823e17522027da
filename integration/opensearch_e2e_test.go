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
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, _ = os.Do(ctx, "POST", "/e2e-logs/_refresh", "")
		code, body, err := os.Do(ctx, "GET", "/e2e-logs/_count", "")
		var cnt struct{ Count int }
		if err == nil && code == 200 && json.Unmarshal(body, &cnt) == nil && cnt.Count == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: _count %d %s (want %d documents)", code, strings.TrimSpace(string(body)), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, body, err := os.Do(ctx, "GET", "/e2e-logs/_search?q=i:7", "")
	if err != nil || code != 200 || !strings.Contains(string(body), `"msg":"hello 7"`) {
		t.Fatalf("search for document 7: %d %s %v", code, body, err)
	}
}
