package processors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/itchyny/gojq"
)

// jqStage is MetadataExtraction: a jq object query whose values become the record's
// partition keys.
type jqStage struct {
	code    *gojq.Code
	timeout time.Duration // per record
	keys    []string      // literal keys, sorted; nil if any key is computed
}

// QueryTimeout bounds the jq evaluation of one record (a safety net against queries that never
// finish); a record over it is partitioning-failed.
var QueryTimeout = 5 * time.Second

func newJQStage(query string) (*jqStage, error) {
	if strings.TrimSpace(query) == "" {
		return nil, record.InvalidArgument("Processor MetadataExtraction: parameter MetadataExtractionQuery is required")
	}
	q, err := gojq.Parse(query)
	if err != nil {
		return nil, record.InvalidArgument("Processor MetadataExtraction: parameter MetadataExtractionQuery %q is not a valid JQ expression: %v", query, err)
	}
	st := &jqStage{timeout: QueryTimeout}
	if obj := topObject(q); obj != nil {
		if len(obj.KeyVals) > MaxQueryKeys {
			return nil, record.InvalidArgument("Processor MetadataExtraction: parameter MetadataExtractionQuery has %d keys, over the limit of %d", len(obj.KeyVals), MaxQueryKeys)
		}
		keys := make([]string, 0, len(obj.KeyVals))
		for _, kv := range obj.KeyVals {
			switch {
			case kv.KeyString != nil && len(kv.KeyString.Queries) == 0:
				keys = append(keys, kv.KeyString.Str)
			case kv.Key != "" && !strings.HasPrefix(kv.Key, "$"):
				keys = append(keys, kv.Key)
			default:
				keys = nil
			}
			if keys == nil {
				break
			}
		}
		if keys != nil {
			slices.Sort(keys)
			st.keys = slices.Compact(keys)
		}
	} else {
		return nil, record.InvalidArgument("Processor MetadataExtraction: parameter MetadataExtractionQuery %q must build a JSON object, e.g. {customer_id:.customer_id}", query)
	}
	// No environment ($ENV, env) — a query must not copy daemon secrets into S3 keys.
	st.code, err = gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, record.InvalidArgument("Processor MetadataExtraction: parameter MetadataExtractionQuery %q does not compile: %v", query, err)
	}
	return st, nil
}

// topObject returns the object construction a query consists of, or nil.
func topObject(q *gojq.Query) *gojq.Object {
	if q == nil || q.Term == nil || q.Left != nil || q.Right != nil || len(q.FuncDefs) > 0 {
		return nil
	}
	t := q.Term
	for t.Type == gojq.TermTypeQuery && t.Query != nil && len(t.SuffixList) == 0 && t.Query.Term != nil {
		t = t.Query.Term
	}
	if t.Type == gojq.TermTypeObject && len(t.SuffixList) == 0 {
		return t.Object
	}
	return nil
}

func (*jqStage) name() string { return TypeMetadataExtraction }

func partitioningFailed(r record.Record, format string, args ...any) Failure {
	return Failure{ErrorOutputType: record.PartitioningFailed, ErrorCode: record.CodeMetadataExtractionFailed,
		ErrorMessage: fmt.Sprintf(format, args...), Record: r}
}

func (s *jqStage) apply(ctx context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	keys, err := s.extract(ctx, r.Data)
	if err != nil {
		return out, append(fail, partitioningFailed(r, "%v", err))
	}
	r.PartitionKeys = keys
	return append(out, r), fail
}

// extract runs the query over one JSON record. Numbers are IEEE doubles printed as jq 1.6
// prints them (JsonParsingEngine JQ-1.6): 1.0 → 1, 12345678901234567890 →
// 12345678901234567000, 1e17 → 1e+17, 0.000001 → 1e-06, 1e1000 → 1.7976931348623157e+308.
func (s *jqStage) extract(ctx context.Context, data []byte) (map[string]string, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		// numbers beyond float64 (1e1000) are valid JSON: jq clamps them; retry that way
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if dec.Decode(&v) != nil || !json.Valid(data) {
			return nil, fmt.Errorf("Non JSON record provided")
		}
		v = numbersToFloat(v)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	iter := s.code.RunWithContext(ctx, v)
	res, ok := iter.Next()
	if !ok {
		return nil, fmt.Errorf("The query produced no result")
	}
	if err, isErr := res.(error); isErr {
		return nil, fmt.Errorf("The query failed: %v", err)
	}
	obj, isObj := res.(map[string]any)
	if !isObj {
		return nil, fmt.Errorf("The query result is not a JSON object")
	}
	if len(obj) > MaxQueryKeys {
		return nil, fmt.Errorf("The query produced %d keys, over the limit of %d", len(obj), MaxQueryKeys)
	}
	keys := make(map[string]string, len(obj))
	for k, val := range obj {
		switch x := val.(type) {
		case string:
			keys[k] = x
		case bool:
			if x {
				keys[k] = "true"
			} else {
				keys[k] = "false"
			}
		case nil:
			return nil, fmt.Errorf("The value of partition key %q is null or missing", k)
		case map[string]any, []any:
			return nil, fmt.Errorf("The value of partition key %q is not a string, number or boolean", k)
		default:
			f, ok := jqNumber(x)
			if !ok {
				return nil, fmt.Errorf("The value of partition key %q is not a string, number or boolean", k)
			}
			keys[k] = formatJQNumber(f)
		}
	}
	return keys, nil
}
