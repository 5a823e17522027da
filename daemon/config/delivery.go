package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	s3sink "github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/processors"
	"github.com/sluice-io/sluice/sources/record"
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

// DeliveryDestination picks the destination by `type` (only `s3` so far).
type DeliveryDestination struct {
	Type string `yaml:"type"`
	// RetryDuration bounds retries of a failing delivery before records go to the error
	// output (default 300s, 0..7200s). An unreachable S3 is retried forever.
	RetryDuration Duration      `yaml:"retry_duration"`
	S3            S3Destination `yaml:"s3"`
}

// S3Destination is an S3 (or MinIO) bucket and the key layout of its objects.
type S3Destination struct {
	Bucket            string `yaml:"bucket"`
	Prefix            string `yaml:"prefix"`
	ErrorOutputPrefix string `yaml:"error_output_prefix"`
	// Compression: UNCOMPRESSED (default), GZIP, ZIP, Snappy, HADOOP_SNAPPY, ZSTD.
	Compression    string `yaml:"compression"`
	FileExtension  string `yaml:"file_extension"`
	CustomTimeZone string `yaml:"custom_time_zone"`
	// Endpoint, Region, PathStyle and the keys address the S3 server; empty values take
	// the standard AWS configuration chain (environment, shared files).
	Endpoint        string `yaml:"endpoint"`
	Region          string `yaml:"region"`
	PathStyle       bool   `yaml:"path_style"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey Secret `yaml:"secret_access_key"`
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
	deliveryNameRE    = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
	fileExtensionRE   = regexp.MustCompile(`^$|^\.[0-9a-z!\-_.*'()]+$`)
	customTimeZoneRE  = regexp.MustCompile(`^$|^[a-zA-Z/_]+$`)
	compressionValues = []string{"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD"}
	processorTypes    = []string{"Decompression", "CloudWatchLogProcessing", "RecordDeAggregation", "Lambda", "MetadataExtraction", "AppendDelimiterToRecord"}
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
	}
	if !v.Set(path + ".destination.retry_duration") {
		d.Destination.RetryDuration = DefaultDeliveryRetry
	}
	v.DurationRange(path+".destination.retry_duration", d.Destination.RetryDuration.D(), 0, MaxDeliveryRetry)
	if v.OneOf(path+".destination.type", d.Destination.Type, "s3") {
		s := &d.Destination.S3
		sp := path + ".destination.s3"
		v.Required(sp+".bucket", s.Bucket)
		if s.Compression == "" {
			s.Compression = "UNCOMPRESSED"
		}
		v.OneOf(sp+".compression", s.Compression, compressionValues...)
		if !fileExtensionRE.MatchString(s.FileExtension) {
			v.Errorf(sp+".file_extension", "%q must be empty or start with a dot followed by 0-9 a-z ! - _ . * ' ( )", s.FileExtension)
		}
		if !customTimeZoneRE.MatchString(s.CustomTimeZone) {
			v.Errorf(sp+".custom_time_zone", "%q is not a time zone name (e.g. Europe/Paris)", s.CustomTimeZone)
		} else if s.CustomTimeZone != "" {
			if _, err := time.LoadLocation(s.CustomTimeZone); err != nil {
				v.Errorf(sp+".custom_time_zone", "unknown time zone %q", s.CustomTimeZone)
			}
		}
		if len(s.Prefix) > 1024 {
			v.Errorf(sp+".prefix", "is %d characters long (allowed 0..1024)", len(s.Prefix))
		}
		if len(s.ErrorOutputPrefix) > 1024 {
			v.Errorf(sp+".error_output_prefix", "is %d characters long (allowed 0..1024)", len(s.ErrorOutputPrefix))
		}
		if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
			v.Errorf(sp+".secret_access_key", "access_key_id and secret_access_key go together")
		}
		if d.DynamicPartitioning.Enabled && s.ErrorOutputPrefix == "" {
			v.Errorf(sp+".error_output_prefix", "is required with dynamic_partitioning")
		}
	}
	d.checkPipeline(v, path, fh.LambdaFunctions)
}

// checkPipeline compiles the processors and the S3 key layout the way the daemon will,
// so a bad JQ query or prefix expression is reported with its line at load time.
func (d *DeliveryStream) checkPipeline(v *Validator, path string, lambdas map[string]string) {
	pc := processors.Config{Enabled: len(d.Processors) > 0}
	for _, p := range d.Processors {
		pc.Processors = append(pc.Processors, processors.ProcessorConfig{Type: p.Type, Parameters: p.Parameters})
	}
	chain, err := processors.NewChain(pc, processors.Options{
		KPLDeaggregation: d.Source.Type == "kinesis_stream", DynamicPartitioning: d.DynamicPartitioning.Enabled,
		LambdaFunctions: lambdas})
	if err != nil {
		v.Errorf(path+".processors", "%s", clientMsg(err))
		return
	}
	if d.Destination.Type != "s3" || d.Destination.S3.Bucket == "" {
		return
	}
	s := d.Destination.S3
	keys := chain.QueryKeys()
	sort.Strings(keys)
	cfg := s3sink.Config{Bucket: s.Bucket, Prefix: s.Prefix, ErrorOutputPrefix: s.ErrorOutputPrefix,
		CompressionFormat: s3sink.CompressionFormat(s.Compression), FileExtension: s.FileExtension,
		CustomTimeZone: s.CustomTimeZone, DynamicPartitioning: d.DynamicPartitioning.Enabled, QueryKeys: keys}
	if err := cfg.Validate(); err != nil {
		v.Errorf(path+".destination.s3", "%s", clientMsg(err))
	}
}

func clientMsg(err error) string {
	var ia *record.InvalidArgumentError
	if errors.As(err, &ia) {
		return ia.Msg
	}
	return err.Error()
}

// SinkEndpoints lists the S3 endpoint for `sluice validate -check-sinks`.
func (d *DeliveryStream) SinkEndpoints() []string {
	if d.Destination.S3.Endpoint == "" {
		return nil
	}
	return []string{d.Destination.S3.Endpoint}
}
