package httpsource

import (
	"fmt"
	"testing"

	"github.com/sluice-io/sluice/sinks/httpendpoint"
	"github.com/sluice-io/sluice/sources/record"
)

// BenchmarkDecode gunzips (when gzipped) and parses one 8 MiB request of 1 KiB records as
// the HTTP endpoint destination builds it: the receiver's CPU per byte before the append.
// MB/s are of record bytes.
func BenchmarkDecode(b *testing.B) {
	var recs []record.Record
	n := 0
	for i := range 8 << 10 {
		d := fmt.Appendf(nil, `{"i":%d,"user":"u%05d","path":"/api/v1/items/%d","status":%d,"msg":"`, i, i%7919, i%1000, 200+i%5)
		for len(d) < 1021 {
			d = fmt.Appendf(d, "%x ", uint32(i*2654435761+len(d)))
		}
		d = append(d[:1021], "\"}\n"...)
		recs = append(recs, record.Record{Data: d})
		n += len(d)
	}
	plain := httpendpoint.AppendBody(nil, "id", 1, recs)
	for _, gzipped := range []bool{false, true} {
		b.Run(fmt.Sprint("gzip=", gzipped), func(b *testing.B) {
			body := plain
			if gzipped {
				body = gz(plain)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for range b.N {
				in, put := body, func() {}
				if gzipped {
					dec, p, e := gunzip(body, MaxBodyBytes)
					if e != nil {
						b.Fatal(e.msg)
					}
					in, put = dec, p
				}
				req, err := Parse(in)
				if err != nil || len(req.Records) != len(recs) {
					b.Fatal(err)
				}
				put()
			}
		})
	}
}
