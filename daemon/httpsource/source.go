// Package httpsource is Sluice's HTTP endpoint source: routes on the daemon's port that
// take Firehose HTTP endpoint deliveries (firehose.md §9) — from AWS Firehose, Vector's
// aws_kinesis_firehose sink, or another Sluice's http_endpoint destination — and append
// their records to a stream, so whatever reads that stream (Kinesis consumers, a
// KinesisStreamAsSource delivery stream) gets them.
//
// # Configuration
//
// Each entry of the config file's `http_endpoint_sources` section is one route:
//
//	http_endpoint_sources:
//	  - path: /firehose/orders   # the sender's URL is http(s)://<server.listen><path>
//	    stream: orders           # a stream of account/region (declared or API-created)
//	    access_keys: [s3cr3t]    # accepted X-Amz-Firehose-Access-Key values
//	    partition_key: record    # record (default) | request
//
// # What a request must be
//
// POST, Content-Type application/json, X-Amz-Firehose-Protocol-Version 1.0, an
// X-Amz-Firehose-Request-Id equal to the body's requestId, Content-Encoding absent or
// gzip (the whole body), one of the route's access keys in X-Amz-Firehose-Access-Key, and
// the body {"requestId","timestamp"(integer ms),"records":[{"data":"<base64>"}]} with at
// most 10,000 records and 64 MiB (uncompressed; the compressed body is bounded by the same
// limit, and memory is taken as bytes arrive, never from a header; gzipped requests are
// decompressed a few at a time per route, server.request_memory / 128 MiB of them, since
// what they expand to was not sent). An empty records array is answered 200 and appends
// nothing.
//
// # Replies
//
// Every reply is Firehose's shape, application/json: {"requestId","timestamp"} on success
// and {"requestId","timestamp","errorMessage"} otherwise.
//
//   - 200 once every record is durable in the stream (the same append path and group
//     commit as PutRecords).
//   - 401 without a valid access key (checked before the body is read).
//   - 400 for a request that is not as above (the errorMessage says what is wrong); 405
//     for a method other than POST.
//   - 413 for a body over 64 MiB (the sender drops it, as it would on AWS).
//   - 404 when the stream does not exist.
//   - 503 (with Retry-After) when the stream's write quotas stay exceeded (throttled records
//     are retried for up to a minute first), storage is full,
//     or request memory is exhausted: the sender retries, nothing is lost. Records
//     appended before the failure stay in the stream, so a retried request may append
//     them again (at-least-once, as with Firehose).
//
// Partition keys: with partition_key record, record i of a request gets
// `<requestId>-<i>` (records spread over the shards; a retry of the same request lands on
// the same shards); with request, every record gets the requestId (one shard, in order).
package httpsource

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// MaxBodyBytes bounds a request body, uncompressed and compressed (firehose.md §3).
const MaxBodyBytes = 64 << 20

// Request headers (firehose.md §9).
const (
	HeaderProtocolVersion = "X-Amz-Firehose-Protocol-Version"
	HeaderRequestID       = "X-Amz-Firehose-Request-Id"
	HeaderSourceARN       = "X-Amz-Firehose-Source-Arn"
	HeaderAccessKey       = "X-Amz-Firehose-Access-Key"
)

// Appender is the stream's append path (*streamcore.Engine): entries are durable when it
// returns without an error for them.
type Appender interface {
	PutRecords(ctx context.Context, key streamcore.StreamKey, entries []streamcore.PutEntry) ([]streamcore.PutResult, error)
}

// Route is one source: where it is mounted and which stream it appends to.
type Route struct {
	Path       string
	Stream     streamcore.StreamKey
	AccessKeys []string // any one is accepted; none = Anonymous
	Anonymous  bool
	// ByRequest gives every record of a request the requestId as partition key.
	ByRequest bool
}

// Options tune the handlers.
type Options struct {
	// Limits bound body reading (memory, slow senders); shared with the API endpoints.
	Limits *awsproto.Limits
	// MaxBodyBytes bounds a body (0: MaxBodyBytes). Tests lower it.
	MaxBodyBytes int64
	// ThrottleWait is how long throttled records are retried before the reply is 503
	// (default 60 s, well within a sender's 3-minute attempt: a request larger than what
	// the stream's write quota takes in that time can never be answered 200, so size the
	// stream's shards or quotas for the senders' requests).
	ThrottleWait time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Handler serves one route. It is safe for concurrent use.
type Handler struct {
	route Route
	eng   Appender
	opts  Options
	log   *slog.Logger
	met   *metrics
	// inflating bounds the gzipped requests decompressed at once: their output is memory
	// the sender did not send (up to 64 MiB each, and the decoded records besides), so it
	// is bounded by request memory rather than by the number of connections
	inflating chan struct{}
}

// New returns the handler of r, appending through eng.
func New(eng Appender, r Route, opts Options) *Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = MaxBodyBytes
	}
	if opts.ThrottleWait <= 0 {
		opts.ThrottleWait = 60 * time.Second
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	slots := 8
	if opts.Limits != nil && opts.Limits.Memory > 0 {
		slots = int(max(1, min(64, opts.Limits.Memory/(2*opts.MaxBodyBytes))))
	}
	return &Handler{route: r, eng: eng, opts: opts, met: metricsFor(opts.Registerer), inflating: make(chan struct{}, slots),
		log: lg.With("component", "http_endpoint_source", "path", r.Path, "stream", r.Stream.Name)}
}

// replyError is a request that is not answered 200.
type replyError struct {
	status int
	msg    string
	after  int // Retry-After seconds (0: none)
}

func fail(status int, format string, args ...any) *replyError {
	return &replyError{status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(HeaderRequestID)
	n, e := h.serve(r, w, &id)
	code := http.StatusOK
	if e != nil {
		code = e.status
		if e.status >= 500 {
			h.log.Warn("delivery refused; the sender retries", "status", e.status, "request_id", id, "err", e.msg)
		} else {
			h.log.Info("delivery refused", "status", e.status, "request_id", id, "err", e.msg,
				"source_arn", r.Header.Get(HeaderSourceARN))
		}
	}
	h.met.requests.WithLabelValues(h.route.Path, strconv.Itoa(code)).Inc()
	h.met.records.WithLabelValues(h.route.Path).Add(float64(n))
	reply(w, id, e)
}

// reply writes Firehose's reply shape.
func reply(w http.ResponseWriter, id string, e *replyError) {
	body := struct {
		RequestID    string `json:"requestId"`
		Timestamp    int64  `json:"timestamp"`
		ErrorMessage string `json:"errorMessage,omitempty"`
	}{RequestID: id, Timestamp: time.Now().UnixMilli()}
	status := http.StatusOK
	if e != nil {
		status = e.status
		body.ErrorMessage = e.msg
		if len(body.ErrorMessage) > 8192 {
			body.ErrorMessage = body.ErrorMessage[:8192]
		}
		if e.after > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.after))
		}
	}
	b, _ := json.Marshal(body) // strings and a number: cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// serve handles one request and returns how many records it appended, or why it fails;
// id is updated to the body's requestId once known.
func (h *Handler) serve(r *http.Request, w http.ResponseWriter, id *string) (int, *replyError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return 0, fail(http.StatusMethodNotAllowed, "Use POST.")
	}
	if !h.authorized(r.Header.Get(HeaderAccessKey)) {
		if r.Header.Get(HeaderAccessKey) == "" {
			return 0, fail(http.StatusUnauthorized, "The request has no X-Amz-Firehose-Access-Key.")
		}
		return 0, fail(http.StatusUnauthorized, "The X-Amz-Firehose-Access-Key is not valid for this endpoint.")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return 0, fail(http.StatusBadRequest, "Content-Type must be application/json (got %q).", r.Header.Get("Content-Type"))
	}
	if v := r.Header.Get(HeaderProtocolVersion); v != "1.0" {
		return 0, fail(http.StatusBadRequest, "%s must be 1.0 (got %q).", HeaderProtocolVersion, v)
	}
	if *id == "" {
		return 0, fail(http.StatusBadRequest, "The request has no %s.", HeaderRequestID)
	}
	gz := false
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "", "identity":
	case "gzip":
		gz = true
	default:
		return 0, fail(http.StatusBadRequest, "Content-Encoding %q is not supported (gzip or none).", ce)
	}
	limit := h.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return 0, fail(http.StatusRequestEntityTooLarge, "The body is %d bytes, over the %d-byte limit.", r.ContentLength, limit)
	}
	raw, release, status := h.opts.Limits.ReadBody(w, r, limit)
	switch status {
	case http.StatusOK:
		defer release()
	case http.StatusRequestEntityTooLarge:
		return 0, fail(status, "The body is over the %d-byte limit.", limit)
	case http.StatusServiceUnavailable:
		return 0, &replyError{status: status, msg: "Slow down: the server's request memory is full.", after: 1}
	case http.StatusRequestTimeout:
		w.Header().Set("Connection", "close")
		return 0, fail(status, "The body arrived too slowly.")
	default:
		return 0, fail(http.StatusBadRequest, "The body could not be read.")
	}
	body := raw
	if gz {
		select {
		case h.inflating <- struct{}{}:
			defer func() { <-h.inflating }()
		case <-r.Context().Done():
			return 0, fail(http.StatusServiceUnavailable, "The request was cancelled.")
		}
		dec, put, e := gunzip(raw, limit)
		if e != nil {
			return 0, e
		}
		defer put()
		body = dec
	}
	req, err := Parse(body)
	if err != nil {
		return 0, fail(http.StatusBadRequest, "The body is not a Firehose request: %v.", err)
	}
	if req.RequestID != *id {
		hid := *id
		*id = req.RequestID
		return 0, fail(http.StatusBadRequest, "The body's requestId %q is not the %s header's %q.", truncate([]byte(req.RequestID)), HeaderRequestID, truncate([]byte(hid)))
	}
	if len(req.Records) == 0 {
		return 0, nil
	}
	if e := h.append(r.Context(), req); e != nil {
		return 0, e
	}
	return len(req.Records), nil
}

// authorized reports whether key is one of the route's access keys (constant time per
// key), or the route is anonymous.
func (h *Handler) authorized(key string) bool {
	if h.route.Anonymous {
		return true
	}
	ok := 0
	for _, k := range h.route.AccessKeys {
		ok |= subtle.ConstantTimeCompare([]byte(k), []byte(key))
	}
	return ok == 1 && key != ""
}

var (
	gzPool  sync.Pool // *gzip.Reader
	bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// gunzip decompresses raw, at most limit bytes (413 beyond). The buffer grows with the
// bytes actually decompressed; put gives it back.
func gunzip(raw []byte, limit int64) ([]byte, func(), *replyError) {
	var zr *gzip.Reader
	var err error
	if v, ok := gzPool.Get().(*gzip.Reader); ok {
		zr = v
		err = zr.Reset(bytes.NewReader(raw))
	} else {
		zr, err = gzip.NewReader(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, nil, fail(http.StatusBadRequest, "The body is not gzip: %v.", err)
	}
	defer gzPool.Put(zr)
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	put := func() {
		if buf.Cap() <= MaxBodyBytes+(1<<20) { // bodies are reused whole (a cleared 64 MiB buffer per request costs more than the gunzip)
			bufPool.Put(buf)
		}
	}
	if _, err := buf.ReadFrom(io.LimitReader(zr, limit+1)); err != nil {
		put()
		return nil, nil, fail(http.StatusBadRequest, "The body is not valid gzip: %v.", err)
	}
	if int64(buf.Len()) > limit {
		put()
		return nil, nil, fail(http.StatusRequestEntityTooLarge, "The body is over %d bytes uncompressed.", limit)
	}
	return buf.Bytes(), put, nil
}

// Engine calls carry at most this many bytes (streamcore refuses PutRecords over 10 MiB).
const chunkBytes = 8 << 20

// append writes the records to the stream, retrying throttled ones for ThrottleWait.
func (h *Handler) append(ctx context.Context, req Request) *replyError {
	entries := make([]streamcore.PutEntry, len(req.Records))
	for i, d := range req.Records {
		pk := req.RequestID
		if !h.route.ByRequest {
			pk = req.RequestID + "-" + strconv.Itoa(i)
		}
		if len(pk) > 256 {
			pk = pk[len(pk)-256:]
		}
		entries[i] = streamcore.PutEntry{PartitionKey: pk, Data: d}
	}
	deadline := time.Now().Add(h.opts.ThrottleWait)
	for start := 0; start < len(entries); {
		end, size := start, 0
		for end < len(entries) && (end == start || size+len(entries[end].Data)+len(entries[end].PartitionKey) <= chunkBytes) {
			size += len(entries[end].Data) + len(entries[end].PartitionKey)
			end++
		}
		todo := entries[start:end]
		for wait := 20 * time.Millisecond; len(todo) > 0; wait = min(2*wait, 500*time.Millisecond) {
			res, err := h.eng.PutRecords(ctx, h.route.Stream, todo)
			if err != nil {
				return engineError(err)
			}
			var again []streamcore.PutEntry
			var last error
			for i, rr := range res {
				if rr.Err != nil {
					again, last = append(again, todo[i]), rr.Err
				}
			}
			if len(again) == 0 {
				break
			}
			if !errors.Is(last, streamcore.ErrThroughputExceeded) || time.Now().After(deadline) {
				e := engineError(last)
				if errors.Is(last, streamcore.ErrThroughputExceeded) {
					e = &replyError{status: http.StatusServiceUnavailable, msg: "Slow down: the stream's write quota is exceeded.", after: 1}
				}
				return e
			}
			select {
			case <-ctx.Done():
				return fail(http.StatusServiceUnavailable, "The request was cancelled.")
			case <-time.After(wait):
			}
			todo = again
		}
		start = end
	}
	return nil
}

// engineError maps an append failure onto a reply.
func engineError(err error) *replyError {
	var se *streamcore.Error
	msg := err.Error()
	if errors.As(err, &se) {
		msg = se.Msg
	}
	switch {
	case errors.Is(err, streamcore.ErrNotFound):
		return fail(http.StatusNotFound, "%s", msg)
	case errors.Is(err, streamcore.ErrThroughputExceeded):
		return &replyError{status: http.StatusServiceUnavailable, msg: "Slow down: " + msg, after: 1}
	case errors.Is(err, streamcore.ErrValidation), errors.Is(err, streamcore.ErrInvalidArgument):
		return fail(http.StatusBadRequest, "%s", msg)
	case errors.Is(err, streamcore.ErrInUse):
		return &replyError{status: http.StatusServiceUnavailable, msg: msg, after: 1}
	}
	// storage faults (a full disk among them): the sender retries later
	return &replyError{status: http.StatusServiceUnavailable, msg: "The stream could not take the records now; retry.", after: 5}
}

// metrics of the sources (prefix sluice_http_source_).
type metrics struct {
	requests *prometheus.CounterVec
	records  *prometheus.CounterVec
}

var (
	metMu   sync.Mutex
	metRegs = map[prometheus.Registerer]*metrics{}
)

// metricsFor returns the metrics registered with reg (one set per registry; nil: not
// exported).
func metricsFor(reg prometheus.Registerer) *metrics {
	metMu.Lock()
	defer metMu.Unlock()
	if m, ok := metRegs[reg]; ok && reg != nil {
		return m
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_http_source_requests_total",
			Help: "Firehose HTTP endpoint deliveries received, by route and reply status."}, []string{"path", "code"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_http_source_records_total",
			Help: "Records appended to streams by HTTP endpoint sources."}, []string{"path"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.records} {
			_ = reg.Register(c) // a second daemon in one process keeps counting on its own copy
		}
		metRegs[reg] = m
	}
	return m
}
