package processors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/klauspost/compress/gzip"
)

// MaxDecompressedSize bounds one record's decompressed size (a gzip bomb is a
// processing-failed record, not an out-of-memory daemon).
const MaxDecompressedSize = 64 << 20

func processingFailed(r record.Record, code, format string, args ...any) Failure {
	return Failure{ErrorOutputType: record.ProcessingFailed, ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...), Record: r}
}

// gunzipStage is Decompression with CompressionFormat GZIP.
type gunzipStage struct{}

func (gunzipStage) name() string { return TypeDecompression }

func (gunzipStage) apply(_ context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	d, err := gunzip(r.Data)
	if err != nil {
		return out, append(fail, processingFailed(r, CodeDecompressionFailed, "The data could not be decompressed as GZIP: %v", err))
	}
	r.Data = d
	return append(out, r), fail
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(min(4*len(b), MaxDecompressedSize))
	n, err := io.Copy(&buf, io.LimitReader(zr, MaxDecompressedSize+1))
	if err != nil {
		return nil, err
	}
	if n > MaxDecompressedSize {
		return nil, fmt.Errorf("decompressed data exceeds %d bytes", MaxDecompressedSize)
	}
	return buf.Bytes(), nil
}

// cwlStage is CloudWatchLogProcessing with DataMessageExtraction=true: one record per
// logEvents[].message of a DATA_MESSAGE; CONTROL_MESSAGE records are dropped.
type cwlStage struct{}

func (cwlStage) name() string { return TypeCloudWatchLogProcessing }

type cwlEnvelope struct {
	MessageType string `json:"messageType"`
	LogEvents   []struct {
		Message *string `json:"message"`
	} `json:"logEvents"`
}

func (cwlStage) apply(_ context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	var env cwlEnvelope
	if err := json.Unmarshal(r.Data, &env); err != nil {
		return out, append(fail, processingFailed(r, CodeCloudWatchLogsFailed, "The record is not a CloudWatch Logs subscription message: %v", err))
	}
	switch env.MessageType {
	case "CONTROL_MESSAGE":
		return out, fail
	case "DATA_MESSAGE":
	default:
		return out, append(fail, processingFailed(r, CodeCloudWatchLogsFailed, "Unknown CloudWatch Logs messageType %q", env.MessageType))
	}
	for i, ev := range env.LogEvents {
		if ev.Message == nil {
			return out, append(fail, processingFailed(r, CodeCloudWatchLogsFailed, "logEvents[%d] has no message", i))
		}
	}
	for i, ev := range env.LogEvents {
		sub := r
		sub.Data = []byte(*ev.Message)
		sub.SubSequence = i
		out = append(out, sub)
	}
	return out, fail
}

// jsonSplitStage is RecordDeAggregation with SubRecordType JSON: one record per top-level
// JSON value, outer whitespace dropped.
type jsonSplitStage struct{}

func (jsonSplitStage) name() string { return TypeRecordDeAggregation }

func (jsonSplitStage) apply(_ context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	pieces, err := splitJSON(r.Data)
	if err != nil {
		return out, append(fail, processingFailed(r, CodeDeAggregationFailed, "The record could not be split into JSON records: %v", err))
	}
	return appendPieces(out, r, pieces), fail
}

// splitJSON returns the top-level JSON values in b, outer whitespace dropped, aliasing b.
// Each value's extent is found by a byte scan (strings and nesting tracked) and then checked
// with json.Valid, so malformed input is an error.
func splitJSON(b []byte) ([][]byte, error) {
	var pieces [][]byte
	i := 0
	for {
		for i < len(b) && isJSONSpace(b[i]) {
			i++
		}
		if i == len(b) {
			return pieces, nil
		}
		end, err := scanJSONValue(b, i)
		if err != nil {
			return nil, err
		}
		v := b[i:end:end]
		if !json.Valid(v) {
			return nil, fmt.Errorf("invalid JSON value at offset %d", i)
		}
		pieces = append(pieces, v)
		i = end
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanJSONValue returns the end offset of the value starting at b[i] (not validated).
func scanJSONValue(b []byte, i int) (int, error) {
	start := i
	switch b[i] {
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			case '"':
				j, err := scanJSONString(b, i)
				if err != nil {
					return 0, err
				}
				i = j - 1
			}
		}
		return 0, fmt.Errorf("unterminated JSON value at offset %d", start)
	case '"':
		return scanJSONString(b, i)
	default:
		for i < len(b) && !isJSONSpace(b[i]) && b[i] != '{' && b[i] != '[' && b[i] != '"' && b[i] != '}' && b[i] != ']' && b[i] != ',' && b[i] != ':' {
			i++
		}
		if i == start {
			return 0, fmt.Errorf("unexpected %q at offset %d", b[i], i)
		}
		return i, nil
	}
}

// scanJSONString returns the offset just past the string starting at b[i] == '"'.
func scanJSONString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated JSON string at offset %d", i)
}

// delimSplitStage is RecordDeAggregation with SubRecordType DELIMITED.
type delimSplitStage struct{ delim []byte }

func (delimSplitStage) name() string { return TypeRecordDeAggregation }

func (s delimSplitStage) apply(_ context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	pieces := bytes.Split(r.Data, s.delim)
	if n := len(pieces); n > 0 && len(pieces[n-1]) == 0 {
		pieces = pieces[:n-1]
	}
	for i, p := range pieces {
		pieces[i] = p[:len(p):len(p)]
	}
	return appendPieces(out, r, pieces), fail
}

// appendPieces emits the sub-records, or the record whole when there are more than
// MaxSubRecords of them. Sub-record i of a record with sub-sequence s (s > 0 after KPL
// de-aggregation) gets s·MaxSubRecords + i, so numbers stay distinct within the source record;
// a plain record's pieces are numbered 0..n-1.
func appendPieces(out []record.Record, r record.Record, pieces [][]byte) []record.Record {
	if len(pieces) > MaxSubRecords {
		return append(out, r)
	}
	for i, p := range pieces {
		sub := r
		sub.Data = p
		sub.SubSequence = r.SubSequence*MaxSubRecords + i
		out = append(out, sub)
	}
	return out
}
