// Package firehoseapi serves the Amazon Data Firehose API (AWS JSON 1.1,
// `X-Amz-Target: Firehose_20150804.<Operation>`) over the delivery manager of
// daemon/firehose. Names, shapes and messages follow shared/reference/firehose.md §1–§3.
// It holds only the handler: the daemon package builds the manager from the config and
// puts this handler in front of it (daemon/firehose.go).
package firehoseapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/firehose"
)

// TargetPrefix is the X-Amz-Target prefix of every Firehose operation.
const TargetPrefix = "Firehose_20150804."

// HandlerOptions configure the HTTP handler.
type HandlerOptions struct {
	Credentials  []awsproto.Credential // SigV4 checked when non-empty
	MaxBodyBytes int64                 // default 8 MiB (bodies above are refused unread)
	Limits       *awsproto.Limits      // body and reply time and memory (nil = defaults, no memory bound)
	Logger       *slog.Logger
	Now          func() time.Time
}

type handler struct {
	mgr *firehose.Manager
	ep  *awsproto.Endpoint
	log *slog.Logger
	m   *firehose.Metrics
}

type opFunc func(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error)

var operations map[string]opFunc

func init() {
	operations = map[string]opFunc{
		"CreateDeliveryStream":          opCreate,
		"DescribeDeliveryStream":        opDescribe,
		"ListDeliveryStreams":           opList,
		"DeleteDeliveryStream":          opDelete,
		"UpdateDestination":             opUpdateDestination,
		"PutRecord":                     opPutRecord,
		"PutRecordBatch":                opPutRecordBatch,
		"TagDeliveryStream":             opTag,
		"UntagDeliveryStream":           opUntag,
		"ListTagsForDeliveryStream":     opListTags,
		"StartDeliveryStreamEncryption": opStartEncryption,
		"StopDeliveryStreamEncryption":  opStopEncryption,
	}
}

// New returns the Firehose API handler over mgr. Safe for concurrent use.
func New(mgr *firehose.Manager, opts HandlerOptions) http.Handler {
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &handler{
		mgr: mgr,
		log: lg.With("component", "firehoseapi"),
		m:   mgr.Metrics(),
		ep: &awsproto.Endpoint{
			TargetPrefix: TargetPrefix,
			Known:        func(op string) bool { _, ok := operations[op]; return ok },
			Verifier: &awsproto.Verifier{Service: "firehose", Credentials: opts.Credentials,
				DefaultAccount: mgr.Account(), DefaultRegion: mgr.Region(), Now: now},
			MaxBodyBytes: opts.MaxBodyBytes,
			Limits:       opts.Limits,
		},
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Firehose also takes plain application/json bodies (reference §1).
	if awsproto.MediaType(r.Header.Get("Content-Type")) == awsproto.ContentTypeLegacy {
		r.Header.Set("Content-Type", awsproto.ContentTypeJSON)
	}
	call, ok := h.ep.Begin(w, r)
	if !ok {
		return
	}
	defer call.Release()
	var out any
	aerr := h.authorize(call)
	if aerr == nil {
		out, aerr = operations[call.Op](h, r.Context(), call)
	}
	code := "200"
	if aerr != nil {
		code = aerr.Type
		if aerr.Type == "InternalFailure" {
			h.log.Warn("internal failure", "op", call.Op, "request_id", call.RequestID)
		}
		awsproto.WriteError(w, awsproto.JSON, aerr)
	} else {
		body := []byte("{}")
		switch v := out.(type) {
		case nil:
		case rawJSON:
			body = v
		default:
			b, err := json.Marshal(out)
			if err != nil {
				awsproto.WriteError(w, awsproto.JSON, awsproto.Internal())
				return
			}
			body = b
		}
		call.Reply(w, body)
	}
	h.m.APIRequests.WithLabelValues(call.Op, code).Inc()
	h.m.APIDuration.WithLabelValues(call.Op).Observe(time.Since(start).Seconds())
}

// rawJSON is a reply body already encoded.
type rawJSON []byte

// decode unmarshals the body into v; type mismatches are SerializationException.
func decode(call *awsproto.Call, v any) *awsproto.Error {
	if err := json.Unmarshal(call.Body, v); err != nil {
		return awsproto.Serialization("") // bad JSON, wrong member types, bad base64
	}
	return nil
}

// mapErr turns a manager error into the wire error.
func mapErr(err error) *awsproto.Error {
	if err == nil {
		return nil
	}
	var de *firehose.Error
	if errors.As(err, &de) {
		if de.Type == firehose.ErrTypeInternal {
			return awsproto.Internal()
		}
		return awsproto.NewError(de.Type, de.Msg)
	}
	return awsproto.Internal()
}

func iae(msg string) *awsproto.Error { return awsproto.NewError(awsproto.TypeInvalidArgument, msg) }

// Timestamps are epoch seconds with a millisecond fraction.
type ts = awsproto.Timestamp

func tsOf(t time.Time) *ts {
	if t.IsZero() {
		return nil
	}
	v := awsproto.TS(t)
	return &v
}

func itoa(n int) string { return strconv.Itoa(n) }

// observeRecords counts record bytes per operation.
func (h *handler) observeRecords(op string, n, bytes int) {
	h.m.APIRecords.WithLabelValues(op).Add(float64(n))
	h.m.APIBytes.WithLabelValues(op).Add(float64(bytes))
}

// authorize applies the caller's `actions` and `streams` patterns (auth.credentials) to
// firehose:<Operation> on the delivery stream (its ARN or its name).
func (h *handler) authorize(call *awsproto.Call) *awsproto.Error {
	id := call.Identity
	if id.Cred == nil {
		return nil
	}
	action := "firehose:" + call.Op
	if !id.Allowed(action, "") {
		return id.DeniedError(action, "")
	}
	if len(id.Cred.Resources) == 0 {
		return nil
	}
	var in struct {
		DeliveryStreamName *string `json:"DeliveryStreamName"`
	}
	if json.Unmarshal(call.Body, &in) != nil || in.DeliveryStreamName == nil {
		return nil // the operation reports the bad body or the missing name
	}
	arn := h.mgr.ARN(*in.DeliveryStreamName)
	if id.Allowed(action, arn) || id.Allowed(action, *in.DeliveryStreamName) {
		return nil
	}
	return id.DeniedError(action, arn)
}
