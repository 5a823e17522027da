package redshift

import (
	"io"
	"testing"

	"github.com/sluice-io/sluice/sources/record"
)

func recs(data ...string) []record.Record {
	out := make([]record.Record, len(data))
	for i, d := range data {
		out[i] = record.Record{Data: []byte(d)}
	}
	return out
}

func stream(t *testing.T, e *encoded, idx ...int) string {
	t.Helper()
	if idx == nil {
		for i := range e.lines {
			idx = append(idx, i)
		}
	}
	b, err := io.ReadAll(e.reader(idx))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustFormat(t *testing.T, opts string) Format {
	t.Helper()
	f, err := ParseCopyOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Delimited records go as they are; one without a final newline still ends its row, and
// IGNOREHEADER drops the first lines of the batch.
func TestEncodeDelimited(t *testing.T) {
	e := encode(recs("h1|h2\n1|a\n", "2|b", "3|c\n4|d\n"), mustFormat(t, "IGNOREHEADER 1"), nil, nil)
	if got, want := stream(t, e), "1|a\n2|b\n3|c\n4|d\n"; got != want {
		t.Errorf("stream %q, want %q", got, want)
	}
	if e.lines[0] != 1 || e.lines[1] != 1 || e.lines[2] != 2 {
		t.Errorf("lines %v, want [1 1 2]", e.lines)
	}
	// COPY line 3 of the whole stream is the third record's first row; of the stream of
	// records 0 and 2 it is the third record too
	if k := e.at([]int{0, 1, 2}, 3); k != 2 {
		t.Errorf("line 3 → record %d, want 2", k)
	}
	if k := e.at([]int{0, 2}, 2); k != 1 {
		t.Errorf("line 2 of a subset → position %d, want 1", k)
	}
	if got := stream(t, e, 0, 2); got != "1|a\n3|c\n4|d\n" {
		t.Errorf("subset stream %q", got)
	}
}

// JSON 'auto' maps top-level keys to columns: strings unescaped (and escaped for COPY
// text), numbers and booleans as written, null and absent keys as NULL, nested values as
// compact JSON; a record may hold several objects; a record that is not JSON objects is bad
// and contributes no rows.
func TestEncodeJSONAuto(t *testing.T) {
	cols := []string{"id", "name", "tags", "ok"}
	e := encode(recs(
		`{"id": 1, "name": "tab\there \"q\" \\ é", "tags": {"a": [1, 2]}, "ok": true, "extra": 5}`,
		`{"id":2,"name":null}{"id":3}`,
		`{"id": 4,`,
		`[1,2]`,
		`{"ID": 5, "Name": "x"}`,
	), mustFormat(t, "JSON 'auto'"), cols, nil)
	want := "1\ttab\\there \"q\" \\\\ é\t{\"a\":[1,2]}\ttrue\n" +
		"2\t\\N\t\\N\t\\N\n3\t\\N\t\\N\t\\N\n" +
		"\\N\t\\N\t\\N\t\\N\n"
	if got := stream(t, e); got != want {
		t.Errorf("stream\n%q\nwant\n%q", got, want)
	}
	if e.bad[2] == nil || e.bad[3] == nil || len(e.bad) != 2 {
		t.Errorf("bad records %v, want 2 and 3", e.bad)
	}
	if e.lines[1] != 2 || e.lines[2] != 0 {
		t.Errorf("lines %v", e.lines)
	}
	ic := encode(recs(`{"ID": 5, "Name": "x"}`), mustFormat(t, "JSON 'auto ignorecase'"), cols, nil)
	if got := stream(t, ic); got != "5\tx\t\\N\t\\N\n" {
		t.Errorf("ignorecase stream %q", got)
	}
}

func TestEncodeJSONPaths(t *testing.T) {
	paths, err := parseJSONPaths([]byte(`{"jsonpaths": ["$.user.id", "$['kind']", "$.items[1]", "$[\"missing\"]"]}`))
	if err != nil {
		t.Fatal(err)
	}
	e := encode(recs(`{"user":{"id":7},"kind":"k","items":["a","b"]}`), mustFormat(t, "JSON 's3://b/p.json'"), []string{"a", "b", "c", "d"}, paths)
	if got := stream(t, e); got != "7\tk\tb\t\\N\n" {
		t.Errorf("stream %q", got)
	}
	for _, bad := range []string{`{"jsonpaths": ["a.b"]}`, `{"jsonpaths": ["$."]}`, `{"jsonpaths": ["$[x]"]}`, `{}`, `nope`} {
		if _, err := parseJSONPaths([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// RAW puts each record whole into one column, escaped for COPY text.
func TestEncodeRaw(t *testing.T) {
	e := encode(recs("{\"a\":1}\n", "x\ty\\z"), mustFormat(t, "RAW"), []string{"doc"}, nil)
	if got := stream(t, e); got != "{\"a\":1}\\n\nx\\ty\\\\z\n" {
		t.Errorf("stream %q", got)
	}
}

func FuzzEncodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":"\u0000\t"}{"b":[1]}`, `{`, `"x"`, `{"a":{"b":null}}`} {
		f.Add(s)
	}
	fm, _ := ParseCopyOptions("JSON 'auto'")
	f.Fuzz(func(t *testing.T, s string) {
		e := encode(recs(s, `{"a":2}`), fm, []string{"a", "b"}, nil)
		// the good record after it always gives exactly its row, whatever the first was
		if e.lines[1] != 1 {
			t.Fatalf("second record: %d rows", e.lines[1])
		}
		n := 0
		for _, c := range e.data {
			if c == '\n' {
				n++
			}
		}
		if n != e.lines[0]+e.lines[1] {
			t.Fatalf("%d newlines for %d rows: a value was not escaped", n, e.lines[0]+e.lines[1])
		}
	})
}
