package httpendpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/httpendpoint/endpointtest"
	"github.com/sluice-io/sluice/sinks/sinktest"
	"github.com/sluice-io/sluice/sources/record"
)

const testARN = "arn:aws:firehose:us-east-1:000000000000:deliverystream/orders"

func newSink(t testing.TB, e *endpointtest.Endpoint, cfg Config) *Sink {
	t.Helper()
	cfg.URL = e.URL + "/ingest?x=1"
	if cfg.SourceARN == "" {
		cfg.SourceARN = testARN
	}
	s := New(cfg)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func recs(data ...string) sinks.Batch {
	var b sinks.Batch
	for i, d := range data {
		b.Records = append(b.Records, record.Record{Data: []byte(d), ArrivalMs: 1700000000000, SequenceNumber: fmt.Sprintf("4960%02d", i), SubSequence: i % 3})
	}
	return b
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestShapeAndHeaders(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprint("gzip=", gz), func(t *testing.T) {
			e := endpointtest.New(t)
			s := newSink(t, e, Config{GZIP: gz, AccessKey: "k3y", Attributes: []CommonAttribute{{"env", "prod"}, {"team", "a\"b"}}})
			before := time.Now().UnixMilli()
			if res := s.Write(context.Background(), recs("one\n", "", "\x00\xffbin")); res.Err != nil || res.Records != nil {
				t.Fatalf("Write = %+v", res)
			}
			rs := e.Requests()
			if len(rs) != 1 {
				t.Fatalf("%d requests", len(rs))
			}
			r := rs[0]
			if r.Method != "POST" || r.Path != "/ingest" {
				t.Errorf("%s %s", r.Method, r.Path)
			}
			h := r.Header
			id := h.Get("X-Amz-Firehose-Request-Id")
			want := map[string]string{
				"Content-Type":                     "application/json",
				"X-Amz-Firehose-Protocol-Version":  "1.0",
				"X-Amz-Firehose-Source-Arn":        testARN,
				"X-Amz-Firehose-Access-Key":        "k3y",
				"X-Amz-Firehose-Common-Attributes": `{"commonAttributes":{"env":"prod","team":"a\"b"}}`,
				"User-Agent":                       "Amazon Kinesis Data Firehose Agent/1.0",
				"Content-Length":                   fmt.Sprint(len(r.Raw)),
			}
			if gz {
				want["Content-Encoding"] = "gzip"
			} else if h.Get("Content-Encoding") != "" {
				t.Errorf("Content-Encoding %q without GZIP", h.Get("Content-Encoding"))
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !uuid4.MatchString(id) {
				t.Errorf("request id %q is not a v4 UUID", id)
			}
			if r.DecodeErr != nil {
				t.Fatalf("body: %v (%q)", r.DecodeErr, r.Body)
			}
			// the exact byte shape: requestId, integer ms timestamp, records of {"data"}
			m := regexp.MustCompile(`^\{"requestId":"([^"]+)","timestamp":(\d+),"records":\[\{"data":"b25lCg=="\},\{"data":""\},\{"data":"AP9iaW4="\}\]\}$`).FindSubmatch(r.Body)
			if m == nil {
				t.Fatalf("body %s", r.Body)
			}
			if string(m[1]) != id {
				t.Errorf("body requestId %s, header %s", m[1], id)
			}
			var ts int64
			fmt.Sscan(string(m[2]), &ts)
			if ts < before || ts > time.Now().UnixMilli() {
				t.Errorf("timestamp %d is not the send time in ms", ts)
			}
		})
	}
}

func TestHeadersAbsentWhenUnset(t *testing.T) {
	e := endpointtest.New(t)
	s := newSink(t, e, Config{})
	if res := s.Write(context.Background(), recs("x")); res.Err != nil {
		t.Fatal(res.Err)
	}
	h := e.Requests()[0].Header
	for _, k := range []string{"X-Amz-Firehose-Access-Key", "X-Amz-Firehose-Common-Attributes", "Content-Encoding"} {
		if _, ok := h[k]; ok {
			t.Errorf("%s sent though unset: %q", k, h.Get(k))
		}
	}
}

func TestSameRequestIDOnRetryNewIDPerPiece(t *testing.T) {
	e := endpointtest.New(t)
	s := newSink(t, e, Config{MaxRecords: 2})
	e.SetMode(endpointtest.ServerError)
	b := recs("a", "b", "c", "d", "e")
	res := s.Write(context.Background(), b)
	if len(res.Records) != 5 {
		t.Fatalf("Write = %+v", res)
	}
	e.SetMode(endpointtest.OK)
	if res := s.Write(context.Background(), b); res.Err != nil || res.Records != nil {
		t.Fatalf("retry: %+v", res)
	}
	rs := e.Requests()
	if len(rs) != 6 {
		t.Fatalf("%d requests, want 3 pieces twice", len(rs))
	}
	ids := map[string]int{}
	for i, r := range rs {
		id := r.Header.Get("X-Amz-Firehose-Request-Id")
		if id != r.Decoded.RequestID {
			t.Errorf("request %d: header id %s, body %s", i, id, r.Decoded.RequestID)
		}
		ids[id]++
		if n := len(r.Records); n != 2 && !(i%3 == 2 && n == 1) {
			t.Errorf("request %d carries %d records", i, n)
		}
	}
	if len(ids) != 3 {
		t.Errorf("ids %v: want 3 distinct ids (one per piece), each sent twice", ids)
	}
	for i := range 3 {
		if rs[i].Decoded.RequestID != rs[i+3].Decoded.RequestID {
			t.Errorf("piece %d retried with another id", i)
		}
	}
	// a retry of only the last piece's records forms the same request again
	e.SetMode(endpointtest.OK)
	s.Write(context.Background(), sinks.Batch{Records: b.Records[4:]})
	if got := e.Requests()[6].Decoded.RequestID; got != rs[2].Decoded.RequestID {
		t.Errorf("the last piece alone got id %s, first sent as %s", got, rs[2].Decoded.RequestID)
	}
}

func TestSplitAt10000RecordsAnd64MiB(t *testing.T) {
	s := New(Config{URL: "http://127.0.0.1:1/"})
	many := make([]record.Record, 25_001)
	for i := range many {
		many[i].Data = []byte("x")
	}
	ps := s.split(many)
	if len(ps) != 3 || ps[0].to != 10_000 || ps[1].to != 20_000 || ps[2].to != 25_001 {
		t.Fatalf("pieces %+v", ps)
	}
	// 1 MiB records: base64 makes 1,398,104 bytes each; 47 fit below 64 MiB with the overhead
	big := make([]record.Record, 100)
	for i := range big {
		big[i].Data = make([]byte, 1<<20)
	}
	ps = s.split(big)
	for _, p := range ps {
		body := AppendBody(nil, s.RequestID(big[p.from:p.to]), time.Now().UnixMilli(), big[p.from:p.to])
		if len(body) > MaxRequestBytes {
			t.Errorf("piece %d-%d: body %d bytes, over 64 MiB", p.from, p.to, len(body))
		}
		if p.to < len(big) {
			next := AppendBody(nil, s.RequestID(big[p.from:p.to+1]), time.Now().UnixMilli(), big[p.from:p.to+1])
			if len(next) <= MaxRequestBytes {
				t.Errorf("piece %d-%d could have held one more record (%d bytes)", p.from, p.to, len(next))
			}
		}
	}
	if len(ps) != 3 {
		t.Errorf("%d pieces for 100 MiB of records", len(ps))
	}
}

func TestSplitPiecesAreSent(t *testing.T) {
	e := endpointtest.New(t)
	s := newSink(t, e, Config{MaxRequestBytes: 200})
	var want []byte
	var data []string
	for i := range 20 {
		d := fmt.Sprintf("record-%02d|", i)
		data = append(data, d)
		want = append(want, d...)
	}
	if res := s.Write(context.Background(), recs(data...)); res.Err != nil || res.Records != nil {
		t.Fatalf("Write = %+v", res)
	}
	var got []byte
	for _, r := range e.Requests() {
		if len(r.Raw) > 200 {
			t.Errorf("body of %d bytes over the 200-byte limit", len(r.Raw))
		}
		got = append(got, bytes.Join(r.Records, nil)...)
	}
	if !bytes.Equal(got, want) || len(e.Requests()) < 3 {
		t.Errorf("%d requests delivered %q", len(e.Requests()), got)
	}
}

func TestStatusOutcomes(t *testing.T) {
	cases := []struct {
		mode    endpointtest.Mode
		backup  bool
		outcome sinks.Outcome
		code    string
		drop    string
		msg     string
	}{
		{endpointtest.OK, false, sinks.Delivered, "", "", ""},
		{endpointtest.WrongID, false, sinks.Errored, CodeInvalidResponse, "", "does not match"},
		{endpointtest.InvalidJSON, false, sinks.Errored, CodeInvalidResponse, "", "not a JSON object"},
		{endpointtest.ExtraMember, false, sinks.Errored, CodeInvalidResponse, "", `"extra"`},
		{endpointtest.EncodedReply, false, sinks.Errored, CodeInvalidResponse, "", "Content-Encoding"},
		{endpointtest.ServerError, false, sinks.Errored, CodeDestinationError, "", destinationMessageHead + `{"requestId":`},
		{endpointtest.Redirect, false, sinks.Errored, CodeDestinationError, "", destinationMessageHead},
		{endpointtest.TooLarge, false, sinks.Rejected, CodeDestinationError, DropReason413, destinationMessageHead + `{"errorMessage":"too large"}`},
		{endpointtest.TooLarge, true, sinks.Rejected, CodeDestinationError, "", destinationMessageHead + `{"errorMessage":"too large"}`},
		{endpointtest.Unavailable, false, sinks.Errored, CodeDestinationError, "", destinationMessageHead + "busy"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("mode%d-backup%v", c.mode, c.backup), func(t *testing.T) {
			e := endpointtest.New(t)
			s := newSink(t, e, Config{BackupOn413: c.backup})
			e.SetMode(c.mode)
			b := recs("a", "b")
			res := s.Write(context.Background(), b)
			if c.outcome == sinks.Delivered {
				if res.Err != nil || res.Records != nil {
					t.Fatalf("Write = %+v", res)
				}
				return
			}
			if res.Err == nil || res.Records != nil {
				t.Fatalf("Write = %+v; want the one request to fail whole", res)
			}
			for i := range b.Records {
				rr := sinks.RecordResult{Outcome: sinks.Classify(res.Err), Err: res.Err, Fields: Fields(b.Records[i])}
				if rr.Outcome != c.outcome {
					t.Errorf("record %d: %v, want %v (%v)", i, rr.Outcome, c.outcome, rr.Err)
				}
				if got := sinks.ErrorCode(rr.Err, ""); got != c.code {
					t.Errorf("code %q, want %q", got, c.code)
				}
				if got := sinks.DropReason(rr.Err); got != c.drop {
					t.Errorf("drop reason %q, want %q", got, c.drop)
				}
				if !strings.Contains(rr.Err.Error(), c.msg) {
					t.Errorf("message %q lacks %q", rr.Err.Error(), c.msg)
				}
				if c.code == CodeDestinationError && !strings.HasPrefix(rr.Err.Error(), destinationMessageHead) {
					t.Errorf("DestinationException message %q lacks the fixed prefix", rr.Err.Error())
				}
				want := []record.Field{{Key: "subsequenceNumber", Value: b.Records[i].SubSequence},
					{Key: "dataId", Value: b.Records[i].SequenceNumber + "." + fmt.Sprint(b.Records[i].SubSequence)}}
				if fmt.Sprint(rr.Fields) != fmt.Sprint(want) {
					t.Errorf("fields %v, want %v", rr.Fields, want)
				}
			}
			if c.mode == endpointtest.Unavailable {
				if d := sinks.WaitHint(res.Err); d != time.Second {
					t.Errorf("Retry-After: 1 gave a wait of %v", d)
				}
			}
			if c.mode == endpointtest.Redirect && len(e.Requests()) != 1 {
				t.Errorf("the redirect was followed: %d requests", len(e.Requests()))
			}
		})
	}
}

func TestTimeoutAndTransportCodes(t *testing.T) {
	e := endpointtest.New(t)
	e.SlowFor = 2 * time.Second
	s := newSink(t, e, Config{Timeout: 200 * time.Millisecond})
	e.SetMode(endpointtest.Slow)
	res := s.Write(context.Background(), recs("a"))
	if sinks.ErrorCode(res.Err, "") != CodeRequestTimeout || sinks.Classify(res.Err) != sinks.Errored {
		t.Fatalf("slow endpoint: %+v", res)
	}

	// a server that closes the connection without answering
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Close()
		}
	}()
	s2 := New(Config{URL: "http://" + ln.Addr().String() + "/"})
	if err := s2.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	res = s2.Write(context.Background(), recs("a"))
	if sinks.ErrorCode(res.Err, "") != CodeConnectionReset {
		t.Errorf("connection closed mid-request: %+v", res)
	}

	// nothing listens: Connect fails; a write after a Connect that worked is ConnectionFailed
	addr := ln.Addr().String()
	ln.Close()
	s3 := New(Config{URL: "http://" + addr + "/"})
	if err := s3.Connect(context.Background()); err == nil || !sinks.Held(err) {
		t.Errorf("Connect to a closed port = %v", err)
	}
	res = s2.Write(context.Background(), recs("a"))
	if sinks.ErrorCode(res.Err, "") != CodeConnectionFailed {
		t.Errorf("write to a closed port: %+v", res)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	e := endpointtest.New(t)
	srv := httptest.NewTLSServer(e)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New(Config{URL: srv.URL + "/", CAFile: ca})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res := s.Write(context.Background(), recs("over tls")); res.Err != nil || res.Records != nil {
		t.Fatalf("Write over TLS with the CA file: %+v", res)
	}
	if got := e.Requests(); len(got) != 1 || string(got[0].Records[0]) != "over tls" {
		t.Errorf("received %+v", got)
	}
}

func TestTLSFailure(t *testing.T) {
	e := endpointtest.New(t)
	tls := httptestTLS(t, e)
	s := New(Config{URL: tls + "/"})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := s.Write(context.Background(), recs("a"))
	if sinks.ErrorCode(res.Err, "") != CodeSSLHandshake {
		t.Errorf("self-signed certificate: %+v", res)
	}
}

func TestReplyTooLarge(t *testing.T) {
	srv := newHandlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(bytes.Repeat([]byte(" "), MaxReplyBytes+10))
	})
	s := New(Config{URL: srv})
	s.Connect(context.Background())
	res := s.Write(context.Background(), recs("a"))
	if sinks.ErrorCode(res.Err, "") != CodeResponseTooLarge {
		t.Errorf("reply over 1 MiB: %+v", res)
	}
}

func TestCheckReply(t *testing.T) {
	const id = "6f1f8a4e-3b5c-4e0f-9a4e-2b1c3d4e5f60"
	js := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		h    http.Header
		body string
		ok   bool
	}{
		{js, `{"requestId":"` + id + `","timestamp":1700000000000}`, true},
		{http.Header{"Content-Type": {"application/json; charset=utf-8"}}, `{"requestId":"` + id + `","timestamp":1.5}`, true},
		{js, `{"requestId":"` + id + `","timestamp":1,"errorMessage":"fine"}`, true},
		{js, `{"requestId":"` + id + `","timestamp":1,"errorMessage":"` + strings.Repeat("x", 8193) + `"}`, false},
		{js, `{"requestId":"` + id + `","timestamp":"1"}`, false},
		{js, `{"requestId":"` + id + `"}`, false},
		{js, `{"timestamp":1}`, false},
		{js, `{"RequestId":"` + id + `","timestamp":1}`, false},
		{js, `{"requestId":"other","timestamp":1}`, false},
		{js, `[]`, false},
		{js, `null`, false},
		{js, ``, false},
		{http.Header{"Content-Type": {"text/plain"}}, `{"requestId":"` + id + `","timestamp":1}`, false},
		{http.Header{}, `{"requestId":"` + id + `","timestamp":1}`, false},
		{http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"identity"}}, `{"requestId":"` + id + `","timestamp":1}`, false},
		{js, `{"requestId":"` + id + `","timestamp":1,"errorMessage":3}`, false},
	}
	for i, c := range cases {
		why := CheckReply(c.h, []byte(c.body), id)
		if (why == "") != c.ok {
			t.Errorf("case %d (%s): %q, want ok=%v", i, c.body[:min(len(c.body), 60)], why, c.ok)
		}
	}
}

func TestOnProcessedCountsRetries(t *testing.T) {
	e := endpointtest.New(t)
	var recsN, bytesN atomic.Int64
	s := newSink(t, e, Config{OnProcessed: func(r, b int) { recsN.Add(int64(r)); bytesN.Add(int64(b)) }})
	e.SetMode(endpointtest.ServerError)
	s.Write(context.Background(), recs("abc", "de"))
	e.SetMode(endpointtest.OK)
	s.Write(context.Background(), recs("abc", "de"))
	if recsN.Load() != 4 || bytesN.Load() != 10 {
		t.Errorf("processed %d records, %d bytes; want 4 and 10 (retries included)", recsN.Load(), bytesN.Load())
	}
}

func TestWriteBeforeConnect(t *testing.T) {
	s := New(Config{URL: "http://127.0.0.1:1/"})
	if err := s.Write(context.Background(), recs("a")).Err; !errors.Is(err, sinks.ErrNotConnected) {
		t.Errorf("Write before Connect = %v", err)
	}
}

// TestConformance runs the shared sink suite against the test endpoint.
func TestConformance(t *testing.T) {
	e := endpointtest.New(t)
	h := sinktest.Harness{
		New: func(t testing.TB) sinks.Sink {
			return New(Config{URL: e.URL + "/", SourceARN: testARN, GZIP: true, AccessKey: "k"})
		},
		Classify:  sinks.Classify,
		Delivered: func(testing.TB) [][]byte { return e.Delivered() },
		Break:     func(testing.TB) { e.SetMode(endpointtest.ServerError) },
		Fix:       func(testing.TB) { e.SetMode(endpointtest.OK) },
		Unreachable: func(t testing.TB) sinks.Sink {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return New(Config{URL: "http://" + addr + "/"})
		},
	}
	t.Run("Run", func(t *testing.T) { sinktest.Run(t, h) })
	t.Run("RunDelivery", func(t *testing.T) { sinktest.RunDelivery(t, h) })
}

// TestRequestBodyIsValidJSON: whatever the bytes, the body decodes to the records.
func TestRequestBodyIsValidJSON(t *testing.T) {
	var rs []record.Record
	for i := range 300 {
		d := make([]byte, i)
		for j := range d {
			d[j] = byte(i*31 + j)
		}
		rs = append(rs, record.Record{Data: d})
	}
	body := AppendBody(nil, "id", 5, rs)
	var got struct {
		RequestID string `json:"requestId"`
		Timestamp int64  `json:"timestamp"`
		Records   []struct {
			Data []byte `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for i, r := range got.Records {
		if !bytes.Equal(r.Data, rs[i].Data) {
			t.Fatalf("record %d differs", i)
		}
	}
}

// httptestTLS starts a TLS server with httptest's self-signed certificate (which the
// sink does not trust) in front of e.
func httptestTLS(t *testing.T, e *endpointtest.Endpoint) string {
	srv := httptest.NewTLSServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newHandlerServer(t *testing.T, f http.HandlerFunc) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Pieces that failed around one that went through are retried as the same requests (same
// ids), not merged into a new piece.
func TestFailedPiecesKeepTheirIDsWhenRetriedApart(t *testing.T) {
	e := endpointtest.New(t)
	// a piece holds two 10-byte records, or one 20-byte record alone: [a] [C] [d], where a
	// and d retried without C would fit in one request
	s := newSink(t, e, Config{MaxRequestBytes: bodyOverhead + 2*(recordOverhead+16)})
	b := recs("aaaaaaaaaa", strings.Repeat("C", 20), "dddddddddd")
	fail := true
	e.SetPicker(func(r *endpointtest.Request) endpointtest.Mode {
		if fail && len(r.Records) > 0 && r.Records[0][0] != 'C' {
			return endpointtest.ServerError
		}
		return endpointtest.OK
	})
	res := s.Write(context.Background(), b)
	if len(res.Records) != 3 || res.Records[1].Outcome != sinks.Delivered || res.Records[0].Outcome != sinks.Errored || res.Records[2].Outcome != sinks.Errored {
		t.Fatalf("first Write = %+v", res)
	}
	first := e.Requests()
	if len(first) != 3 {
		t.Fatalf("%d requests, want pieces [a] [C] [d]", len(first))
	}
	fail = false
	retry := sinks.Batch{Records: []record.Record{b.Records[0], b.Records[2]}}
	if res := s.Write(context.Background(), retry); res.Err != nil || res.Records != nil {
		t.Fatalf("retry = %+v", res)
	}
	again := e.Requests()[3:]
	if len(again) != 2 || again[0].Decoded.RequestID != first[0].Decoded.RequestID || again[1].Decoded.RequestID != first[2].Decoded.RequestID {
		var ids []string
		for _, r := range e.Requests() {
			ids = append(ids, fmt.Sprintf("%s(%d)", r.Decoded.RequestID[:8], len(r.Records)))
		}
		t.Errorf("requests %v: the retried pieces must be [a] and [d] with their first ids", ids)
	}
}

// FuzzCheckReply: the reply validator never panics, and what it accepts is a JSON object
// whose requestId is the request's and whose timestamp is a number.
func FuzzCheckReply(f *testing.F) {
	const id = "6f1f8a4e-3b5c-4e0f-9a4e-2b1c3d4e5f60"
	f.Add([]byte(`{"requestId":"`+id+`","timestamp":1700000000000}`), "application/json")
	f.Add([]byte(`{"requestId":"`+id+`","timestamp":1.5,"errorMessage":"x"}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"requestId":"`+id+`","timestamp":"1"}`), "application/json")
	f.Add([]byte(`[1,2]`), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		if CheckReply(http.Header{"Content-Type": {ct}}, body, id) != "" {
			return
		}
		var r struct {
			RequestID string      `json:"requestId"`
			Timestamp json.Number `json:"timestamp"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.RequestID != id || r.Timestamp == "" {
			t.Fatalf("accepted %q (%v)", body, err)
		}
	})
}
