//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// receiverYAML declares the stream inbox and the HTTP endpoint source that appends to it.
func receiverYAML(shards int, key string) string {
	return fmt.Sprintf("streams:\n  - name: inbox\n    shards: %d\n    quotas: {unlimited: true}\n"+
		"http_endpoint_sources:\n  - path: /firehose/inbox\n    stream: inbox\n    access_keys: ['%s']\n", shards, key)
}

// senderYAML declares the delivery stream out, delivering to url with GZIP; its S3 backup
// is on MinIO (bucket), failures under err/.
func senderYAML(m *harness.MinIOServer, bucket, url, key, buffer, retry string) string {
	return fmt.Sprintf("delivery_streams:\n  - name: out\n    buffer: %s\n    destination:\n      type: http_endpoint\n      retry_duration: %s\n"+
		"      http_endpoint:\n        url: '%s'\n        access_key: '%s'\n        content_encoding: GZIP\n"+
		"        s3: {bucket: %s, error_output_prefix: 'err/!{firehose:error-output-type}/', endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}\n",
		buffer, retry, url, key, bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey)
}

// streamRecords returns every record of stream, from the start of each shard, by data.
func streamRecords(t testing.TB, kc *kinesis.Client, stream string) map[string]int {
	t.Helper()
	ctx := context.Background()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	out := map[string]int{}
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId,
			ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator: %v", err)
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatalf("GetRecords: %v", err)
			}
			for _, r := range res.Records {
				out[string(r.Data)]++
			}
			if len(res.Records) == 0 {
				break // caught up
			}
			iter = res.NextShardIterator
		}
	}
	return out
}

// One sluice's HTTP endpoint destination delivers, gzipped, into a second sluice's HTTP
// endpoint source; the receiver is killed (-9) and restarted while records flow. Every
// record the sender acknowledged arrives in the receiver's stream (read back with the
// Kinesis API); duplicates are allowed and reported.
func TestHTTPEndpointSluiceToSluiceReceiverKilled(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "httpep-e2e")
	const key = "e2e-access-key"
	recv := harness.StartSluice(t, receiverYAML(4, key))
	send := harness.StartSluice(t, senderYAML(m, bucket, recv.Endpoint+"/firehose/inbox", key, "{size: 1MiB, interval: 1s}", "3600s"))
	fc := firehoseClient(send.Endpoint)

	const total = 20_000
	gen := func(i int) string { return fmt.Sprintf(`{"e2e":%d,"pad":"%s"}`, i, strings.Repeat("p", i%200)) }
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for start := 0; start < total; start += 1000 {
			a := putBatches(t, fc, "out", 1000, func(i int) string { return gen(start + i) })
			mu.Lock()
			acked = append(acked, a...)
			mu.Unlock()
			time.Sleep(150 * time.Millisecond) // about 3 s of traffic
		}
	})
	time.Sleep(1200 * time.Millisecond)
	recv.Kill()
	t.Log("receiver killed (-9)")
	time.Sleep(2 * time.Second)
	recv.Start()
	t.Log("receiver restarted")
	wg.Wait()
	if len(acked) != total {
		t.Fatalf("the sender acknowledged %d of %d records", len(acked), total)
	}

	kc := kinesisClient(recv.Endpoint)
	deadline := time.Now().Add(3 * time.Minute)
	var got map[string]int
	for {
		got = streamRecords(t, kc, "inbox")
		missing := 0
		for _, a := range acked {
			if got[strings.TrimSuffix(a, "\n")+"\n"] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records missing from the receiver's stream after 3 min", missing, total)
		}
		time.Sleep(time.Second)
	}
	dups, extra := 0, 0
	want := map[string]bool{}
	for _, a := range acked {
		want[a+"\n"] = true
	}
	for d, n := range got {
		if !want[d] {
			extra++
			continue
		}
		dups += n - 1
	}
	if extra > 0 {
		t.Errorf("%d records in the receiver's stream that were never sent", extra)
	}
	t.Logf("all %d records arrived; %d duplicates (requests retried after the receiver died)", total, dups)
	if objs, _ := m.Objects(context.Background(), bucket, "err/"); len(objs) > 0 {
		t.Errorf("%d failure objects in the backup; every failure was transient: %v", len(objs), objs)
	}
	// the kill did interrupt deliveries: the sender retried after connection failures
	if log := send.Log(); !strings.Contains(log, "delivery failed; retrying") || !strings.Contains(log, "connection refused") {
		t.Errorf("the sender never retried a delivery: the receiver was not down while records flowed")
	}
	if !strings.Contains(httpGet(t, recv.Endpoint+"/metrics"), `sluice_http_source_requests_total{code="200",path="/firehose/inbox"}`) {
		t.Error("the receiver's metrics lack its HTTP endpoint source")
	}
}
