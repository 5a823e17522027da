//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/redshift"
	"github.com/sluice-io/sluice/sinks/sinktest"
	"github.com/sluice-io/sluice/sources/record"
)

// pgConnect opens a connection to the harness PostgreSQL.
func pgConnect(t testing.TB, pg *harness.PostgresServer) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pgExec runs statements against the harness PostgreSQL.
func pgExec(t testing.TB, pg *harness.PostgresServer, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	c := pgConnect(t, pg)
	defer c.Close(ctx)
	for _, s := range sqls {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// pgQuery returns the first column of every row of sql, as text.
func pgQuery(t testing.TB, pg *harness.PostgresServer, sql string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	c := pgConnect(t, pg)
	defer c.Close(ctx)
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// rawSinkConfig is a copy-mode sink loading each record whole into table.data.
func rawSinkConfig(t testing.TB, dsn, table string, exactlyOnce bool, group string) redshift.Config {
	t.Helper()
	target, err := redshift.ParseURL(dsn, "", "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := redshift.ParseCopyOptions("RAW")
	if err != nil {
		t.Fatal(err)
	}
	return redshift.Config{Target: target, Mode: redshift.ModeCopy, Table: table, Columns: []string{"data"}, Format: f,
		ExactlyOnce: exactlyOnce, Stream: group, Group: group}
}

// The PostgreSQL destination passes the shared sink conformance suite against a real
// server, with exactly-once on (positions in sluice_checkpoints, committed with the rows)
// and off. Each batch is one transaction, so the table's txid column groups rows by batch.
func TestRedshiftSinkConformancePostgres(t *testing.T) {
	pg := harness.Postgres(t)
	for _, eo := range []bool{true, false} {
		t.Run(fmt.Sprintf("exactly_once=%v", eo), func(t *testing.T) {
			table := fmt.Sprintf("conformance_eo_%v", eo)
			pgExec(t, pg, "DROP TABLE IF EXISTS "+table,
				"CREATE TABLE "+table+" (data text CHECK (data NOT LIKE '%refuse-me%'), tx bigint DEFAULT txid_current(), ord bigserial)")
			build := func(group string) sinks.Sink { return redshift.New(rawSinkConfig(t, pg.DSN(), table, eo, group)) }
			dead := strings.Replace(pg.DSN(), fmt.Sprintf(":%d/", pg.Port), ":"+strings.Split(closedLoopback(t), ":")[1]+"/", 1)
			h := sinktest.Harness{
				New:         func(testing.TB) sinks.Sink { return build("conformance") },
				For:         func(_ testing.TB, stream string) sinks.Sink { return build("conformance/" + stream) },
				Unreachable: func(testing.TB) sinks.Sink { return redshift.New(rawSinkConfig(t, dead, table, eo, "dead")) },
				Classify:    sinks.Classify,
				Delivered: func(t testing.TB) [][]byte {
					var out [][]byte
					for _, s := range pgQuery(t, pg, "SELECT string_agg(data, '' ORDER BY ord) FROM "+table+" GROUP BY tx") {
						out = append(out, []byte(s))
					}
					return out
				},
				Break:   func(t testing.TB) { pgExec(t, pg, "ALTER TABLE "+table+" RENAME TO "+table+"_away") },
				Fix:     func(t testing.TB) { pgExec(t, pg, "ALTER TABLE "+table+"_away RENAME TO "+table) },
				Refused: func() []byte { return []byte(`{"refuse-me":true}` + "\n") },
			}
			sinktest.Run(t, h)
			sinktest.RunDelivery(t, h)
		})
	}
}

// sluice validate -check-sinks connects to PostgreSQL and checks the table and its columns:
// present → OK; a missing table or column → named, exit 1.
func TestRedshiftValidateCheckSinks(t *testing.T) {
	pg := harness.Postgres(t)
	pgExec(t, pg, "DROP TABLE IF EXISTS checked", "CREATE TABLE checked (id bigint, payload text)")
	bin := harness.SluiceBinary(t)
	run := func(table, cols string) (string, int) {
		cfg := filepath.Join(t.TempDir(), "c.yaml")
		y := fmt.Sprintf("delivery_streams:\n  - name: rs\n    destination:\n      type: redshift\n      redshift:\n        url: '%s'\n        table: %s\n        columns: %s\n        copy_options: \"JSON 'auto'\"\n        s3: {bucket: staging}\n",
			strings.Replace(pg.DSN(), "postgres://", "jdbc:postgresql://", 1), table, cols)
		if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "validate", "-check-sinks", "-timeout", "10s", cfg).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := run("checked", "id,payload"); code != 0 || !strings.Contains(out, "connected, destination checked") {
		t.Errorf("table and columns present: exit %d\n%s", code, out)
	}
	if out, code := run("absent", "id"); code != 1 || !strings.Contains(out, "Redshift.TableNotFound") {
		t.Errorf("missing table: exit %d, want 1 naming Redshift.TableNotFound\n%s", code, out)
	}
	if out, code := run("checked", "id,nosuch"); code != 1 || !strings.Contains(out, "no column nosuch") {
		t.Errorf("missing column: exit %d, want 1 naming the column\n%s", code, out)
	}
}

// With exactly-once on, a refused row is kept in sluice_rejected in the same transaction as
// the batch's position: the position says the row is done before the S3 error output holds
// it, so a crash in between must not lose it from everywhere.
func TestRedshiftExactlyOnceKeepsRefusedRows(t *testing.T) {
	pg := harness.Postgres(t)
	pgExec(t, pg, "DROP TABLE IF EXISTS eo_refused", "CREATE TABLE eo_refused (data text CHECK (data NOT LIKE '%refuse-me%'))")
	group := "refused/" + t.Name()
	s := redshift.New(rawSinkConfig(t, pg.DSN(), "eo_refused", true, group))
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	eo := s.(sinks.ExactlyOnce)
	if _, err := eo.Positions(ctx); err != nil { // creates the tables
		t.Fatal(err)
	}
	b := sinks.Batch{Records: []record.Record{
		{Data: []byte("good-1"), SequenceNumber: "100"},
		{Data: []byte("refuse-me"), SequenceNumber: "101"},
		{Data: []byte("good-2"), SequenceNumber: "102"},
	}, Positions: []sinks.Position{{ShardID: "shardId-000000000000", SequenceNumber: "102"}}}
	res := s.Write(ctx, b)
	if len(res.Records) != 3 || res.Records[1].Outcome != sinks.Rejected || res.Records[0].Outcome != sinks.Delivered {
		t.Fatalf("Write = %+v", res)
	}
	if got := pgQuery(t, pg, "SELECT data FROM eo_refused ORDER BY data"); strings.Join(got, ",") != "good-1,good-2" {
		t.Errorf("table holds %v", got)
	}
	got := pgQuery(t, pg, "SELECT sequence_number || ' ' || error_code || ' ' || convert_from(raw_data, 'UTF8') FROM sluice_rejected WHERE delivery_stream = $1", group)
	if len(got) != 1 || got[0] != "101 Redshift.DataLoadFailed refuse-me" {
		t.Errorf("sluice_rejected holds %v, want the refused row with its code", got)
	}
	ps, err := eo.Positions(ctx)
	if err != nil || len(ps) != 1 || ps[0].SequenceNumber != "102" {
		t.Errorf("positions %+v, %v", ps, err)
	}
}

// The binary fast path of JSON 'auto' (typed values, binary COPY) loads exactly what the
// text path loads: the same records go into two tables with the same columns, one of them
// with an extra numeric column that keeps its loads on the text path, and every row compares
// equal as text. Values the fast path is not certain of (no zone, a fraction for an integer,
// nine fractional digits, " 12 ") must still load as the server reads them.
func TestRedshiftBinaryPathLoadsLikeTheText(t *testing.T) {
	pg := harness.Postgres(t)
	cols := "id bigint, n int, s smallint, f float8, r real, b bool, ts timestamptz, lt timestamp, t text, v varchar(40), j jsonb, js json"
	pgExec(t, pg, "DROP TABLE IF EXISTS fast_path", "DROP TABLE IF EXISTS text_path",
		"CREATE TABLE fast_path ("+cols+")", "CREATE TABLE text_path ("+cols+", extra numeric)", "SET TIME ZONE 'UTC'")
	recs := []string{
		`{"id":1,"n":2,"s":3,"f":1.5,"r":0.1,"b":true,"ts":"2026-12-07T14:00:00.123456Z","lt":"2026-12-07 14:00:00","t":"plain","v":"x","j":{"a":[1,2]},"js":{"b" : 1}}`,
		`{"id":2,"f":-1e-300,"b":"f","ts":"2026-12-07 15:00:00+02","t":"tab\there \"q\" é","j":"\"str\"","js":[true]}`,
		`{"id":"3","n":"42","ts":"2026-01-01T00:00:00.5-05:00","lt":"2026-01-01T10:11:12.999999","t":12.50,"v":false}`,
		`{"id":4}` + "\n" + `{"id":5,"t":null,"j":null}`,
		`{"id":6,"f":"NaN","r":"Infinity","lt":"2026-02-03 04:05:06.123456789"}`,
		`{"id":7,"n":" 12 ","s":"+7","b":"yes","ts":"2026-12-07 14:00:00"}`,
	}
	var rs []record.Record
	for i, d := range recs {
		rs = append(rs, record.Record{Data: []byte(d), SequenceNumber: fmt.Sprint(100 + i)})
	}
	ctx := context.Background()
	load := func(table string, eo bool) {
		target, err := redshift.ParseURL(pg.DSN()+"&options=-c%20TimeZone%3DUTC", "", "")
		if err != nil {
			t.Fatal(err)
		}
		f, _ := redshift.ParseCopyOptions("JSON 'auto'")
		s := redshift.New(redshift.Config{Target: target, Mode: redshift.ModeCopy, Table: table, Columns: strings.Split("id,n,s,f,r,b,ts,lt,t,v,j,js", ","),
			Format: f, ExactlyOnce: eo, Group: "binary/" + table})
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		// one record per batch: a record the fast path cannot take sends only its own batch
		// down the text path
		for i := range rs {
			if res := s.Write(ctx, sinks.Batch{Records: rs[i : i+1]}); res.Err != nil || res.Records != nil {
				t.Fatalf("%s: record %d: %+v", table, i, res)
			}
		}
	}
	load("fast_path", false)
	load("text_path", false)
	q := "SELECT concat_ws('|', id, n, s, f, r, b, ts, lt, t, v, j, js) FROM %s ORDER BY id"
	fast, text := pgQuery(t, pg, fmt.Sprintf(q, "fast_path")), pgQuery(t, pg, fmt.Sprintf(q, "text_path"))
	if len(fast) != len(recs)+1 || strings.Join(fast, "\n") != strings.Join(text, "\n") {
		t.Errorf("fast path:\n%s\ntext path:\n%s", strings.Join(fast, "\n"), strings.Join(text, "\n"))
	}
}
