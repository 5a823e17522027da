// Package dynamoapi serves the part of the Amazon DynamoDB API (DynamoDB_20120810, AWS
// JSON 1.0) that the Kinesis Client Library uses for its lease, coordinator-state and
// worker-metrics tables, on Sluice's own port, with the tables kept in Sluice's metadata
// store (see store.go for the layout and the durability rules).
//
// Served: CreateTable, DescribeTable, UpdateTable, DeleteTable, ListTables, TagResource,
// UntagResource, ListTagsOfResource, DescribeContinuousBackups, UpdateContinuousBackups,
// DescribeTimeToLive, GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem
// and BatchWriteItem, with both the expression parameters (ConditionExpression,
// UpdateExpression, ProjectionExpression, KeyConditionExpression, FilterExpression with
// ExpressionAttributeNames/Values) and the legacy ones (Expected, AttributeUpdates,
// AttributesToGet, KeyConditions, QueryFilter, ScanFilter). Any other operation is an
// UnknownOperationException; unsupported members (local secondary indexes, streams) are
// ValidationExceptions naming them.
package dynamoapi

import (
	"encoding/json"
	"errors"
	"hash/crc32"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

// TargetPrefix is the X-Amz-Target prefix of DynamoDB requests.
const TargetPrefix = "DynamoDB_20120810."

// ContentType is DynamoDB's request and reply content type (AWS JSON 1.0).
const ContentType = "application/x-amz-json-1.0"

// Options configure the handler.
type Options struct {
	// Region and Account are the defaults for requests whose credential scope names no
	// region or whose access key is not a 12-digit account.
	Region, Account string
	// Credentials enable SigV4 verification (signing name "dynamodb") and per-key
	// policies over actions "dynamodb:<Op>" and table ARNs; empty = any signature.
	Credentials []awsproto.Credential
	// MaxBodyBytes caps request bodies (default 16 MiB).
	MaxBodyBytes int64
	// Limits bound body time and memory (nil = defaults).
	Limits *awsproto.Limits
	Logger *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Registerer receives the request and commit metrics (nil = not exported).
	Registerer prometheus.Registerer
	// CreatingFor is how long a new table (or index) reports CREATING before ACTIVE
	// (default 300ms; negative = ACTIVE at once).
	CreatingFor time.Duration
}

// Handler serves the DynamoDB API. Safe for concurrent use.
type Handler struct {
	reqs *prometheus.CounterVec // operation, outcome ("ok" or the error type)
	db   *DB
	opts Options
	v    *awsproto.Verifier
	log  *slog.Logger
	now  func() time.Time
}

// New returns the handler over db.
func New(db *DB, opts Options) *Handler {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CreatingFor == 0 {
		opts.CreatingFor = 300 * time.Millisecond
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	h := &Handler{
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_dynamodb_requests_total",
			Help: "DynamoDB API requests by operation and outcome (ok or the error type)."}, []string{"operation", "outcome"}),
		db:   db,
		opts: opts,
		v: &awsproto.Verifier{Service: "dynamodb", Credentials: opts.Credentials,
			DefaultAccount: opts.Account, DefaultRegion: opts.Region, Now: opts.Now},
		log: opts.Logger.With("component", "dynamodb"),
		now: now,
	}
	if r := opts.Registerer; r != nil {
		r.MustRegister(h.reqs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_dynamodb_commits_total",
				Help: "Metadata-store transactions committing DynamoDB writes (group commits)."},
				func() float64 { return float64(db.c.commits.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_dynamodb_committed_writes_total",
				Help: "DynamoDB writes carried by those transactions."},
				func() float64 { return float64(db.c.writes.Load()) }),
		)
	}
	return h
}

// req is one operation call.
type req struct {
	h    *Handler
	body []byte
	id   awsproto.Identity
	op   string
}

type opFunc func(r *req) (any, *apiError)

var operations map[string]opFunc

func init() {
	operations = map[string]opFunc{
		"CreateTable":               opCreateTable,
		"DescribeTable":             opDescribeTable,
		"UpdateTable":               opUpdateTable,
		"DeleteTable":               opDeleteTable,
		"ListTables":                opListTables,
		"TagResource":               opTagResource,
		"UntagResource":             opUntagResource,
		"ListTagsOfResource":        opListTagsOfResource,
		"DescribeContinuousBackups": opDescribeContinuousBackups,
		"UpdateContinuousBackups":   opUpdateContinuousBackups,
		"DescribeTimeToLive":        opDescribeTimeToLive,
		"GetItem":                   opGetItem,
		"PutItem":                   opPutItem,
		"UpdateItem":                opUpdateItem,
		"DeleteItem":                opDeleteItem,
		"Query":                     opQuery,
		"Scan":                      opScan,
		"BatchGetItem":              opBatchGetItem,
		"BatchWriteItem":            opBatchWriteItem,
	}
}

// apiError is a DynamoDB error reply. Item is ConditionalCheckFailedException's item
// (ReturnValuesOnConditionCheckFailure ALL_OLD).
type apiError struct {
	status int
	typ    string // full __type, e.g. com.amazonaws.dynamodb.v20120810#ResourceNotFoundException
	msg    string
	item   Item
}

const (
	nsDynamo   = "com.amazonaws.dynamodb.v20120810#"
	nsValidate = "com.amazon.coral.validate#"
	nsCoral    = "com.amazon.coral.service#"
)

func validation(msg string) *apiError {
	return &apiError{status: 400, typ: nsValidate + "ValidationException", msg: msg}
}

func dynamoErr(name, msg string) *apiError {
	return &apiError{status: 400, typ: nsDynamo + name, msg: msg}
}

func notFound() *apiError {
	return dynamoErr("ResourceNotFoundException", "Requested resource not found")
}

func tableNotFound(name string) *apiError {
	return dynamoErr("ResourceNotFoundException", "Requested resource not found: Table: "+name+" not found")
}

func conditionFailed(item Item) *apiError {
	e := dynamoErr("ConditionalCheckFailedException", "The conditional request failed")
	e.item = item
	return e
}

func internal(err error) *apiError {
	return &apiError{status: 500, typ: nsDynamo + "InternalServerError", msg: "Internal server error: " + err.Error()}
}

// fromAWS maps the shared awsproto errors (authentication, serialization) onto
// DynamoDB's namespaced types.
func fromAWS(e *awsproto.Error) *apiError {
	ns := nsCoral
	if e.Type == awsproto.TypeValidation {
		ns = nsValidate
	}
	return &apiError{status: e.Status, typ: ns + e.Type, msg: e.Message}
}

func (h *Handler) writeError(w http.ResponseWriter, e *apiError) {
	b := []byte(`{"__type":`)
	b = awsproto.AppendJSONString(b, e.typ)
	if e.msg != "" {
		key := "message"
		if strings.HasSuffix(e.typ, "#SerializationException") {
			key = "Message"
		}
		b = append(b, ',')
		b = awsproto.AppendJSONString(b, key)
		b = append(b, ':')
		b = awsproto.AppendJSONString(b, e.msg)
	}
	if e.item != nil {
		b = append(b, `,"Item":`...)
		b = appendItemJSON(b, e.item)
	}
	b = append(b, '}')
	hd := w.Header()
	if i := strings.IndexByte(e.typ, '#'); i >= 0 {
		hd.Set("x-amzn-ErrorType", e.typ[i+1:])
	}
	writeBody(w, e.status, b)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	hd := w.Header()
	hd.Set("Content-Type", ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	hd.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	w.WriteHeader(status)
	w.Write(b)
}

// ServeHTTP serves POST / with X-Amz-Target DynamoDB_20120810.<Op>.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	awsproto.SetRequestHeaders(w)
	if r.Method != http.MethodPost {
		awsproto.WriteXMLAccessDenied(w)
		return
	}
	body, release, status := h.opts.Limits.ReadBody(w, r, h.opts.MaxBodyBytes)
	switch status {
	case http.StatusOK:
		defer release()
	case http.StatusServiceUnavailable:
		h.writeError(w, &apiError{status: 503, typ: nsCoral + "ServiceUnavailableException", msg: "Slow down."})
		return
	case http.StatusBadRequest:
		h.writeError(w, &apiError{status: 400, typ: nsCoral + "SerializationException"})
		return
	default:
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	fn, known := operations[op]
	if !known {
		msg := ""
		if op != "" {
			msg = "Sluice does not serve the DynamoDB operation " + op + "; it serves " + servedList()
		}
		h.writeError(w, &apiError{status: 400, typ: nsCoral + "UnknownOperationException", msg: msg})
		return
	}
	switch awsproto.MediaType(r.Header.Get("Content-Type")) {
	case ContentType, awsproto.ContentTypeJSON, "application/json", "":
	default:
		h.writeError(w, &apiError{status: 400, typ: nsCoral + "SerializationException",
			msg: "DynamoDB requests are " + ContentType})
		return
	}
	if len(body) == 0 || !json.Valid(body) {
		h.writeError(w, &apiError{status: 400, typ: nsCoral + "SerializationException", msg: "the request body is not JSON"})
		return
	}
	id, aerr := h.v.Verify(r, body)
	if aerr != nil {
		h.writeError(w, fromAWS(aerr))
		return
	}
	out, e := fn(&req{h: h, body: body, id: id, op: op})
	if e != nil {
		h.reqs.WithLabelValues(op, e.typ[strings.IndexByte(e.typ, '#')+1:]).Inc()
		h.writeError(w, e)
		return
	}
	h.reqs.WithLabelValues(op, "ok").Inc()
	b, err := json.Marshal(out)
	if err != nil {
		h.writeError(w, internal(err))
		return
	}
	writeBody(w, http.StatusOK, b)
}

func servedList() string {
	names := make([]string, 0, len(operations))
	for n := range operations {
		names = append(names, n)
	}
	sortStrings(names)
	return strings.Join(names, ", ")
}

// decode unmarshals the body into v, mapping JSON type errors onto SerializationException
// and attribute-value problems onto ValidationException.
func (r *req) decode(v any) *apiError {
	if err := json.Unmarshal(r.body, v); err != nil {
		var ae *avError
		if errors.As(err, &ae) {
			return validation(ae.msg)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &apiError{status: 400, typ: nsCoral + "SerializationException",
				msg: "Unexpected JSON type for member " + te.Field}
		}
		return &apiError{status: 400, typ: nsCoral + "SerializationException", msg: err.Error()}
	}
	return nil
}

// allow checks the caller's policy for dynamodb:<op> on arn.
func (r *req) allow(arn string) *apiError {
	action := "dynamodb:" + r.op
	if !r.id.Allowed(action, arn) {
		e := fromAWS(r.id.DeniedError(action, arn))
		return e
	}
	return nil
}

func (r *req) account() string { return r.id.Account }
func (r *req) region() string  { return r.id.Region }
