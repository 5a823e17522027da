//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/redshift"
	"github.com/sluice-io/sluice/sources/record"
)

// The speed bar of the PostgreSQL destination (#12): 1 KiB JSON records, 5 typed
// columns, a logged table, PostgreSQL on this machine: at least 0.8× a bare pgx CopyFrom
// of the same rows measured in the same run, and at least 100,000 rows/s, exactly-once on.
const (
	benchRowsPerBatch = 5000 // ≈ 5 MiB of JSON: one flushed buffer
	benchBatches      = 20   // one iteration = 100,000 rows ≈ 100 MiB
	benchRecordSize   = 1024
	benchTable        = "bench_copy"
	benchTableDDL     = "CREATE TABLE " + benchTable + " (id bigint, ts timestamptz, kind text, value double precision, payload text)"
)

// benchRow is one row as typed Go values (the pgx baseline) and as its 1 KiB JSON record
// (sluice).
type benchRow struct {
	id      int64
	ts      time.Time
	kind    string
	value   float64
	payload string
	json    []byte
}

func benchRows() []benchRow {
	kinds := []string{"click", "view", "purchase", "scroll", "signup"}
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	rows := make([]benchRow, benchRowsPerBatch*benchBatches)
	for i := range rows {
		r := &rows[i]
		r.id = int64(i) + 1
		r.ts = base.Add(time.Duration(i) * time.Millisecond)
		r.kind = kinds[i%len(kinds)]
		r.value = float64(i%100000)/7 + 0.125
		head := fmt.Sprintf(`{"id":%d,"ts":"%s","kind":"%s","value":%s,"payload":"`,
			r.id, r.ts.Format(time.RFC3339Nano), r.kind, strconv.FormatFloat(r.value, 'g', -1, 64))
		tail := `"}`
		n := benchRecordSize - len(head) - len(tail)
		p := make([]byte, n)
		for k := range p {
			p[k] = words[(k+i)%len(words)]
		}
		r.payload = string(p)
		r.json = []byte(head + r.payload + tail)
	}
	return rows
}

// BenchmarkRedshiftCopy loads the same 100,000 rows per iteration into the same logged
// table (truncated between iterations, off the clock) of the harness PostgreSQL (which
// runs with fsync=off and full_page_writes=off), in batches of 5,000:
//
//   - pgx-CopyFrom: the baseline, pgx.Conn.CopyFrom of already-typed Go values (binary
//     COPY), one autocommitted COPY per batch;
//   - sluice-json-auto-exactly-once: redshift.Sink.Write of the rows as 1 KiB JSON records
//     (JSON 'auto'), one transaction per batch with its position in sluice_checkpoints;
//   - sluice-json-auto: the same without exactly-once;
//   - sluice-raw: each record whole into the payload column (RAW);
//   - pgconn-text-COPY: a bare COPY of the tab-separated text sluice-json-auto sends, made
//     beforehand (what the text format costs the server, apart from Sluice).
//
// Reported: rows/s and MB/s (of the JSON records; the baseline counts the same bytes). Every
// case but the baseline also runs the baseline next to each of its iterations (off its
// clock, alternately before and after) and reports its rows/s as pgx_rows/s and its own over
// it as x_pgx, so that the ratio compares loads made seconds apart whatever else the machine
// is doing; and alloc/input, the bytes allocated while loading per byte of input.
func BenchmarkRedshiftCopy(b *testing.B) {
	pg := harness.Postgres(b)
	pgExec(b, pg, "DROP TABLE IF EXISTS "+benchTable, benchTableDDL)
	rows := benchRows()
	var jsonBytes int64
	for _, r := range rows {
		jsonBytes += int64(len(r.json))
	}
	truncate := func(b *testing.B) {
		b.StopTimer()
		pgExec(b, pg, "TRUNCATE "+benchTable)
		b.StartTimer()
	}
	report := func(b *testing.B, n int, el time.Duration) float64 {
		b.Helper()
		rps := float64(n*len(rows)) / el.Seconds()
		b.ReportMetric(rps, "rows/s")
		b.ReportMetric(float64(int64(n)*jsonBytes)/el.Seconds()/1e6, "MB/s")
		return rps
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	typed := make([][][]any, benchBatches)
	for k := range typed {
		typed[k] = make([][]any, benchRowsPerBatch)
		for j := range typed[k] {
			r := rows[k*benchRowsPerBatch+j]
			typed[k][j] = []any{r.id, r.ts, r.kind, r.value, r.payload}
		}
	}
	// pgxLoad is the baseline: one autocommitted binary COPY per batch.
	pgxLoad := func(b *testing.B) time.Duration {
		t0 := time.Now()
		for _, batch := range typed {
			got, err := conn.CopyFrom(ctx, pgx.Identifier{benchTable}, []string{"id", "ts", "kind", "value", "payload"}, pgx.CopyFromRows(batch))
			if err != nil {
				b.Fatal(err)
			}
			if got != int64(len(batch)) {
				b.Fatalf("CopyFrom: %d rows of %d", got, len(batch))
			}
		}
		return time.Since(t0)
	}

	for range 3 { // a fresh cluster creates (zero-fills) its WAL segments: not part of any case
		pgExec(b, pg, "TRUNCATE "+benchTable)
		pgxLoad(b)
	}
	pgExec(b, pg, "CHECKPOINT")

	b.Run("pgx-CopyFrom", func(b *testing.B) {
		n, el := 0, time.Duration(0)
		for b.Loop() {
			truncate(b)
			el += pgxLoad(b)
			n++
		}
		report(b, n, el)
	})

	// paired runs load per iteration with the baseline next to it (off the clock; which goes
	// first alternates), and reports the baseline's rows/s and the ratio.
	paired := func(b *testing.B, load func(b *testing.B) time.Duration) {
		var ms0, ms1 runtime.MemStats
		var alloc uint64
		n, el, base := 0, time.Duration(0), time.Duration(0)
		for b.Loop() {
			for k := range 2 {
				truncate(b)
				if k == n%2 {
					b.StopTimer()
					base += pgxLoad(b)
					b.StartTimer()
					continue
				}
				runtime.ReadMemStats(&ms0)
				el += load(b)
				runtime.ReadMemStats(&ms1)
				alloc += ms1.TotalAlloc - ms0.TotalAlloc
			}
			n++
		}
		rps := report(b, n, el)
		baseline := float64(n*len(rows)) / base.Seconds()
		b.ReportMetric(baseline, "pgx_rows/s")
		b.ReportMetric(rps/baseline, "x_pgx")
		// bytes allocated while loading per byte of input (the COPY stream is about 1×)
		b.ReportMetric(float64(alloc)/float64(int64(n)*jsonBytes), "alloc/input")
		b.StopTimer()
		if got := pgQuery(b, pg, "SELECT count(*)::text FROM "+benchTable); got[0] != strconv.Itoa(len(rows)) {
			b.Fatalf("%s rows in the table, want %d", got[0], len(rows))
		}
	}

	// What the text format costs the server, apart from Sluice: a bare COPY … FROM STDIN of
	// the tab-separated text sluice-json-auto sends for these rows, prepared beforehand.
	b.Run("pgconn-text-COPY", func(b *testing.B) {
		text := make([][]byte, benchBatches)
		for k := range text {
			for _, r := range rows[k*benchRowsPerBatch : (k+1)*benchRowsPerBatch] {
				text[k] = fmt.Appendf(text[k], "%d\t%s\t%s\t%s\t%s\n", r.id, r.ts.Format(time.RFC3339Nano), r.kind,
					strconv.FormatFloat(r.value, 'g', -1, 64), r.payload)
			}
		}
		sql := "COPY " + benchTable + " (id, ts, kind, value, payload) FROM STDIN WITH (FORMAT text)"
		paired(b, func(b *testing.B) time.Duration {
			t0 := time.Now()
			for _, t := range text {
				if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(t), sql); err != nil {
					b.Fatal(err)
				}
			}
			return time.Since(t0)
		})
	})
	sluice := func(name, options string, cols []string, exactlyOnce bool) {
		b.Run(name, func(b *testing.B) {
			target, err := redshift.ParseURL(pg.DSN(), "", "")
			if err != nil {
				b.Fatal(err)
			}
			f, err := redshift.ParseCopyOptions(options)
			if err != nil {
				b.Fatal(err)
			}
			s := redshift.New(redshift.Config{Target: target, Mode: redshift.ModeCopy, Table: benchTable, Columns: cols,
				Format: f, ExactlyOnce: exactlyOnce, Stream: "bench", Group: "bench"})
			if err := s.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.Close(ctx)
			if eo, ok := s.(sinks.ExactlyOnce); ok { // as the runner does first: creates sluice_checkpoints
				if _, err := eo.Positions(ctx); err != nil {
					b.Fatal(err)
				}
			}
			arrival := time.Now().UnixMilli()
			batches := make([]sinks.Batch, benchBatches)
			for k := range batches {
				recs := make([]record.Record, benchRowsPerBatch)
				for j := range recs {
					i := k*benchRowsPerBatch + j
					recs[j] = record.Record{Data: rows[i].json, SequenceNumber: fmt.Sprintf("%056d", i+1), ArrivalMs: arrival}
				}
				batches[k] = sinks.Batch{Records: recs, OldestArrivalMs: arrival, Attempt: 1}
				if exactlyOnce {
					batches[k].Positions = []sinks.Position{{ShardID: "shardId-000000000000", SequenceNumber: recs[len(recs)-1].SequenceNumber}}
				}
			}
			paired(b, func(b *testing.B) time.Duration {
				t0 := time.Now()
				for _, batch := range batches {
					res := s.Write(ctx, batch)
					if res.Err != nil {
						b.Fatal(res.Err)
					}
					for i, r := range res.Records {
						if r.Outcome != sinks.Delivered {
							b.Fatalf("record %d: %v", i, r.Err)
						}
					}
				}
				return time.Since(t0)
			})
			if exactlyOnce {
				want := batches[len(batches)-1].Positions[0].SequenceNumber
				if got := pgQuery(b, pg, "SELECT sequence_number FROM "+redshift.CheckpointTable+" WHERE delivery_stream = 'bench'"); len(got) != 1 || got[0] != want {
					b.Fatalf("checkpoint %v, want %s", got, want)
				}
			}
		})
	}
	sluice("sluice-json-auto-exactly-once", "JSON 'auto'", []string{"id", "ts", "kind", "value", "payload"}, true)
	sluice("sluice-json-auto", "JSON 'auto'", []string{"id", "ts", "kind", "value", "payload"}, false)
	sluice("sluice-raw", "RAW", []string{"payload"}, false)
}
