package processors

import (
	"context"
	"encoding/base64"
	"slices"
	"time"

	"github.com/sluice-io/sluice/sources/record"
)

// stage transforms one record, appending its outputs to out and failures to fail.
type stage interface {
	name() string
	apply(ctx context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure)
}

// batchStage is a stage that works on the whole batch at once (Lambda).
type batchStage interface {
	applyBatch(ctx context.Context, in []record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure)
}

// Chain is a compiled processor list. Safe for concurrent use.
type Chain struct {
	stages    []stage
	queryKeys []string
	hasQuery  bool
	appendNL  bool
	observe   func(StageStats)
}

// order is Firehose's fixed processor order (§5.6).
var order = []string{TypeDecompression, TypeCloudWatchLogProcessing, TypeRecordDeAggregation, TypeLambda, TypeMetadataExtraction, TypeAppendDelimiterToRecord}

var allowedParams = map[string][]string{
	TypeDecompression:           {ParamCompressionFormat},
	TypeCloudWatchLogProcessing: {ParamDataMessageExtraction},
	TypeRecordDeAggregation:     {ParamSubRecordType, ParamDelimiter},
	TypeLambda:                  {ParamLambdaArn, ParamNumberOfRetries, "RoleArn", "BufferSizeInMBs", "BufferIntervalInSeconds"},
	TypeMetadataExtraction:      {ParamMetadataExtractionQuery, ParamJSONParsingEngine},
	TypeAppendDelimiterToRecord: {},
}

// NewChain checks cfg and compiles it. Processors run in Firehose's fixed order whatever
// their order in cfg. Errors wrap record.ErrInvalidArgument and name the processor and
// parameter. A disabled configuration gives a chain that only de-aggregates KPL records
// (when opts.KPLDeaggregation is set).
func NewChain(cfg Config, opts Options) (*Chain, error) {
	c := &Chain{observe: opts.Observer}
	if opts.KPLDeaggregation {
		c.stages = append(c.stages, kplStage{})
	}
	if !cfg.Enabled {
		return c, nil
	}
	byType := map[string]ProcessorConfig{}
	for i, p := range cfg.Processors {
		allowed, ok := allowedParams[p.Type]
		if !ok {
			return nil, record.InvalidArgument("Processors.%d.Type %q is not one of %v", i+1, p.Type, order)
		}
		if _, dup := byType[p.Type]; dup {
			return nil, record.InvalidArgument("Processor type %s is specified more than once", p.Type)
		}
		for k := range p.Parameters {
			if !slices.Contains(allowed, k) {
				return nil, record.InvalidArgument("Processor %s does not support parameter %s", p.Type, k)
			}
		}
		byType[p.Type] = p
	}
	for _, typ := range order {
		p, ok := byType[typ]
		if !ok {
			continue
		}
		param := func(k string) string { return p.Parameters[k] }
		switch typ {
		case TypeDecompression:
			if v := param(ParamCompressionFormat); v != "GZIP" {
				return nil, record.InvalidArgument("Processor Decompression: parameter CompressionFormat must be GZIP, got %q", v)
			}
			c.stages = append(c.stages, gunzipStage{})
		case TypeCloudWatchLogProcessing:
			if _, ok := byType[TypeDecompression]; !ok {
				return nil, record.InvalidArgument("Processor CloudWatchLogProcessing requires a Decompression processor")
			}
			switch v := param(ParamDataMessageExtraction); v {
			case "true":
				c.stages = append(c.stages, cwlStage{})
			case "false":
			default:
				return nil, record.InvalidArgument("Processor CloudWatchLogProcessing: parameter DataMessageExtraction must be true or false, got %q", v)
			}
		case TypeRecordDeAggregation:
			if !opts.DynamicPartitioning {
				return nil, record.InvalidArgument("Processor RecordDeAggregation requires dynamic partitioning to be enabled")
			}
			switch v := param(ParamSubRecordType); v {
			case "JSON":
				if _, has := p.Parameters[ParamDelimiter]; has {
					return nil, record.InvalidArgument("Processor RecordDeAggregation: parameter Delimiter is only valid with SubRecordType DELIMITED")
				}
				c.stages = append(c.stages, jsonSplitStage{})
			case "DELIMITED":
				d, err := base64.StdEncoding.DecodeString(param(ParamDelimiter))
				if err != nil || len(d) == 0 {
					return nil, record.InvalidArgument("Processor RecordDeAggregation: parameter Delimiter must be the non-empty base64 encoding of the delimiter, got %q", param(ParamDelimiter))
				}
				c.stages = append(c.stages, delimSplitStage{delim: d})
			default:
				return nil, record.InvalidArgument("Processor RecordDeAggregation: parameter SubRecordType must be JSON or DELIMITED, got %q", v)
			}
		case TypeLambda:
			st, err := newLambdaStage(p, opts)
			if err != nil {
				return nil, err
			}
			c.stages = append(c.stages, st)
		case TypeMetadataExtraction:
			if !opts.DynamicPartitioning {
				return nil, record.InvalidArgument("Processor MetadataExtraction requires dynamic partitioning to be enabled")
			}
			if v := param(ParamJSONParsingEngine); v != "" && v != "JQ-1.6" {
				return nil, record.InvalidArgument("Processor MetadataExtraction: parameter JsonParsingEngine must be JQ-1.6, got %q", v)
			}
			st, err := newJQStage(param(ParamMetadataExtractionQuery))
			if err != nil {
				return nil, err
			}
			c.stages = append(c.stages, st)
			c.queryKeys, c.hasQuery = st.keys, true
		case TypeAppendDelimiterToRecord:
			c.appendNL = true
		}
	}
	return c, nil
}

// QueryKeys returns the keys of the MetadataExtractionQuery object, sorted, when they are
// literal (nil if there is no query or a key is computed). Use it to check the S3 Prefix's
// partitionKeyFromQuery keys.
func (c *Chain) QueryKeys() []string { return slices.Clone(c.queryKeys) }

// HasMetadataExtraction reports whether the chain sets Record.PartitionKeys.
func (c *Chain) HasMetadataExtraction() bool { return c.hasQuery }

// Empty reports whether Process returns its input unchanged.
func (c *Chain) Empty() bool { return len(c.stages) == 0 && !c.appendNL }

// Process is ProcessContext with context.Background().
func (c *Chain) Process(in []record.Record) (out []record.Record, failed []Failure) {
	return c.ProcessContext(context.Background(), in)
}

// ProcessContext runs every processor over in and returns the surviving records, in order,
// and the failures. It never modifies the byte slices of in (outputs may alias them). A
// record that fails in a stage leaves the chain there. It only blocks when a Lambda processor
// calls its function (with retries); ending ctx fails those records instead. Safe for
// concurrent use.
func (c *Chain) ProcessContext(ctx context.Context, in []record.Record) (out []record.Record, failed []Failure) {
	if c.Empty() {
		return in, nil
	}
	cur := in
	for _, st := range c.stages {
		var start time.Time
		if c.observe != nil {
			start = time.Now()
		}
		nf := len(failed)
		next := make([]record.Record, 0, len(cur))
		if bs, ok := st.(batchStage); ok {
			next, failed = bs.applyBatch(ctx, cur, next, failed)
		} else {
			for _, r := range cur {
				next, failed = st.apply(ctx, r, next, failed)
			}
		}
		if c.observe != nil {
			c.observe(StageStats{Processor: st.name(), Duration: time.Since(start), In: len(cur), Out: len(next), Failed: len(failed) - nf})
		}
		cur = next
	}
	if c.appendNL {
		var start time.Time
		if c.observe != nil {
			start = time.Now()
		}
		cur = appendNewlines(cur, len(c.stages) == 0)
		if c.observe != nil {
			c.observe(StageStats{Processor: TypeAppendDelimiterToRecord, Duration: time.Since(start), In: len(cur), Out: len(cur)})
		}
	}
	return cur, failed
}

// appendNewlines gives every record a trailing 0x0A, copying data into one arena so shared
// input buffers are never written.
func appendNewlines(recs []record.Record, copyHeaders bool) []record.Record {
	if copyHeaders {
		recs = slices.Clone(recs)
	}
	n := 0
	for i := range recs {
		n += len(recs[i].Data) + 1
	}
	arena := make([]byte, 0, n)
	for i := range recs {
		start := len(arena)
		arena = append(arena, recs[i].Data...)
		arena = append(arena, '\n')
		recs[i].Data = arena[start:len(arena):len(arena)]
	}
	return recs
}
