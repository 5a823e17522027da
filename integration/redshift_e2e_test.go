//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-io/sluice/integration/harness"
)

// End-to-end tests of the PostgreSQL (Redshift-compatible) destination through the real
// sluice binary: records put with the Firehose API, rows read back from the table, refused
// records read back from the error output in MinIO.

const typedCols = "id,ts,kind,value,payload"

// Each CopyOptions mode maps records to typed columns (bigint, timestamptz, text, double
// precision, jsonb) as a user of Redshift COPY expects: delimited text with escapes, CSV with
// quotes and NULL AS, a header line skipped, JSON 'auto' (absent keys NULL, case kept, several
// objects a record), JSON 'auto ignorecase', a jsonpaths file in S3, and RAW into jsonb.
func TestRedshiftLoadsEachMapping(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	bucket := m.CreateBucket(t, "rs-map")
	ctx := context.Background()
	paths := `{"jsonpaths": ["$.order.id", "$['when']", "$.type", "$.metrics.values[1]", "$.body"]}`
	if _, err := m.S3().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("paths/orders.json"),
		Body: strings.NewReader(paths)}); err != nil {
		t.Fatal(err)
	}
	type mapping struct {
		name, copyOptions string
		records           []string
		want              []string
	}
	const tsZ = "2026-07-13T14:05:%02d.000000Z"
	ts := func(s int) string { return fmt.Sprintf(tsZ, s) }
	cases := []mapping{
		{name: "text", copyOptions: "DELIMITER ','",
			records: []string{
				"1,2026-07-13 14:05:09+00,click,1.5,{\"a\":1}\n",
				`2,2026-07-13T14:05:10.250Z,view,\N,{"a":1\,"b":[2\,3]}`, // no final newline: still its own row
				"3,2026-07-13 16:05:11+02,tab\\there,-0.5,\\N\n4,\\N,back\\\\slash,1e3,[]\n",
			},
			want: []string{
				"1 | " + ts(9) + ` | click | 1.5 | {"a": 1}`,
				`2 | 2026-07-13T14:05:10.250000Z | view | NULL | {"a": 1, "b": [2, 3]}`,
				"3 | " + ts(11) + " | tab\there | -0.5 | NULL",
				`4 | NULL | back\slash | 1000 | []`,
			}},
		{name: "csv", copyOptions: `CSV QUOTE '"' NULL AS 'nil'`,
			records: []string{
				`1,2026-07-13 14:05:09Z,"a, quoted ""kind""",2.25,"{""k"": ""v, w""}"` + "\n",
				"2,2026-07-13 14:05:10Z,nil,nil,nil\n",
				`3,2026-07-13 14:05:11Z,"nil",0,"[1,""x""]"` + "\n",
				"4,2026-07-13 14:05:12Z,\"line1\nline2\",3,{}\n",
			},
			want: []string{
				"1 | " + ts(9) + ` | a, quoted "kind" | 2.25 | {"k": "v, w"}`,
				"2 | " + ts(10) + " | NULL | NULL | NULL",
				"3 | " + ts(11) + ` | nil | 0 | [1, "x"]`,
				"4 | " + ts(12) + " | line1\nline2 | 3 | {}",
			}},
		{name: "header", copyOptions: "IGNOREHEADER 1",
			records: []string{"id|ts|kind|value|payload\n1|2026-07-13 14:05:09Z|a|1|{}\n2|2026-07-13 14:05:10Z|b|\\N|\\N\n"},
			want: []string{
				"1 | " + ts(9) + " | a | 1 | {}",
				"2 | " + ts(10) + " | b | NULL | NULL",
			}},
		{name: "json-auto", copyOptions: "JSON 'auto'",
			records: []string{
				`{"id":1,"ts":"2026-07-13T14:05:09Z","kind":"click","value":1.5,"payload":{"a":[1,2],"b":{"c":null}},"extra":"ignored"}`,
				`{"id":2,"kind":"tab\there \"q\" \u00e9","value":null}` + "\n",
				`{"id":3,"ts":"2026-07-13T14:05:11Z","value":-2,"payload":[1,"x"]}` + "\n" + `{"id":4,"Kind":"not a column","payload":7}`,
			},
			want: []string{
				"1 | " + ts(9) + ` | click | 1.5 | {"a": [1, 2], "b": {"c": null}}`,
				"2 | NULL | tab\there \"q\" é | NULL | NULL",
				"3 | " + ts(11) + ` | NULL | -2 | [1, "x"]`,
				"4 | NULL | NULL | NULL | 7",
			}},
		{name: "json-ignorecase", copyOptions: "JSON 'auto ignorecase'",
			records: []string{
				`{"ID":1,"Ts":"2026-07-13T14:05:09Z","KIND":"click","Value":1.5,"PayLoad":{"B":true}}`,
				`{"id":2,"kind":"lower"}`,
			},
			want: []string{
				"1 | " + ts(9) + ` | click | 1.5 | {"B": true}`,
				"2 | NULL | lower | NULL | NULL",
			}},
		{name: "jsonpaths", copyOptions: "JSON 's3://" + bucket + "/paths/orders.json'",
			records: []string{
				`{"order":{"id":10},"when":"2026-07-13T14:05:09Z","type":"t","metrics":{"values":[1.0,2.5]},"body":{"x":1},"id":99}`,
				`{"order":{"id":11},"metrics":{"values":[1]}}`,
			},
			want: []string{
				"10 | " + ts(9) + ` | t | 2.5 | {"x": 1}`,
				"11 | NULL | NULL | NULL | NULL",
			}},
		{name: "raw", copyOptions: "RAW",
			records: []string{
				`{"a":1}`,
				`{"s":"tab\t and \\ backslash","n":[1,2]}` + "\n",
				"{\n  \"multi\": \"line\"\n}\n",
			},
			want: []string{
				`{"a": 1}`,
				`{"n": [1, 2], "s": "tab\t and \\ backslash"}`,
				`{"multi": "line"}`,
			}},
	}
	var y strings.Builder
	y.WriteString("delivery_streams:\n")
	for _, c := range cases {
		table := "map_" + strings.ReplaceAll(c.name, "-", "_")
		cols := typedCols
		if c.name == "raw" {
			pgExec(t, pg, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (payload jsonb, ord bigserial)")
			cols = "payload"
		} else {
			pgExec(t, pg, typedDDL(table)...)
		}
		y.WriteString(rsStreamYAML(pg, m, bucket, "rs-"+c.name, table, cols, c.copyOptions, "error_output_prefix: 'rs-err/"+c.name+"/'", "", ""))
	}
	s := harness.StartSluice(t, y.String())
	fh := firehoseClient(s.Endpoint)
	start := time.Now()
	for _, c := range cases {
		putRecords(t, fh, "rs-"+c.name, c.records...)
	}
	for _, c := range cases {
		table := "map_" + strings.ReplaceAll(c.name, "-", "_")
		sql := typedRowsSQL(table)
		if c.name == "raw" {
			sql = "SELECT payload::text FROM " + table + " ORDER BY ord"
		}
		got := waitQuery(t, pg, sql, c.want, 30*time.Second)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s (CopyOptions %s): table holds\n  %s\nwant\n  %s", c.name, c.copyOptions, strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
		}
		if fs := rsFailures(t, m, bucket, "rs-err/"+c.name+"/"); len(fs) > 0 {
			t.Errorf("%s: %d records in the error output, first %s: %s (%q)", c.name, len(fs), fs[0].ErrorCode, fs[0].ErrorMessage, fs[0].RawData)
		}
	}
	t.Logf("%d mappings loaded in %s", len(cases), time.Since(start).Round(time.Millisecond))
}

// Rows the table refuses (a type error, a NOT NULL and a CHECK violation, a bad timestamp,
// invalid jsonb, a record that is not JSON) go to the error output under the intermediate
// bucket's error prefix, folder redshift-failed, with their code, message and raw data; every
// other row of the batch is in the table exactly once.
func TestRedshiftBadRowsGoToErrorOutput(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	bucket := m.CreateBucket(t, "rs-bad")
	pgExec(t, pg, "DROP TABLE IF EXISTS bad_rows",
		"CREATE TABLE bad_rows (id bigint NOT NULL, ts timestamptz, kind text NOT NULL, value double precision CHECK (value >= 0), payload jsonb)")
	s := harness.StartSluice(t, "delivery_streams:\n"+rsStreamYAML(pg, m, bucket, "rs-bad", "bad_rows", typedCols, "JSON 'auto'", "error_output_prefix: 'rs-err/'", "", ""))
	bad := map[int]struct{ rec, code, says string }{
		5:  {`{"id":5,"kind":"k","value":"abc"}`, "Redshift.DataLoadFailed", "double precision"},
		12: {`{"id":12,"value":1}`, "Redshift.MissingColumn", "kind"},
		20: {`{"id":20,"kind":"k","value":-3}`, "Redshift.DataLoadFailed", "check"},
		27: {`{"id":27,"kind":"k","ts":"not a time"}`, "Redshift.DataLoadFailed", "timestamp"},
		33: {`{"id":33,"kind":"k","payload":"{bad"}`, "Redshift.DataLoadFailed", "json"},
		38: {`this is not JSON`, "Redshift.DataLoadFailed", "JSON"},
	}
	var recs, wantIDs []string
	for i := 1; i <= 40; i++ {
		if b, ok := bad[i]; ok {
			recs = append(recs, b.rec+"\n")
			continue
		}
		recs = append(recs, fmt.Sprintf(`{"id":%d,"ts":"2026-07-13T14:05:09Z","kind":"k%d","value":%d,"payload":{"i":%d}}`+"\n", i, i, i, i))
		wantIDs = append(wantIDs, fmt.Sprint(i))
	}
	putRecords(t, firehoseClient(s.Endpoint), "rs-bad", recs...)

	fs := waitFailures(t, m, bucket, "rs-err/", len(bad), 30*time.Second)
	const idsSQL = "SELECT id::text FROM bad_rows ORDER BY bad_rows.id"
	got := waitQuery(t, pg, idsSQL, wantIDs, 30*time.Second)
	time.Sleep(2 * time.Second) // anything delivered twice would be here by now
	got = pgQuery(t, pg, idsSQL)
	if !slices.Equal(got, wantIDs) {
		t.Errorf("table ids %v\nwant %v (each once)", got, wantIDs)
	}
	fs = rsFailures(t, m, bucket, "rs-err/")
	byRaw := map[string]rsFailure{}
	// a static error_output_prefix is followed by the time, as for S3 (no type folder)
	errKey := keyRE(`rs-err/\d{4}/\d{2}/\d{2}/\d{2}/`, "rs-bad", "")
	for _, f := range fs {
		if !errKey.MatchString(f.Key) {
			t.Errorf("failure object %s, want rs-err/yyyy/MM/dd/HH/rs-bad-1-…", f.Key)
		}
		if _, dup := byRaw[string(f.RawData)]; dup {
			t.Errorf("record %q in the error output twice", f.RawData)
		}
		byRaw[string(f.RawData)] = f
	}
	if len(fs) != len(bad) {
		t.Errorf("%d failure records, want %d", len(fs), len(bad))
	}
	for id, b := range bad {
		f, ok := byRaw[b.rec+"\n"]
		if !ok {
			t.Errorf("id %d (%s): not in the error output", id, b.rec)
			continue
		}
		if f.ErrorCode != b.code {
			t.Errorf("id %d: errorCode %s, want %s (%s)", id, f.ErrorCode, b.code, f.ErrorMessage)
		}
		if !strings.Contains(strings.ToLower(f.ErrorMessage), strings.ToLower(b.says)) {
			t.Errorf("id %d: errorMessage %q does not mention %q", id, f.ErrorMessage, b.says)
		}
		if f.AttemptsMade < 1 || f.ArrivalTimestamp == 0 {
			t.Errorf("id %d: attemptsMade %d, arrivalTimestamp %d", id, f.AttemptsMade, f.ArrivalTimestamp)
		}
	}
	if len(fs) > 0 {
		t.Logf("%d rows loaded, %d refused; e.g. %s: %s (%s)", len(got), len(fs), fs[0].Key, fs[0].ErrorCode, fs[0].ErrorMessage)
	}
}

// A missing table is retried for the retry duration, then the records go to the error output
// with Redshift.TableNotFound; once the table exists, new records load (and the given-up
// ones are not loaded after all).
func TestRedshiftTableMissingGivesUp(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	bucket := m.CreateBucket(t, "rs-missing")
	pgExec(t, pg, "DROP TABLE IF EXISTS late_table")
	s := harness.StartSluice(t, "delivery_streams:\n"+rsStreamYAML(pg, m, bucket, "rs-missing", "late_table", typedCols, "JSON 'auto'", "prefix: stage/",
		"      retry_duration: 3s\n", ""))
	fh := firehoseClient(s.Endpoint)
	var first []string
	for i := 1; i <= 5; i++ {
		first = append(first, fmt.Sprintf(`{"id":%d,"kind":"before"}`+"\n", i))
	}
	start := time.Now()
	putRecords(t, fh, "rs-missing", first...)
	// no error_output_prefix: <prefix>redshift-failed/yyyy/MM/dd/HH/
	const errPrefix = "stage/redshift-failed/"
	errKey := keyRE(`stage/redshift-failed/\d{4}/\d{2}/\d{2}/\d{2}/`, "rs-missing", "")
	fs := waitFailures(t, m, bucket, errPrefix, len(first), 60*time.Second)
	gaveUp := time.Since(start)
	var raws []string
	for _, f := range fs {
		raws = append(raws, string(f.RawData))
		if f.ErrorCode != "Redshift.TableNotFound" {
			t.Errorf("errorCode %s, want Redshift.TableNotFound (%s)", f.ErrorCode, f.ErrorMessage)
		}
		if !strings.Contains(f.ErrorMessage, "late_table") {
			t.Errorf("errorMessage %q does not name the table", f.ErrorMessage)
		}
		if !errKey.MatchString(f.Key) {
			t.Errorf("failure object %s, want %syyyy/MM/dd/HH/rs-missing-1-…", f.Key, errPrefix)
		}
	}
	slices.Sort(raws)
	if !slices.Equal(raws, first) {
		t.Errorf("error output holds %q, want %q", raws, first)
	}
	if gaveUp < 3*time.Second {
		t.Errorf("gave up after %s, before the 3 s retry duration", gaveUp)
	}
	t.Logf("gave up after %s with %d records (attempts %d)", gaveUp.Round(time.Millisecond), len(fs), fs[0].AttemptsMade)

	pgExec(t, pg, typedDDL("late_table")...)
	putRecords(t, fh, "rs-missing", `{"id":6,"kind":"after"}`, `{"id":7,"kind":"after"}`)
	want := []string{"6 after", "7 after"}
	const sql = "SELECT id || ' ' || kind FROM late_table ORDER BY id"
	if got := waitQuery(t, pg, sql, want, 30*time.Second); !slices.Equal(got, want) {
		t.Errorf("after creating the table it holds %v, want %v", got, want)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := pgQuery(t, pg, sql); !slices.Equal(got, want) {
		t.Errorf("later the table holds %v, want %v", got, want)
	}
	if n := len(rsFailures(t, m, bucket, errPrefix)); n != len(first) {
		t.Errorf("%d failure records after the table came, want %d", n, len(first))
	}
}

// loader puts records {"id":N,…} with unique ids from several goroutines until stopped,
// keeping which ids were acknowledged (a RecordId), refused (an ErrorCode in the reply) or
// uncertain (the call failed: the daemon may or may not have taken them).
type loader struct {
	next                      atomic.Int64
	mu                        sync.Mutex
	acked, refused, uncertain []int64
	callErrs                  int
	stop                      chan struct{}
	halted                    sync.Once
	wg                        sync.WaitGroup
}

func startLoader(c *firehose.Client, stream string, workers, batch int, pause time.Duration) *loader {
	l := &loader{stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ids := make([]int64, batch)
				recs := make([]types.Record, batch)
				for i := range recs {
					ids[i] = l.next.Add(1)
					recs[i] = types.Record{Data: []byte(fmt.Sprintf(`{"id":%d,"ts":"2026-07-13T14:05:09Z","kind":"w%d","value":%d,"payload":{"w":%d}}`+"\n", ids[i], w, ids[i], w))}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: recs})
				cancel()
				l.mu.Lock()
				if err != nil || len(out.RequestResponses) != len(recs) {
					l.uncertain = append(l.uncertain, ids...)
					l.callErrs++
				} else {
					for i, r := range out.RequestResponses {
						if r.RecordId != nil && r.ErrorCode == nil {
							l.acked = append(l.acked, ids[i])
						} else {
							l.refused = append(l.refused, ids[i])
						}
					}
				}
				l.mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond) // the daemon is down: try again shortly
				} else if pause > 0 {
					time.Sleep(pause)
				}
			}
		}()
	}
	return l
}

// halt stops the loader and waits for its calls to end. Calling it again does nothing, so
// a test may defer it and also call it where the load must end.
func (l *loader) halt() {
	l.halted.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// checkExactlyOnce waits until every acknowledged id of l is in table, then checks that no
// id is there twice, that every id there was acknowledged or uncertain (never refused), and
// that no record went to the error output. It returns the rows in the table.
func checkExactlyOnce(t *testing.T, pg *harness.PostgresServer, m *harness.MinIOServer, bucket, errPrefix, table string, l *loader, timeout time.Duration) int {
	t.Helper()
	acked := map[int64]bool{}
	for _, id := range l.acked {
		acked[id] = true
	}
	countAcked := func() int {
		n := pgQuery(t, pg, "SELECT count(DISTINCT id)::text FROM "+table+" WHERE id = ANY($1)", l.acked)
		var k int
		fmt.Sscan(n[0], &k)
		return k
	}
	deadline := time.Now().Add(timeout)
	for countAcked() < len(acked) {
		if time.Now().After(deadline) {
			t.Errorf("%d of %d acknowledged records in the table after %s", countAcked(), len(acked), timeout)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // anything delivered twice would be here by now
	c := pgQuery(t, pg, "SELECT count(*)::text || ' ' || count(DISTINCT id)::text FROM "+table)[0]
	var rows, distinct int
	fmt.Sscan(c, &rows, &distinct)
	if rows != distinct {
		t.Errorf("%d rows but %d distinct ids: %d delivered twice", rows, distinct, rows-distinct)
		dups := pgQuery(t, pg, "SELECT id::text || ' ×' || count(*)::text FROM "+table+" GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 10")
		t.Logf("e.g. %v", dups)
	}
	possible := map[int64]bool{}
	for _, id := range l.uncertain {
		possible[id] = true
	}
	stray := pgQuery(t, pg, "SELECT id::text FROM "+table+" WHERE NOT (id = ANY($1))", l.acked)
	for _, s := range stray {
		var id int64
		fmt.Sscan(s, &id)
		if !possible[id] {
			t.Errorf("id %d is in the table but was refused by PutRecordBatch (or never sent)", id)
			break
		}
	}
	if fs := rsFailures(t, m, bucket, errPrefix); len(fs) > 0 {
		t.Errorf("%d records in the error output, e.g. %s: %s", len(fs), fs[0].ErrorCode, fs[0].ErrorMessage)
	}
	t.Logf("%d acknowledged, %d refused, %d uncertain (%d failed calls); table: %d rows, %d distinct, %d of them not acknowledged",
		len(l.acked), len(l.refused), len(l.uncertain), l.callErrs, rows, distinct, len(stray))
	return rows
}

// PostgreSQL going away for 30 s in the middle of a sustained load loses nothing and, with
// exactly-once on, repeats nothing: once it is back every acknowledged record is in the table
// once, and nothing went to the error output (the retry duration is not spent on an outage
// this short).
func TestRedshiftSurvivesPostgresOutage(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	bucket := m.CreateBucket(t, "rs-outage")
	pgExec(t, pg, typedDDL("outage_rows")...)
	t.Cleanup(func() { pgExec(t, pg, "DROP TABLE IF EXISTS outage_rows") })
	s := harness.StartSluice(t, "delivery_streams:\n"+rsStreamYAML(pg, m, bucket, "rs-outage", "outage_rows", typedCols, "JSON 'auto'", "error_output_prefix: 'rs-err/'", "", ""))
	l := startLoader(firehoseClient(s.Endpoint), "rs-outage", 4, 100, 20*time.Millisecond)
	defer l.halt()
	time.Sleep(3 * time.Second)
	before := pgQuery(t, pg, "SELECT count(*)::text FROM outage_rows")[0]
	stopped := true
	pg.Stop(t)
	t.Cleanup(func() {
		if stopped {
			pg.Start(t)
		}
	})
	t.Logf("PostgreSQL stopped with %s rows loaded", before)
	time.Sleep(30 * time.Second)
	pg.Start(t)
	stopped = false
	back := time.Now()
	time.Sleep(3 * time.Second)
	l.halt()
	if len(l.acked) == 0 {
		t.Fatal("no record acknowledged")
	}
	rows := checkExactlyOnce(t, pg, m, bucket, "rs-err/", "outage_rows", l, 90*time.Second)
	t.Logf("%d rows in the table %s after PostgreSQL came back", rows, time.Since(back).Round(time.Second))
}

// kill -9 five times in a row under a sustained load (8 producers): with exactly-once on,
// every acknowledged record is in the table exactly once, and nothing else is there but
// records whose PutRecordBatch call failed at the crash.
func TestRedshiftExactlyOnceAcrossKill9(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	bucket := m.CreateBucket(t, "rs-kill")
	pgExec(t, pg, typedDDL("kill_rows")...)
	t.Cleanup(func() { pgExec(t, pg, "DROP TABLE IF EXISTS kill_rows") })
	s := harness.StartSluice(t, "delivery_streams:\n"+rsStreamYAML(pg, m, bucket, "rs-kill", "kill_rows", typedCols, "JSON 'auto'", "error_output_prefix: 'rs-err/'", "", ""))
	l := startLoader(firehoseClient(s.Endpoint), "rs-kill", 8, 100, 5*time.Millisecond)
	defer l.halt()
	const rounds = 5
	start := time.Now()
	for r := 1; r <= rounds; r++ {
		time.Sleep(2500 * time.Millisecond)
		loaded := pgQuery(t, pg, "SELECT count(*)::text FROM kill_rows")[0]
		l.mu.Lock()
		acked := len(l.acked)
		l.mu.Unlock()
		s.Kill()
		t.Logf("kill -9 #%d: %d acknowledged, %s rows in the table", r, acked, loaded)
		s.Start()
	}
	time.Sleep(2 * time.Second)
	l.halt()
	checkExactlyOnce(t, pg, m, bucket, "rs-err/", "kill_rows", l, 90*time.Second)
	t.Logf("%d kill rounds, %s of load", rounds, time.Since(start).Round(time.Second))
}

// A delivery stream created with the Firehose API (RedshiftDestinationConfiguration, with a
// password) is described with its settings and defaults — never the password, neither in the
// SDK's view nor in the raw reply, nor in the log — loads records into the table, and
// UpdateDestination moves it to another table and CopyOptions.
func TestRedshiftAPIDescribeHidesPassword(t *testing.T) {
	m, pg := harness.MinIO(t), harness.Postgres(t)
	bucket := m.CreateBucket(t, "rs-api")
	pgExec(t, pg, typedDDL("api_a")...)
	pgExec(t, pg, typedDDL("api_b")...)
	s := startFirehoseSluice(t, m, "")
	raw := &rawReplies{}
	fh := rawFirehoseClient(s.Endpoint, raw)
	ctx := context.Background()
	const stream, password = "rs-api", "secret-pw"
	jdbc := fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/postgres", pg.Port)
	_, err := fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(stream),
		RedshiftDestinationConfiguration: &types.RedshiftDestinationConfiguration{
			RoleARN:        aws.String("arn:aws:iam::000000000000:role/firehose"),
			ClusterJDBCURL: aws.String(jdbc),
			CopyCommand: &types.CopyCommand{DataTableName: aws.String("api_a"), DataTableColumns: aws.String(typedCols),
				CopyOptions: aws.String("JSON 'auto'")},
			Username: aws.String("postgres"),
			Password: aws.String(password),
			S3Configuration: &types.S3DestinationConfiguration{
				BucketARN: aws.String("arn:aws:s3:::" + bucket), RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose"),
				ErrorOutputPrefix: aws.String("rs-err/"),
				BufferingHints:    &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)},
			},
		},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}

	// describe returns the SDK's view of DescribeDeliveryStream and the
	// RedshiftDestinationDescription of the raw reply, checked for the password.
	describe := func() (*types.DeliveryStreamDescription, map[string]any) {
		t.Helper()
		d, err := fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("DescribeDeliveryStream: %v", err)
		}
		body := raw.Last()
		if strings.Contains(body, password) || strings.Contains(body, `"Password"`) {
			t.Errorf("DescribeDeliveryStream shows the password: %s", body)
		}
		var out struct {
			DeliveryStreamDescription struct {
				Destinations []struct {
					RedshiftDestinationDescription map[string]any
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("DescribeDeliveryStream reply %s: %v", body, err)
		}
		if ds := out.DeliveryStreamDescription.Destinations; len(ds) == 1 && ds[0].RedshiftDestinationDescription != nil {
			return d.DeliveryStreamDescription, ds[0].RedshiftDestinationDescription
		}
		t.Fatalf("DescribeDeliveryStream: no RedshiftDestinationDescription in %s", body)
		return nil, nil
	}

	d, rawDesc := describe()
	if len(d.Destinations) != 1 || d.Destinations[0].RedshiftDestinationDescription == nil {
		t.Fatalf("Destinations %+v", d.Destinations)
	}
	rd := d.Destinations[0].RedshiftDestinationDescription
	if got := aws.ToString(rd.ClusterJDBCURL); got != jdbc {
		t.Errorf("ClusterJDBCURL %q, want %q", got, jdbc)
	}
	if cc := rd.CopyCommand; cc == nil || aws.ToString(cc.DataTableName) != "api_a" || aws.ToString(cc.DataTableColumns) != typedCols ||
		aws.ToString(cc.CopyOptions) != "JSON 'auto'" {
		t.Errorf("CopyCommand %+v", rd.CopyCommand)
	}
	if aws.ToString(rd.Username) != "postgres" {
		t.Errorf("Username %q", aws.ToString(rd.Username))
	}
	if rd.RetryOptions == nil || aws.ToInt32(rd.RetryOptions.DurationInSeconds) != 3600 {
		t.Errorf("RetryOptions %+v, want DurationInSeconds 3600", rd.RetryOptions)
	}
	if sd := rd.S3DestinationDescription; sd == nil || aws.ToString(sd.BucketARN) != "arn:aws:s3:::"+bucket || aws.ToString(sd.ErrorOutputPrefix) != "rs-err/" {
		t.Errorf("S3DestinationDescription %+v", rd.S3DestinationDescription)
	}
	if rawDesc["SluiceLoadMode"] != "copy" {
		t.Errorf("SluiceLoadMode %v, want copy", rawDesc["SluiceLoadMode"])
	}
	if rawDesc["SluiceExactlyOnce"] != true {
		t.Errorf("SluiceExactlyOnce %v, want true", rawDesc["SluiceExactlyOnce"])
	}

	putRecords(t, fh, stream, `{"id":1,"kind":"a"}`, `{"id":2,"kind":"a"}`, `{"id":3,"kind":"a"}`)
	wantA := []string{"1 a", "2 a", "3 a"}
	if got := waitQuery(t, pg, "SELECT id || ' ' || kind FROM api_a ORDER BY id", wantA, 30*time.Second); !slices.Equal(got, wantA) {
		t.Fatalf("api_a holds %v, want %v", got, wantA)
	}

	_, err = fh.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String(stream), CurrentDeliveryStreamVersionId: d.VersionId,
		DestinationId: d.Destinations[0].DestinationId,
		RedshiftDestinationUpdate: &types.RedshiftDestinationUpdate{CopyCommand: &types.CopyCommand{
			DataTableName: aws.String("api_b"), DataTableColumns: aws.String("id,kind,value"), CopyOptions: aws.String("CSV")}},
	})
	if err != nil {
		t.Fatalf("UpdateDestination: %v", err)
	}
	d2, _ := describe()
	if aws.ToString(d2.VersionId) == aws.ToString(d.VersionId) {
		t.Errorf("VersionId still %s after UpdateDestination", aws.ToString(d2.VersionId))
	}
	rd2 := d2.Destinations[0].RedshiftDestinationDescription
	if cc := rd2.CopyCommand; cc == nil || aws.ToString(cc.DataTableName) != "api_b" || aws.ToString(cc.CopyOptions) != "CSV" ||
		aws.ToString(cc.DataTableColumns) != "id,kind,value" {
		t.Errorf("CopyCommand after update %+v", rd2.CopyCommand)
	}
	if aws.ToString(rd2.Username) != "postgres" || aws.ToString(rd2.ClusterJDBCURL) != jdbc {
		t.Errorf("after update: Username %q, ClusterJDBCURL %q", aws.ToString(rd2.Username), aws.ToString(rd2.ClusterJDBCURL))
	}

	putRecords(t, fh, stream, "4,\"b, quoted\",4.5\n", "5,b,\n")
	wantB := []string{"4 | NULL | b, quoted | 4.5 | NULL", "5 | NULL | b | NULL | NULL"}
	if got := waitQuery(t, pg, typedRowsSQL("api_b"), wantB, 30*time.Second); !slices.Equal(got, wantB) {
		t.Errorf("api_b after UpdateDestination holds %v, want %v", got, wantB)
	}
	if got := pgQuery(t, pg, "SELECT id || ' ' || kind FROM api_a ORDER BY id"); !slices.Equal(got, wantA) {
		t.Errorf("api_a after UpdateDestination holds %v, want %v", got, wantA)
	}
	if fs := rsFailures(t, m, bucket, "rs-err/"); len(fs) > 0 {
		t.Errorf("%d records in the error output, e.g. %s: %s", len(fs), fs[0].ErrorCode, fs[0].ErrorMessage)
	}
	if strings.Contains(s.Log(), password) {
		t.Errorf("the sluice log holds the password")
	}
}
