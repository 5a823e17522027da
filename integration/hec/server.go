// Package hec is an HTTP Event Collector server written from Splunk's documented HEC
// protocol, for testing Sluice's Splunk destination where no real Splunk can run. It is a
// normal package (not a _test file) so that unit tests, integration tests and benchmarks
// can all start one.
//
// What it implements, as the documentation describes it:
//
//   - Tokens: `Authorization: Splunk <token>`; tokens are added, disabled, enabled and
//     revoked at runtime; each token has indexer acknowledgement on or off.
//   - Channels: `X-Splunk-Request-Channel: <GUID>` (or `?channel=`), required when the
//     token has acknowledgement on.
//   - `POST /services/collector/event` (also `/services/collector` and
//     `/services/collector/event/1.0`): a body of concatenated JSON event objects; `event`
//     is required and may not be blank; `time` (epoch seconds, number or numeric string),
//     `host`, `source`, `sourcetype`, `index` (must be one of the server's indexes when it
//     names some) and `fields` (indexed fields: strings, numbers or arrays of them).
//   - `POST /services/collector/raw`: the body split into events at line breaks; `host`,
//     `source`, `sourcetype`, `index` from the query string.
//   - Acknowledgement: a successful post on an acknowledging token answers `ackId`, one
//     counter per channel; `POST /services/collector/ack` with `{"acks":[ids]}` answers
//     `{"acks":{"<id>":true|false}}`; a true answer is given once. Acks can be delayed
//     (SetAckDelay) or lost (LoseAcks: the events are indexed but the ack never turns
//     true, as when an indexer restarts before answering).
//   - `GET /services/collector/health`: 200 code 17, or 503 code 18 while busy.
//   - Errors: `{"text":…,"code":…}` with the documented HTTP statuses (see the code*
//     constants); "busy" (503 code 9) for a period (SetBusy).
//
// A request is indexed whole or not at all (a bad event refuses the whole post, naming it
// in `invalid-event-number`). What was indexed is kept for the accessors (Events,
// Counts), or only counted with Options.Discard (benchmarks).
package hec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HEC status codes (the `code` of a reply) and their HTTP statuses.
const (
	CodeSuccess          = 0  // 200 Success
	CodeTokenDisabled    = 1  // 403 Token disabled
	CodeTokenRequired    = 2  // 401 Token is required
	CodeInvalidAuth      = 3  // 401 Invalid authorization
	CodeInvalidToken     = 4  // 403 Invalid token
	CodeNoData           = 5  // 400 No data
	CodeInvalidFormat    = 6  // 400 Invalid data format
	CodeIncorrectIndex   = 7  // 400 Incorrect index
	CodeInternalError    = 8  // 500 Internal server error
	CodeBusy             = 9  // 503 Server is busy
	CodeChannelMissing   = 10 // 400 Data channel is missing
	CodeInvalidChannel   = 11 // 400 Invalid data channel
	CodeEventRequired    = 12 // 400 Event field is required
	CodeEventBlank       = 13 // 400 Event field cannot be blank
	CodeAckDisabled      = 14 // 400 ACK is disabled
	CodeIndexedFields    = 15 // 400 Error in handling indexed fields
	CodeQueryStringAuth  = 16 // 400 Query string authorization is not enabled
	CodeHealthy          = 17 // 200 HEC is healthy
	CodeUnhealthyQueues  = 18 // 503 HEC is unhealthy, queues are full
	CodeUnhealthyAckFull = 19 // 503 HEC is unhealthy, ack service unavailable
	CodeUnhealthyQueues2 = 20 // 503 HEC is unhealthy, queues are full (event limit)
	CodeInvalidTokenBody = 21 // 400 Invalid token
	CodeTokenDisabled2   = 22 // 400 Token disabled
)

// replies are the documented texts and HTTP statuses of the codes the server answers.
var replies = map[int]struct {
	status int
	text   string
}{
	CodeSuccess:          {200, "Success"},
	CodeTokenDisabled:    {403, "Token disabled"},
	CodeTokenRequired:    {401, "Token is required"},
	CodeInvalidAuth:      {401, "Invalid authorization"},
	CodeInvalidToken:     {403, "Invalid token"},
	CodeNoData:           {400, "No data"},
	CodeInvalidFormat:    {400, "Invalid data format"},
	CodeIncorrectIndex:   {400, "Incorrect index"},
	CodeInternalError:    {500, "Internal server error"},
	CodeBusy:             {503, "Server is busy"},
	CodeChannelMissing:   {400, "Data channel is missing"},
	CodeInvalidChannel:   {400, "Invalid data channel"},
	CodeEventRequired:    {400, "Event field is required"},
	CodeEventBlank:       {400, "Event field cannot be blank"},
	CodeAckDisabled:      {400, "ACK is disabled"},
	CodeIndexedFields:    {400, "Error in handling indexed fields"},
	CodeQueryStringAuth:  {400, "Query string authorization is not enabled"},
	CodeHealthy:          {200, "HEC is healthy"},
	CodeUnhealthyQueues:  {503, "HEC is unhealthy, queues are full"},
	CodeUnhealthyAckFull: {503, "HEC is unhealthy, ack service unavailable"},
	CodeUnhealthyQueues2: {503, "HEC is unhealthy, queues are full"},
	CodeInvalidTokenBody: {400, "Invalid token"},
	CodeTokenDisabled2:   {400, "Token disabled"},
}

// Reply is the JSON body of every answer but the ack query's.
type Reply struct {
	Text               string `json:"text"`
	Code               int    `json:"code"`
	AckID              *int64 `json:"ackId,omitempty"`
	InvalidEventNumber *int   `json:"invalid-event-number,omitempty"`
}

// Event is one indexed event.
type Event struct {
	Endpoint   string // "event" or "raw"
	Channel    string
	Time       string // as sent ("" when absent)
	Host       string
	Source     string
	Sourcetype string
	Index      string
	Fields     map[string]json.RawMessage
	// Event is the `event` member as sent (JSON); for raw posts, the line as a JSON string.
	Event json.RawMessage
	// Raw is the line of a raw post (nil for event posts).
	Raw   []byte
	Post  int   // the post that carried it (1-based, in arrival order)
	AckID int64 // -1 without acknowledgement
}

// Options tune a Server.
type Options struct {
	// Indexes, when set, are the only index names events may name (others: code 7).
	Indexes []string
	// MaxContentLength bounds a request body (0: 800 MiB, Splunk's default
	// max_content_length); bigger bodies are refused with 413 unread.
	MaxContentLength int64
	// Discard counts events without keeping them (benchmarks).
	Discard bool
}

type token struct {
	enabled bool
	ack     bool
}

type ackState struct {
	ready time.Time
	lost  bool
}

type channel struct {
	next int64
	acks map[int64]*ackState
}

// Server is a running HEC server on a loopback port. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:port), HECEndpoint for a client.
	URL string

	opts Options
	srv  *httptest.Server

	mu        sync.Mutex
	tokens    map[string]*token
	channels  map[string]*channel
	busyUntil time.Time
	ackDelay  time.Duration
	loseAcks  int
	fail      []int // codes the next requests to event/raw answer, in order
	events    []Event
	bodies    [][]byte
	posts     int
	nEvents   int64
	nBytes    int64
	lostIDs   int
	acksTrue  int
	ackPolls  int
	ackIDsAsk int
}

// NewServer starts a server on a loopback port. Close stops it.
func NewServer(opts Options) *Server {
	if opts.MaxContentLength <= 0 {
		opts.MaxContentLength = 800 << 20
	}
	s := &Server{opts: opts, tokens: map[string]*token{}, channels: map[string]*channel{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/services/collector", s.handleEvent)
	mux.HandleFunc("/services/collector/event", s.handleEvent)
	mux.HandleFunc("/services/collector/event/1.0", s.handleEvent)
	mux.HandleFunc("/services/collector/raw", s.handleRaw)
	mux.HandleFunc("/services/collector/raw/1.0", s.handleRaw)
	mux.HandleFunc("/services/collector/ack", s.handleAck)
	mux.HandleFunc("/services/collector/health", s.handleHealth)
	mux.HandleFunc("/services/collector/health/1.0", s.handleHealth)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddToken adds (or replaces) an enabled token; ack turns indexer acknowledgement on.
func (s *Server) AddToken(value string, ack bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[value] = &token{enabled: true, ack: ack}
}

// DisableToken disables a token (posts answer 403 code 1) until EnableToken.
func (s *Server) DisableToken(value string) { s.setEnabled(value, false) }

// EnableToken enables a disabled token again.
func (s *Server) EnableToken(value string) { s.setEnabled(value, true) }

func (s *Server) setEnabled(value string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[value]; ok {
		t.enabled = on
	}
}

// RevokeToken deletes a token: posts with it answer 403 code 4 (Invalid token).
func (s *Server) RevokeToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, value)
}

// SetBusy makes every post and ack query answer 503 code 9 (and the health endpoint 503
// code 18) for d from now (0 ends it).
func (s *Server) SetBusy(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busyUntil = time.Now().Add(d)
}

// SetAckDelay makes acks of later posts turn true d after the post was indexed.
func (s *Server) SetAckDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackDelay = d
}

// LoseAcks makes the acks of the next n successful posts never turn true (their events
// are indexed all the same).
func (s *Server) LoseAcks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseAcks = n
}

// FailNext makes the next event or raw posts answer the given codes, one each, whatever
// their content (after authentication).
func (s *Server) FailNext(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, codes...)
}

// Events returns a copy of the events indexed so far, in indexing order (nil with
// Options.Discard).
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Bodies returns the bodies of the posts indexed so far, in order (nil with
// Options.Discard).
func (s *Server) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

// Counts returns how many times each event was indexed, by its `event` member as sent
// (raw posts: by line).
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, e := range s.events {
		if e.Raw != nil {
			out[string(e.Raw)]++
		} else {
			out[string(e.Event)]++
		}
	}
	return out
}

// Stats are the server's counters.
type Stats struct {
	Posts      int   // posts indexed
	Events     int64 // events indexed
	Bytes      int64 // body bytes of the posts indexed
	LostAcks   int   // ack ids that will never turn true
	AcksTrue   int   // ack ids answered true
	AckQueries int   // ack queries answered
	AckIDsAsk  int   // ack ids asked about, over all queries
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Posts: s.posts, Events: s.nEvents, Bytes: s.nBytes, LostAcks: s.lostIDs, AcksTrue: s.acksTrue,
		AckQueries: s.ackPolls, AckIDsAsk: s.ackIDsAsk}
}

// answer writes a reply of code (its documented status and text).
func answer(w http.ResponseWriter, code int, mod func(*Reply)) {
	r := replies[code]
	rep := Reply{Text: r.text, Code: code}
	if mod != nil {
		mod(&rep)
	}
	b, _ := json.Marshal(rep) // plain data
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(r.status)
	_, _ = w.Write(b)
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// admit authenticates a post or ack query and checks its channel. It returns the token's
// state and the channel ("" when none is needed and none was given), or 0 after answering.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (ack bool, ch string, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false, "", false
	}
	if r.URL.Query().Has("token") {
		answer(w, CodeQueryStringAuth, nil)
		return false, "", false
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		answer(w, CodeTokenRequired, nil)
		return false, "", false
	}
	scheme, value, found := strings.Cut(auth, " ")
	if !found || scheme != "Splunk" || value == "" {
		answer(w, CodeInvalidAuth, nil)
		return false, "", false
	}
	s.mu.Lock()
	t, known := s.tokens[value]
	var tk token
	if known {
		tk = *t
	}
	busy := time.Now().Before(s.busyUntil)
	s.mu.Unlock()
	switch {
	case !known:
		answer(w, CodeInvalidToken, nil)
		return false, "", false
	case !tk.enabled:
		answer(w, CodeTokenDisabled, nil)
		return false, "", false
	case busy:
		answer(w, CodeBusy, nil)
		return false, "", false
	}
	ch = r.Header.Get("X-Splunk-Request-Channel")
	if ch == "" {
		ch = r.URL.Query().Get("channel")
	}
	switch {
	case ch == "" && tk.ack:
		answer(w, CodeChannelMissing, nil)
		return false, "", false
	case ch != "" && !guidRE.MatchString(ch):
		answer(w, CodeInvalidChannel, nil)
		return false, "", false
	}
	return tk.ack, ch, true
}

// body reads a request body of at most MaxContentLength bytes (false after answering
// 413).
func (s *Server) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > s.opts.MaxContentLength {
		http.Error(w, fmt.Sprintf("Content-Length of %d too large (maximum is %d)", r.ContentLength, s.opts.MaxContentLength), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1) // one allocation for the announced body
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, s.opts.MaxContentLength+1))
	b := buf.Bytes()
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	if int64(len(b)) > s.opts.MaxContentLength {
		http.Error(w, fmt.Sprintf("the body is over the maximum of %d bytes", s.opts.MaxContentLength), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return b, true
}

// injected answers a code queued by FailNext, if any.
func (s *Server) injected(w http.ResponseWriter) bool {
	s.mu.Lock()
	if len(s.fail) == 0 {
		s.mu.Unlock()
		return false
	}
	code := s.fail[0]
	s.fail = s.fail[1:]
	s.mu.Unlock()
	answer(w, code, nil)
	return true
}

func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) {
	ack, ch, ok := s.admit(w, r)
	if !ok || s.injected(w) {
		return
	}
	b, ok := s.body(w, r)
	if !ok {
		return
	}
	evs, code, bad := ParseEvents(b, s.opts.Indexes)
	if code != CodeSuccess {
		answer(w, code, func(rep *Reply) {
			if bad >= 0 {
				rep.InvalidEventNumber = &bad
			}
		})
		return
	}
	s.index(w, evs, ch, ack, b)
}

// indexedValue reports whether v may be the value of an indexed field: a string, number
// or boolean, or an array of them (not an object, not nested arrays).
func indexedValue(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] == '{' {
		return false
	}
	if v[0] != '[' {
		return true
	}
	var arr []json.RawMessage
	if json.Unmarshal(v, &arr) != nil {
		return false
	}
	for _, x := range arr {
		x = bytes.TrimSpace(x)
		if len(x) == 0 || x[0] == '{' || x[0] == '[' {
			return false
		}
	}
	return true
}

func (s *Server) handleRaw(w http.ResponseWriter, r *http.Request) {
	ack, ch, ok := s.admit(w, r)
	if !ok || s.injected(w) {
		return
	}
	b, ok := s.body(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	index := q.Get("index")
	if index != "" && len(s.opts.Indexes) > 0 && !contains(s.opts.Indexes, index) {
		answer(w, CodeIncorrectIndex, nil)
		return
	}
	var evs []Event
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		js, _ := json.Marshal(string(line))
		evs = append(evs, Event{Endpoint: "raw", Host: q.Get("host"), Source: q.Get("source"), Sourcetype: q.Get("sourcetype"),
			Index: index, Event: js, Raw: append([]byte(nil), line...), AckID: -1})
	}
	if len(evs) == 0 {
		answer(w, CodeNoData, nil)
		return
	}
	s.index(w, evs, ch, ack, b)
}

// index stores the events of one post and answers it (with an ack id when ack is on).
func (s *Server) index(w http.ResponseWriter, evs []Event, ch string, ack bool, body []byte) {
	size := len(body)
	s.mu.Lock()
	s.posts++
	post := s.posts
	id := int64(-1)
	if ack {
		c := s.channels[ch]
		if c == nil {
			c = &channel{acks: map[int64]*ackState{}}
			s.channels[ch] = c
		}
		id = c.next
		c.next++
		st := &ackState{ready: time.Now().Add(s.ackDelay)}
		if s.loseAcks > 0 {
			s.loseAcks--
			s.lostIDs++
			st.lost = true
		}
		c.acks[id] = st
	}
	s.nEvents += int64(len(evs))
	s.nBytes += int64(size)
	if !s.opts.Discard {
		for i := range evs {
			evs[i].Channel, evs[i].Post, evs[i].AckID = ch, post, id
		}
		s.events = append(s.events, evs...)
		s.bodies = append(s.bodies, body)
	}
	s.mu.Unlock()
	answer(w, CodeSuccess, func(rep *Reply) {
		if ack {
			rep.AckID = &id
		}
	})
}

func (s *Server) handleAck(w http.ResponseWriter, r *http.Request) {
	ack, ch, ok := s.admit(w, r)
	if !ok {
		return
	}
	if !ack {
		answer(w, CodeAckDisabled, nil)
		return
	}
	b, ok := s.body(w, r)
	if !ok {
		return
	}
	var q struct {
		Acks []int64 `json:"acks"`
	}
	if json.Unmarshal(b, &q) != nil || q.Acks == nil {
		answer(w, CodeInvalidFormat, nil)
		return
	}
	now := time.Now()
	out := make(map[string]bool, len(q.Acks))
	s.mu.Lock()
	s.ackPolls++
	s.ackIDsAsk += len(q.Acks)
	c := s.channels[ch]
	for _, id := range q.Acks {
		done := false
		if c != nil {
			if st, ok := c.acks[id]; ok && !st.lost && !now.Before(st.ready) {
				done = true
				delete(c.acks, id) // answered true once
				s.acksTrue++
			}
		}
		out[strconv.FormatInt(id, 10)] = done
	}
	s.mu.Unlock()
	b, _ = json.Marshal(map[string]any{"acks": out})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	busy := time.Now().Before(s.busyUntil)
	s.mu.Unlock()
	if busy {
		answer(w, CodeUnhealthyQueues, nil)
		return
	}
	answer(w, CodeHealthy, nil)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
