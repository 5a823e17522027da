package kinesisapi

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// NewIngest returns the plain ingest route for producers that are not AWS clients:
//
//	POST /v1/streams/{name}/records
//
// The body is NDJSON (one JSON value per line) or one JSON array of values; each value
// becomes one record whose Data is the value's JSON text. The partition key is the
// top-level field named by ?partition_key_field= (strings as is, other values as JSON
// text), else the X-Partition-Key header, else random. Records are durable when the
// reply is sent, exactly as with PutRecords, and the same quotas apply. The reply is
// {"FailedRecordCount":n,"Records":[{"SequenceNumber","ShardId"}|{"ErrorCode","ErrorMessage"}]}
// in request order; a request-wide failure is {"__type","message"} with 4xx/5xx.
//
// With credentials configured the caller authenticates with SigV4 (service "kinesis")
// or HTTP Basic (access key id : secret access key) and needs kinesis:PutRecords on the
// stream. The handler is safe for concurrent use.
func NewIngest(engine *streamcore.Engine, opts Options) http.Handler {
	return &ingest{h: newHandler(engine, opts)}
}

type ingest struct{ h *handler }

// ingestBatch is how many records go to the engine per call.
const ingestBatch = 500

func (in *ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := in.h
	awsproto.SetRequestHeaders(w)
	fail := func(e *awsproto.Error) { awsproto.WriteError(w, awsproto.JSON, e) }
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		fail(&awsproto.Error{Status: http.StatusMethodNotAllowed, Type: "MethodNotAllowed", Message: "Use POST."})
		return
	}
	name, ok := ingestStreamName(r.URL.Path)
	if !ok || !reName.MatchString(name) || len(name) > 128 {
		fail(&awsproto.Error{Status: http.StatusNotFound, Type: "ResourceNotFoundException", Message: "Expected POST /v1/streams/{name}/records with a valid stream name."})
		return
	}
	max := h.opts.MaxBodyBytes
	if max <= 0 {
		max = 16 << 20
	}
	body, release, status := h.opts.Limits.ReadBody(w, r, max)
	switch status {
	case http.StatusOK:
		defer release()
	case http.StatusRequestEntityTooLarge:
		fail(&awsproto.Error{Status: status, Type: "RequestEntityTooLarge", Message: "Body exceeds " + strconv.FormatInt(max, 10) + " bytes."})
		return
	case http.StatusServiceUnavailable:
		fail(awsproto.SlowDown())
		return
	case http.StatusRequestTimeout:
		w.Header().Set("Connection", "close")
		fail(&awsproto.Error{Status: status, Type: "RequestTimeout", Message: "The body arrived too slowly."})
		return
	default:
		fail(awsproto.NewError(awsproto.TypeSerialization, "Could not read the request body."))
		return
	}
	id, aerr := in.authenticate(r, body)
	if aerr != nil {
		fail(aerr)
		return
	}
	k := streamcore.StreamKey{Account: id.Account, Region: id.Region, Name: name}
	if e := (&reqCtx{h: h, ctx: r.Context(), id: id}).authorize("PutRecords", k.ARN()); e != nil {
		if e.Type == awsproto.TypeAccessDenied {
			e.Status = http.StatusForbidden
		}
		fail(e)
		return
	}
	values, perr := splitValues(body)
	if perr != "" {
		fail(awsproto.NewError(awsproto.TypeSerialization, perr))
		return
	}
	if len(values) == 0 {
		fail(awsproto.NewError(awsproto.TypeValidation, "The body holds no records."))
		return
	}
	field := r.URL.Query().Get("partition_key_field")
	headerKey := r.Header.Get("X-Partition-Key")
	entries := make([]streamcore.PutEntry, len(values))
	for i, v := range values {
		pk := ""
		if field != "" {
			pk = fieldKey(v, field)
		}
		if pk == "" {
			pk = headerKey
		}
		if pk == "" {
			pk = randomKey()
		}
		if len(pk) > 256 {
			pk = pk[:256]
		}
		entries[i] = streamcore.PutEntry{PartitionKey: pk, Data: v}
	}
	results := make([]streamcore.PutResult, 0, len(entries))
	for start := 0; start < len(entries); start += ingestBatch {
		end := min(start+ingestBatch, len(entries))
		res, err := h.eng.PutRecords(r.Context(), k, entries[start:end])
		if err != nil {
			e := engErr(err)
			if e.Type == string(streamcore.CodeResourceNotFound) {
				e.Status = http.StatusNotFound
			}
			if start > 0 {
				// Earlier batches are durable: report them, fail the rest.
				for i := start; i < len(entries); i++ {
					results = append(results, streamcore.PutResult{Err: err})
				}
				break
			}
			fail(e)
			return
		}
		h.metrics.incoming(k, entries[start:end], res)
		results = append(results, res...)
	}
	out := appendPutRecordsJSON(make([]byte, 0, 64+len(results)*110), results)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// ingestStreamName extracts {name} from …/streams/{name}/records.
func ingestStreamName(path string) (string, bool) {
	i := strings.LastIndex(path, "/streams/")
	if i < 0 {
		return "", false
	}
	rest := path[i+len("/streams/"):]
	name, ok := strings.CutSuffix(rest, "/records")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

func (in *ingest) authenticate(r *http.Request, body []byte) (awsproto.Identity, *awsproto.Error) {
	h := in.h
	v := h.ep.Verifier
	anon := awsproto.Identity{Account: h.opts.Account, Region: h.opts.Region}
	if user, pass, ok := r.BasicAuth(); ok {
		if !v.Enabled() {
			anon.AccessKeyID = user
			return anon, nil
		}
		if c := awsproto.BasicCredential(h.opts.Credentials, user, pass); c != nil {
			id := anon
			id.AccessKeyID, id.Cred = user, c
			if len(user) == 12 && strings.Trim(user, "0123456789") == "" {
				id.Account = user
			}
			return id, nil
		}
		return awsproto.Identity{}, &awsproto.Error{Status: http.StatusForbidden, Type: awsproto.TypeUnrecognized, Message: "The security token included in the request is invalid."}
	}
	if r.Header.Get("Authorization") != "" || r.URL.Query().Has("X-Amz-Algorithm") {
		return v.Verify(r, body)
	}
	if v.Enabled() {
		return awsproto.Identity{}, &awsproto.Error{Status: http.StatusUnauthorized, Type: awsproto.TypeMissingToken, Message: "Missing Authentication Token"}
	}
	return anon, nil
}

// splitValues splits an NDJSON body or a JSON array into compact JSON values.
func splitValues(body []byte) ([][]byte, string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, ""
	}
	if trimmed[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(trimmed, &raw); err == nil {
			out := make([][]byte, 0, len(raw))
			for _, v := range raw {
				out = append(out, compact(v))
			}
			return out, ""
		}
		// Not one array: maybe NDJSON whose first line is an array.
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), len(body)+1)
	line := 0
	for sc.Scan() {
		line++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		if !json.Valid(l) {
			return nil, "Line " + strconv.Itoa(line) + " is not valid JSON."
		}
		out = append(out, compact(l))
	}
	if err := sc.Err(); err != nil {
		return nil, "Could not split the body into lines: " + err.Error()
	}
	return out, ""
}

func compact(v []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return append([]byte(nil), v...)
	}
	return b.Bytes()
}

// fieldKey returns the partition key taken from a top-level field of a JSON object.
func fieldKey(v []byte, field string) string {
	if len(v) == 0 || v[0] != '{' {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return ""
	}
	raw, ok := m[field]
	if !ok || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func randomKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
