// Package endpointtest is an HTTP endpoint for tests of the HTTP endpoint destination: it
// records every request it gets (headers, the body as sent and decoded) and answers each
// one as its current Mode says — a valid 200, a 200 with a wrong requestId or invalid
// JSON, a 413, a 500, a redirect, a reply slower than the sender's timeout. It checks
// nothing itself; tests assert on what it recorded.
package endpointtest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Mode is how the endpoint answers.
type Mode int

// Modes.
const (
	OK           Mode = iota // 200 {"requestId":<id>,"timestamp":<ms>}
	WrongID                  // 200 with another requestId
	InvalidJSON              // 200 with a body that is not JSON
	TooLarge                 // 413
	ServerError              // 500 with a body
	Redirect                 // 307 to another path
	Slow                     // waits SlowFor, then 200
	ExtraMember              // 200 with an unexpected member
	EncodedReply             // 200 valid but with Content-Encoding: gzip
	Unavailable              // 503 with Retry-After: 1
)

// Request is one request as received.
type Request struct {
	Method, Path string
	Header       http.Header
	Raw          []byte // the body as sent
	// Body is the body decompressed (when Content-Encoding is gzip), Decoded its JSON.
	Body    []byte
	Decoded struct {
		RequestID string `json:"requestId"`
		Timestamp any    `json:"timestamp"`
		Records   []struct {
			Data string `json:"data"`
		} `json:"records"`
	}
	Records   [][]byte // the records' data, base64-decoded
	DecodeErr error
	Answered  Mode
	At        time.Time
}

// Endpoint is the test server.
type Endpoint struct {
	*httptest.Server
	// SlowFor is how long Slow waits (default 2 s).
	SlowFor time.Duration

	mu   sync.Mutex
	mode Mode
	// per request, in order
	reqs []*Request
	// next, when set, picks the mode of each request (overrides mode)
	next func(r *Request) Mode
}

// New starts an endpoint on loopback; it is closed when the test ends.
func New(t interface{ Cleanup(func()) }) *Endpoint {
	e := &Endpoint{SlowFor: 2 * time.Second}
	e.Server = httptest.NewServer(e)
	t.Cleanup(e.Server.Close)
	return e
}

// SetMode sets how the following requests are answered.
func (e *Endpoint) SetMode(m Mode) {
	e.mu.Lock()
	e.mode, e.next = m, nil
	e.mu.Unlock()
}

// SetPicker makes pick choose the answer of each request.
func (e *Endpoint) SetPicker(pick func(r *Request) Mode) {
	e.mu.Lock()
	e.next = pick
	e.mu.Unlock()
}

// Requests returns the requests received so far.
func (e *Endpoint) Requests() []*Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Request(nil), e.reqs...)
}

// Delivered returns the records of the requests answered OK (a valid 200 that a sender
// takes as delivered), one slice per request, records concatenated.
func (e *Endpoint) Delivered() [][]byte {
	var out [][]byte
	for _, r := range e.Requests() {
		if r.Answered == OK {
			out = append(out, bytes.Join(r.Records, nil))
		}
	}
	return out
}

// ServeHTTP implements http.Handler.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	raw, _ := io.ReadAll(hr.Body)
	r := &Request{Method: hr.Method, Path: hr.URL.Path, Header: hr.Header.Clone(), Raw: raw, Body: raw, At: time.Now()}
	if hr.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			r.Body, err = io.ReadAll(zr)
		}
		r.DecodeErr = err
	}
	if r.DecodeErr == nil {
		r.DecodeErr = json.Unmarshal(r.Body, &r.Decoded)
	}
	for _, rec := range r.Decoded.Records {
		d, err := base64.StdEncoding.DecodeString(rec.Data)
		if err != nil && r.DecodeErr == nil {
			r.DecodeErr = err
		}
		r.Records = append(r.Records, d)
	}
	e.mu.Lock()
	mode := e.mode
	if e.next != nil {
		mode = e.next(r)
	}
	r.Answered = mode
	e.reqs = append(e.reqs, r)
	slow := e.SlowFor
	e.mu.Unlock()

	id := r.Decoded.RequestID
	now := time.Now().UnixMilli()
	reply := func(status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	good := fmt.Sprintf(`{"requestId":%q,"timestamp":%d}`, id, now)
	switch mode {
	case OK:
		reply(200, good)
	case WrongID:
		reply(200, fmt.Sprintf(`{"requestId":"00000000-0000-4000-8000-000000000000","timestamp":%d}`, now))
	case InvalidJSON:
		reply(200, `{"requestId":`)
	case TooLarge:
		reply(413, `{"errorMessage":"too large"}`)
	case ServerError:
		reply(500, fmt.Sprintf(`{"requestId":%q,"timestamp":%d,"errorMessage":"boom"}`, id, now))
	case Redirect:
		w.Header().Set("Location", "/elsewhere")
		reply(307, "")
	case Slow:
		select {
		case <-time.After(slow):
		case <-hr.Context().Done():
			return
		}
		reply(200, good)
	case ExtraMember:
		reply(200, fmt.Sprintf(`{"requestId":%q,"timestamp":%d,"extra":1}`, id, now))
	case EncodedReply:
		w.Header().Set("Content-Encoding", "gzip")
		reply(200, good)
	case Unavailable:
		w.Header().Set("Retry-After", "1")
		reply(503, `busy`)
	}
}
