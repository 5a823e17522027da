package awsproto

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Endpoint runs the checks every AWS JSON/CBOR request goes through before its operation
// (reference kinesis.md §1.1, dispatch order 1–7). It is safe for concurrent use.
type Endpoint struct {
	// TargetPrefix is the X-Amz-Target prefix including the dot, e.g. "Kinesis_20131202.".
	TargetPrefix string
	// Known reports whether op (the target without prefix) is an implemented operation.
	Known func(op string) bool
	// Verifier authenticates requests; its Service is the SigV4 signing name.
	Verifier *Verifier
	// MaxBodyBytes caps request bodies (413 above it); default 16 MiB.
	MaxBodyBytes int64
	// Limits bound the time and memory of bodies and replies (nil = defaults, no memory
	// bound). Share one between the endpoints of a listener.
	Limits *Limits
	// AllowCBOR accepts application/x-amz-cbor-1.1 (Kinesis); Firehose leaves it false.
	AllowCBOR bool
	// Decode, when set, decodes the body between step 6 and authentication (step 7), so
	// that an undecodable body is a SerializationException even for unsigned requests.
	// It may store its result in Call.Parsed.
	Decode func(c *Call) *Error
}

// Call is a request that passed the envelope checks. Body is valid until Release.
type Call struct {
	Op        string
	Codec     Codec
	Body      []byte
	Identity  Identity
	RequestID string
	// Parsed is whatever Endpoint.Decode stored.
	Parsed any

	lim      *Limits
	buf      *[]byte
	charged  int64
	reserved int64 // ReserveUpTo: memory taken for the reply before building it
}

// Release returns the body buffer (and its share of the memory bound); Body must not be
// used afterwards.
func (c *Call) Release() {
	c.lim.give(c.reserved)
	c.reserved = 0
	if c.buf != nil {
		c.lim.give(c.charged)
		putBuf(c.buf)
	}
	c.buf, c.Body, c.charged = nil, nil, 0
}

// WriteTimeout is how long one reply (or one event of a stream) may take to write.
func (c *Call) WriteTimeout() time.Duration { return c.lim.WriteTimeoutOrDefault() }

// Reply writes a 200 reply with body, already encoded in the call's codec. While it is
// being written it counts against the memory bound; when the bound has no room for it,
// the reply is 503 ServiceUnavailableException instead.
func (c *Call) Reply(w http.ResponseWriter, body []byte) {
	n := max(int64(len(body))-c.reserved, 0) // what ReserveUpTo took covers the rest
	if !c.lim.take(n) {
		WriteError(w, c.Codec, SlowDown())
		return
	}
	defer c.lim.give(n)
	WriteBody(w, c.Codec, body)
}

// ReserveUpTo takes memory for a reply before the work that builds it, so that the work
// is bounded too: as much of want as the memory bound has room for, and at least least.
// It returns what it took (held until Release, and counted by Reply), or 0 when there is
// not even least: then answer ServiceUnavailableException.
func (c *Call) ReserveUpTo(want, least int64) int64 {
	if c.lim == nil || c.lim.Memory <= 0 {
		return want
	}
	for n := want; n >= least && n > 0; n /= 2 {
		if c.lim.take(n) {
			c.reserved += n
			return n
		}
	}
	if least > 0 && c.lim.take(least) {
		c.reserved += least
		return least
	}
	return 0
}

// ReplyValue encodes v in the call's codec and writes it with Reply (nil: an empty body).
func (c *Call) ReplyValue(w http.ResponseWriter, v any) {
	if v == nil {
		WriteBody(w, c.Codec, nil)
		return
	}
	b, err := Marshal(c.Codec, v)
	if err != nil {
		WriteError(w, c.Codec, Internal())
		return
	}
	c.Reply(w, b)
}

// SetRequestHeaders sets x-amzn-RequestId (a UUID) and x-amz-id-2 and returns the id.
func SetRequestHeaders(w http.ResponseWriter) string {
	id := uuid.NewString()
	var raw [72]byte
	for i := 0; i < len(raw); i += 8 {
		u := rand.Uint64()
		for j := 0; j < 8; j++ {
			raw[i+j] = byte(u >> (8 * j))
		}
	}
	h := w.Header()
	h["X-Amzn-Requestid"] = []string{id}
	h["X-Amz-Id-2"] = []string{base64.StdEncoding.EncodeToString(raw[:])}
	return id
}

// Begin runs dispatch steps 1–7 (and Decode, if set, before step 7). When it returns
// ok=false the reply has been written. Otherwise the caller serves the operation (step
// 8's member checks are the caller's) and calls c.Release.
func (e *Endpoint) Begin(w http.ResponseWriter, r *http.Request) (c *Call, ok bool) {
	reqID := SetRequestHeaders(w)
	h := w.Header()
	if r.Header.Get("Origin") != "" {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Max-Age", "172800")
		if v := r.Header.Get("Access-Control-Request-Headers"); v != "" {
			h.Set("Access-Control-Allow-Headers", v)
		}
		if v := r.Header.Get("Access-Control-Request-Method"); v != "" {
			h.Set("Access-Control-Allow-Methods", v)
		}
		h.Set("Content-Length", "0")
		delete(h, "X-Amz-Id-2") // AWS's CORS replies carry only the request id
		w.WriteHeader(http.StatusOK)
		return nil, false
	}
	if r.Method != http.MethodPost {
		writeAccessDenied(w, false) // AWS's 403 to GET/PUT/DELETE names no content type
		return nil, false
	}
	max := e.MaxBodyBytes
	if max <= 0 {
		max = 16 << 20
	}
	if r.ContentLength > max {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return nil, false
	}
	lim := e.Limits
	buf, charged, err := lim.readBody(w, r, max)
	switch bodyStatus(err) {
	case http.StatusOK:
	case http.StatusRequestEntityTooLarge:
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return nil, false
	case http.StatusServiceUnavailable:
		WriteError(w, JSON, SlowDown())
		return nil, false
	case http.StatusRequestTimeout:
		h.Set("Connection", "close")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusRequestTimeout)
		return nil, false
	default:
		WriteError(w, JSON, Serialization(""))
		return nil, false
	}
	c = &Call{Body: *buf, RequestID: reqID, lim: lim, buf: buf, charged: charged}
	release := func() { c.Release() }

	target := r.Header.Get("X-Amz-Target")
	op, hasPrefix := strings.CutPrefix(target, e.TargetPrefix)
	known := hasPrefix && e.Known != nil && e.Known(op)
	mt := MediaType(r.Header.Get("Content-Type"))

	// 3. Empty body.
	if len(c.Body) == 0 {
		codec := CBOR
		if mt == ContentTypeJSON || !e.AllowCBOR {
			codec = JSON
		}
		typ := TypeUnknownOp
		if known {
			typ = TypeSerialization
		}
		WriteError(w, codec, &Error{Status: 400, Type: typ})
		release()
		return nil, false
	}
	// 4./5. Content type.
	switch {
	case mt == ContentTypeJSON:
		c.Codec = JSON
	case mt == ContentTypeCBOR && e.AllowCBOR:
		c.Codec = CBOR
	case mt == ContentTypeLegacy:
		// the legacy JSON 1.0 envelope: a body that is not JSON is a serialization error,
		// anything else an unknown operation
		body, status := `{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},"Version":"1.0"}`, http.StatusNotFound
		if !json.Valid(c.Body) {
			body, status = `{"Output":{"__type":"com.amazon.coral.service#SerializationException","Message":null},"Version":"1.0"}`, http.StatusBadRequest
		}
		h.Set("Content-Type", ContentTypeLegacy)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		io.WriteString(w, body)
		release()
		return nil, false
	default:
		if !strings.Contains(target, ".") {
			WriteXMLAccessDenied(w)
		} else {
			const body = "<UnknownOperationException/>\n"
			h.Set("Content-Type", "application/xml")
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, body)
		}
		release()
		return nil, false
	}
	// 6. Unknown target.
	if !known {
		WriteError(w, c.Codec, &Error{Status: 400, Type: TypeUnknownOp})
		release()
		return nil, false
	}
	c.Op = op
	if e.Decode != nil {
		if derr := e.Decode(c); derr != nil {
			WriteError(w, c.Codec, derr)
			release()
			return nil, false
		}
	}
	// 7. Authentication.
	v := e.Verifier
	if v == nil {
		v = &Verifier{}
	}
	id, aerr := v.Verify(r, c.Body)
	if aerr != nil {
		WriteError(w, c.Codec, aerr)
		release()
		return nil, false
	}
	c.Identity = id
	return c, true
}
