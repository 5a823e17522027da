package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/processors"
	"github.com/sluice-io/sluice/sources/record"
	"gopkg.in/yaml.v3"
)

// DeliveryStream is one entry of the `delivery_streams` section: a Firehose delivery
// stream declared in the file (API-created ones live beside it, in the data dir).
//
//	delivery_streams:
//	  - name: orders
//	    source: {type: kinesis_stream, stream: orders}   # or {type: direct_put}
//	    processors:
//	      - {type: MetadataExtraction, parameters: {MetadataExtractionQuery: '{c: .customer}', JsonParsingEngine: JQ-1.6}}
//	      - {type: AppendDelimiterToRecord}
//	    dynamic_partitioning: {enabled: true}
//	    buffer: {size: 32MiB, interval: 60s}
//	    destination:
//	      type: s3
//	      retry_duration: 300s
//	      s3: {bucket: lake, prefix: 'orders/!{partitionKeyFromQuery:c}/', error_output_prefix: 'err/!{firehose:error-output-type}/',
//	           compression: GZIP, endpoint: 'http://127.0.0.1:9000', region: us-east-1, path_style: true}
type DeliveryStream struct {
	Name                string              `yaml:"name"`
	Source              DeliverySource      `yaml:"source"`
	Processors          []DeliveryProcessor `yaml:"processors"`
	Buffer              DeliveryBuffer      `yaml:"buffer"`
	Destination         DeliveryDestination `yaml:"destination"`
	DynamicPartitioning DynamicPartitioning `yaml:"dynamic_partitioning"`
}

// DeliverySource picks where records come from: `direct_put` (PutRecord/PutRecordBatch)
// or `kinesis_stream` (a stream of the `streams` section, read from the time the delivery
// stream is first created).
type DeliverySource struct {
	Type   string `yaml:"type"`
	Stream string `yaml:"stream"`
}

// DeliveryProcessor is one Firehose processor (`Decompression`, `RecordDeAggregation`,
// `MetadataExtraction`, `AppendDelimiterToRecord`, `CloudWatchLogProcessing`) with its
// Firehose parameters by name.
type DeliveryProcessor struct {
	Type       string            `yaml:"type"`
	Parameters map[string]string `yaml:"parameters"`
}

// DeliveryBuffer is the flush trigger: size (default 32MiB, 1MiB..1GiB) or interval
// (default 60s, 0..900s; 0 = as soon as possible), whichever first.
type DeliveryBuffer struct {
	Size     Size     `yaml:"size"`
	Interval Duration `yaml:"interval"`
}

// DeliveryDestination is the destination of a delivery stream: `type` names a
// destination linked into this build (`s3` is the default) and the block of that name holds
// its settings, which its folder under sinks/ defines and checks:
//
//	destination:
//	  type: s3
//	  retry_duration: 300s
//	  s3: {bucket: lake, prefix: orders/}
type DeliveryDestination struct {
	Type string
	// RetryDuration bounds retries of a failing delivery before records go to the error
	// output (default 300s, 0..7200s). An unreachable destination is waited for instead.
	RetryDuration Duration
	// Config is the destination block in the shape of the destination's Firehose API
	// member (nil when the block is missing or Type is unknown).
	Config sinks.Config
	// Conn is the S3 connection the block names, if any (never persisted).
	Conn *sinks.S3Conn
	// BlockPath is the YAML path of the block (for problems found later).
	BlockPath string
	blockOK   bool // the block decoded without problems
}

// UnmarshalStrict implements StrictUnmarshaler: `type`, `retry_duration` and one block
// named after a registered destination.
func (d *DeliveryDestination) UnmarshalStrict(v *Validator, node *yaml.Node, path string) {
	if node.Kind != yaml.MappingNode {
		v.ErrorAt(node, path, "expected a mapping, got a %s", kindName(node))
		return
	}
	names := sinks.Names()
	allowed := append([]string{"type", "retry_duration"}, names...)
	blocks := map[string]*yaml.Node{}
	var order []string
	v.eachKey(node, path, func(k, val *yaml.Node, cp string) {
		switch k.Value {
		case "type":
			v.Decode(val, cp, &d.Type)
		case "retry_duration":
			v.Decode(val, cp, &d.RetryDuration)
		default:
			if _, ok := sinks.Lookup(k.Value); !ok {
				v.ErrorAt(k, cp, "unknown key (allowed: %s)", strings.Join(allowed, ", "))
				return
			}
			v.nodes[cp] = val
			blocks[k.Value] = val
			order = append(order, k.Value)
		}
	})
	if d.Type == "" {
		d.Type = "s3"
		if len(order) == 1 {
			d.Type = order[0]
		}
	}
	kind, ok := sinks.Lookup(d.Type)
	if !ok {
		v.Errorf(path+".type", "%q is not a destination of this build (one of %s)", d.Type, strings.Join(names, ", "))
		return
	}
	for _, name := range order {
		if name != d.Type {
			v.Errorf(path+"."+name, "is for destination type %s, but type is %s", name, d.Type)
		}
	}
	d.BlockPath = path + "." + d.Type
	block := blocks[d.Type]
	if block == nil {
		v.Errorf(d.BlockPath, "is required with type %s", d.Type)
		return
	}
	n := v.Len()
	d.Config, d.Conn = kind.FromYAML(v, block, d.BlockPath)
	d.blockOK = v.Len() == n
}

// DynamicPartitioning turns on one buffer per `!{partitionKeyFromQuery:…}` prefix.
type DynamicPartitioning struct {
	Enabled bool `yaml:"enabled"`
}

// Delivery-stream defaults and ranges (firehose.md §3–§4).
const (
	DefaultDeliveryBufferSize     = 32 * MiB
	DefaultDeliveryBufferInterval = Duration(60 * time.Second)
	DefaultDeliveryRetry          = Duration(300 * time.Second)
	MaxDeliveryBufferSize         = 1 * GiB
	MaxDeliveryBufferInterval     = 900 * time.Second
	MaxDeliveryRetry              = 7200 * time.Second
)

var (
	deliveryNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
	processorTypes = []string{"Decompression", "CloudWatchLogProcessing", "RecordDeAggregation", "Lambda", "MetadataExtraction", "AppendDelimiterToRecord"}
)

// Validate checks the entry at path (delivery_streams[i]) and fills defaults that depend
// on whether the file sets a key. streams holds the names of the `streams` section.
func (d *DeliveryStream) Validate(v *Validator, path string, streams map[string]bool, fh *Firehose) {
	if v.Required(path+".name", d.Name) && !deliveryNameRE.MatchString(d.Name) {
		v.Errorf(path+".name", "%q is not a delivery stream name (1..64 of a-z, A-Z, 0-9, _ . -)", d.Name)
	}
	if d.Source.Type == "" {
		d.Source.Type = "direct_put"
	}
	if v.OneOf(path+".source.type", d.Source.Type, "direct_put", "kinesis_stream") {
		switch d.Source.Type {
		case "kinesis_stream":
			if v.Required(path+".source.stream", d.Source.Stream) && !streams[d.Source.Stream] {
				v.Errorf(path+".source.stream", "stream %q is not declared in streams", d.Source.Stream)
			}
		case "direct_put":
			if d.Source.Stream != "" {
				v.Errorf(path+".source.stream", "is only allowed with type kinesis_stream")
			}
		}
	}
	for i, p := range d.Processors {
		v.OneOf(fmt.Sprintf("%s.processors[%d].type", path, i), p.Type, processorTypes...)
	}

	if !v.Set(path + ".buffer.size") {
		d.Buffer.Size = DefaultDeliveryBufferSize
	}
	if !v.Set(path + ".buffer.interval") {
		d.Buffer.Interval = DefaultDeliveryBufferInterval
	}
	v.SizeRange(path+".buffer.size", d.Buffer.Size, 1*MiB, MaxDeliveryBufferSize)
	v.DurationRange(path+".buffer.interval", d.Buffer.Interval.D(), 0, MaxDeliveryBufferInterval)

	if d.Destination.Type == "" {
		d.Destination.Type = "s3"
		if !v.Set(path + ".destination") {
			v.Errorf(path+".destination", "is required")
		}
	}
	if !v.Set(path + ".destination.retry_duration") {
		d.Destination.RetryDuration = DefaultDeliveryRetry
		if c := d.Destination.Config; c != nil {
			if rs := c.Settings().RetrySeconds; rs != nil { // the destination's own default (Redshift: 3600 s)
				d.Destination.RetryDuration = Duration(time.Duration(*rs) * time.Second)
			}
		}
	}
	v.DurationRange(path+".destination.retry_duration", d.Destination.RetryDuration.D(), 0, MaxDeliveryRetry)
	d.checkPipeline(v, path, fh)
}

// checkPipeline compiles the processors and checks the destination the way the daemon
// will, so a bad JQ query or prefix expression is reported with its line at load time.
func (d *DeliveryStream) checkPipeline(v *Validator, path string, fh *Firehose) {
	lambdas := fh.LambdaFunctions
	pc := processors.Config{Enabled: len(d.Processors) > 0}
	for _, p := range d.Processors {
		pc.Processors = append(pc.Processors, processors.ProcessorConfig{Type: p.Type, Parameters: p.Parameters})
	}
	chain, err := processors.NewChain(pc, processors.Options{
		KPLDeaggregation: d.Source.Type == "kinesis_stream", DynamicPartitioning: d.DynamicPartitioning.Enabled,
		LambdaFunctions: lambdas})
	if err != nil {
		v.Errorf(path+".processors", "%s", record.Message(err))
		return
	}
	dc := d.Destination.Config
	if dc == nil || !d.Destination.blockOK {
		return // the block itself has problems, reported already
	}
	probe, err := sinks.Decode(d.Destination.Type, mustJSON(dc))
	if err != nil {
		v.Errorf(d.Destination.BlockPath, "%s", err)
		return
	}
	probe.Adopt(d.settings())
	keys := chain.QueryKeys()
	sort.Strings(keys)
	if err := probe.Validate(keys); err != nil {
		v.Errorf(d.Destination.BlockPath, "%s", record.Message(err))
		return
	}
	if cu, ok := probe.(sinks.CatalogUser); ok && cu.Converts() {
		if err := cu.CheckCatalog(fh.Tables()); err != nil {
			v.Errorf(d.Destination.BlockPath, "%s", record.Message(err))
		}
		if d.Buffer.Size < 64*MiB {
			v.Warnf(path+".buffer.size", "is %s: with record format conversion AWS requires buffers of at least 64MiB (Sluice delivers smaller ones, as smaller Parquet files)", d.Buffer.Size)
		}
	}
}

// settings are the members the file keeps outside the destination block.
func (d *DeliveryStream) settings() sinks.Settings {
	st := sinks.Settings{
		SizeMiB:     int((int64(d.Buffer.Size) + (1<<20 - 1)) >> 20),
		IntervalSec: int(d.Buffer.Interval.D().Seconds()),
		Partitioned: d.DynamicPartitioning.Enabled,
	}
	if d.DynamicPartitioning.Enabled {
		rd := int(d.Destination.RetryDuration.D().Seconds())
		st.RetrySeconds = &rd
	}
	if len(d.Processors) > 0 {
		on := true
		pc := &sinks.ProcessingConfiguration{Enabled: &on}
		for _, p := range d.Processors {
			pr := sinks.Processor{Type: p.Type}
			for _, k := range slices.Sorted(maps.Keys(p.Parameters)) {
				pr.Parameters = append(pr.Parameters, sinks.ProcessorParameter{ParameterName: k, ParameterValue: p.Parameters[k]})
			}
			pc.Processors = append(pc.Processors, pr)
		}
		st.Processing = pc
	}
	return st
}

// DestinationConfig returns a fresh copy of the destination's configuration with the
// entry's buffer, processors, dynamic partitioning and retry duration adopted, and the
// IAM role roleARN: the delivery stream's destination as the API would have created it.
func (d *DeliveryStream) DestinationConfig(roleARN string) (sinks.Config, error) {
	if d.Destination.Config == nil {
		return nil, fmt.Errorf("delivery stream %s has no destination", d.Name)
	}
	c, err := sinks.Decode(d.Destination.Type, mustJSON(d.Destination.Config))
	if err != nil {
		return nil, err
	}
	st := d.settings()
	st.RoleARN = roleARN
	c.Adopt(st)
	return c, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("config: destination configuration cannot be marshalled: " + err.Error()) // plain data
	}
	return b
}

// SinkEndpoints lists the endpoints the destination block names, for `sluice validate
// -check-sinks`.
func (d *DeliveryStream) SinkEndpoints() []string {
	if c := d.Destination.Conn; c != nil && c.Endpoint != "" {
		return []string{c.Endpoint}
	}
	return nil
}
