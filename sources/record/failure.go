package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"strconv"
)

// Error-output types: the value of !{firehose:error-output-type} and the folder name under
// the default error prefix (firehose.md §5.3).
// Destinations name their own (AmazonOpenSearchService-failed, splunk-failed, …) in their
// folders.
const (
	ProcessingFailed       = "processing-failed"
	PartitioningFailed     = "partitioning-failed"
	FormatConversionFailed = "format-conversion-failed"
	// DeliveryFailed is the type of records whose delivery failed for the whole retry
	// duration or that the destination rejected, when the destination names none.
	DeliveryFailed = "delivery-failed"
)

// Error codes shared by the runner (destination-specific codes live with their sink).
const (
	CodeMetadataExtractionFailed = "DynamicPartitioning.MetadataExtractionFailed"
	CodePartitionCountExceeded   = "DynamicPartitioning.PartitionCountExceeded"
)

// DataCatalogTable is the format-conversion failure's table reference (§5.5).
type DataCatalogTable struct {
	CatalogID    string `json:"catalogId,omitempty"`
	DatabaseName string `json:"databaseName,omitempty"`
	TableName    string `json:"tableName,omitempty"`
	Region       string `json:"region,omitempty"`
	VersionID    string `json:"versionId,omitempty"`
	CatalogArn   string `json:"catalogArn,omitempty"`
}

// FailureRecord is one line of a failure object written under the error prefix
// (firehose.md §5.3, §5.5–5.7, §7–9). The six base fields are always written, in Firehose's
// order; the optional ones only when set. Timestamps are Unix milliseconds; RawData is the
// record at the failing stage and is written as standard base64.
type FailureRecord struct {
	AttemptsMade           int
	ArrivalTimestamp       int64
	ErrorCode              string
	ErrorMessage           string
	AttemptEndingTimestamp int64
	RawData                []byte

	// LastErrorNames writes lastErrorCode/lastErrorMessage instead of errorCode/errorMessage
	// (format-conversion failures, §5.5).
	LastErrorNames bool

	LambdaArn         string // processing-failed from Lambda
	SequenceNumber    string // sequenceNumber (format conversion)
	SubSequenceNumber *int   // subSequenceNumber (format conversion)
	DataCatalogTable  *DataCatalogTable

	// Extra are a destination's own members, written after the others in this order (the
	// destination folder owns them: esDocumentId for OpenSearch, EventId for Splunk, …).
	Extra []Field
}

// Field is one destination-specific member of a failure record.
type Field struct {
	Key   string
	Value any // marshalled with encoding/json
}

// NewFailureRecord fills the base fields from a record. attempts is attemptsMade; endMs the
// attemptEndingTimestamp in Unix ms.
func NewFailureRecord(r Record, attempts int, code, message string, endMs int64) FailureRecord {
	return FailureRecord{
		AttemptsMade:           attempts,
		ArrivalTimestamp:       r.ArrivalMs,
		ErrorCode:              code,
		ErrorMessage:           message,
		AttemptEndingTimestamp: endMs,
		RawData:                r.Data,
	}
}

// MarshalJSON writes the record as one compact JSON object with keys in Firehose's order.
func (f FailureRecord) MarshalJSON() ([]byte, error) {
	return f.appendJSON(nil), nil
}

func (f FailureRecord) appendJSON(b []byte) []byte {
	codeKey, msgKey := "errorCode", "errorMessage"
	if f.LastErrorNames {
		codeKey, msgKey = "lastErrorCode", "lastErrorMessage"
	}
	b = append(b, `{"attemptsMade":`...)
	b = strconv.AppendInt(b, int64(f.AttemptsMade), 10)
	b = append(b, `,"arrivalTimestamp":`...)
	b = strconv.AppendInt(b, f.ArrivalTimestamp, 10)
	b = appendStr(b, codeKey, f.ErrorCode)
	b = appendStr(b, msgKey, f.ErrorMessage)
	b = append(b, `,"attemptEndingTimestamp":`...)
	b = strconv.AppendInt(b, f.AttemptEndingTimestamp, 10)
	b = append(b, `,"rawData":"`...)
	b = base64.StdEncoding.AppendEncode(b, f.RawData)
	b = append(b, '"')
	opt := func(k, v string) {
		if v != "" {
			b = appendStr(b, k, v)
		}
	}
	opt("lambdaArn", f.LambdaArn)
	opt("sequenceNumber", f.SequenceNumber)
	if f.SubSequenceNumber != nil {
		b = append(b, `,"subSequenceNumber":`...)
		b = strconv.AppendInt(b, int64(*f.SubSequenceNumber), 10)
	}
	if f.DataCatalogTable != nil {
		t, _ := json.Marshal(f.DataCatalogTable) // plain strings: cannot fail
		b = append(b, `,"dataCatalogTable":`...)
		b = append(b, t...)
	}
	for _, x := range f.Extra {
		v, err := json.Marshal(x.Value)
		if err != nil {
			v = []byte("null") // a value that cannot be JSON is no member worth losing the line for
		}
		b = append(b, ',', '"')
		b = append(b, x.Key...) // keys are the destinations' constants: plain ASCII
		b = append(b, '"', ':')
		b = append(b, v...)
	}
	return append(b, '}')
}

func appendStr(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	v, _ := json.Marshal(val) // strings always marshal
	return append(b, v...)
}

// AppendNDJSON appends each record as one JSON line ending in '\n'.
func AppendNDJSON(dst []byte, recs []FailureRecord) []byte {
	for i := range recs {
		dst = recs[i].appendJSON(dst)
		dst = append(dst, '\n')
	}
	return dst
}

// WriteNDJSON writes recs to w as newline-delimited JSON.
func WriteNDJSON(w io.Writer, recs []FailureRecord) error {
	var buf bytes.Buffer
	for i := range recs {
		buf.Reset()
		buf.Write(recs[i].appendJSON(buf.AvailableBuffer()))
		buf.WriteByte('\n')
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
