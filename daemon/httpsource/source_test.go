package httpsource

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/httpendpoint"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/streamcore"
)

var key = streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "inbox"}

// newEngine is an in-memory stream engine with the stream inbox (shards shards).
func newEngine(t *testing.T, shards int, q streamcore.Quotas) *streamcore.Engine {
	t.Helper()
	ctx := context.Background()
	eng, err := streamcore.Open(ctx, streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	if err := eng.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: shards, Quotas: q}); err != nil {
		t.Fatal(err)
	}
	for {
		d, err := eng.DescribeStream(ctx, key)
		if err == nil && d.Status == streamcore.StatusActive {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return eng
}

// stored reads every record of the stream, by shard then sequence.
func stored(t *testing.T, eng *streamcore.Engine) []streamcore.Record {
	t.Helper()
	ctx := context.Background()
	d, err := eng.DescribeStream(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var out []streamcore.Record
	for _, sh := range d.Shards {
		it, err := eng.GetShardIterator(ctx, key, sh.ShardID, streamcore.Position{Type: streamcore.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := eng.GetRecords(ctx, it, 10000)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, res.Records...)
			if len(res.Records) == 0 || res.NextShardIterator == "" {
				break
			}
			it = res.NextShardIterator
		}
	}
	return out
}

type replyBody struct {
	RequestID    *string `json:"requestId"`
	Timestamp    *int64  `json:"timestamp"`
	ErrorMessage string  `json:"errorMessage"`
}

func post(t *testing.T, h http.Handler, hdr map[string]string, body []byte) (int, replyBody, http.Header) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/firehose/inbox", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderProtocolVersion, "1.0")
	req.Header.Set(HeaderRequestID, "req-1")
	req.Header.Set(HeaderAccessKey, "k1")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var r replyBody
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("reply Content-Type %q", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || r.RequestID == nil || r.Timestamp == nil {
		t.Errorf("reply %q is not Firehose's shape", w.Body.Bytes())
	}
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	for k := range m {
		if k != "requestId" && k != "timestamp" && k != "errorMessage" {
			t.Errorf("reply member %q", k)
		}
	}
	return w.Code, r, w.Header()
}

func body(id string, data ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"requestId":%q,"timestamp":1700000000000,"records":[`, id)
	for i, d := range data {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"data":%q}`, base64.StdEncoding.EncodeToString([]byte(d)))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestAcceptsAndStoresDurably(t *testing.T) {
	eng := newEngine(t, 2, streamcore.Quotas{})
	h := New(eng, Route{Path: "/firehose/inbox", Stream: key, AccessKeys: []string{"k0", "k1"}}, Options{})
	for _, enc := range []string{"", "gzip"} {
		b := body("req-1", "alpha", "", "\x00bin\xff")
		hdr := map[string]string{}
		if enc == "gzip" {
			b, hdr["Content-Encoding"] = gz(b), "gzip"
		}
		before := time.Now().UnixMilli()
		code, r, _ := post(t, h, hdr, b)
		if code != 200 || *r.RequestID != "req-1" || *r.Timestamp < before || r.ErrorMessage != "" {
			t.Fatalf("%s: %d %+v", enc, code, r)
		}
	}
	// the reply came after the append: the records are in the stream now
	got := stored(t, eng)
	var data []string
	for _, r := range got {
		data = append(data, string(r.Data))
		if !strings.HasPrefix(r.PartitionKey, "req-1-") {
			t.Errorf("partition key %q", r.PartitionKey)
		}
	}
	sort.Strings(data)
	if want := []string{"", "", "\x00bin\xff", "\x00bin\xff", "alpha", "alpha"}; fmt.Sprint(data) != fmt.Sprint(want) {
		t.Errorf("stored %q, want %q", data, want)
	}
}

func TestByRequestKeepsOrderOnOneShard(t *testing.T) {
	eng := newEngine(t, 4, streamcore.Quotas{Unlimited: true})
	h := New(eng, Route{Path: "/p", Stream: key, Anonymous: true, ByRequest: true}, Options{})
	var data []string
	for i := range 50 {
		data = append(data, fmt.Sprint(i))
	}
	if code, r, _ := post(t, h, map[string]string{HeaderAccessKey: ""}, body("req-1", data...)); code != 200 {
		t.Fatalf("%d %+v", code, r)
	}
	got := stored(t, eng)
	for i, r := range got {
		if string(r.Data) != data[i] || r.PartitionKey != "req-1" {
			t.Fatalf("record %d: %q key %q", i, r.Data, r.PartitionKey)
		}
	}
}

func TestRefusals(t *testing.T) {
	eng := newEngine(t, 1, streamcore.Quotas{Unlimited: true})
	h := New(eng, Route{Path: "/p", Stream: key, AccessKeys: []string{"k1"}}, Options{MaxBodyBytes: 4096})
	big := body("req-1", strings.Repeat("x", 4000))
	cases := []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
		msg    string
	}{
		{"no key", map[string]string{HeaderAccessKey: ""}, body("req-1", "a"), 401, "no X-Amz-Firehose-Access-Key"},
		{"bad key", map[string]string{HeaderAccessKey: "k2"}, body("req-1", "a"), 401, "not valid"},
		{"key prefix", map[string]string{HeaderAccessKey: "k"}, body("req-1", "a"), 401, "not valid"},
		{"content type", map[string]string{"Content-Type": "text/plain"}, body("req-1", "a"), 400, "Content-Type"},
		{"protocol", map[string]string{HeaderProtocolVersion: "2.0"}, body("req-1", "a"), 400, "1.0"},
		{"no id", map[string]string{HeaderRequestID: ""}, body("req-1", "a"), 400, "X-Amz-Firehose-Request-Id"},
		{"id mismatch", nil, body("req-2", "a"), 400, "is not the"},
		{"encoding", map[string]string{"Content-Encoding": "br"}, body("req-1", "a"), 400, "Content-Encoding"},
		{"not gzip", map[string]string{"Content-Encoding": "gzip"}, body("req-1", "a"), 400, "gzip"},
		{"not json", nil, []byte(`{"requestId":"req-1",`), 400, "not a Firehose request"},
		{"bad base64", nil, []byte(`{"requestId":"req-1","timestamp":1,"records":[{"data":"@@@"}]}`), 400, "base64"},
		{"seconds float", nil, []byte(`{"requestId":"req-1","timestamp":1.5,"records":[]}`), 400, "integer"},
		{"extra member", nil, []byte(`{"requestId":"req-1","timestamp":1,"records":[],"x":1}`), 400, `"x"`},
		{"too large", nil, big, 413, "limit"},
		{"too large unzipped", map[string]string{"Content-Encoding": "gzip"}, gz(big), 413, "uncompressed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, r, _ := post(t, h, c.hdr, c.body)
			if code != c.status || !strings.Contains(r.ErrorMessage, c.msg) {
				t.Errorf("%d %q; want %d with %q", code, r.ErrorMessage, c.status, c.msg)
			}
		})
	}
	if n := len(stored(t, eng)); n != 0 {
		t.Errorf("%d records stored from refused requests", n)
	}
	// the compressed body may be small; what it expands to is bounded (a gzip bomb)
	bomb := gz(bytes.Repeat([]byte{'a'}, 10<<20))
	code, _, _ := post(t, h, map[string]string{"Content-Encoding": "gzip"}, bomb)
	if code != 413 {
		t.Errorf("gzip bomb: %d", code)
	}
	// GET
	req := httptest.NewRequest(http.MethodGet, "/p", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 405 {
		t.Errorf("GET: %d", w.Code)
	}
}

func TestMissingStreamAndThrottling(t *testing.T) {
	eng := newEngine(t, 1, streamcore.Quotas{WriteRecordsPerSec: 5})
	gone := New(eng, Route{Path: "/p", Stream: streamcore.StreamKey{Account: key.Account, Region: key.Region, Name: "nope"}, Anonymous: true}, Options{})
	if code, r, _ := post(t, gone, nil, body("req-1", "a")); code != 404 {
		t.Errorf("missing stream: %d %+v", code, r)
	}
	h := New(eng, Route{Path: "/p", Stream: key, Anonymous: true}, Options{ThrottleWait: 300 * time.Millisecond})
	var data []string
	for i := range 100 {
		data = append(data, fmt.Sprint(i))
	}
	code, r, hdr := post(t, h, nil, body("req-1", data...))
	if code != 503 || !strings.Contains(r.ErrorMessage, "Slow down") || hdr.Get("Retry-After") == "" {
		t.Errorf("over the write quota: %d %+v %v", code, r, hdr)
	}
}

// TestSluiceToSluice: the HTTP endpoint destination's requests, gzipped, are taken by the
// source, and the records are in the stream once the sink reports them delivered.
func TestSluiceToSluice(t *testing.T) {
	eng := newEngine(t, 2, streamcore.Quotas{Unlimited: true})
	srv := httptest.NewServer(New(eng, Route{Path: "/", Stream: key, AccessKeys: []string{"s3cr3t"}}, Options{}))
	defer srv.Close()
	s := httpendpoint.New(httpendpoint.Config{URL: srv.URL + "/", AccessKey: "s3cr3t", GZIP: true, MaxRecords: 300,
		SourceARN: "arn:aws:firehose:us-east-1:000000000000:deliverystream/out"})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b sinks.Batch
	want := map[string]bool{}
	for i := range 1000 {
		d := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("z", i%97))
		want[d] = true
		b.Records = append(b.Records, record.Record{Data: []byte(d), SequenceNumber: fmt.Sprint(i)})
	}
	if res := s.Write(context.Background(), b); res.Err != nil || res.Records != nil {
		t.Fatalf("Write = %+v", res)
	}
	got := stored(t, eng)
	if len(got) != len(want) {
		t.Fatalf("%d records stored, want %d", len(got), len(want))
	}
	for _, r := range got {
		if !want[string(r.Data)] {
			t.Errorf("unexpected record %q", r.Data)
		}
	}
	// a wrong key is refused and the sink says so
	bad := httpendpoint.New(httpendpoint.Config{URL: srv.URL + "/", AccessKey: "wrong"})
	bad.Connect(context.Background())
	res := bad.Write(context.Background(), b)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "401") && !strings.Contains(res.Err.Error(), "not valid") {
		t.Errorf("wrong key: %v", res.Err)
	}
}

func TestReplyBodyIsBounded(t *testing.T) {
	// the reply quotes at most 8 KiB of message
	w := httptest.NewRecorder()
	reply(w, "id", fail(400, "%s", strings.Repeat("m", 20000)))
	b, _ := io.ReadAll(w.Body)
	if len(b) > 8300 {
		t.Errorf("reply of %d bytes", len(b))
	}
}
