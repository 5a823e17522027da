// Package cloudwatchapi accepts Amazon CloudWatch PutMetricData (the call the KCL and
// the KPL publish their metrics with) on Sluice's port and exposes the data on /metrics
// (see metrics.go for the series). Three wire forms are served:
//
//   - the AWS query protocol: POST with Content-Type application/x-www-form-urlencoded,
//     Action=PutMetricData&Version=2010-08-01&…, XML replies (older SDKs, the KPL's C++ SDK);
//   - AWS JSON 1.0: X-Amz-Target GraniteServiceVersion20100801.PutMetricData;
//   - Smithy RPC v2 CBOR: POST /service/GraniteServiceVersion20100801/operation/PutMetricData
//     (aws-sdk-go-v2's cloudwatch client, newer Java SDKs).
//
// Bodies may be gzip-compressed (Content-Encoding: gzip, which the SDKs use for large
// PutMetricData calls); the decompressed size is bounded like any body. Any other
// CloudWatch operation is answered with an error naming what is served.
package cloudwatchapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

// Wire identifiers.
const (
	TargetPrefix = "GraniteServiceVersion20100801."
	RPCPath      = "/service/GraniteServiceVersion20100801/operation/"
	FormType     = "application/x-www-form-urlencoded"
	xmlNS        = "http://monitoring.amazonaws.com/doc/2010-08-01/"
)

// Options configure the handler.
type Options struct {
	Region, Account string
	// Credentials enable SigV4 verification (signing name "monitoring"); the action
	// checked is cloudwatch:PutMetricData.
	Credentials  []awsproto.Credential
	MaxBodyBytes int64
	Limits       *awsproto.Limits
	Logger       *slog.Logger
	// MaxSeries bounds the series kept (cloudwatch.max_series).
	MaxSeries int
	// Registerer receives the series (nil = not exported).
	Registerer prometheus.Registerer
}

// Handler serves PutMetricData. Safe for concurrent use.
type Handler struct {
	opts  Options
	v     *awsproto.Verifier
	store *store
}

// New returns the handler and registers its collector with opts.Registerer.
func New(opts Options) *Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		opts: opts,
		v: &awsproto.Verifier{Service: "monitoring", Credentials: opts.Credentials,
			DefaultAccount: opts.Account, DefaultRegion: opts.Region},
		store: newStore(opts.MaxSeries),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(h.store)
	}
	return h
}

// Is reports whether r is a CloudWatch request (by target, RPC v2 path, or a form post
// without X-Amz-Target, which no other API on the port sends).
func Is(r *http.Request) bool {
	t := r.Header.Get("X-Amz-Target")
	if strings.HasPrefix(t, TargetPrefix) || strings.HasPrefix(r.URL.Path, RPCPath) {
		return true
	}
	return t == "" && awsproto.MediaType(r.Header.Get("Content-Type")) == FormType
}

type form uint8

const (
	formQuery form = iota
	formJSON
	formCBOR
)

// ServeHTTP serves the three forms.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsproto.SetRequestHeaders(w)
	f, op := formQuery, ""
	switch {
	case strings.HasPrefix(r.URL.Path, RPCPath):
		f, op = formCBOR, strings.TrimPrefix(r.URL.Path, RPCPath)
	case r.Header.Get("X-Amz-Target") != "":
		f, op = formJSON, strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	}
	if r.Method != http.MethodPost {
		h.fail(w, f, reqID, &apiErr{Code: "InvalidAction", Msg: "CloudWatch calls are POST requests", Status: 400})
		return
	}
	body, release, status := h.opts.Limits.ReadBody(w, r, h.opts.MaxBodyBytes)
	if status != http.StatusOK {
		h.fail(w, f, reqID, &apiErr{Code: "ServiceUnavailable", Msg: "the request body could not be read (HTTP " + strconv.Itoa(status) + ")", Status: status})
		return
	}
	defer release()
	id, aerr := h.v.Verify(r, body)
	if aerr != nil {
		h.fail(w, f, reqID, &apiErr{Code: strings.TrimSuffix(aerr.Type, "Exception"), Msg: aerr.Message, Status: aerr.Status})
		return
	}
	if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			h.fail(w, f, reqID, invalid("The request body is not valid gzip: %v", err))
			return
		}
		plain, err := io.ReadAll(io.LimitReader(zr, h.opts.MaxBodyBytes+1))
		if err != nil || int64(len(plain)) > h.opts.MaxBodyBytes {
			h.fail(w, f, reqID, invalid("The decompressed request body is invalid or over %d bytes", h.opts.MaxBodyBytes))
			return
		}
		body = plain
	} else if enc != "" && enc != "identity" {
		h.fail(w, f, reqID, invalid("Content-Encoding %q is not supported (gzip is)", enc))
		return
	}

	var (
		namespace string
		hasNS     bool
		data      []datum
		e         *apiErr
	)
	switch f {
	case formQuery:
		q, err := url.ParseQuery(string(body))
		if err != nil {
			h.fail(w, f, reqID, invalid("The request body is not form-encoded: %v", err))
			return
		}
		op = q.Get("Action")
		if op != "PutMetricData" {
			h.fail(w, f, reqID, unknownOp(op))
			return
		}
		namespace, hasNS, data, e = fromForm(q)
	case formJSON, formCBOR:
		if op != "PutMetricData" {
			h.fail(w, f, reqID, unknownOp(op))
			return
		}
		var tree any
		var err error
		if f == formJSON {
			tree, err = awsproto.DecodeJSON(body)
		} else {
			tree, err = awsproto.DecodeCBOR(body)
		}
		if err != nil {
			h.fail(w, f, reqID, &apiErr{Code: "SerializationException", Msg: "the request body is not decodable: " + err.Error(), Status: 400})
			return
		}
		namespace, hasNS, data, e = fromTree(tree)
	}
	if e == nil {
		e = validate(namespace, hasNS, data)
	}
	if e != nil {
		h.fail(w, f, reqID, e)
		return
	}
	if !id.Allowed("cloudwatch:PutMetricData", "") {
		de := id.DeniedError("cloudwatch:PutMetricData", "")
		h.fail(w, f, reqID, &apiErr{Code: "AccessDenied", Msg: de.Message, Status: 403})
		return
	}
	h.store.add(namespace, data)
	h.ok(w, f, reqID)
}

func unknownOp(op string) *apiErr {
	if op == "" {
		return &apiErr{Code: "InvalidAction", Msg: "The request names no Action; Sluice serves the CloudWatch action PutMetricData only", Status: 400}
	}
	return &apiErr{Code: "InvalidAction", Msg: "Sluice serves the CloudWatch action PutMetricData only, not " + op, Status: 400}
}

func (h *Handler) ok(w http.ResponseWriter, f form, reqID string) {
	var body []byte
	hd := w.Header()
	switch f {
	case formQuery:
		hd.Set("Content-Type", "text/xml")
		body = []byte(`<PutMetricDataResponse xmlns="` + xmlNS + `"><ResponseMetadata><RequestId>` + reqID + `</RequestId></ResponseMetadata></PutMetricDataResponse>`)
	case formJSON:
		hd.Set("Content-Type", "application/x-amz-json-1.0")
		body = []byte("{}")
	case formCBOR:
		hd.Set("Content-Type", "application/cbor")
		hd.Set("Smithy-Protocol", "rpc-v2-cbor")
		body = []byte{0xa0}
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (h *Handler) fail(w http.ResponseWriter, f form, reqID string, e *apiErr) {
	var body []byte
	hd := w.Header()
	kind := "Sender"
	if e.Status >= 500 {
		kind = "Receiver"
	}
	switch f {
	case formQuery:
		hd.Set("Content-Type", "text/xml")
		var msg bytes.Buffer
		xmlEscape(&msg, e.Msg)
		body = []byte(`<ErrorResponse xmlns="` + xmlNS + `"><Error><Type>` + kind + `</Type><Code>` + e.Code +
			`</Code><Message>` + msg.String() + `</Message></Error><RequestId>` + reqID + `</RequestId></ErrorResponse>`)
	case formJSON:
		hd.Set("Content-Type", "application/x-amz-json-1.0")
		hd.Set("x-amzn-query-error", e.Code+";"+kind)
		body, _ = json.Marshal(map[string]string{"__type": "com.amazonaws.cloudwatch#" + e.jsonType(), "message": e.Msg})
	case formCBOR:
		hd.Set("Content-Type", "application/cbor")
		hd.Set("Smithy-Protocol", "rpc-v2-cbor")
		hd.Set("x-amzn-query-error", e.Code+";"+kind)
		b := []byte{0xa2}
		b = awsproto.AppendCBORText(b, "__type")
		b = awsproto.AppendCBORText(b, "com.amazonaws.cloudwatch#"+e.jsonType())
		b = awsproto.AppendCBORText(b, "message")
		body = awsproto.AppendCBORText(b, e.Msg)
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

func xmlEscape(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
}
