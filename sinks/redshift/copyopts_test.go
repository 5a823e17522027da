package redshift

import (
	"strings"
	"testing"
)

func TestParseCopyOptions(t *testing.T) {
	cases := []struct {
		opts, name, sql string
	}{
		{"", "text", "COPY t FROM STDIN WITH (FORMAT text, DELIMITER '|', NULL '\\N')"},
		{"DELIMITER ','", "text", "COPY t FROM STDIN WITH (FORMAT text, DELIMITER ',', NULL '\\N')"},
		{"delimiter as '\t' null as 'nil'", "text", "COPY t FROM STDIN WITH (FORMAT text, DELIMITER '\t', NULL 'nil')"},
		{"CSV", "csv", "COPY t FROM STDIN WITH (FORMAT csv, DELIMITER ',')"},
		{"CSV QUOTE AS '''' NULL AS 'NA' IGNOREHEADER 1", "csv", "COPY t FROM STDIN WITH (FORMAT csv, DELIMITER ',', QUOTE '''', NULL 'NA')"},
		{"JSON 'auto'", "json auto", "COPY t FROM STDIN WITH (FORMAT text)"},
		{"json 'auto ignorecase' GZIP TIMEFORMAT 'auto' EMPTYASNULL COMPUPDATE OFF REGION 'us-east-1'", "json auto ignorecase", "COPY t FROM STDIN WITH (FORMAT text)"},
		{"FORMAT AS JSON 's3://b/paths.json'", "json jsonpaths", "COPY t FROM STDIN WITH (FORMAT text)"},
		{"RAW", "raw", "COPY t FROM STDIN WITH (FORMAT text)"},
	}
	for _, c := range cases {
		f, err := ParseCopyOptions(c.opts)
		if err != nil {
			t.Errorf("%q: %v", c.opts, err)
			continue
		}
		if f.Name() != c.name {
			t.Errorf("%q: format %s, want %s", c.opts, f.Name(), c.name)
		}
		if got := stdinSQL("t", nil, f); got != c.sql {
			t.Errorf("%q:\n got %s\nwant %s", c.opts, got, c.sql)
		}
	}
	if f, _ := ParseCopyOptions("CSV QUOTE AS '''' NULL AS 'NA' IGNOREHEADER 1"); f.IgnoreHeader != 1 || f.Quote != "'" {
		t.Errorf("IGNOREHEADER/QUOTE not parsed: %+v", f)
	}
	for opts, want := range map[string]string{
		"FIXEDWIDTH 'a:1'":          "FIXEDWIDTH is not supported",
		"AVRO 'auto'":               "AVRO is not supported",
		"MAXERROR 10":               "MAXERROR is not supported",
		"DELIMITER ',,'":            "must be one character",
		"DELIMITER":                 "needs a quoted value",
		"JSON 'nope'":               "is not 'auto'",
		"IGNOREHEADER x":            "is not a number",
		"JSON 'auto' CSV":           "",
		"DELIMITER 'x":              "not closed",
		"JSON 'auto' DELIMITER ','": "do not apply",
	} {
		_, err := ParseCopyOptions(opts)
		if want == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %q", opts, err, want)
		}
	}
}

func TestRedshiftSQLOfCopyOptions(t *testing.T) {
	f, err := ParseCopyOptions("JSON 'auto' GZIP")
	if err != nil {
		t.Fatal(err)
	}
	got := RedshiftSQL("public.events", []string{"id", "ts"}, "s3://stage/manifests/2026/12/07/14/rs-1-2026-12-07-14-00-00-x", "arn:aws:iam::123456789012:role/fh", f)
	want := "COPY public.events (id, ts) FROM 's3://stage/manifests/2026/12/07/14/rs-1-2026-12-07-14-00-00-x' CREDENTIALS 'aws_iam_role=arn:aws:iam::123456789012:role/fh' MANIFEST JSON 'auto' GZIP"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseTableAndColumns(t *testing.T) {
	if got, err := ParseTable("Public.Events"); err != nil || got != "public.events" {
		t.Errorf("ParseTable = %q, %v", got, err)
	}
	for _, bad := range []string{"a.b.c", "x; drop table y", "1abc", `"q"`, ""} {
		if _, err := ParseTable(bad); err == nil {
			t.Errorf("ParseTable(%q) accepted", bad)
		}
	}
	if got, err := ParseColumns(" id, TS ,kind"); err != nil || strings.Join(got, ",") != "id,ts,kind" {
		t.Errorf("ParseColumns = %q, %v", got, err)
	}
	if _, err := ParseColumns("id,(select 1)"); err == nil {
		t.Error("ParseColumns accepted an expression")
	}
}

func FuzzParseCopyOptions(f *testing.F) {
	for _, s := range []string{"", "CSV QUOTE AS '\"'", "JSON 'auto ignorecase'", "DELIMITER '|' NULL AS '\\N' IGNOREHEADER 2", "'", "FORMAT AS JSON 's3://b/k'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseCopyOptions(s)
		if err != nil {
			return
		}
		sql := stdinSQL("t", []string{"a"}, fm)
		if !strings.HasPrefix(sql, "COPY t (a) FROM STDIN WITH (") {
			t.Fatalf("bad SQL %q", sql)
		}
		// every option value is quoted: no unbalanced quote reaches the statement
		if strings.Count(sql, "'")%2 != 0 {
			t.Fatalf("unbalanced quotes in %q", sql)
		}
	})
}
