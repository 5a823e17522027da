// Package processors runs Firehose's built-in record processors in Firehose's fixed order
// (firehose.md §5.6): KPL de-aggregation (KinesisStreamAsSource only) → Decompression →
// CloudWatchLogProcessing → RecordDeAggregation → (Lambda: not supported) →
// MetadataExtraction → AppendDelimiterToRecord.
//
// A Chain is built once from the delivery stream's ProcessingConfiguration (NewChain checks
// it with InvalidArgumentException-style errors naming the parameter) and is then safe for
// concurrent use. Records a processor cannot handle come back as Failures carrying the
// error-output type (processing-failed or partitioning-failed) and the record at the failing
// stage; the pipeline writes them under the error prefix.
package processors

import (
	"net/http"
	"time"

	"github.com/sluice-io/sluice/sources/record"
)

// Processor type names (ProcessingConfiguration.Processors[].Type).
const (
	TypeDecompression           = "Decompression"
	TypeCloudWatchLogProcessing = "CloudWatchLogProcessing"
	TypeRecordDeAggregation     = "RecordDeAggregation"
	TypeLambda                  = "Lambda"
	TypeMetadataExtraction      = "MetadataExtraction"
	TypeAppendDelimiterToRecord = "AppendDelimiterToRecord"
)

// Parameter names.
const (
	ParamCompressionFormat       = "CompressionFormat"
	ParamDataMessageExtraction   = "DataMessageExtraction"
	ParamSubRecordType           = "SubRecordType"
	ParamDelimiter               = "Delimiter"
	ParamMetadataExtractionQuery = "MetadataExtractionQuery"
	ParamJSONParsingEngine       = "JsonParsingEngine"
	ParamLambdaArn               = "LambdaArn"
	ParamNumberOfRetries         = "NumberOfRetries"
)

// Error codes in processing-failed records from the built-in processors.
const (
	CodeDecompressionFailed  = "Decompression.DecompressionFailed"
	CodeCloudWatchLogsFailed = "CloudWatchLogProcessing.InvalidLogData"
	CodeDeAggregationFailed  = "RecordDeAggregation.ParseError"
)

// MaxSubRecords is the sub-record count above which RecordDeAggregation leaves a record whole.
const MaxSubRecords = 500

// MaxQueryKeys is the maximum number of keys a MetadataExtractionQuery may produce.
const MaxQueryKeys = 50

// ProcessorConfig is one entry of ProcessingConfiguration.Processors, with the parameter list
// flattened into a map (ParameterName → ParameterValue).
type ProcessorConfig struct {
	Type       string
	Parameters map[string]string
}

// Config mirrors Firehose's ProcessingConfiguration.
type Config struct {
	Enabled    bool
	Processors []ProcessorConfig
}

// Options are pipeline facts that are not part of ProcessingConfiguration.
type Options struct {
	// KPLDeaggregation enables KPL de-aggregation (KinesisStreamAsSource pipelines).
	KPLDeaggregation bool
	// DynamicPartitioning is DynamicPartitioningConfiguration.Enabled. Without it,
	// MetadataExtraction and RecordDeAggregation are rejected, as Firehose does.
	DynamicPartitioning bool
	// LambdaFunctions maps a Lambda processor's LambdaArn to the URL of an HTTP function that
	// takes the Firehose Lambda event. An unmapped ARN is an InvalidArgumentException.
	LambdaFunctions map[string]string
	// HTTPClient calls Lambda functions (nil = http.DefaultClient).
	HTTPClient *http.Client
	// DeliveryStreamARN, Region and SourceStreamARN (KinesisStreamAsSource) fill the Lambda
	// event.
	DeliveryStreamARN, Region, SourceStreamARN string
	// Observer, if set, is called after each processor ran in a Process call (for the
	// processing_duration_seconds / processing_records_total / jq_duration_seconds metrics).
	// It is called from the goroutine running Process.
	Observer func(StageStats)
}

// StageStats describes one processor's part of a Process call.
type StageStats struct {
	// Processor is the processor type, or "KPLDeaggregation" for KPL de-aggregation.
	Processor string
	Duration  time.Duration
	// In records entered the processor; Out left it; Failed went to the error output.
	// In − Out − Failed may be non-zero: splitting adds records, CONTROL_MESSAGEs are dropped.
	In, Out, Failed int
}

// Failure is a record a processor could not handle.
type Failure struct {
	// ErrorOutputType is record.ProcessingFailed or record.PartitioningFailed.
	ErrorOutputType string
	ErrorCode       string
	ErrorMessage    string
	// LambdaArn is set for failures of the Lambda processor.
	LambdaArn string
	// Record is the record at the failing stage; Record.Data is the failure's rawData.
	Record record.Record
}

// FailureRecord converts f to the JSON shape written under the error prefix.
func (f Failure) FailureRecord(attemptsMade int, attemptEndingMs int64) record.FailureRecord {
	fr := record.NewFailureRecord(f.Record, attemptsMade, f.ErrorCode, f.ErrorMessage, attemptEndingMs)
	fr.LambdaArn = f.LambdaArn
	return fr
}
