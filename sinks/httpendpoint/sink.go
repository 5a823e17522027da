package httpendpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	asmb64 "github.com/segmentio/asm/base64"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// Per-request limits (firehose.md §3, §9).
const (
	// MaxRecords is the most records one request carries.
	MaxRecords = 10_000
	// MaxRequestBytes bounds one request body, uncompressed.
	MaxRequestBytes = 64 << 20
	// MaxReplyBytes bounds the endpoint's reply.
	MaxReplyBytes = 1 << 20
	// MaxErrorMessage bounds a reply's errorMessage.
	MaxErrorMessage = 8192
	// maxQuoted bounds how much of a failed reply's body the failure records quote.
	maxQuoted = 8192
)

// Error codes (errorCode of the failure records, firehose.md §9).
const (
	CodeRequestTimeout     = "HttpEndpoint.RequestTimeout"
	CodeResponseTooLarge   = "HttpEndpoint.ResponseTooLarge"
	CodeInvalidResponse    = "HttpEndpoint.InvalidResponseFromDestination"
	CodeDestinationError   = "HttpEndpoint.DestinationException"
	CodeConnectionFailed   = "HttpEndpoint.ConnectionFailed"
	CodeConnectionReset    = "HttpEndpoint.ConnectionReset"
	CodeSSLHandshake       = "HttpEndpoint.SSLHandshakeFailure"
	destinationMessageHead = "Received the following response from the endpoint destination. "
	// DropReason413 is the dropped_records_total reason of records answered 413.
	DropReason413 = "http_413"
)

// Request headers (firehose.md §9).
const (
	HeaderProtocolVersion  = "X-Amz-Firehose-Protocol-Version"
	HeaderRequestID        = "X-Amz-Firehose-Request-Id"
	HeaderSourceARN        = "X-Amz-Firehose-Source-Arn"
	HeaderAccessKey        = "X-Amz-Firehose-Access-Key"
	HeaderCommonAttributes = "X-Amz-Firehose-Common-Attributes"
	ProtocolVersion        = "1.0"
	UserAgent              = "Amazon Kinesis Data Firehose Agent/1.0"
)

// gzipLevel trades ratio for speed: the endpoint's bandwidth is rarely what limits a
// delivery, the sender's CPU often is.
const gzipLevel = gzip.BestSpeed

// Config is what a Sink needs.
type Config struct {
	URL        string    // posted to verbatim
	AccessKey  s3.Secret // X-Amz-Firehose-Access-Key ("" = header absent)
	SourceARN  string    // X-Amz-Firehose-Source-Arn: the delivery stream's ARN
	GZIP       bool      // ContentEncoding GZIP: the whole body gzipped
	Attributes []CommonAttribute
	// BackupOn413 sends the records of a request answered 413 to the error output
	// instead of dropping them.
	BackupOn413 bool
	// Timeout bounds one attempt (0: DefaultTimeout).
	Timeout time.Duration
	// MaxRecords and MaxRequestBytes bound a request (0: the package's limits).
	MaxRecords, MaxRequestBytes int
	// CAFile is a PEM bundle of the CAs an https endpoint's certificate may chain to
	// (instead of the system's).
	CAFile    string
	Transport http.RoundTripper // nil: a clone of http.DefaultTransport
	Logger    *slog.Logger
	// OnProcessed is told the records and payload bytes of every request sent.
	OnProcessed func(records, bytes int)
}

// Sink posts batches to an HTTP endpoint. It is safe for concurrent use.
type Sink struct {
	cfg        Config
	log        *slog.Logger
	attrHeader string
	seeds      [2]maphash.Seed // request ids of pieces

	mu     sync.Mutex
	client *http.Client

	pmu    sync.Mutex
	failed map[pieceKey]int // first record of a piece that failed → its records
}

// New returns the sink of cfg. It does no I/O.
func New(cfg Config) *Sink {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRecords <= 0 || cfg.MaxRecords > MaxRecords {
		cfg.MaxRecords = MaxRecords
	}
	if cfg.MaxRequestBytes <= 0 || cfg.MaxRequestBytes > MaxRequestBytes {
		cfg.MaxRequestBytes = MaxRequestBytes
	}
	s := &Sink{cfg: cfg, log: lg.With("component", "http_endpoint", "url", logURL(cfg.URL)),
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	if len(cfg.Attributes) > 0 {
		m := make(map[string]string, len(cfg.Attributes))
		for _, a := range cfg.Attributes {
			m[a.AttributeName] = a.AttributeValue
		}
		b, _ := json.Marshal(map[string]any{"commonAttributes": m}) // strings: cannot fail
		s.attrHeader = string(b)
	}
	return s
}

// logURL is the URL as logs show it: without the query (endpoints may take a key there).
func logURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// Connect builds the client and checks that the endpoint's host accepts TCP connections
// (no request is sent: an endpoint sees only deliveries). A refused dial is retried by the
// runner; records wait in the source meanwhile.
func (s *Sink) Connect(ctx context.Context) error {
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return sinks.Permanent(CodeConnectionFailed, fmt.Errorf("parsing the URL: %w", err))
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", host)
	if err != nil {
		return sinks.Unavailable(CodeConnectionFailed, err)
	}
	conn.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		tr := s.cfg.Transport
		if tr == nil {
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.DisableCompression = true // a reply with Content-Encoding is invalid: see it as sent
			t.MaxIdleConnsPerHost = 16
			t.ResponseHeaderTimeout = 0 // the attempt's context bounds it
			if s.cfg.CAFile != "" {
				pem, err := os.ReadFile(s.cfg.CAFile)
				if err != nil {
					return sinks.Retryable(CodeSSLHandshake, fmt.Errorf("reading the CA file: %w", err))
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return sinks.Permanent(CodeSSLHandshake, fmt.Errorf("the CA file %s holds no PEM certificate", s.cfg.CAFile))
				}
				t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			tr = t
		}
		s.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // 3xx are answers, never followed (§9)
		}}
	}
	return nil
}

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.CloseIdleConnections()
		s.client = nil
	}
	return nil
}

// Probe implements sinks.Prober: the endpoint's host accepts connections again.
func (s *Sink) Probe(ctx context.Context) error { return s.Connect(ctx) }

func (s *Sink) conn() (*http.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, sinks.NotConnected(CodeConnectionFailed, nil)
	}
	return s.client, nil
}

// Write posts the batch as one request per piece (≤ MaxRecords records and
// MaxRequestBytes of body each), one after the other, and answers for each piece: the
// records of a piece the endpoint took (200 with a valid reply) are Delivered; those of a
// piece answered 413 are dropped (sinks.Dropped) or, with BackupOn413, Rejected; all others
// are Errored. When every piece failed the batch fails whole (the runner adds Fields to
// the failure records); otherwise the answer is record by record, failed records carrying
// Fields.
func (s *Sink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	c, err := s.conn()
	if err != nil {
		return sinks.Failed(err)
	}
	pieces := s.split(b.Records)
	errs := make([]error, len(pieces))
	failed := 0
	for i, p := range pieces {
		errs[i] = p.err
		if errs[i] == nil {
			errs[i] = s.send(ctx, c, b.Records[p.from:p.to])
			s.remember(b.Records[p.from:p.to], errs[i])
		}
		if errs[i] != nil {
			failed++
		}
	}
	switch {
	case failed == 0:
		return sinks.Done()
	case failed == len(pieces) && len(pieces) == 1:
		return sinks.Failed(errs[0])
	}
	res := make([]sinks.RecordResult, len(b.Records))
	for k, p := range pieces {
		if errs[k] == nil {
			continue
		}
		o := sinks.Classify(errs[k])
		for i := p.from; i < p.to; i++ {
			res[i] = sinks.RecordResult{Outcome: o, Err: errs[k], Fields: Fields(b.Records[i])}
		}
	}
	return sinks.Result{Records: res}
}

// Fields are the HTTP endpoint's members of a failure record (§9): subsequenceNumber and
// dataId (`<sequence>.<subsequence>`).
func Fields(r record.Record) []record.Field {
	return []record.Field{{Key: "subsequenceNumber", Value: r.SubSequence},
		{Key: "dataId", Value: r.SequenceNumber + "." + strconv.Itoa(r.SubSequence)}}
}

// piece is a run of records sent as one request.
type piece struct {
	from, to int
	err      error // set: the piece is not sent (a record too large for any request)
}

// Size of a request body around its records: {"requestId":"<36>","timestamp":<13>,"records":[…]}
// (a timestamp may grow to 19 digits), and around each record: {"data":""} and a comma.
const (
	bodyOverhead   = len(`{"requestId":"","timestamp":,"records":[]}`) + 36 + 19
	recordOverhead = len(`{"data":""},`)
)

// split cuts records into pieces of at most MaxRecords records and MaxRequestBytes of
// body, greedily, except that a run of records that formed a piece which failed (retried
// records come back without the pieces between them) forms that same piece again: its
// request then carries the same request id.
func (s *Sink) split(recs []record.Record) []piece {
	var out []piece
	start, size, end := 0, bodyOverhead, -1 // end ≥ 0: the current piece is a failed one again
	for i, r := range recs {
		n := recordOverhead + base64.StdEncoding.EncodedLen(len(r.Data))
		if bodyOverhead+n > s.cfg.MaxRequestBytes {
			if i > start {
				out = append(out, piece{from: start, to: i})
			}
			out = append(out, piece{from: i, to: i + 1, err: sinks.Permanent(CodeDestinationError,
				fmt.Errorf("the record is %d bytes: no request of at most %d bytes can hold it", len(r.Data), s.cfg.MaxRequestBytes))})
			start, size, end = i+1, bodyOverhead, -1
			continue
		}
		if i > start && (i == end || end < 0 && (i-start >= s.cfg.MaxRecords || size+n > s.cfg.MaxRequestBytes)) {
			out = append(out, piece{from: start, to: i})
			start, size, end = i, bodyOverhead, -1
		}
		if i == start {
			if k, ok := s.failedPiece(recs[i]); ok && i+k <= len(recs) {
				end = i + k
			}
		}
		size += n
	}
	if start < len(recs) {
		out = append(out, piece{from: start, to: len(recs)})
	}
	return out
}

// pieceKey names a piece by its first record.
type pieceKey struct {
	seq     string
	sub     int
	arrival int64
}

func keyOf(r record.Record) pieceKey {
	return pieceKey{seq: r.SequenceNumber, sub: r.SubSequence, arrival: r.ArrivalMs}
}

// maxFailedPieces bounds the memory of failed pieces (forgotten all at once beyond it: a
// retry then may form other pieces, with new ids).
const maxFailedPieces = 4096

// failedPiece returns the length of the failed piece that started with r, if one did.
func (s *Sink) failedPiece(r record.Record) (int, bool) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	n, ok := s.failed[keyOf(r)]
	return n, ok
}

// remember records the outcome of a piece: a retried failure is kept, anything else
// forgotten.
func (s *Sink) remember(recs []record.Record, err error) {
	if len(recs) == 0 || recs[0].SequenceNumber == "" {
		return
	}
	k := keyOf(recs[0])
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if err == nil || sinks.Classify(err) != sinks.Errored {
		delete(s.failed, k)
		return
	}
	if s.failed == nil || len(s.failed) >= maxFailedPieces {
		s.failed = map[pieceKey]int{}
	}
	s.failed[k] = len(recs)
}

// RequestID is the X-Amz-Firehose-Request-Id of a request carrying recs: a version-4
// UUID derived from the delivery stream and the records (sequence numbers, arrival times,
// bytes) with seeds of this sink, so a retry of the same records carries the same id.
func (s *Sink) RequestID(recs []record.Record) string {
	var sum [16]byte
	for k, seed := range s.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(s.cfg.SourceARN)
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(recs)))
		h.Write(n[:])
		for i := range recs {
			r := &recs[i]
			h.WriteString(r.SequenceNumber)
			binary.LittleEndian.PutUint64(n[:], uint64(r.SubSequence)<<32^uint64(len(r.Data)))
			h.Write(n[:])
			binary.LittleEndian.PutUint64(n[:], uint64(r.ArrivalMs))
			h.Write(n[:])
			h.Write(r.Data)
		}
		binary.BigEndian.PutUint64(sum[8*k:], h.Sum64())
	}
	sum[6] = sum[6]&0x0f | 0x40 // version 4
	sum[8] = sum[8]&0x3f | 0x80 // RFC 4122 variant
	var b [36]byte
	const hexd = "0123456789abcdef"
	j := 0
	for i, x := range sum {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexd[x>>4], hexd[x&0x0f]
		j += 2
	}
	return string(b[:])
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled: larger buffers go back to the GC rather than stay in the pool.
const maxPooled = MaxRequestBytes + 1<<20

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		b.Reset()
		bufPool.Put(b)
	}
}

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel) // a valid level: cannot fail
	return w
}}

// AppendBody appends the request body of recs (uncompressed) to dst.
func AppendBody(dst []byte, id string, timestampMs int64, recs []record.Record) []byte {
	dst = append(dst, `{"requestId":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","timestamp":`...)
	dst = strconv.AppendInt(dst, timestampMs, 10)
	dst = append(dst, `,"records":[`...)
	for i := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"data":"`...)
		dst = appendBase64(dst, recs[i].Data)
		dst = append(dst, `"}`...)
	}
	return append(dst, "]}"...)
}

// appendBase64 appends the standard base64 of src (vector instructions where the CPU has
// them: several times faster than encoding/base64's tables).
func appendBase64(dst, src []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, asmb64.StdEncoding.EncodedLen(len(src)))[:n+asmb64.StdEncoding.EncodedLen(len(src))]
	asmb64.StdEncoding.Encode(dst[n:], src)
	return dst
}

// body returns the request body of recs, gzipped when configured, built in buf's storage
// (valid until buf is reused).
func (s *Sink) body(buf *bytes.Buffer, id string, ts int64, recs []record.Record) []byte {
	if !s.cfg.GZIP {
		est := bodyOverhead
		for i := range recs {
			est += recordOverhead + base64.StdEncoding.EncodedLen(len(recs[i].Data))
		}
		buf.Grow(est)
		return AppendBody(buf.AvailableBuffer(), id, ts, recs) // in place: no copy into buf
	}
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(buf)
	// records go through in runs of about 256 KiB: the writer is fed large writes without
	// an uncompressed copy of the whole body
	scratch := make([]byte, 0, 320<<10)
	scratch = AppendBody(scratch, id, ts, nil)
	scratch = scratch[:len(scratch)-2] // "]}" comes last
	for i := range recs {
		if i > 0 {
			scratch = append(scratch, ',')
		}
		scratch = append(scratch, `{"data":"`...)
		scratch = appendBase64(scratch, recs[i].Data)
		scratch = append(scratch, `"}`...)
		if len(scratch) >= 256<<10 {
			_, _ = zw.Write(scratch) // a bytes.Buffer does not fail
			scratch = scratch[:0]
		}
	}
	scratch = append(scratch, "]}"...)
	_, _ = zw.Write(scratch)
	_ = zw.Close()
	return buf.Bytes()
}

// send makes one attempt at delivering recs as one request and classifies the outcome
// (nil: delivered).
func (s *Sink) send(ctx context.Context, c *http.Client, recs []record.Record) error {
	id := s.RequestID(recs)
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	body := s.body(buf, id, time.Now().UnixMilli(), recs)

	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	// the transport may still read a body after Do returned (RoundTrip closes it, maybe
	// later): the reader is cut off before buf goes back to the pool
	br := &bodyReader{r: bytes.NewReader(body)}
	defer br.Close()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.cfg.URL, br)
	if err != nil {
		return sinks.Permanent(CodeConnectionFailed, err)
	}
	req.ContentLength = int64(len(body))
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{UserAgent}
	h[HeaderProtocolVersion] = []string{ProtocolVersion}
	h[HeaderRequestID] = []string{id}
	if s.cfg.SourceARN != "" {
		h[HeaderSourceARN] = []string{s.cfg.SourceARN}
	}
	if s.cfg.AccessKey != "" {
		h[HeaderAccessKey] = []string{string(s.cfg.AccessKey)}
	}
	if s.attrHeader != "" {
		h[HeaderCommonAttributes] = []string{s.attrHeader}
	}
	if s.cfg.GZIP {
		h["Content-Encoding"] = []string{"gzip"}
	}
	if s.cfg.OnProcessed != nil {
		n := 0
		for i := range recs {
			n += len(recs[i].Data)
		}
		s.cfg.OnProcessed(len(recs), n)
	}
	resp, err := c.Do(req)
	if err != nil {
		return s.transportError(ctx, actx, err)
	}
	defer resp.Body.Close()
	reply, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if rerr != nil {
		return s.transportError(ctx, actx, rerr)
	}
	return s.classify(resp, reply, id)
}

// bodyReader is a request body that reads nothing more once closed.
type bodyReader struct {
	mu     sync.Mutex
	r      *bytes.Reader
	closed bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	return b.r.Read(p)
}

func (b *bodyReader) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// classify is the one classifier of a reply (firehose.md §9): 200 with a valid reply is
// delivered; 200 with anything else is InvalidResponseFromDestination (ResponseTooLarge
// over 1 MiB), retried; 413 is permanent (dropped, or Rejected with BackupOn413); every
// other status is DestinationException, retried (after Retry-After when the endpoint
// sends one).
func (s *Sink) classify(resp *http.Response, reply []byte, id string) error {
	if resp.StatusCode == http.StatusOK {
		if len(reply) > MaxReplyBytes {
			return retryable(CodeResponseTooLarge, fmt.Errorf("the endpoint's reply is over %d bytes", MaxReplyBytes))
		}
		if why := CheckReply(resp.Header, reply, id); why != "" {
			return retryable(CodeInvalidResponse, errors.New("the endpoint answered 200 with an invalid reply: "+why))
		}
		return nil
	}
	quoted := reply
	if len(quoted) > maxQuoted {
		quoted = quoted[:maxQuoted]
	}
	msg := destinationMessageHead + string(quoted)
	switch st := resp.StatusCode; {
	case st == http.StatusRequestEntityTooLarge && s.cfg.BackupOn413:
		return &replyError{msg: msg, err: &sinks.Error{Code: CodeDestinationError, Outcome: sinks.Rejected, Err: errors.New(msg)}}
	case st == http.StatusRequestEntityTooLarge:
		s.log.Warn("the endpoint answered 413: the request's records are dropped (backup_on_413 sends them to the S3 backup instead)")
		return &replyError{msg: msg, err: &sinks.Error{Code: CodeDestinationError, Outcome: sinks.Rejected, Drop: DropReason413, Err: errors.New(msg)}}
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			return &replyError{msg: msg, err: &sinks.Error{Code: CodeDestinationError, Outcome: sinks.Errored,
				After: min(time.Duration(secs)*time.Second, 120*time.Second), Err: errors.New(msg)}}
		}
	}
	return &replyError{msg: msg, err: &sinks.Error{Code: CodeDestinationError, Outcome: sinks.Errored, Err: errors.New(msg)}}
}

// replyError is a non-200 reply: its text is the failure record's errorMessage as Firehose
// writes it (the fixed prefix and the body), its code and outcome are in the *sinks.Error
// it wraps.
type replyError struct {
	msg string
	err *sinks.Error
}

func (e *replyError) Error() string { return e.msg }
func (e *replyError) Unwrap() error { return e.err }

// retryable is a retried failure whose text is err's alone (the code is errorCode's, not
// repeated in errorMessage).
func retryable(code string, err error) error {
	return &replyError{msg: err.Error(), err: &sinks.Error{Code: code, Outcome: sinks.Errored, Err: err}}
}

// CheckReply says what is wrong with a 200 reply ("" when it is valid): it must be
// application/json without Content-Encoding, a JSON object with exactly the members
// requestId (equal to id), timestamp (a number) and optionally errorMessage (a string
// of at most 8192 bytes).
func CheckReply(h http.Header, body []byte, id string) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Sprintf("Content-Type is %q, not application/json", h.Get("Content-Type"))
	}
	if ce := h.Get("Content-Encoding"); ce != "" {
		return fmt.Sprintf("the reply has Content-Encoding %q", ce)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return "the body is not a JSON object"
	}
	for k := range m {
		if k != "requestId" && k != "timestamp" && k != "errorMessage" {
			return fmt.Sprintf("the reply has the member %q", k)
		}
	}
	var rid string
	if raw, ok := m["requestId"]; !ok || json.Unmarshal(raw, &rid) != nil {
		return "requestId is missing or not a string"
	}
	if rid != id {
		return fmt.Sprintf("requestId %q does not match the request's %q", rid, id)
	}
	var ts json.Number
	if raw, ok := m["timestamp"]; !ok || len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &ts) != nil {
		return "timestamp is missing or not a number"
	}
	if raw, ok := m["errorMessage"]; ok {
		var em string
		if json.Unmarshal(raw, &em) != nil {
			return "errorMessage is not a string"
		}
		if len(em) > MaxErrorMessage {
			return fmt.Sprintf("errorMessage is over %d bytes", MaxErrorMessage)
		}
	}
	return ""
}

// transportError classifies a request that got no reply: the attempt's timeout is
// RequestTimeout, TLS failures SSLHandshakeFailure, a connection cut mid-exchange
// ConnectionReset, anything else ConnectionFailed; all are retried.
func (s *Sink) transportError(ctx, actx context.Context, err error) error {
	var (
		recErr  tls.RecordHeaderError
		certErr *tls.CertificateVerificationError
		unk     x509.UnknownAuthorityError
		host    x509.HostnameError
		opErr   *net.OpError
	)
	switch {
	case ctx.Err() != nil:
		return retryable(CodeConnectionFailed, err) // stopping: the runner does not retry
	case actx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return retryable(CodeRequestTimeout, fmt.Errorf("no reply within %v: %w", s.cfg.Timeout, err))
	case errors.As(err, &recErr), errors.As(err, &certErr), errors.As(err, &unk), errors.As(err, &host):
		return retryable(CodeSSLHandshake, err)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed):
		return retryable(CodeConnectionReset, err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return retryable(CodeConnectionFailed, err)
	}
	return retryable(CodeConnectionFailed, err)
}
