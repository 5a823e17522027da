// Package kinesisapi serves the Amazon Kinesis Data Streams API (Kinesis_20131202, JSON 1.1
// and CBOR) over a streamcore.Engine, plus Sluice's plain NDJSON ingest route.
//
// Every operation of reference kinesis.md §2 is served; SubscribeToShard streams
// application/vnd.amazon.eventstream frames and needs HTTP/2 (the daemon's server
// enables h2c prior knowledge and ALPN h2).
package kinesisapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// Options configure the Kinesis handler.
type Options struct {
	// Region and Account are the defaults for requests whose credential scope names no
	// region or whose access key is not a 12-digit account ("us-east-1", "000000000000").
	Region, Account string
	// Credentials enable SigV4 verification and per-key policies; empty = accept any
	// signature (but some auth must be present).
	Credentials []awsproto.Credential
	// MaxBodyBytes caps request bodies (default 16 MiB).
	MaxBodyBytes int64
	// Limits bound body and reply time and memory (nil = defaults, no memory bound).
	Limits *awsproto.Limits
	Logger *slog.Logger
	// Registerer receives the request metrics (nil = not exported).
	Registerer prometheus.Registerer
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// SubscriptionLifetime is how long a SubscribeToShard call streams (default 5 min).
	SubscriptionLifetime time.Duration
	// NoControlPlaneLimits switches off the per-account control-plane call quotas
	// (CreateStream 5/s, DescribeStream 10/s, … reference §6), which are on by default.
	NoControlPlaneLimits bool
}

type handler struct {
	eng     *streamcore.Engine
	opts    Options
	ep      *awsproto.Endpoint
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	tokens  tokenCodec

	policies policyCache
	limiter  rateLimiter
	// Stored-only settings (reference §2: echoed, no effect; kept in memory).

	subsMu sync.Mutex
	subs   map[string]*subscription // consumer ARN + "|" + shard id
}

type opFunc func(h *handler, rc *reqCtx) (any, *awsproto.Error)

// reqCtx is one operation call.
type reqCtx struct {
	h     *handler
	ctx   context.Context
	w     http.ResponseWriter
	r     *http.Request
	call  *awsproto.Call
	f     *awsproto.Fields // nil for hot-path operations
	codec awsproto.Codec
	id    awsproto.Identity
	// written is set by operations that wrote their own reply.
	written bool
	// the tags a tagging call sets (aws:RequestTag/<key>) and the keys it sets or
	// removes (aws:TagKeys), for policy conditions
	reqTags map[string]string
	tagKeys []string
	// the StreamId member (AWS: "reserved for future use"), read for operations that
	// have it; validated where their model lists it (validateStreamID)
	streamID    string
	hasStreamID bool
}

// setRequestTags records what a tagging call sets, for policy conditions.
func (rc *reqCtx) setRequestTags(tags map[string]string) {
	rc.reqTags = tags
	rc.tagKeys = make([]string, 0, len(tags))
	for k := range tags {
		rc.tagKeys = append(rc.tagKeys, k)
	}
}

var operations = map[string]opFunc{}

func init() {
	for name, fn := range map[string]opFunc{
		"CreateStream":                           opCreateStream,
		"DeleteStream":                           opDeleteStream,
		"DescribeStream":                         opDescribeStream,
		"DescribeStreamSummary":                  opDescribeStreamSummary,
		"ListStreams":                            opListStreams,
		"ListShards":                             opListShards,
		"PutRecord":                              opPutRecord,
		"PutRecords":                             opPutRecords,
		"GetShardIterator":                       opGetShardIterator,
		"GetRecords":                             opGetRecords,
		"SubscribeToShard":                       opSubscribeToShard,
		"SplitShard":                             opSplitShard,
		"MergeShards":                            opMergeShards,
		"UpdateShardCount":                       opUpdateShardCount,
		"UpdateStreamMode":                       opUpdateStreamMode,
		"UpdateMaxRecordSize":                    opUpdateMaxRecordSize,
		"IncreaseStreamRetentionPeriod":          opIncreaseRetention,
		"DecreaseStreamRetentionPeriod":          opDecreaseRetention,
		"AddTagsToStream":                        opAddTagsToStream,
		"RemoveTagsFromStream":                   opRemoveTagsFromStream,
		"ListTagsForStream":                      opListTagsForStream,
		"TagResource":                            opTagResource,
		"UntagResource":                          opUntagResource,
		"ListTagsForResource":                    opListTagsForResource,
		"DescribeLimits":                         opDescribeLimits,
		"DescribeAccountSettings":                opDescribeAccountSettings,
		"UpdateAccountSettings":                  opUpdateAccountSettings,
		"UpdateStreamWarmThroughput":             opUpdateStreamWarmThroughput,
		"UpdateStreamRecordDistributionStrategy": opUpdateStreamRecordDistributionStrategy,
		"PutResourcePolicy":                      opPutResourcePolicy,
		"GetResourcePolicy":                      opGetResourcePolicy,
		"DeleteResourcePolicy":                   opDeleteResourcePolicy,
		"RegisterStreamConsumer":                 opRegisterStreamConsumer,
		"DeregisterStreamConsumer":               opDeregisterStreamConsumer,
		"DescribeStreamConsumer":                 opDescribeStreamConsumer,
		"ListStreamConsumers":                    opListStreamConsumers,
		"StartStreamEncryption":                  opStartStreamEncryption,
		"StopStreamEncryption":                   opStopStreamEncryption,
		"EnableEnhancedMonitoring":               opEnableEnhancedMonitoring,
		"DisableEnhancedMonitoring":              opDisableEnhancedMonitoring,
	} {
		operations[name] = fn
	}
}

// decodeCall decodes a request body before authentication: the hot operations' JSON
// with the hand-written decoders (falling back to the generic path for anything they do
// not handle), everything else into awsproto.Fields.
func decodeCall(c *awsproto.Call) *awsproto.Error {
	if c.Codec == awsproto.JSON {
		switch c.Op {
		case "PutRecords":
			if in, ok := decodePutRecordsJSON(c.Body); ok {
				c.Parsed = &in
				return nil
			}
		case "PutRecord":
			if in, ok := decodePutRecordJSON(c.Body); ok {
				c.Parsed = &in
				return nil
			}
		case "GetRecords":
			if in, ok := decodeGetRecordsJSON(c.Body); ok {
				c.Parsed = &in
				return nil
			}
		}
	}
	f, e := awsproto.ParseBody(c.Codec, c.Body)
	if e != nil {
		return e
	}
	c.Parsed = f
	return nil
}

// New returns the Kinesis API handler. It serves POST / with X-Amz-Target
// Kinesis_20131202.<Op>; it is safe for concurrent use.
func New(engine *streamcore.Engine, opts Options) http.Handler {
	return newHandler(engine, opts)
}

func newHandler(engine *streamcore.Engine, opts Options) *handler {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SubscriptionLifetime <= 0 {
		opts.SubscriptionLifetime = 5 * time.Minute
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	h := &handler{
		eng:     engine,
		opts:    opts,
		log:     opts.Logger.With("component", "kinesisapi"),
		metrics: newMetrics(opts.Registerer),
		now:     now,
		tokens:  newTokenCodec(),
		subs:    map[string]*subscription{},
	}
	h.ep = &awsproto.Endpoint{
		TargetPrefix: "Kinesis_20131202.",
		Known:        func(op string) bool { _, ok := operations[op]; return ok },
		Verifier: &awsproto.Verifier{
			Service:        "kinesis",
			Credentials:    opts.Credentials,
			DefaultAccount: opts.Account,
			DefaultRegion:  opts.Region,
			Now:            now,
		},
		MaxBodyBytes: opts.MaxBodyBytes,
		Limits:       opts.Limits,
		AllowCBOR:    true,
		Decode:       decodeCall,
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	call, ok := h.ep.Begin(w, r)
	if !ok {
		h.metrics.observe(opFromTarget(r), w, start)
		return
	}
	defer call.Release()
	rc := &reqCtx{h: h, ctx: r.Context(), w: w, r: r, call: call, codec: call.Codec, id: call.Identity}
	rc.f, _ = call.Parsed.(*awsproto.Fields)
	if rc.f != nil && !noStreamIDMember[call.Op] {
		// read before the operation checks its fields: a wrong type is its
		// SerializationException like any member's
		rc.streamID, rc.hasStreamID = rc.f.Str("StreamId")
	}
	out, aerr := operations[call.Op](h, rc)
	if in, ok := call.Parsed.(*putRecordsIn); ok {
		in.release() // the records are stored (or refused); the reply holds no Data
	}
	switch {
	case rc.written:
	case aerr != nil:
		if aerr.Type == "InternalFailure" {
			h.log.Warn("internal failure", "op", call.Op, "request_id", call.RequestID)
		}
		awsproto.WriteError(w, call.Codec, aerr)
	case out == nil:
		awsproto.WriteBody(w, call.Codec, nil)
	default:
		if b, ok := out.(rawBody); ok {
			call.Reply(w, b)
		} else {
			call.ReplyValue(w, out)
		}
	}
	h.metrics.observe(call.Op, w, start)
}

// rawBody is an already encoded reply.
type rawBody []byte

func opFromTarget(r *http.Request) string {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Kinesis_20131202.")
	if _, known := operations[op]; !ok || !known {
		return "unknown"
	}
	return op
}

// engErr converts an engine error into the AWS reply; messages are never re-worded.
func engErr(err error) *awsproto.Error {
	if err == nil {
		return nil
	}
	var e *streamcore.Error
	if errors.As(err, &e) {
		if e.Code == streamcore.CodeInternal {
			if streamcore.StorageFull(e) { // the one cause worth naming: the operator must act
				return awsproto.NewError("InternalFailure", e.Msg)
			}
			return awsproto.Internal()
		}
		return awsproto.NewError(string(e.Code), e.Msg)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return awsproto.NewError("InternalFailure", "")
	}
	return awsproto.Internal()
}

var (
	reName   = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	reARN    = regexp.MustCompile(`^arn:aws.*:kinesis:.*:\d{12}:stream/\S+$`)
	reConARN = regexp.MustCompile(`^(?:` + patConARN + `)$`)
	reResARN = regexp.MustCompile(`^(?:` + patResARN + `)$`)
)

// The models' patterns (ConsumerARN, ResourceARN), shown as written there.
const (
	patName   = "[a-zA-Z0-9_.-]+"
	patARN    = `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`
	patConARN = `^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`
	patResARN = `arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+`
)

// streamArgs are the stream-addressing members.
type streamArgs struct {
	name, arn       string
	hasName, hasARN bool
	streamID        string
	hasStreamID     bool
}

func readStreamArgs(f *awsproto.Fields) streamArgs {
	var a streamArgs
	a.name, a.hasName = f.Str("StreamName")
	a.arn, a.hasARN = f.Str("StreamARN")
	a.streamID, a.hasStreamID = f.Str("StreamId")
	return a
}

// validate adds the constraint checks of StreamName/StreamARN in model order. When
// required, one of them must be present.
func (a streamArgs) validateName(v *awsproto.Validation, required bool) {
	if a.hasName {
		v.Length("streamName", a.name, 1, 128)
		v.Pattern("streamName", a.name, reName, patName) // an empty name breaks both, as AWS lists
	} else if required && !a.hasARN {
		v.Add(awsproto.Null, "streamName", awsproto.RuleNotNull)
	}
}

// validateARN checks StreamARN and, right after it as in the models, StreamId.
func (a streamArgs) validateARN(v *awsproto.Validation) {
	if a.hasARN {
		v.Length("streamARN", a.arn, 1, 2048)
		validateARNStream(v, a.arn) // "" breaks the pattern too, as AWS lists
	}
	validateStreamID(v, a.streamID, a.hasStreamID)
}

// noStreamIDMember lists the operations whose input has no StreamId member.
var noStreamIDMember = map[string]bool{"CreateStream": true, "DescribeAccountSettings": true,
	"DescribeLimits": true, "ListStreams": true, "UpdateAccountSettings": true}

// StreamId: AWS's constraints (length 1–24, pattern patStreamID). The pattern also lets
// through the form Sluice's Describe shows (its '-' as '_', so the SDKs' endpoint rules
// do not route clients away), since clients send back what they were shown.
const patStreamID = "[a-z0-9]{20}-[a-z0-9]{3}"

var reStreamID = regexp.MustCompile(`^[a-z0-9]{20}[-_][a-z0-9]{3}$`)

func validateStreamID(v *awsproto.Validation, id string, has bool) {
	if has {
		v.Length("streamId", id, 1, 24)
		v.Pattern("streamId", id, reStreamID, patStreamID)
	}
}

// validateARNStream checks a StreamARN member: AWS's pattern, then that what follows
// "stream/" is a stream name and nothing else.
func validateARNStream(v *awsproto.Validation, arn string) {
	if !reARN.MatchString(arn) {
		v.Pattern("streamARN", arn, reARN, patARN)
		return
	}
	if _, ok := parseStreamARN(arn); !ok {
		v.Add(awsproto.Quote(arn), "streamARN", "Member must name one stream: stream/<StreamName>, StreamName matching "+patName+" and nothing after it")
	}
}

// key resolves the stream: the ARN wins and picks account and region.
func (h *handler) key(rc *reqCtx, a streamArgs) (streamcore.StreamKey, *awsproto.Error) {
	if a.hasARN {
		k, ok := parseStreamARN(a.arn)
		if !ok {
			return k, awsproto.NewError(awsproto.TypeInvalidArgument, "StreamARN "+a.arn+" is invalid.")
		}
		if a.hasName && a.name != k.Name {
			return k, awsproto.NewError(awsproto.TypeInvalidArgument, "StreamARN "+a.arn+" does not refer to stream "+a.name+".")
		}
		return k, nil
	}
	return streamcore.StreamKey{Account: rc.id.Account, Region: rc.id.Region, Name: a.name}, nil
}

// parseStreamARN parses arn:aws:kinesis:<region>:<account>:stream/<name>.
func parseStreamARN(arn string) (streamcore.StreamKey, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" {
		return streamcore.StreamKey{}, false
	}
	name, ok := strings.CutPrefix(parts[5], "stream/")
	if !ok || !reName.MatchString(name) || name == "." || name == ".." {
		// nothing may follow the name: "stream/orders-1/../secret" is not stream orders-1
		return streamcore.StreamKey{}, false
	}
	return streamcore.StreamKey{Account: parts[4], Region: parts[3], Name: name}, true
}
