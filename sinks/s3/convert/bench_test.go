package convert

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) the process used so far: rows per CPU second
// is the speed of one core, whatever else the machine is running.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTable and benchRecord: ~20 columns of mixed types and a record of about 1 KiB.
func benchTable(t testing.TB) (tbl []string) {
	return []string{
		"event_id", "bigint", "user_id", "int", "session", "string", "event_type", "varchar(32)", "ts", "timestamp",
		"day", "date", "amount", "decimal(12,2)", "price", "double", "ratio", "float", "ok", "boolean",
		"country", "char(2)", "city", "string", "agent", "string", "page", "string", "referrer", "string",
		"tags", "array<string>", "attrs", "map<string,string>", "geo", "struct<lat:double,lon:double>",
		"retries", "smallint", "level", "tinyint",
	}
}

func benchRecord(i int) []byte {
	return fmt.Appendf(nil, `{"event_id":%d,"user_id":%d,"session":"s-%08x-4f1c-9a2e-77c1d0e5b3aa","event_type":"page_view","ts":"2026-07-13T14:05:%02d.123456Z",`+
		`"day":"2026-07-13","amount":%d.%02d,"price":%d.5,"ratio":0.%d,"ok":true,"country":"FR","city":"Paris",`+
		`"agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",`+
		`"page":"https://shop.example.com/catalog/items/%d?ref=home&utm_source=newsletter&utm_medium=email&utm_campaign=summer-sale",`+
		`"referrer":"https://www.example.org/search?q=running+shoes+for+trail&hl=en&source=hp&ei=abcdefghijklmnop",`+
		`"tags":["new","promo","mobile","returning"],"attrs":{"ab":"variant-b","theme":"dark","lang":"fr-FR"},"geo":{"lat":48.8566,"lon":2.3522},`+
		`"retries":%d,"level":%d,"padding":"%s"}`,
		i, i%100000, i, i%60, i%10000, i%100, i%1000, i%97, i, i%7, i%5, strings.Repeat("x", 272))
}

// BenchmarkConvert measures the conversion stage alone (JSON → encoded rows), the part that
// runs per record before buffering.
func BenchmarkConvert(b *testing.B) {
	c, err := New(table(b, benchTable(b)...), openx())
	if err != nil {
		b.Fatal(err)
	}
	recs := make([][]byte, 1024)
	size := 0
	for i := range recs {
		recs[i] = benchRecord(i)
		size += len(recs[i])
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	var dst []byte
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		var err error
		if dst, err = c.Convert(dst[:0], recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
}

// BenchmarkConvertAndWrite measures conversion plus the Parquet write (SNAPPY) of the
// same records, the whole work per record; peak-heap is the largest heap seen (sampled
// every 4096 rows) while writing 64 MiB row groups.
func BenchmarkConvertAndWrite(b *testing.B) {
	c, err := New(table(b, benchTable(b)...), openx())
	if err != nil {
		b.Fatal(err)
	}
	recs := make([][]byte, 1024)
	size := 0
	for i := range recs {
		recs[i] = benchRecord(i)
		size += len(recs[i])
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	fw, err := c.NewFileWriter(io.Discard, WriterOptions{BlockSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	var dst []byte
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		if dst, err = c.Convert(dst[:0], recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		if err := fw.Write(dst); err != nil {
			b.Fatal(err)
		}
		if i%4096 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if err := fw.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MiB")
}

// BenchmarkPipelined converts on one goroutine and writes Parquet on another, as the
// daemon does (conversion runs where records are read, before buffering; files are written
// by the flush goroutines): on two cores the slower of the two stages sets the pace.
func BenchmarkPipelined(b *testing.B) {
	c, err := New(table(b, benchTable(b)...), openx())
	if err != nil {
		b.Fatal(err)
	}
	recs := make([][]byte, 1024)
	size := 0
	for i := range recs {
		recs[i] = benchRecord(i)
		size += len(recs[i])
	}
	b.SetBytes(int64(size / len(recs)))
	const batch = 4096
	batches := make(chan [][]byte, 2)
	done := make(chan error, 1)
	go func() {
		fw, err := c.NewFileWriter(io.Discard, WriterOptions{BlockSize: 64 << 20})
		if err != nil {
			done <- err
			return
		}
		for bt := range batches {
			for _, enc := range bt {
				if err := fw.Write(enc); err != nil {
					done <- err
					return
				}
			}
		}
		done <- fw.Close()
	}()
	b.ResetTimer()
	cur := make([][]byte, 0, batch)
	for i := 0; b.Loop(); i++ {
		enc, err := c.Convert(make([]byte, 0, 1024), recs[i%len(recs)])
		if err != nil {
			b.Fatal(err)
		}
		if cur = append(cur, enc); len(cur) == batch {
			batches <- cur
			cur = make([][]byte, 0, batch)
		}
	}
	batches <- cur
	close(batches)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
