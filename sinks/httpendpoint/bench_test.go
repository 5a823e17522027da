package httpendpoint

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sources/record"
)

// benchRecords are 8 MiB of 1 KiB JSON records, compressible like logs.
func benchRecords() []record.Record {
	var out []record.Record
	for i := range 8 << 10 {
		d := fmt.Appendf(nil, `{"i":%d,"user":"u%05d","path":"/api/v1/items/%d","status":%d,"msg":"`, i, i%7919, i%1000, 200+i%5)
		for len(d) < 1021 {
			d = fmt.Appendf(d, "%x ", uint32(i*2654435761+len(d)))
		}
		d = append(d[:1021], "\"}\n"...)
		out = append(out, record.Record{Data: d, SequenceNumber: fmt.Sprint(i), ArrivalMs: 1})
	}
	return out
}

// BenchmarkRequestBody builds one 8 MiB request body (base64 records in JSON), without
// and with GZIP: the sender's CPU per byte. MB/s are of record bytes.
func BenchmarkRequestBody(b *testing.B) {
	recs := benchRecords()
	n := 0
	for _, r := range recs {
		n += len(r.Data)
	}
	for _, gz := range []bool{false, true} {
		b.Run(fmt.Sprint("gzip=", gz), func(b *testing.B) {
			s := New(Config{URL: "http://127.0.0.1/", GZIP: gz})
			var buf bytes.Buffer
			var body []byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for range b.N {
				buf.Reset()
				body = s.body(&buf, s.RequestID(recs), time.Now().UnixMilli(), recs)
			}
			b.ReportMetric(float64(len(body))/float64(n), "sent/input")
		})
	}
}
