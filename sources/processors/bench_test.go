package processors

import (
	"fmt"
	"testing"

	"github.com/sluice-io/sluice/sources/record"
)

func benchRecords(n int) ([]record.Record, int) {
	recs := make([]record.Record, n)
	total := 0
	for i := range recs {
		recs[i].Data = fmt.Appendf(nil, `{"customer_id":"c%d","region":"eu-west-%d","price":%d.25,"ts":"2026-07-13T14:05:09Z","payload":"%0900d"}`, i%20, i%3, i, i)
		total += len(recs[i].Data)
	}
	return recs, total
}

func BenchmarkChain(b *testing.B) {
	recs, total := benchRecords(500)
	cases := map[string][]ProcessorConfig{
		"AppendDelimiter": {{Type: TypeAppendDelimiterToRecord}},
		"MetadataExtraction+Append": {
			{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: "{customer: .customer_id, region: .region}", ParamJSONParsingEngine: "JQ-1.6"}},
			{Type: TypeAppendDelimiterToRecord},
		},
		"JSONDeAggregation": {{Type: TypeRecordDeAggregation, Parameters: map[string]string{ParamSubRecordType: "JSON"}}},
	}
	for name, procs := range cases {
		b.Run(name, func(b *testing.B) {
			c, err := NewChain(Config{Enabled: true, Processors: procs}, Options{DynamicPartitioning: true})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(total))
			for b.Loop() {
				out, failed := c.Process(recs)
				if len(out) != len(recs) || len(failed) != 0 {
					b.Fatalf("out %d failed %d", len(out), len(failed))
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
