package splunk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/hec"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// Every HEC code of firehose.md §8's table, and the statuses without a code, map to their
// Splunk.* errorCode and the outcome the destination gives them.
func TestClassifyEveryCode(t *testing.T) {
	type want struct {
		code    string
		outcome sinks.Outcome
		alert   bool
	}
	rejected := func(c string) want { return want{c, sinks.Rejected, false} }
	errored := func(c string) want { return want{c, sinks.Errored, false} }
	token := func(c string) want { return want{c, sinks.Rejected, true} }
	cases := []struct {
		status, code int // code -1: none in the body
		want         want
	}{
		{403, 1, token(CodeDisabledToken)},
		{400, 22, token(CodeDisabledToken)},
		{401, 2, token(CodeInvalidToken)},
		{401, 3, token(CodeInvalidToken)},
		{403, 4, token(CodeInvalidToken)},
		{400, 21, token(CodeInvalidToken)},
		{400, 16, token(CodeInvalidToken)},
		{400, 5, rejected(CodeInvalidDataFormat)},
		{400, 6, rejected(CodeInvalidDataFormat)},
		{400, 12, rejected(CodeInvalidDataFormat)},
		{400, 13, rejected(CodeInvalidDataFormat)},
		{400, 15, rejected(CodeInvalidDataFormat)},
		{400, 7, rejected(CodeInvalidIndex)},
		{500, 8, errored(CodeServerError)},
		{503, 9, errored(CodeServerError)},
		{503, 18, errored(CodeServerError)},
		{503, 19, errored(CodeServerError)},
		{503, 20, errored(CodeServerError)},
		{400, 10, errored(CodeProxySticky)},
		{400, 11, errored(CodeProxySticky)},
		{400, 14, rejected(CodeDisabledAck)},
		{502, -1, errored(CodeServerError)},
		{504, -1, errored(CodeServerError)},
		{429, -1, errored(CodeServerError)},
		{404, -1, rejected(CodeInvalidDataFormat)},
		{413, -1, rejected(CodeInvalidDataFormat)},
		{302, -1, errored(CodeServerError)},
	}
	for _, c := range cases {
		body := []byte("<html>proxy</html>")
		rep := hecReply{}
		if c.code >= 0 {
			body = fmt.Appendf(nil, `{"text":"t","code":%d}`, c.code)
			rep, _ = parseReply(body)
		}
		err := classify(&http.Response{StatusCode: c.status, Header: http.Header{}}, rep, body)
		got := want{sinks.ErrorCode(err, ""), sinks.Classify(err), sinks.Alerting(err)}
		if got != c.want {
			t.Errorf("HTTP %d code %d: %+v, want %+v", c.status, c.code, got, c.want)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", c.status)) {
			t.Errorf("HTTP %d code %d: message %q does not quote the answer", c.status, c.code, err)
		}
	}
}

// A busy HEC with Retry-After asks the runner for that pause.
func TestBusyRetryAfter(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "7")
	rep, _ := parseReply([]byte(`{"text":"Server is busy","code":9}`))
	err := classify(&http.Response{StatusCode: 503, Header: h}, rep, nil)
	if got := sinks.WaitHint(err); got != 7*time.Second {
		t.Fatalf("WaitHint = %v, want 7s", got)
	}
}

func newTestSink(t *testing.T, srv *hec.Server, cfg Config) *Sink {
	t.Helper()
	cfg.Endpoint = srv.URL
	if cfg.Type == "" {
		cfg.Type = Event
	}
	if cfg.AckPoll == 0 {
		cfg.AckPoll = 20 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s := New(cfg)
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// final waits for a Write's final Result.
func final(res sinks.Result) sinks.Result {
	if res.Pending != nil {
		return <-res.Pending
	}
	return res
}

// A batch over 5 MiB is split into posts of at most 5 MiB at record boundaries, each
// with its own ack; HEC holds every record once, in order.
func TestSplitsPostsAt5MiB(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("tok", true)
	s := newTestSink(t, srv, Config{Token: "tok"})
	var data []string
	for i := range 12000 { // ≈ 12 MiB of 1 KiB events
		data = append(data, fmt.Sprintf(`{"event":{"i":%d,"pad":"%s"}}`, i, strings.Repeat("x", 1000)))
	}
	if res := final(s.Write(context.Background(), batchOf(data...))); res.Err != nil || res.Records != nil {
		t.Fatalf("Write = %+v", res)
	}
	bodies := srv.Bodies()
	if len(bodies) != 3 {
		t.Fatalf("%d posts, want 3", len(bodies))
	}
	var all []byte
	for i, b := range bodies {
		if len(b) > MaxPostBytes {
			t.Errorf("post %d is %d bytes, over %d", i, len(b), MaxPostBytes)
		}
		if i < len(bodies)-1 && len(b)+len(data[0]) <= MaxPostBytes {
			t.Errorf("post %d is %d bytes: another record would have fitted", i, len(b))
		}
		all = append(all, b...)
	}
	if string(all) != strings.Join(data, "") {
		t.Fatal("the posts do not hold the records byte for byte, in order")
	}
	if st := srv.Stats(); st.Events != 12000 || st.AcksTrue != 3 {
		t.Fatalf("stats %+v, want 12000 events and 3 acks", st)
	}
}

// The acks of several posts are asked for in one query per poll (batched per channel).
func TestAckQueriesAreBatched(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("tok", true)
	s := newTestSink(t, srv, Config{Token: "tok", Type: Raw, AckPoll: 300 * time.Millisecond, MaxPostBytes: 10})
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			// 4 posts per write (one record each)
			res := final(s.Write(context.Background(), batchOf(fmt.Sprintf("w%d-a-xxxx\n", i), "bbbbbbbbb\n", "ccccccccc\n", "ddddddddd\n")))
			if res.Err != nil || res.Records != nil {
				t.Errorf("write %d: %+v", i, res)
			}
		})
	}
	wg.Wait()
	st := srv.Stats()
	if st.Posts != 20 || st.AcksTrue != 20 {
		t.Fatalf("stats %+v, want 20 posts acknowledged", st)
	}
	if st.AckQueries > 3 {
		t.Errorf("%d ack queries for 20 posts within one or two polls; want them batched", st.AckQueries)
	}
}

// A post HEC accepted but never acknowledges ends Errored with Splunk.AckTimeout and
// Firehose's message once the ack timeout passed.
func TestLostAckTimesOut(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("tok", true)
	srv.LoseAcks(1)
	s := newTestSink(t, srv, Config{Token: "tok", AckTimeout: 150 * time.Millisecond})
	res := final(s.Write(context.Background(), batchOf(`{"event":"a"}`)))
	if res.Err == nil || sinks.ErrorCode(res.Err, "") != CodeAckTimeout || sinks.Classify(res.Err) != sinks.Errored {
		t.Fatalf("Write = %+v, want Splunk.AckTimeout (retried)", res)
	}
	if res.Err.Error() != AckTimeoutMessage {
		t.Errorf("message %q, want §8's", res.Err)
	}
	// sent again, it is acknowledged
	if res := final(s.Write(context.Background(), batchOf(`{"event":"a"}`))); res.Err != nil {
		t.Fatalf("resend: %v", res.Err)
	}
	if c := srv.Counts()[`"a"`]; c != 2 {
		t.Errorf("event indexed %d times, want 2 (the lost ack's and the resend's)", c)
	}
}

// A revoked token: the records are Rejected with Splunk.InvalidToken, their failure
// fields carry EventId, the sink logs an error that never contains the token.
func TestRevokedTokenGivesUpLoudly(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	const tok = "secret-token-1234"
	srv.AddToken(tok, true)
	var logs bytes.Buffer
	var mu sync.Mutex
	lg := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	s := newTestSink(t, srv, Config{Token: tok, Logger: lg, Stream: "revoked"})
	srv.RevokeToken(tok)
	res := final(s.Write(context.Background(), batchOf(`{"event":"a"}`, `{"event":"b"}`)))
	if len(res.Records) != 2 {
		t.Fatalf("Write = %+v, want one outcome per record", res)
	}
	for i, rr := range res.Records {
		if rr.Outcome != sinks.Rejected || sinks.ErrorCode(rr.Err, "") != CodeInvalidToken || !sinks.Alerting(rr.Err) {
			t.Errorf("record %d: %+v", i, rr)
		}
		want := fmt.Sprintf("4900%d.%d", i, i%2)
		if len(rr.Fields) != 1 || rr.Fields[0].Key != "EventId" || rr.Fields[0].Value != want {
			t.Errorf("record %d fields %+v, want EventId %s", i, rr.Fields, want)
		}
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, CodeInvalidToken) {
		t.Errorf("log %q lacks an error naming %s", out, CodeInvalidToken)
	}
	if strings.Contains(out, tok) {
		t.Error("the log contains the token")
	}
	// the failure record as the runner writes it
	fr := record.NewFailureRecord(batchOf(`{"event":"a"}`).Records[0], 1, sinks.ErrorCode(res.Records[0].Err, ""), res.Records[0].Err.Error(), 1)
	fr.Extra = res.Records[0].Fields
	b, _ := json.Marshal(fr)
	if !bytes.Contains(b, []byte(`"errorCode":"Splunk.InvalidToken"`)) || !bytes.HasSuffix(b, []byte(`,"EventId":"49000.0"}`)) {
		t.Errorf("failure record %s", b)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// A 200 without ackId is Splunk.DisabledAck, unless require_ack is off.
func TestNoAckID(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("noack", false)
	s := newTestSink(t, srv, Config{Token: "noack"})
	res := final(s.Write(context.Background(), batchOf(`{"event":"a"}`)))
	if len(res.Records) != 1 || sinks.ErrorCode(res.Records[0].Err, "") != CodeDisabledAck || res.Records[0].Outcome != sinks.Rejected {
		t.Fatalf("Write = %+v, want Splunk.DisabledAck", res)
	}
	s2 := newTestSink(t, srv, Config{Token: "noack", AcceptNoAck: true})
	if res := s2.Write(context.Background(), batchOf(`{"event":"a"}`)); res.Err != nil || res.Records != nil || res.Pending != nil {
		t.Fatalf("with require_ack off: %+v, want delivered at once", res)
	}
}

// Requests carry `Authorization: Splunk <token>`, one channel per sink (connection pool),
// and go to the collector paths.
func TestHeadersAndPaths(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("tok", true)
	rec := &recordingTransport{rt: http.DefaultTransport, f: func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[r.URL.Path] = append(seen[r.URL.Path], r.Header.Get("Authorization")+" "+r.Header.Get("X-Splunk-Request-Channel"))
	}}
	s := newTestSink(t, srv, Config{Token: "tok", Type: Raw, Transport: rec})
	if res := final(s.Write(context.Background(), batchOf("x\n"))); res.Err != nil {
		t.Fatal(res.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range []string{"/services/collector/health", "/services/collector/raw", "/services/collector/ack"} {
		if len(seen[p]) == 0 {
			t.Errorf("no request to %s (saw %v)", p, seen)
		}
	}
	want := "Splunk tok " + s.channel
	for _, p := range []string{"/services/collector/raw", "/services/collector/ack"} {
		for _, h := range seen[p] {
			if h != want {
				t.Errorf("%s: headers %q, want %q", p, h, want)
			}
		}
	}
	if s2 := New(Config{Endpoint: srv.URL}); s2.channel == s.channel {
		t.Error("two sinks share a channel")
	}
}

type recordingTransport struct {
	rt http.RoundTripper
	f  func(*http.Request)
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.f(req)
	return r.rt.RoundTrip(req)
}

func TestCollectorURLs(t *testing.T) {
	cases := []struct{ endpoint, typ, post, ack string }{
		{"https://hec.example:8088", Event, "https://hec.example:8088/services/collector/event", "https://hec.example:8088/services/collector/ack"},
		{"https://hec.example:8088/", Raw, "https://hec.example:8088/services/collector/raw", "https://hec.example:8088/services/collector/ack"},
		{"https://lb.example/splunk", Event, "https://lb.example/splunk/services/collector/event", "https://lb.example/splunk/services/collector/ack"},
		{"https://hec.example/services/collector", Event, "https://hec.example/services/collector", "https://hec.example/services/collector/ack"},
		{"https://hec.example/services/collector/raw/1.0", Raw, "https://hec.example/services/collector/raw/1.0", "https://hec.example/services/collector/ack"},
	}
	for _, c := range cases {
		post, ack, _ := collectorURLs(c.endpoint, c.typ, nil)
		if post != c.post || ack != c.ack {
			t.Errorf("%s (%s): %s, %s; want %s, %s", c.endpoint, c.typ, post, ack, c.post, c.ack)
		}
	}
	post, _, _ := collectorURLs("https://hec.example", Raw, &Wrap{Host: "web 1", Index: "main"})
	if post != "https://hec.example/services/collector/raw?host=web+1&index=main" {
		t.Errorf("raw with metadata: %s", post)
	}
}

// The opt-in wrap turns records that are not HEC events into events with the arrival
// time and the configured metadata; HEC event objects go as they are.
func TestWrap(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("tok", true)
	s := newTestSink(t, srv, Config{Token: "tok", Wrap: &Wrap{Host: "web-1", Source: "firehose", Sourcetype: "_json", Index: "main"}})
	res := final(s.Write(context.Background(), batchOf(`{"msg":"json"}`+"\n", "plain text line\n", `{"event":"already","host":"h"}`)))
	if res.Err != nil || res.Records != nil {
		t.Fatalf("Write = %+v", res)
	}
	want := `{"time":1783951509.123,"event":{"msg":"json"},"host":"web-1","source":"firehose","sourcetype":"_json","index":"main"}` +
		`{"time":1783951509.123,"event":"plain text line","host":"web-1","source":"firehose","sourcetype":"_json","index":"main"}` +
		`{"event":"already","host":"h"}`
	if b := srv.Bodies(); len(b) != 1 || string(b[0]) != want {
		t.Fatalf("body %q\nwant %q", b, want)
	}
	evs := srv.Events()
	if len(evs) != 3 || evs[1].Time != "1783951509.123" || evs[1].Index != "main" || evs[2].Host != "h" {
		t.Fatalf("events %+v", evs)
	}
}

// A server that cannot be reached: Connect fails as Unavailable with a transport code.
func TestConnectUnreachable(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	url := srv.URL
	srv.Close()
	err := New(Config{Endpoint: url, Token: "t"}).Connect(context.Background())
	if err == nil || !sinks.Held(err) || sinks.ErrorCode(err, "") != CodeInvalidEndpoint {
		t.Fatalf("Connect = %v, want Unavailable Splunk.InvalidEndpoint", err)
	}
}

// Closing the sink ends the writes awaiting acknowledgement as Errored (sent again).
func TestCloseEndsPendingWrites(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("tok", true)
	srv.SetAckDelay(time.Hour)
	s := newTestSink(t, srv, Config{Token: "tok"})
	res := s.Write(context.Background(), batchOf(`{"event":"a"}`))
	if res.Pending == nil {
		t.Fatal("not pending")
	}
	_ = s.Close(context.Background())
	select {
	case f := <-res.Pending:
		if f.Err == nil || sinks.Classify(f.Err) != sinks.Errored {
			t.Fatalf("final = %+v, want Errored", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pending write never ended after Close")
	}
	if !errors.Is(New(Config{}).Write(context.Background(), sinks.Batch{}).Err, sinks.ErrNotConnected) {
		t.Error("Write before Connect is not ErrNotConnected")
	}
}
