package opensearch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// fakeCluster answers _bulk requests: status picks each item's status from its source.
type fakeCluster struct {
	t      *testing.T
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	// whole, when not 0, is the status of every _bulk request
	whole  int
	status func(src string) int
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		fmt.Fprint(w, `{"version":{"number":"2.19.6"}}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, body)
	whole := f.whole
	f.mu.Unlock()
	if whole != 0 {
		w.WriteHeader(whole)
		fmt.Fprint(w, `{"error":{"type":"x","reason":"whole"},"status":`+fmt.Sprint(whole)+`}`)
		return
	}
	if r.URL.Path != "/_bulk" || r.Header.Get("Content-Type") != "application/x-ndjson" {
		f.t.Errorf("request %s %s (%s)", r.Method, r.URL, r.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines)%2 != 0 || !strings.HasSuffix(string(body), "\n") {
		f.t.Errorf("body is not action/source pairs: %q", body)
	}
	var items []string
	for i := 0; i+1 < len(lines); i += 2 {
		var a struct {
			Index struct {
				ID string `json:"_id"`
			} `json:"index"`
		}
		_ = json.Unmarshal([]byte(lines[i]), &a)
		st := 201
		if f.status != nil {
			st = f.status(lines[i+1])
		}
		if st/100 == 2 {
			items = append(items, fmt.Sprintf(`{"index":{"_id":%q,"status":%d}}`, a.Index.ID, st))
		} else {
			items = append(items, fmt.Sprintf(`{"index":{"_id":%q,"status":%d,"error":{"type":"t%d","reason":"r"}}}`, a.Index.ID, st, st))
		}
	}
	fmt.Fprintf(w, `{"took":1,"errors":true,"items":[%s]}`, strings.Join(items, ","))
}

func newFake(t *testing.T, cfg Config) (*fakeCluster, *Sink) {
	f := &fakeCluster{t: t}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.Endpoint = srv.URL
	if cfg.Index == "" {
		cfg.Index = "idx"
	}
	s := New(cfg)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f, s
}

func batchOf(data ...string) sinks.Batch {
	var b sinks.Batch
	at := time.Date(2016, 2, 25, 13, 0, 0, 0, time.UTC).UnixMilli()
	for i, d := range data {
		b.Records = append(b.Records, record.Record{Data: []byte(d), ArrivalMs: at, SequenceNumber: fmt.Sprintf("4900%d", i), SubSequence: i % 2})
	}
	return b
}

func TestWriteBulkBody(t *testing.T) {
	f, s := newFake(t, Config{Rotation: OneHour, DocumentIDs: true, TypeName: "_doc", Pipeline: "p 1"})
	res := s.Write(context.Background(), batchOf(`{"a":1}`+"\n", "{\n  \"b\": [1,\n 2]\n}\r\n\t ", `{"c":"x y"}`))
	if res.Err != nil || res.Records != nil {
		t.Fatalf("Write = %+v", res)
	}
	want := `{"index":{"_index":"idx-2016-02-25-13","_id":"49000.0","_type":"_doc"}}` + "\n" + `{"a":1}` + "\n" +
		`{"index":{"_index":"idx-2016-02-25-13","_id":"49001.1","_type":"_doc"}}` + "\n" + `{"b":[1,2]}` + "\n" +
		`{"index":{"_index":"idx-2016-02-25-13","_id":"49002.0","_type":"_doc"}}` + "\n" + `{"c":"x y"}` + "\n"
	if len(f.bodies) != 1 || string(f.bodies[0]) != want {
		t.Fatalf("bodies %q\nwant %q", f.bodies, want)
	}
	if q := f.reqs[0].URL.Query().Get("pipeline"); q != "p 1" {
		t.Errorf("pipeline = %q", q)
	}
}

func TestWriteNoDocumentID(t *testing.T) {
	f, s := newFake(t, Config{Rotation: NoRotation})
	if res := s.Write(context.Background(), batchOf(`{"a":1}`)); res.Err != nil {
		t.Fatal(res.Err)
	}
	if want := `{"index":{"_index":"idx"}}` + "\n" + `{"a":1}` + "\n"; string(f.bodies[0]) != want {
		t.Fatalf("body %q, want %q", f.bodies[0], want)
	}
}

func TestWriteItemOutcomes(t *testing.T) {
	f, s := newFake(t, Config{Rotation: OneDay, DocumentIDs: true})
	f.status = func(src string) int {
		var d struct{ S int }
		_ = json.Unmarshal([]byte(src), &d)
		return d.S
	}
	res := s.Write(context.Background(), batchOf(`{"s":201}`, `{"s":200}`, `{"s":400}`, `{"s":409}`, `{"s":429}`, `{"s":503}`,
		"{\n\"s\": 201,\n", `   `))
	want := []sinks.Outcome{sinks.Delivered, sinks.Delivered, sinks.Rejected, sinks.Rejected, sinks.Errored, sinks.Errored, sinks.Rejected, sinks.Rejected}
	if len(res.Records) != len(want) {
		t.Fatalf("Write = %+v", res)
	}
	for i, w := range want {
		if got := res.Records[i].Outcome; got != w {
			t.Errorf("record %d: %v (%v), want %v", i, got, res.Records[i].Err, w)
		}
	}
	if n := bytes.Count(f.bodies[0], []byte("\n")); n != 12 {
		t.Errorf("%d lines sent; the two invalid documents must not be", n)
	}
	r := res.Records[2]
	if code := sinks.ErrorCode(r.Err, ""); code != "400" {
		t.Errorf("errorCode %q, want 400", code)
	}
	if msg := r.Err.Error(); msg != `{"type":"t400","reason":"r"}` {
		t.Errorf("errorMessage %q, want the item's error as JSON", msg)
	}
	fields := map[string]any{}
	for _, fl := range r.Fields {
		fields[fl.Key] = fl.Value
	}
	if fields["esDocumentId"] != "49002.0" || fields["esIndexName"] != "idx-2016-02-25" || fields["esTypeName"] != "" {
		t.Errorf("fields %v", fields)
	}
	bad := res.Records[6].Err
	if sinks.ErrorCode(bad, "") != "400" || !json.Valid([]byte(bad.Error())) || !strings.Contains(bad.Error(), "not valid JSON") {
		t.Errorf("invalid document: %v", bad)
	}
	if sinks.ErrorCode(res.Records[4].Err, "") != "429" {
		t.Errorf("429 code %q", sinks.ErrorCode(res.Records[4].Err, ""))
	}
}

func TestWriteAllErroredFailsWhole(t *testing.T) {
	f, s := newFake(t, Config{})
	f.status = func(string) int { return 503 }
	res := s.Write(context.Background(), batchOf(`{}`, `{}`))
	if res.Records != nil || sinks.Classify(res.Err) != sinks.Errored {
		t.Fatalf("Write = %+v; want the batch failed whole, retryable", res)
	}
}

func TestWriteWholeRequestFailures(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
		held   bool
	}{{503, CodeServerError, true}, {502, CodeServerError, true}, {500, CodeServerError, false},
		{429, CodeTooManyRequests, false}, {403, CodeAccessDenied, false}, {401, CodeAccessDenied, false}, {400, CodeRequestFailed, false}} {
		f, s := newFake(t, Config{})
		f.whole = c.status
		res := s.Write(context.Background(), batchOf(`{}`, `{}`))
		if res.Records != nil || res.Err == nil {
			t.Fatalf("%d: Write = %+v", c.status, res)
		}
		if sinks.Classify(res.Err) != sinks.Errored || sinks.ErrorCode(res.Err, "") != c.code || sinks.Held(res.Err) != c.held {
			t.Errorf("%d: %v: outcome %v code %s held %v", c.status, res.Err, sinks.Classify(res.Err), sinks.ErrorCode(res.Err, ""), sinks.Held(res.Err))
		}
	}
}

func TestWriteSplitsRequests(t *testing.T) {
	f, s := newFake(t, Config{MaxRequestBytes: 100, Rotation: NoRotation})
	var data []string
	for i := range 10 {
		data = append(data, fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", 20)))
	}
	data = append(data, `{"big":"`+strings.Repeat("y", 200)+`"}`)
	res := s.Write(context.Background(), batchOf(data...))
	if len(res.Records) != 11 || res.Records[10].Outcome != sinks.Rejected || sinks.ErrorCode(res.Records[10].Err, "") != "413" {
		t.Fatalf("Write = %+v", res)
	}
	n := 0
	for _, b := range f.bodies {
		if len(b) > 100 {
			t.Errorf("request of %d bytes", len(b))
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			n++
		}
	}
	if n != 20 || len(f.bodies) < 5 {
		t.Errorf("%d lines in %d requests", n, len(f.bodies))
	}
}

func TestWriteHalvesOn413(t *testing.T) {
	f := &fakeCluster{t: t}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_bulk" && r.ContentLength > 150 {
			w.WriteHeader(413)
			return
		}
		f.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := New(Config{Endpoint: srv.URL, Index: "i", Rotation: NoRotation})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := s.Write(context.Background(), batchOf(`{"a":"0123456789"}`, `{"a":"0123456789"}`, `{"a":"0123456789"}`, `{"a":"0123456789"}`,
		`{"a":"`+strings.Repeat("z", 200)+`"}`))
	if len(res.Records) != 5 || res.Records[4].Outcome != sinks.Rejected || res.Records[0].Outcome != sinks.Delivered || res.Records[3].Outcome != sinks.Delivered {
		t.Fatalf("Write = %+v", res)
	}
}

func TestWriteBeforeConnectAndUnreachable(t *testing.T) {
	s := New(Config{Endpoint: "http://127.0.0.1:1", Index: "i"})
	if err := s.Write(context.Background(), batchOf(`{}`)).Err; !errors.Is(err, sinks.ErrNotConnected) {
		t.Fatalf("Write before Connect = %v", err)
	}
	err := s.Connect(context.Background())
	if err == nil || !sinks.Held(err) {
		t.Fatalf("Connect to nothing = %v; want Unavailable", err)
	}
}

func TestSingleLine(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1}`:                 `{"a":1}`,
		"{\"a\":1}\n":             `{"a":1}`,
		"{\"a\" : 1}  \t\r\n":     `{"a" : 1}`,
		"{\n \"a\": \"x y\"\n}\n": `{"a":"x y"}`,
		"[1,\n2]":                 `[1,2]`,
		"not json":                `not json`, // one line: the cluster judges it
		"{\"a\":1}\n{\"b\":2}\n":  "",
		"{\n\"a\"\n":              "",
		" \n\t":                   "",
	} {
		got, err := singleLine([]byte(in))
		if want == "" {
			if err == nil {
				t.Errorf("singleLine(%q) = %q; want an error", in, got)
			}
			continue
		}
		if err != nil || string(got) != want {
			t.Errorf("singleLine(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCheckAndCredentials(t *testing.T) {
	var user, pass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		user, pass = u, p
		if p != "right" {
			w.WriteHeader(401)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	a := &API{ClusterEndpoint: srv.URL, IndexName: "i", S3Configuration: nil}
	a.S3Configuration = decodeS3(t)
	a.SluiceUsername, a.SluicePassword = "firehose", "wrong"
	err := a.Check(context.Background(), sinks.S3Conn{})
	if sinks.ErrorCode(err, "") != CodeAccessDenied || user != "firehose" || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v (user %q)", err, user)
	}
	a.SluicePassword = "right"
	if err := a.Check(context.Background(), sinks.S3Conn{}); err != nil || pass != "right" {
		t.Errorf("right password: %v", err)
	}
	var _ sinks.Checker = a
}
