package opensearch

import (
	"github.com/opensearch-project/opensearch-go/v4/signer"
	requestsigner "github.com/opensearch-project/opensearch-go/v4/signer/awsv2"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	opensearchgo "github.com/opensearch-project/opensearch-go/v4"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// MaxRequestBytes bounds one _bulk request body (AWS's 100 MiB); larger batches are split.
const MaxRequestBytes = 100 << 20

// Error codes of whole-request failures (an item's failure has its status as its code).
const (
	CodeConnectionFailed = "OS.ConnectionFailed"
	CodeAccessDenied     = "OS.AccessDenied"
	CodeRequestFailed    = "OS.RequestFailed"
	CodeServerError      = "OS.ServerError"
	CodeTooManyRequests  = "OS.TooManyRequests"
)

// Config is what a Sink needs.
type Config struct {
	Endpoint string // http(s)://host:port[/path]; user information is used as basic auth
	Index    string // IndexName
	TypeName string // _type of every document ("" = none)
	Rotation string // IndexRotationPeriod
	// DocumentIDs gives every document the _id `<sequence>.<subsequence>` (FIREHOSE_DEFAULT);
	// off, the cluster picks one (NO_DOCUMENT_ID).
	DocumentIDs bool
	Username    string
	Password    s3.Secret
	CAFile      string // PEM CA bundle for https
	Pipeline    string // ingest pipeline of every _bulk request
	// MaxRequestBytes bounds a request body (0: MaxRequestBytes).
	MaxRequestBytes int
	// Timeout bounds one request (0: 5 minutes).
	Timeout   time.Duration
	Transport http.RoundTripper // nil: a clone of http.DefaultTransport
	// SigV4, when set, signs every request (Amazon OpenSearch Service; instead of basic auth).
	SigV4 *SigV4
	// Serverless names the failure fields osDocumentId and osIndexName (no type).
	Serverless bool
	Logger     *slog.Logger
}

// SigV4 is how requests are signed for Amazon OpenSearch Service (service "es") or
// OpenSearch Serverless ("aoss"). Without keys the AWS default chain gives the credentials
// (environment, shared files; the EC2 instance metadata service only with
// InstanceMetadata).
type SigV4 struct {
	Region           string    `json:"Region,omitempty"`
	Service          string    `json:"Service,omitempty"` // "es" (default) or "aoss"
	AccessKeyID      string    `json:"AccessKeyId,omitempty"`
	SecretAccessKey  s3.Secret `json:"SecretAccessKey,omitempty"`
	InstanceMetadata bool      `json:"InstanceMetadata,omitempty"`
}

// signer builds the request signer of sv.
func (sv *SigV4) signer(ctx context.Context) (signer.Signer, error) {
	ac, err := s3.AWSConfig(ctx, sv.Region, sv.AccessKeyID, sv.SecretAccessKey, "", sv.InstanceMetadata)
	if err != nil {
		return nil, fmt.Errorf("SigV4: %w", err)
	}
	service := sv.Service
	if service == "" {
		service = "es"
	}
	return requestsigner.NewSignerWithService(ac, service)
}

// Sink writes batches with _bulk requests. It is safe for concurrent use.
type Sink struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	client *opensearchgo.Client
}

// New returns the sink of cfg. It does no I/O.
func New(cfg Config) *Sink {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = MaxRequestBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	return &Sink{cfg: cfg, log: lg.With("component", "opensearch", "endpoint", redact(cfg.Endpoint), "index", cfg.Index)}
}

// Connect builds the client and checks that the cluster answers `GET /`. An unreachable
// cluster is sinks.Unavailable (the runner retries Connect; records wait in the source).
func (s *Sink) Connect(ctx context.Context) error {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		var err error
		if c, err = s.newClient(); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return sinks.Permanent(CodeRequestFailed, err)
	}
	resp, err := c.Perform(req)
	if err != nil {
		return sinks.Unavailable(CodeConnectionFailed, errors.New(scrub(err.Error(), s.cfg)))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return requestError(resp, body)
	}
	s.mu.Lock()
	if s.client == nil {
		s.client = c
	} else if s.client != c {
		_ = c.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *Sink) newClient() (*opensearchgo.Client, error) {
	oc := opensearchgo.Config{Addresses: []string{s.cfg.Endpoint}, Username: s.cfg.Username, Password: string(s.cfg.Password),
		DisableRetry: true, RequestTimeout: s.cfg.Timeout, HealthCheckMaxRetries: -1, Transport: s.cfg.Transport}
	if oc.Transport == nil {
		oc.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if s.cfg.SigV4 != nil {
		sg, err := s.cfg.SigV4.signer(context.Background())
		if err != nil {
			return nil, sinks.Retryable(CodeConnectionFailed, err)
		}
		oc.Signer, oc.Username, oc.Password = sg, "", ""
	}
	if s.cfg.CAFile != "" {
		pem, err := os.ReadFile(s.cfg.CAFile)
		if err != nil {
			return nil, sinks.Retryable(CodeConnectionFailed, fmt.Errorf("reading the CA file: %w", err))
		}
		oc.CACert = pem
	}
	c, err := opensearchgo.NewClient(oc)
	if err != nil {
		return nil, sinks.Permanent(CodeConnectionFailed, errors.New(scrub(err.Error(), s.cfg)))
	}
	return c, nil
}

// Close releases the client.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		err := s.client.Close()
		s.client = nil
		return err
	}
	return nil
}

func (s *Sink) conn() (*opensearchgo.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, sinks.NotConnected(CodeConnectionFailed, nil)
	}
	return s.client, nil
}

// doc is one record on its way: its bulk entry (action and source lines) and where it goes.
type doc struct {
	i         int // index in the batch
	id, index string
	entry     []byte
	fields    []record.Field
	res       sinks.RecordResult
	decided   bool
}

// Write indexes the batch with one _bulk request per MaxRequestBytes of entries and
// answers record by record: items the cluster took are Delivered; items failing with 429
// or 5xx, or because the index is closed or blocked, are Errored; other 4xx items, and
// records that are not single-line JSON once compacted, are Rejected with the status as
// errorCode and the item's error (JSON) as errorMessage. A request that fails as a whole
// fails its records (sinks.Unavailable when the cluster cannot be reached); when every
// record failed transiently the batch fails whole.
func (s *Sink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	c, err := s.conn()
	if err != nil {
		return sinks.Failed(err)
	}
	docs := make([]doc, len(b.Records))
	for i, r := range b.Records {
		d := &docs[i]
		d.i = i
		d.index = IndexName(s.cfg.Index, s.cfg.Rotation, r.ArrivalMs)
		if s.cfg.DocumentIDs {
			d.id = r.SequenceNumber + "." + strconv.Itoa(r.SubSequence)
		}
		if s.cfg.Serverless {
			d.fields = []record.Field{{Key: "osDocumentId", Value: d.id}, {Key: "osIndexName", Value: d.index}}
		} else {
			d.fields = []record.Field{{Key: "esDocumentId", Value: d.id}, {Key: "esIndexName", Value: d.index}, {Key: "esTypeName", Value: s.cfg.TypeName}}
		}
		src, err := singleLine(r.Data)
		if err != nil {
			d.reject(400, invalidDocument(err))
			continue
		}
		d.entry = s.entry(d, src)
		if len(d.entry) > s.cfg.MaxRequestBytes {
			d.reject(413, errorJSON("document_too_large_exception",
				fmt.Sprintf("the document's bulk entry is %d bytes, over the %d-byte request limit", len(d.entry), s.cfg.MaxRequestBytes)))
		}
	}
	var chunk []*doc
	size := 0
	var down error // the cluster failed as a whole: the rest is not sent
	flush := func() {
		if len(chunk) > 0 {
			if down == nil {
				down = s.send(ctx, c, chunk)
			} else {
				failAll(chunk, down)
			}
		}
		chunk, size = nil, 0
	}
	for i := range docs {
		d := &docs[i]
		if d.decided {
			continue
		}
		if size+len(d.entry) > s.cfg.MaxRequestBytes {
			flush()
		}
		chunk = append(chunk, d)
		size += len(d.entry)
	}
	flush()

	res := sinks.Result{Records: make([]sinks.RecordResult, len(docs))}
	delivered, errored, rejected := 0, 0, 0
	var first error
	for i := range docs {
		res.Records[i] = docs[i].res
		switch docs[i].res.Outcome {
		case sinks.Delivered:
			delivered++
		case sinks.Rejected:
			rejected++
		default:
			errored++
			if first == nil {
				first = docs[i].res.Err
			}
		}
	}
	switch {
	case delivered == len(docs):
		return sinks.Done()
	case errored == len(docs):
		return sinks.Failed(first)
	}
	if rejected > 0 {
		s.log.Warn("documents refused by the cluster go to the error output", "documents", rejected, "of", len(docs))
	}
	return res
}

func (d *doc) reject(status int, msg string) {
	d.decided = true
	d.res = sinks.RecordResult{Outcome: sinks.Rejected, Err: itemErr(status, sinks.Rejected, msg), Fields: d.fields}
}

func failAll(chunk []*doc, err error) {
	for _, d := range chunk {
		d.res = sinks.RecordResult{Outcome: sinks.Classify(err), Err: err, Fields: d.fields}
	}
}

// entry is the bulk entry of d: the action line and the source line.
func (s *Sink) entry(d *doc, src []byte) []byte {
	b := make([]byte, 0, len(src)+len(d.index)+len(d.id)+48)
	b = append(b, `{"index":{"_index":`...)
	b = appendString(b, d.index)
	if d.id != "" {
		b = append(b, `,"_id":`...)
		b = appendString(b, d.id)
	}
	if s.cfg.TypeName != "" {
		b = append(b, `,"_type":`...)
		b = appendString(b, s.cfg.TypeName)
	}
	b = append(b, "}}\n"...)
	b = append(b, src...)
	return append(b, '\n')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string: cannot fail
	return append(b, q...)
}

// send posts one _bulk request and records each document's outcome. It returns the
// error of a cluster that cannot be reached (the caller sends nothing more).
func (s *Sink) send(ctx context.Context, c *opensearchgo.Client, chunk []*doc) error {
	var body bytes.Buffer
	for _, d := range chunk {
		body.Write(d.entry)
	}
	path := "/_bulk"
	if s.cfg.Pipeline != "" {
		path += "?pipeline=" + url.QueryEscape(s.cfg.Pipeline)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body.Bytes()))
	if err != nil {
		failAll(chunk, sinks.Permanent(CodeRequestFailed, err))
		return nil
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Perform(req)
	if err != nil {
		if ctx.Err() != nil {
			failAll(chunk, sinks.Retryable(CodeConnectionFailed, err))
			return err
		}
		err = sinks.Unavailable(CodeConnectionFailed, errors.New(scrub(err.Error(), s.cfg)))
		failAll(chunk, err)
		return err
	}
	data, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		err := sinks.Retryable(CodeConnectionFailed, rerr)
		failAll(chunk, err)
		return nil
	}
	switch {
	case resp.StatusCode == http.StatusRequestEntityTooLarge && len(chunk) > 1:
		// the cluster's http.max_content_length is smaller than ours: halve
		if err := s.send(ctx, c, chunk[:len(chunk)/2]); err != nil {
			failAll(chunk[len(chunk)/2:], err)
			return err
		}
		return s.send(ctx, c, chunk[len(chunk)/2:])
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		chunk[0].reject(413, errorJSON("request_entity_too_large", "the cluster refused a request holding only this document as too large"))
		return nil
	case resp.StatusCode/100 != 2:
		err := requestError(resp, data)
		failAll(chunk, err)
		if sinks.Held(err) {
			return err
		}
		return nil
	}
	if allIndexed(data) { // the common answer: no need to decode one map per item
		for _, d := range chunk {
			s.decide(d, bulkItem{Status: http.StatusOK})
		}
		return nil
	}
	var br bulkResponse
	if err := json.Unmarshal(data, &br); err != nil || len(br.Items) != len(chunk) {
		if err == nil {
			err = fmt.Errorf("the _bulk response has %d items for %d documents", len(br.Items), len(chunk))
		}
		failAll(chunk, sinks.Retryable(CodeServerError, fmt.Errorf("reading the _bulk response: %w", err)))
		return nil
	}
	for k, d := range chunk {
		var it bulkItem
		for _, v := range br.Items[k] { // one action per item
			it = v
		}
		s.decide(d, it)
	}
	return nil
}

// allIndexed reports whether a _bulk answer says, before its items, that none failed
// (`"errors":false`, as the cluster writes it: compact, ahead of "items").
func allIndexed(data []byte) bool {
	i := bytes.Index(data, []byte(`"items"`))
	return i > 0 && bytes.Contains(data[:i], []byte(`"errors":false`))
}

// bulkResponse is the body of a _bulk answer.
type bulkResponse struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// retriedTypes are the item error types that describe the index, not the document: the
// document is sent again (it goes through once the index is open or the block lifted).
var retriedTypes = map[string]bool{"index_closed_exception": true, "cluster_block_exception": true}

// decide is the one classifier of an item: 2xx Delivered; 429, 5xx and retriedTypes
// Errored; other statuses Rejected.
func (s *Sink) decide(d *doc, it bulkItem) {
	if it.Status/100 == 2 {
		d.res = sinks.RecordResult{Outcome: sinks.Delivered}
		return
	}
	if it.ID != "" && d.id == "" {
		d.fields[0].Value = it.ID
	}
	msg := string(it.Error)
	if len(it.Error) == 0 {
		msg = errorJSON("unknown", "the item failed without an error")
	}
	var et struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(it.Error, &et)
	o := sinks.Rejected
	if it.Status == http.StatusTooManyRequests || it.Status >= 500 || it.Status == 0 || retriedTypes[et.Type] {
		o = sinks.Errored
	}
	d.res = sinks.RecordResult{Outcome: o, Err: itemErr(it.Status, o, msg), Fields: d.fields}
}

// requestError classifies a request that failed as a whole: 502–504 say the cluster is
// down (sinks.Unavailable), 429 asks for a pause (its Retry-After), and every other status
// is retried within the retry duration (credentials, blocks and a wrong endpoint are fixed
// by an operator; the documents go to the error output if they are not in time).
func requestError(resp *http.Response, body []byte) error {
	err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	switch st := resp.StatusCode; {
	case st == http.StatusBadGateway || st == http.StatusServiceUnavailable || st == http.StatusGatewayTimeout:
		return sinks.Unavailable(CodeServerError, err)
	case st == http.StatusTooManyRequests:
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			return sinks.RetryAfter(time.Duration(secs)*time.Second, CodeTooManyRequests, err)
		}
		return sinks.Retryable(CodeTooManyRequests, err)
	case st >= 500:
		return sinks.Retryable(CodeServerError, err)
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return sinks.Retryable(CodeAccessDenied, err)
	}
	return sinks.Retryable(CodeRequestFailed, err)
}

// ItemError is the failure of one document: Error is the cluster's error object as JSON
// (the failure record's errorMessage), and its code is the item's HTTP status.
type ItemError struct {
	Status int
	JSON   string
	err    *sinks.Error
}

func itemErr(status int, o sinks.Outcome, msg string) *ItemError {
	code := strconv.Itoa(status)
	return &ItemError{Status: status, JSON: msg, err: &sinks.Error{Code: code, Outcome: o, Err: errors.New(msg)}}
}

func (e *ItemError) Error() string { return e.JSON }

// Unwrap exposes the *sinks.Error that carries the code and outcome.
func (e *ItemError) Unwrap() error { return e.err }

// singleLine returns the document's source as one line: trailing whitespace trimmed, and
// JSON spread over several lines compacted. A document that still is not one line of JSON
// (invalid JSON over several lines, or nothing but whitespace) is an error.
func singleLine(d []byte) ([]byte, error) {
	d = bytes.TrimRight(d, " \t\r\n\v\f")
	if len(d) == 0 {
		return nil, errors.New("the document is empty")
	}
	if bytes.IndexByte(d, '\n') < 0 && bytes.IndexByte(d, '\r') < 0 {
		return d, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, d); err != nil {
		return nil, fmt.Errorf("the document spans several lines and is not valid JSON: %v", err)
	}
	return b.Bytes(), nil
}

func invalidDocument(err error) string { return errorJSON("mapper_parsing_exception", err.Error()) }

// errorJSON is an error object in OpenSearch's shape.
func errorJSON(typ, reason string) string {
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}{typ, reason})
	return string(b)
}

// scrub removes the password from a message (client errors may quote the URL).
func scrub(msg string, cfg Config) string {
	if u, err := url.Parse(cfg.Endpoint); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = string(bytes.ReplaceAll([]byte(msg), []byte(pw), []byte("REDACTED")))
		}
	}
	if cfg.Password != "" {
		msg = string(bytes.ReplaceAll([]byte(msg), []byte(cfg.Password), []byte("REDACTED")))
	}
	return msg
}

// Probe implements sinks.Prober: the cluster answers GET / (as Connect asks).
func (s *Sink) Probe(ctx context.Context) error { return s.Connect(ctx) }
