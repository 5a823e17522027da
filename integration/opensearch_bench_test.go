//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/opensearch"
	"github.com/sluice-io/sluice/sources/record"
)

// The speed bar of the OpenSearch destination (#13): 1 KiB JSON documents in 5 MiB
// batches (the destination's default buffer), into one index that does not refresh, on
// the harness node: sluice at least 0.8× a bare loop of _bulk requests of the same
// documents measured in the same run.
const (
	osBenchDocsPerBatch = 5000 // ≈ 5 MiB of 1 KiB documents: one flushed buffer, one _bulk request
	osBenchBatches      = 20   // one iteration = 100,000 documents ≈ 100 MB
	// osBenchInFlight is how many batches are written at once, in both cases: the runner
	// with two batches in flight (a sink's Write sends its requests one after another, so
	// one request per batch in flight is the sink's concurrency).
	osBenchInFlight = 2
	osBenchIndex    = "sluice-bench"
)

// BenchmarkOpenSearchBulk indexes the same 100,000 documents of 1 KiB per iteration into
// the same index of the harness node (deleted and created again between iterations, off
// the clock, with refresh_interval -1), in batches of 5,000, two batches at a time:
//
//   - bare-bulk: the baseline, POST /_bulk of the NDJSON of each batch (action line
//     {"index":{"_index","_id"}} and the document), made beforehand, sent with a plain
//     net/http client over a clone of http.DefaultTransport (what the sink uses);
//   - sluice-sink: opensearch.Sink.Write of the batches as records (FIREHOSE_DEFAULT ids
//     <sequence>.<subsequence>, NoRotation): building the requests is on its clock.
//
// Reported: docs/s and MB/s (of the documents, 10⁶ bytes). sluice-sink also runs the
// baseline next to each of its iterations (off its clock, alternately before and after)
// and reports its docs/s as bare_docs/s and its own over it as x_bare (with the lowest,
// median and highest ratio of a single pair: x_bare_min, x_bare_med, x_bare_max), so that
// the ratio compares loads made seconds apart however fast the node happens to be; and
// alloc/input, the bytes allocated while writing per byte of documents.
func BenchmarkOpenSearchBulk(b *testing.B) {
	node := harness.OpenSearch(b)
	ctx := context.Background()
	rows := benchRows()[:osBenchDocsPerBatch*osBenchBatches]
	var docBytes int64
	for _, r := range rows {
		docBytes += int64(len(r.json))
	}
	seq := func(i int) string { return fmt.Sprintf("%056d", i+1) }

	// The baseline's request bodies, and the same documents as sluice batches.
	bodies := make([][]byte, osBenchBatches)
	batches := make([]sinks.Batch, osBenchBatches)
	arrival := time.Now().UnixMilli()
	for k := range osBenchBatches {
		recs := make([]record.Record, osBenchDocsPerBatch)
		var body []byte
		for j := range recs {
			i := k*osBenchDocsPerBatch + j
			recs[j] = record.Record{Data: rows[i].json, SequenceNumber: seq(i), ArrivalMs: arrival}
			body = fmt.Appendf(body, `{"index":{"_index":%q,"_id":"%s.0"}}`+"\n", osBenchIndex, seq(i))
			body = append(append(body, rows[i].json...), '\n')
		}
		bodies[k] = body
		batches[k] = sinks.Batch{Records: recs, OldestArrivalMs: arrival, Attempt: 1}
	}

	recreate := func(b *testing.B) {
		b.Helper()
		if st, body, err := node.Do(ctx, http.MethodDelete, "/"+osBenchIndex, ""); err != nil || (st != 200 && st != 404) {
			b.Fatalf("DELETE /%s: %d %v %s", osBenchIndex, st, err, body)
		}
		osCall(b, node, http.MethodPut, "/"+osBenchIndex, `{"settings":{"refresh_interval":"-1","number_of_replicas":0}}`, 200)
	}
	b.Cleanup(func() { _, _, _ = node.Do(ctx, http.MethodDelete, "/"+osBenchIndex, "") })
	count := func(b *testing.B) {
		b.Helper()
		osCall(b, node, http.MethodPost, "/"+osBenchIndex+"/_refresh", "", 200)
		body := osCall(b, node, http.MethodGet, "/"+osBenchIndex+"/_count", "", 200)
		if want := fmt.Sprintf(`"count":%d,`, len(rows)); !bytes.Contains(body, []byte(want)) {
			b.Fatalf("_count = %s, want %s", body, want)
		}
	}
	report := func(b *testing.B, n int, el time.Duration) float64 {
		b.Helper()
		dps := float64(n*len(rows)) / el.Seconds()
		b.ReportMetric(dps, "docs/s")
		b.ReportMetric(float64(int64(n)*docBytes)/el.Seconds()/1e6, "MB/s")
		return dps
	}
	// inFlight runs write on every batch index, osBenchInFlight at a time, and returns how
	// long that took; the first error fails the benchmark.
	inFlight := func(b *testing.B, write func(k int) error) time.Duration {
		b.Helper()
		work := make(chan int)
		errs := make(chan error, osBenchBatches)
		t0 := time.Now()
		for range osBenchInFlight {
			go func() {
				for k := range work {
					errs <- write(k)
				}
			}()
		}
		for k := range osBenchBatches {
			work <- k
		}
		close(work)
		var first error
		for range osBenchBatches {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		el := time.Since(t0)
		if first != nil {
			b.Fatal(first)
		}
		return el
	}

	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 5 * time.Minute}
	defer client.CloseIdleConnections()
	bareLoad := func(b *testing.B) time.Duration {
		return inFlight(b, func(k int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, node.URL+"/_bulk", bytes.NewReader(bodies[k]))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			data, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode != 200 || !bytes.Contains(data[:min(len(data), 64)], []byte(`"errors":false`)) {
				return fmt.Errorf("_bulk of batch %d: %d %.300s", k, resp.StatusCode, data)
			}
			return nil
		})
	}

	// The node's first loads run slower (its JIT compiles the indexing path): three loads
	// warm it and the connections, in no case.
	for range 3 {
		recreate(b)
		bareLoad(b)
	}

	b.Run("bare-bulk", func(b *testing.B) {
		n, el := 0, time.Duration(0)
		for b.Loop() {
			b.StopTimer()
			recreate(b)
			b.StartTimer()
			el += bareLoad(b)
			n++
		}
		report(b, n, el)
		b.StopTimer()
		count(b)
	})

	// pairs counts the sluice-sink iterations over every run of it (-count), so that which
	// load of a pair goes first alternates across runs too: the node still speeds up from
	// one load to the next, and with -benchtime 3x the baseline would otherwise go first in
	// two pairs of three.
	pairs := 0
	b.Run("sluice-sink", func(b *testing.B) {
		s := opensearch.New(opensearch.Config{Endpoint: node.URL, Index: osBenchIndex, Rotation: opensearch.NoRotation, DocumentIDs: true})
		if err := s.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		defer s.Close(ctx)
		sluiceLoad := func(b *testing.B) time.Duration {
			return inFlight(b, func(k int) error {
				res := s.Write(ctx, batches[k])
				if res.Err != nil {
					return res.Err
				}
				for i, r := range res.Records {
					if r.Outcome != sinks.Delivered {
						return fmt.Errorf("batch %d, record %d: %v", k, i, r.Err)
					}
				}
				return nil
			})
		}
		var ms0, ms1 runtime.MemStats
		var alloc uint64
		n, el, base := 0, time.Duration(0), time.Duration(0)
		var ratios []float64
		for b.Loop() {
			var own, bare time.Duration
			for k := range 2 { // which goes first alternates
				b.StopTimer()
				recreate(b)
				if k == pairs%2 {
					bare = bareLoad(b)
					b.StartTimer()
					continue
				}
				runtime.ReadMemStats(&ms0)
				b.StartTimer()
				own = sluiceLoad(b)
				b.StopTimer()
				runtime.ReadMemStats(&ms1)
				alloc += ms1.TotalAlloc - ms0.TotalAlloc
				b.StartTimer()
			}
			el += own
			base += bare
			ratios = append(ratios, bare.Seconds()/own.Seconds())
			n++
			pairs++
		}
		dps := report(b, n, el)
		baseline := float64(n*len(rows)) / base.Seconds()
		b.ReportMetric(baseline, "bare_docs/s")
		b.ReportMetric(dps/baseline, "x_bare")
		slices.Sort(ratios)
		b.ReportMetric(ratios[0], "x_bare_min")
		b.ReportMetric(ratios[len(ratios)/2], "x_bare_med")
		b.ReportMetric(ratios[len(ratios)-1], "x_bare_max")
		b.ReportMetric(float64(alloc)/float64(int64(n)*docBytes), "alloc/input")
		b.StopTimer()
		count(b)
	})
}
