package redshift

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

const testRole = "arn:aws:iam::123456789012:role/firehose_delivery_role"

// The statement Sluice would send to a real Redshift for one manifest, exactly.
func TestStagedRedshiftSQL(t *testing.T) {
	const man = "s3://staging/events/manifests/2026/07/13/14/orders-1-2026-07-13-14-05-09-0f8fad5b-d9cb-469f-a165-70867728950e"
	cases := []struct {
		name, options string
		table         string
		cols          []string
		want          string
	}{
		{"no options", "", "events", nil,
			"COPY events FROM '" + man + "' CREDENTIALS 'aws_iam_role=" + testRole + "' MANIFEST"},
		{"columns, pipe text", "DELIMITER '|'", "public.events", []string{"id", "payload"},
			"COPY public.events (id, payload) FROM '" + man + "' CREDENTIALS 'aws_iam_role=" + testRole + "' MANIFEST DELIMITER '|'"},
		{"csv gzip header", `  CSV QUOTE '"' IGNOREHEADER 1 GZIP `, "events", []string{"id"},
			"COPY events (id) FROM '" + man + "' CREDENTIALS 'aws_iam_role=" + testRole + `' MANIFEST CSV QUOTE '"' IGNOREHEADER 1 GZIP`},
		{"json auto ignorecase", "JSON 'auto ignorecase' TIMEFORMAT 'auto'", "events", nil,
			"COPY events FROM '" + man + "' CREDENTIALS 'aws_iam_role=" + testRole + "' MANIFEST JSON 'auto ignorecase' TIMEFORMAT 'auto'"},
		{"jsonpaths", "FORMAT AS JSON 's3://staging/paths.json' NULL AS 'nil'", "events", []string{"a", "b"},
			"COPY events (a, b) FROM '" + man + "' CREDENTIALS 'aws_iam_role=" + testRole + "' MANIFEST FORMAT AS JSON 's3://staging/paths.json' NULL AS 'nil'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseCopyOptions(c.options)
			if err != nil {
				t.Fatal(err)
			}
			if got := RedshiftSQL(c.table, c.cols, man, testRole, f); got != c.want {
				t.Errorf("RedshiftSQL\n got %s\nwant %s", got, c.want)
			}
		})
	}
	// a quote in the manifest URL or role stays inside its literal
	f, _ := ParseCopyOptions("")
	if got, want := RedshiftSQL("t", nil, "s3://b/it's", "r'x", f), `COPY t FROM 's3://b/it''s' CREDENTIALS 'aws_iam_role=r''x' MANIFEST`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRedactSQL(t *testing.T) {
	in := "COPY t FROM 's3://b/m' CREDENTIALS 'aws_iam_role=r' MANIFEST CREDENTIALS 'aws_access_key_id=AKIA1;aws_secret_access_key=wJalr/XUt;token=FQoG' GZIP"
	want := "COPY t FROM 's3://b/m' CREDENTIALS 'aws_iam_role=r' MANIFEST CREDENTIALS 'aws_access_key_id=AKIA1;aws_secret_access_key=REDACTED;token=REDACTED' GZIP"
	if got := redactSQL(in); got != want {
		t.Errorf("redactSQL\n got %s\nwant %s", got, want)
	}
}

func TestManifestJSON(t *testing.T) {
	got := string(manifestJSON("s3://staging/p/2026/07/13/14/orders-1-x.gz"))
	want := `{"entries":[{"url":"s3://staging/p/2026/07/13/14/orders-1-x.gz","mandatory":true}]}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := string(manifestJSON("s3://b/a&b<c>")); got != `{"entries":[{"url":"s3://b/a&b<c>","mandatory":true}]}` {
		t.Errorf("HTML characters escaped: %s", got)
	}
}

// Manifest keys: <Prefix>manifests/yyyy/MM/dd/HH/<stream>-<version>-<ts>-<uuid> in UTC,
// without the data object's extension; the error copy under <Prefix>errors/manifests/.
func TestManifestKeys(t *testing.T) {
	arrival := time.Date(2026, 7, 13, 14, 5, 9, 0, time.UTC)
	for _, c := range []struct {
		prefix string
		comp   s3.CompressionFormat
		ext    string
	}{{"events/", s3.GZIP, ""}, {"", s3.Uncompressed, ""}, {"a/b-", s3.GZIP, ".json.gz"}} {
		stage, err := s3.New(s3.Config{Bucket: "staging", Prefix: c.prefix, CompressionFormat: c.comp, FileExtension: c.ext,
			DeliveryStreamName: "orders", VersionID: "3"})
		if err != nil {
			t.Fatal(err)
		}
		// a non-UTC time names the same hour as its UTC instant
		at := arrival.In(time.FixedZone("x", 5*3600))
		key := manifestKey(c.prefix, at, manifestName(stage, at))
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(c.prefix) + `manifests/2026/07/13/14/orders-3-2026-07-13-14-05-09-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$`)
		if !re.MatchString(key) {
			t.Errorf("prefix %q: manifest key %q", c.prefix, key)
		}
		name := key[strings.LastIndexByte(key, '/')+1:]
		if got, want := errorManifestKey(c.prefix, key), c.prefix+"errors/manifests/2026/07/13/14/"+name; got != want {
			t.Errorf("error manifest key %q, want %q", got, want)
		}
	}
}

func TestObjectRecords(t *testing.T) {
	text, _ := ParseCopyOptions("IGNOREHEADER 1")
	if rs := objectRecords([]byte("h\na|1\n"), text); len(rs) != 1 || string(rs[0].Data) != "h\na|1\n" {
		t.Errorf("text: %v", rs)
	}
	raw, _ := ParseCopyOptions("RAW IGNOREHEADER 1")
	rs := objectRecords([]byte("header\n{\"a\":1}\r\n\n{\"b\":2}"), raw)
	if len(rs) != 2 || string(rs[0].Data) != `{"a":1}` || string(rs[1].Data) != `{"b":2}` {
		t.Errorf("raw: %v", rs)
	}
	// IGNOREHEADER skips lines of the object, in encode, once per object
	enc := encode(objectRecords([]byte("id|v\n1|a\n2|b\n"), text), text, nil, nil)
	if string(enc.data) != "1|a\n2|b\n" || enc.lines[0] != 2 {
		t.Errorf("encoded %q lines %v", enc.data, enc.lines)
	}
}

// A batch keeps its staging across attempts; a first attempt starts afresh; batches that
// differ only in their data are told apart.
func TestStagings(t *testing.T) {
	var ss stagings
	now := time.Now()
	b := sinks.Batch{Records: []record.Record{{Data: []byte("a")}, {Data: []byte("b")}}, Attempt: 1}
	id, st := ss.get(b, now)
	st.dataKey = "k"
	b.Attempt = 2
	if id2, st2 := ss.get(b, now.Add(time.Second)); id2 != id || st2 != st || st2.first != now {
		t.Errorf("retry got another staging")
	}
	other := sinks.Batch{Records: []record.Record{{Data: []byte("a")}, {Data: []byte("c")}}, Attempt: 2}
	if _, st3 := ss.get(other, now); st3 == st || st3.dataKey != "" {
		t.Errorf("a different batch shares the staging")
	}
	b.Attempt = 1
	if _, st4 := ss.get(b, now.Add(2*time.Second)); st4 == st {
		t.Errorf("a first attempt reuses an old staging")
	}
	if n := ss.pending(); n != 2 {
		t.Errorf("%d stagings, want 2", n)
	}
	ss.get(sinks.Batch{Records: []record.Record{{Data: []byte("z")}}, Attempt: 1}, now.Add(2*stagingIdle))
	if n := ss.pending(); n != 1 {
		t.Errorf("idle stagings kept: %d, want 1", n)
	}
	ss.drop(ss.id(sinks.Batch{Records: []record.Record{{Data: []byte("z")}}}))
	if n := ss.pending(); n != 0 {
		t.Errorf("%d stagings after drop", n)
	}
}
