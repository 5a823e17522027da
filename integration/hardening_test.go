//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	ftypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// rawAuth is a well-formed (unchecked: auth.sigv4 is off) SigV4 header set.
const rawAuth = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00\r\n" +
	"X-Amz-Date: 20261207T120000Z\r\n"

// Unauthenticated clients that announce 16 MiB bodies and send a byte a second cost the
// daemon what they sent, not what they announced, and are cut off once they fall below
// the minimum rate; the daemon keeps answering others meanwhile. (Before: RSS grew by
// 16 MiB per connection, and none was closed after 60 s.)
func TestSlowBodiesCostWhatTheySent(t *testing.T) {
	s := harness.StartSluiceServer(t, "  body_timeout: 2s\n", "")
	c := kinesisClient(s.Endpoint)
	ctx := context.Background()
	if _, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Fatal(err)
	}
	base := s.RSS()
	const conns = 100
	var wg sync.WaitGroup
	closed := make(chan time.Duration, conns)
	start := time.Now()
	for range conns {
		cn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err != nil {
			t.Fatal(err)
		}
		defer cn.Close()
		fmt.Fprintf(cn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n%sContent-Length: %d\r\n\r\n{", rawAuth, 16<<20)
		wg.Go(func() { // a byte a second until the server hangs up
			for {
				time.Sleep(time.Second)
				if _, err := cn.Write([]byte(" ")); err != nil {
					return
				}
			}
		})
		go func() {
			_ = cn.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, _ = io.Copy(io.Discard, cn) // the 408 reply, then EOF when the server closes
			closed <- time.Since(start)
			cn.Close()
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	grown := s.RSS() - base
	t.Logf("RSS %d MiB at rest, +%d MiB with %d slow 16 MiB bodies open", base>>20, grown>>20, conns)
	if grown > 64<<20 {
		t.Errorf("%d slow bodies grew RSS by %d MiB; want it to follow the bytes sent (a few KiB each)", conns, grown>>20)
	}
	if _, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Errorf("ListStreams while slow bodies are open: %v", err)
	}
	var last time.Duration
	for range conns {
		select {
		case d := <-closed:
			last = max(last, d)
		case <-time.After(30 * time.Second):
			t.Fatalf("a slow connection is still open after 30 s (body_timeout 2s)")
		}
	}
	t.Logf("all %d slow connections closed by the server within %v", conns, last.Round(100*time.Millisecond))
	wg.Wait()
}

var requestMemoryRE = regexp.MustCompile(`(?m)^sluice_request_memory_bytes ([0-9.e+]+)$`)

// Clients that ask for 10 MB of records and never read the reply are cut off after
// write_timeout, the replies' memory is bounded by request_memory while they wait (the
// rest get 503 "Slow down.") and is given back. (Before: ~19 MiB pinned per client for
// as long as it stayed.)
func TestNeverReadingClientsAreCutOff(t *testing.T) {
	s := harness.StartSluiceServer(t, "  write_timeout: 2s\n  request_memory: 64MiB\n",
		"streams:\n  - name: big\n    shards: 1\n    quotas: {unlimited: true}\n") // 50 GetRecords at once
	c := kinesisClient(s.Endpoint)
	ctx := context.Background()
	waitActive(t, c, "big")
	rec := make([]byte, 1024)
	entries := make([]types.PutRecordsRequestEntry, 500)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: rec}
	}
	for range 20 { // 10,000 × 1 KiB
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("big"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %v", err)
		}
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("big"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"ShardIterator": aws.ToString(it.ShardIterator), "Limit": 10000})
	base := s.RSS()
	const clients = 50
	var conns []net.Conn
	for range clients {
		cn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err != nil {
			t.Fatal(err)
		}
		defer cn.Close()
		fmt.Fprintf(cn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.GetRecords\r\n%sContent-Length: %d\r\n\r\n%s", rawAuth, len(body), body)
		conns = append(conns, cn)
	}
	time.Sleep(1500 * time.Millisecond)
	grown := s.RSS() - base
	t.Logf("RSS %d MiB before, +%d MiB with %d clients not reading 10 MB replies", base>>20, grown>>20, clients)
	if grown > 256<<20 {
		t.Errorf("%d clients that do not read grew RSS by %d MiB; want it bounded by request_memory (64 MiB) plus work in progress", clients, grown>>20)
	}
	time.Sleep(2 * time.Second) // past write_timeout
	// each connection ends: a 503 read whole, or a 200 cut off before its Content-Length
	full, cut, busy, other := 0, 0, 0, 0
	for _, cn := range conns {
		_ = cn.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(cn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			cut++ // closed before a status line could be read
			continue
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 503:
			busy++
		case resp.StatusCode != 200:
			other++
			t.Logf("GetRecords answered %d", resp.StatusCode)
		case err != nil || n < resp.ContentLength:
			cut++
		default:
			full++
		}
	}
	t.Logf("%d replies cut off by write_timeout, %d answered 503 (request_memory full), %d read whole, %d other", cut, busy, full, other)
	if full > 0 {
		t.Errorf("%d of %d clients that did not read for 1.5 s still got a whole 10 MB reply after write_timeout 2s", full, clients)
	}
	if cut == 0 {
		t.Error("no reply was cut off")
	}
	harness.Eventually(t, 10*time.Second, func() error { // the request memory given back
		m := requestMemoryRE.FindStringSubmatch(httpGet(t, s.Endpoint+"/metrics"))
		if m == nil {
			return errors.New("no sluice_request_memory_bytes in /metrics")
		}
		if v, _ := strconv.ParseFloat(m[1], 64); v != 0 {
			return fmt.Errorf("sluice_request_memory_bytes %v", v)
		}
		return nil
	})
	if _, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Errorf("ListStreams afterwards: %v", err)
	}
}

// waitActive waits up to 30 s for stream name to be ACTIVE.
func waitActive(t testing.TB, c *kinesis.Client, name string) {
	t.Helper()
	harness.Eventually(t, 30*time.Second, func() error {
		out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return err
		}
		if out.StreamDescriptionSummary.StreamStatus != types.StreamStatusActive {
			return fmt.Errorf("status %s", out.StreamDescriptionSummary.StreamStatus)
		}
		return nil
	})
}

// SIGTERM with a delivery stream whose S3 is unreachable: the daemon gives the buffered
// batch its last attempt, keeps the records in the stream and exits 0 promptly, instead of
// waiting out shutdown_timeout and ending with an error. After a restart with S3 still
// down, the records are still there to be delivered (DescribeDeliveryStream shows them
// waiting, nothing in an error output).
func TestSIGTERMWithADownDestinationExitsPromptly(t *testing.T) {
	dead := "http://" + closedLoopback(t)
	s := harness.StartSluiceServer(t, "  shutdown_timeout: 30s\n",
		"delivery_streams:\n  - name: stuck\n    buffer: {size: 1MiB, interval: 60s}\n    destination:\n      type: s3\n"+
			"      s3: {bucket: b, endpoint: '"+dead+"', region: us-east-1, path_style: true, access_key_id: a, secret_access_key: b}\n")
	fc := firehoseClient(s.Endpoint)
	ctx := context.Background()
	if _, err := fc.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("stuck"), Record: &ftypes.Record{Data: []byte("kept\n")}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // read into the buffer
	start := time.Now()
	if err := s.Stop(20 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %v to stop (shutdown_timeout 30s); want prompt", el.Round(100*time.Millisecond))
	}
	if strings.Contains(s.Log(), "level=ERROR") {
		t.Errorf("stopping logged an error:\n%s", s.Log())
	}
}
