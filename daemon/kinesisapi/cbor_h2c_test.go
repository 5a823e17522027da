package kinesisapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/net/http2"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

// javaLikeClient talks like the AWS Java SDK v2 (Netty, HTTP/2 prior knowledge on plain
// TCP, application/x-amz-cbor-1.1 bodies).
type javaLikeClient struct {
	t   *testing.T
	url string
	hc  *http.Client
}

func newJavaLikeClient(t *testing.T, url string) *javaLikeClient {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	return &javaLikeClient{t: t, url: url, hc: &http.Client{Transport: tr}}
}

func (c *javaLikeClient) do(op string, in any) (int, *http.Response, []byte) {
	c.t.Helper()
	body, err := cbor.Marshal(in)
	if err != nil {
		c.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-cbor-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		c.t.Fatalf("spoke HTTP/%d, want HTTP/2", resp.ProtoMajor)
	}
	if op == "SubscribeToShard" && resp.StatusCode == 200 {
		return resp.StatusCode, resp, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp, out
}

func (c *javaLikeClient) ok(op string, in any, out any) {
	c.t.Helper()
	st, resp, body := c.do(op, in)
	if st != 200 {
		c.t.Fatalf("%s: %d %x", op, st, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-cbor-1.1" {
		c.t.Fatalf("%s: content type %q", op, ct)
	}
	if out != nil {
		if err := cbor.Unmarshal(body, out); err != nil {
			c.t.Fatalf("%s: decode %x: %v", op, body, err)
		}
	}
}

type cborRecord struct {
	SequenceNumber              string
	ApproximateArrivalTimestamp cbor.RawMessage
	Data                        cbor.RawMessage
	PartitionKey                string
}

func checkCBORRecord(t *testing.T, r cborRecord, wantData string, before time.Time) {
	t.Helper()
	// Data is a definite byte string (major type 2).
	if len(r.Data) == 0 || r.Data[0]>>5 != 2 || r.Data[0]&0x1f == 31 {
		t.Fatalf("Data is not a definite byte string: %x", []byte(r.Data))
	}
	var data []byte
	if err := cbor.Unmarshal(r.Data, &data); err != nil || string(data) != wantData {
		t.Fatalf("Data = %q (%v), want %q", data, err, wantData)
	}
	// Timestamp is tag 1 with an integer of epoch milliseconds.
	ts := []byte(r.ApproximateArrivalTimestamp)
	if len(ts) < 2 || ts[0] != 0xc1 || ts[1]>>5 != 0 {
		t.Fatalf("timestamp not tag 1 + unsigned int: %x", ts)
	}
	var ms uint64
	if err := cbor.Unmarshal(ts[1:], &ms); err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(int64(ms))
	if at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("arrival %v (ms %d) outside the test window", at, ms)
	}
}

func TestCBOROverH2CLikeTheJavaSDK(t *testing.T) {
	env := newEnv(t, Options{})
	c := newJavaLikeClient(t, env.srv.URL)
	start := time.Now()
	c.ok("CreateStream", map[string]any{"StreamName": "jc", "ShardCount": 1}, nil)
	var pr struct {
		FailedRecordCount int
		Records           []struct{ SequenceNumber, ShardId string }
	}
	c.ok("PutRecords", map[string]any{"StreamName": "jc", "Records": []map[string]any{
		{"Data": []byte("one"), "PartitionKey": "a"},
		{"Data": []byte{0, 0xff, 'x'}, "PartitionKey": "b"},
	}}, &pr)
	if pr.FailedRecordCount != 0 || len(pr.Records) != 2 || pr.Records[0].ShardId != "shardId-000000000000" {
		t.Fatalf("PutRecords: %+v", pr)
	}
	var it struct{ ShardIterator string }
	c.ok("GetShardIterator", map[string]any{"StreamName": "jc", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}, &it)
	var gr struct {
		Records            []cborRecord
		NextShardIterator  string
		MillisBehindLatest int64
	}
	c.ok("GetRecords", map[string]any{"ShardIterator": it.ShardIterator, "Limit": 100}, &gr)
	if len(gr.Records) != 2 || gr.NextShardIterator == "" {
		t.Fatalf("GetRecords: %+v", gr)
	}
	checkCBORRecord(t, gr.Records[0], "one", start)
	checkCBORRecord(t, gr.Records[1], "\x00\xffx", start)

	// DescribeStream's StreamCreationTimestamp is tag 1 + ms as well.
	var ds struct {
		StreamDescription struct {
			StreamCreationTimestamp cbor.RawMessage
			StreamStatus            string
		}
	}
	c.ok("DescribeStream", map[string]any{"StreamName": "jc"}, &ds)
	if ts := ds.StreamDescription.StreamCreationTimestamp; len(ts) < 2 || ts[0] != 0xc1 || ts[1] != 0x1b {
		t.Fatalf("StreamCreationTimestamp = %x, want c1 1b …", []byte(ts))
	}

	// AT_TIMESTAMP given as tag 1 + epoch ms, as the Java SDK sends it.
	tsArg := cbor.Tag{Number: 1, Content: start.Add(-time.Minute).UnixMilli()}
	c.ok("GetShardIterator", map[string]any{"StreamName": "jc", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": tsArg}, &it)
	time.Sleep(250 * time.Millisecond) // GetRecords allows 5 calls/s per shard
	c.ok("GetRecords", map[string]any{"ShardIterator": it.ShardIterator}, &gr)
	if len(gr.Records) != 2 {
		t.Fatalf("AT_TIMESTAMP via tag 1 ms: %d records", len(gr.Records))
	}

	// Errors come back as CBOR maps.
	st, resp, body := c.do("GetRecords", map[string]any{"ShardIterator": "bogus"})
	var e map[string]string
	if err := cbor.Unmarshal(body, &e); err != nil || st != 400 || e["__type"] != "InvalidArgumentException" || e["message"] != "Invalid ShardIterator." ||
		resp.Header.Get("x-amzn-ErrorType") != "InvalidArgumentException" {
		t.Fatalf("CBOR error: %d %v %q", st, err, body)
	}

	// SubscribeToShard over CBOR: initial-response {} then an event with the records.
	var reg struct{ Consumer struct{ ConsumerARN string } }
	c.ok("RegisterStreamConsumer", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/jc", "ConsumerName": "kcl"}, &reg)
	st, resp, _ = c.do("SubscribeToShard", map[string]any{"ConsumerARN": reg.Consumer.ConsumerARN, "ShardId": "shardId-000000000000",
		"StartingPosition": map[string]any{"Type": "TRIM_HORIZON"}})
	if st != 200 || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
		t.Fatalf("SubscribeToShard: %d %s", st, resp.Header.Get("Content-Type"))
	}
	defer resp.Body.Close()
	msgs := readEvents(t, resp.Body, 2)
	if msgs[0].Headers[":event-type"] != "initial-response" || !bytes.Equal(msgs[0].Payload, []byte{0xa0}) ||
		msgs[0].Headers[":content-type"] != awsproto.ContentTypeCBOR {
		t.Fatalf("first frame: %+v", msgs[0])
	}
	var ev struct {
		Records                    []cborRecord
		ContinuationSequenceNumber string
	}
	if msgs[1].Headers[":event-type"] != "SubscribeToShardEvent" {
		t.Fatalf("second frame: %+v", msgs[1].Headers)
	}
	if err := cbor.Unmarshal(msgs[1].Payload, &ev); err != nil || len(ev.Records) != 2 || ev.ContinuationSequenceNumber != ev.Records[1].SequenceNumber {
		t.Fatalf("event: %+v %v", ev, err)
	}
	checkCBORRecord(t, ev.Records[0], "one", start)
}

// readEvents reads n event-stream messages from r.
func readEvents(t *testing.T, r io.Reader, n int) []awsproto.EventMessage {
	t.Helper()
	var buf []byte
	var out []awsproto.EventMessage
	chunk := make([]byte, 64<<10)
	for len(out) < n {
		for {
			m, rest, ok := awsproto.ParseEventMessage(buf)
			if !ok {
				break
			}
			out = append(out, m)
			buf = rest
		}
		if len(out) >= n {
			break
		}
		k, err := r.Read(chunk)
		buf = append(buf, chunk[:k]...)
		if err != nil && len(out) < n {
			if _, _, ok := awsproto.ParseEventMessage(buf); !ok {
				t.Fatalf("event stream ended after %d messages: %v", len(out), err)
			}
		}
	}
	return out
}
