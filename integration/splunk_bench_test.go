//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/integration/hec"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/splunk"
	"github.com/sluice-io/sluice/sources/record"
)

// The speed bar of the Splunk destination (#21): HEC Event delivery of 1 KiB records to
// the test server (integration/hec) with indexer acknowledgement on, at least 50 MB/s.
const (
	hecBenchRecordSize = 1024
	hecBenchPerBatch   = 5000 // ≈ 5 MiB: one buffer of the destination's default size, one post
	hecBenchBatches    = 40   // prepared batches (≈ 200 MB), cycled through
	hecBenchWrites     = 200  // writes per iteration (≈ 1 GB): long enough for a steady state
)

// hecBenchRecords returns n HEC event objects of exactly hecBenchRecordSize bytes.
func hecBenchRecords(n int) [][]byte {
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
	out := make([][]byte, n)
	for i := range out {
		head := fmt.Sprintf(`{"time":%d.%03d,"host":"web-%d","sourcetype":"_json","event":{"id":%d,"kind":"click","payload":"`, 1780000000+i/1000, i%1000, i%16, i)
		tail := `"}}`
		p := make([]byte, hecBenchRecordSize-len(head)-len(tail))
		for k := range p {
			p[k] = words[(k+i)%len(words)]
		}
		out[i] = []byte(head + string(p) + tail)
	}
	return out
}

// BenchmarkSplunkHEC sends 1,000,000 HEC event objects of 1 KiB per iteration (200 batches
// of 5,000, each one post of ≈ 5 MiB) with splunk.Sink.Write to the test server, which parses
// every event (without keeping them) and answers ackIds; each Write counts once its final
// Result came, i.e. once HEC acknowledged its post. Batches are written as the runner
// writes them: a batch awaiting its acknowledgement frees its flush slot, so up to
// `inflight` are awaiting at once (the runner's bound is the buffer budget, 256 MiB by
// default), and 4 are being sent (the runner's flush slots).
//
//   - poll=5s: the default acknowledgement polling interval (firehose.md §8), 48 batches
//     (≈ 240 MiB, the default budget) awaiting at most: the bound is then the budget over
//     the polling interval;
//   - poll=5s,budget=512MiB: the same with firehose.buffer_budget 512MiB (96 batches);
//   - poll=1s: ack_poll_interval 1s, 48 batches awaiting at most.
//
// Reported: MB/s (10⁶ bytes of records), records/s, and
// alloc/input (bytes allocated, sink and server, per byte of records).
func BenchmarkSplunkHEC(b *testing.B) {
	recs := hecBenchRecords(hecBenchPerBatch * hecBenchBatches)
	var recBytes int64
	for _, r := range recs {
		recBytes += int64(len(r))
	}
	batches := make([]sinks.Batch, hecBenchBatches)
	now := time.Now().UnixMilli()
	for k := range batches {
		rs := make([]record.Record, hecBenchPerBatch)
		for j := range rs {
			i := k*hecBenchPerBatch + j
			rs[j] = record.Record{Data: recs[i], ArrivalMs: now, SequenceNumber: fmt.Sprintf("%056d", i+1)}
		}
		batches[k] = sinks.Batch{Records: rs, OldestArrivalMs: now, Attempt: 1}
	}
	for _, c := range []struct {
		name     string
		poll     time.Duration
		inflight int
	}{{"poll=5s", 5 * time.Second, 48}, {"poll=5s,budget=512MiB", 5 * time.Second, 96}, {"poll=1s", time.Second, 48}} {
		b.Run(c.name, func(b *testing.B) {
			srv := hec.NewServer(hec.Options{Discard: true})
			defer srv.Close()
			srv.AddToken("bench-token", true)
			s := splunk.New(splunk.Config{Endpoint: srv.URL, Type: splunk.Event, Token: "bench-token", AckPoll: c.poll, AckTimeout: 180 * time.Second, Logger: quietLog})
			ctx := context.Background()
			if err := s.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.Close(ctx)
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			el := time.Duration(0)
			n := 0
			for b.Loop() {
				el += hecLoad(b, s, batches, c.inflight)
				n++
			}
			runtime.ReadMemStats(&ms1)
			sent := int64(n) * hecBenchWrites * (recBytes / hecBenchBatches)
			b.ReportMetric(float64(sent)/el.Seconds()/1e6, "MB/s")
			b.ReportMetric(float64(n*hecBenchWrites*hecBenchPerBatch)/el.Seconds(), "records/s")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(sent), "alloc/input")
			st := srv.Stats()
			if want := int64(n * hecBenchWrites * hecBenchPerBatch); st.Events != want || st.AcksTrue != n*hecBenchWrites {
				b.Fatalf("the server indexed %d events with %d acks, want %d and %d", st.Events, st.AcksTrue, want, n*hecBenchWrites)
			}
		})
	}
}

// hecLoad writes hecBenchWrites batches (cycling through batches), at most 4 being sent and inflight awaiting their
// acknowledgement at once, and returns how long until the last was acknowledged.
func hecLoad(b *testing.B, s *splunk.Sink, batches []sinks.Batch, inflight int) time.Duration {
	b.Helper()
	slots := make(chan struct{}, 4)
	awaiting := make(chan struct{}, inflight)
	errs := make(chan error, hecBenchWrites)
	t0 := time.Now()
	for w := range hecBenchWrites {
		k := w % len(batches)
		awaiting <- struct{}{}
		slots <- struct{}{}
		go func() {
			res := s.Write(context.Background(), batches[k])
			<-slots
			if res.Pending != nil {
				res = <-res.Pending
			}
			<-awaiting
			switch {
			case res.Err != nil:
				errs <- res.Err
			case res.Records != nil:
				errs <- fmt.Errorf("batch %d: per-record outcomes %v", k, res.Records[0].Err)
			default:
				errs <- nil
			}
		}()
	}
	var first error
	for range hecBenchWrites {
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

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkSplunkEndToEnd: 1 KiB HEC event objects via PutRecordBatch (16 clients, 500
// records each) into a sluice child process, delivered to the HEC test server (in this
// process, acknowledgement on; it parses every event and keeps none). One iteration = 512
// MiB accepted and then acknowledged by HEC (the daemon's delivery_bytes metric counts a
// batch once its acks came). The destination runs with its defaults (5 MiB buffer, 5 s ack
// polling, the 256 MiB buffer budget) but for a 1 s buffer interval; poll=1s sets
// ack_poll_interval: 1s. Reported: end-to-end MB/s, MB/s accepted by PutRecordBatch and
// the daemon's peak RSS.
func BenchmarkSplunkEndToEnd(b *testing.B) {
	for _, c := range []struct{ name, keys string }{{"poll=5s", ""}, {"poll=1s", "        ack_poll_interval: 1s\n"}} {
		b.Run(c.name, func(b *testing.B) {
			m := harness.MinIO(b)
			bucket := m.CreateBucket(b, "splunk-bench")
			srv := hec.NewServer(hec.Options{Discard: true})
			b.Cleanup(srv.Close)
			srv.AddToken(splunkToken, true)
			s := harness.StartSluice(b, fmt.Sprintf("delivery_streams:\n  - name: bench\n    buffer: {size: 5MiB, interval: 1s}\n    destination:\n      type: splunk\n"+
				"      splunk:\n        endpoint: '%s'\n        token: %s\n%s"+
				"        s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}\n",
				srv.URL, splunkToken, c.keys, bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey))
			cl := firehoseClient(s.Endpoint)
			ctx := context.Background()
			recs := hecBenchRecords(500)
			batch := make([]types.Record, len(recs))
			size := 0
			for i, r := range recs {
				batch[i] = types.Record{Data: r}
				size += len(r)
			}
			const perIter = 512 << 20
			batchesPerIter := perIter / size
			var sent atomic.Int64
			start := time.Now()
			var putTime time.Duration
			for b.Loop() {
				putStart := time.Now()
				var wg sync.WaitGroup
				var next atomic.Int64
				for range 16 {
					wg.Go(func() {
						for next.Add(1) <= int64(batchesPerIter) {
							out, err := cl.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("bench"), Records: batch})
							if err != nil {
								b.Errorf("PutRecordBatch: %v", err)
								return
							}
							if n := aws.ToInt32(out.FailedPutCount); n != 0 {
								b.Errorf("PutRecordBatch: %d of %d records failed", n, len(batch))
								return
							}
							sent.Add(int64(size))
						}
					})
				}
				wg.Wait()
				putTime += time.Since(putStart)
				waitSplunkDelivered(b, s, sent.Load())
			}
			el := time.Since(start)
			b.ReportMetric(float64(sent.Load())/el.Seconds()/1e6, "MB/s_e2e")
			b.ReportMetric(float64(sent.Load())/putTime.Seconds()/1e6, "MB/s_accepted")
			if rss := peakRSS(s.ConfigPath); rss > 0 {
				b.ReportMetric(float64(rss)/(1<<20), "MiB_peak_rss")
			}
			if st := srv.Stats(); st.Events < sent.Load()/hecBenchRecordSize {
				b.Fatalf("HEC indexed %d events, fewer than the %d sent", st.Events, sent.Load()/hecBenchRecordSize)
			}
		})
	}
}

var splunkDeliveredRE = regexp.MustCompile(`sluice_firehose_delivery_bytes_total\{destination="splunk",stream="bench"\} ([0-9.e+]+)`)

func waitSplunkDelivered(b *testing.B, s *harness.Sluice, want int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if m := splunkDeliveredRE.FindStringSubmatch(httpGetB(b, s.Endpoint+"/metrics")); m != nil {
			if v, _ := strconv.ParseFloat(m[1], 64); int64(v) >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("delivery did not catch up with %d bytes", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
