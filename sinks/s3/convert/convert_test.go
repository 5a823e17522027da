package convert

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-io/sluice/sinks/catalog"
)

func table(t testing.TB, cols ...string) *catalog.Table {
	t.Helper()
	spec := catalog.TableSpec{}
	for i := 0; i+1 < len(cols); i += 2 {
		spec.Columns = append(spec.Columns, catalog.ColumnSpec{Name: cols[i], Type: cols[i+1]})
	}
	c, probs := catalog.Build(map[string]catalog.TableSpec{"db.t": spec})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	tb, _ := c.Lookup("db", "t")
	return tb
}

func openx() Options { return Options{Deserializer: OpenX, CaseInsensitive: true} }

// roundTrip converts records and reads the Parquet file back as Go maps.
func roundTrip(t testing.TB, tb *catalog.Table, o Options, wo WriterOptions, recs ...string) []map[string]any {
	t.Helper()
	c, err := New(tb, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	fw, err := c.NewFileWriter(&buf, wo)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		enc, err := c.Convert(nil, []byte(r))
		if err != nil {
			t.Fatalf("convert %s: %v", r, err)
		}
		if err := fw.Write(enc); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return readBack(t, buf.Bytes())
}

func readBack(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	r := parquet.NewGenericReader[map[string]any](f, f.Schema())
	out := make([]map[string]any, f.NumRows())
	for i := range out {
		out[i] = map[string]any{}
	}
	n, err := r.Read(out)
	if n != len(out) {
		t.Fatalf("read %d of %d rows: %v", n, len(out), err)
	}
	return out
}

func convErr(t *testing.T, tb *catalog.Table, o Options, rec string) *Error {
	t.Helper()
	c, err := New(tb, o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Convert(nil, []byte(rec))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("convert %s: want *Error, got %v", rec, err)
	}
	return ce
}

func TestFlatTypes(t *testing.T) {
	tb := table(t, "s", "string", "i8", "tinyint", "i16", "smallint", "i32", "int", "i64", "bigint",
		"f", "float", "d", "double", "b", "boolean", "dt", "date", "ts", "timestamp", "vc", "varchar(5)")
	rows := roundTrip(t, tb, openx(), WriterOptions{},
		`{"s":"h\u00e9\"llo","i8":-128,"i16":32767,"i32":-2147483648,"i64":9223372036854775807,"f":1.5,"d":-2.25e10,"b":true,"dt":"2026-07-13","ts":"2026-07-13T14:05:09.123456Z","vc":"abcde"}`,
		`{"S":"x","I8":"12","b":"FALSE"}`+"\n"+`{}`)
	if len(rows) != 3 {
		t.Fatalf("rows %d", len(rows))
	}
	r := rows[0]
	want := map[string]any{"s": "hé\"llo", "i8": int32(-128), "i16": int32(32767), "i32": int32(-2147483648), "i64": int64(9223372036854775807),
		"f": float32(1.5), "d": -2.25e10, "b": true, "vc": "abcde"}
	for k, v := range want {
		if fmt.Sprint(r[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v (%T), want %v", k, r[k], r[k], v)
		}
	}
	if got := fmt.Sprintf("%v %v %v", rows[1]["s"], rows[1]["i8"], rows[1]["b"]); got != "x 12 false" {
		t.Errorf("case-insensitive row: %s", got)
	}
	for k, v := range rows[2] {
		if v != nil {
			t.Errorf("empty object: %s = %v, want null", k, v)
		}
	}
}

func TestOverflowIsMalformed(t *testing.T) {
	cases := []struct{ typ, val, want string }{
		{"tinyint", "128", "out of range -128..127"},
		{"tinyint", "-129", "out of range"},
		{"smallint", "40000", "out of range"},
		{"int", "2147483648", "out of range"},
		{"bigint", "9223372036854775808", "out of range"},
		{"int", "1.5", "not an integer"},
		{"float", "1e39", "out of the float range"},
		{"double", "1e400", "not a number within its range"},
		{"decimal(4,2)", "123.45", "does not fit"},
		{"decimal(4,2)", "99.999", "does not fit"},
		{"varchar(3)", `"abcd"`, "over the length 3"},
		{"char(2)", `"abc"`, "over the length 2"},
		{"int", `"x"`, "not an integer"},
		{"int", `true`, "needs a number"},
		{"boolean", `1`, "not true or false"},
		{"array<int>", `{"a":1}`, "needs a JSON array"},
		{"struct<a:int>", `[1]`, "needs a JSON object"},
		{"timestamp", `"yesterday"`, "not a timestamp"},
		{"date", `"2026-02-30"`, "not a date"},
		{"array<tinyint>", `[1,1000]`, "out of range"},
		{"string", "\"a\xffb\"", "not valid UTF-8"},
		{"map<string,int>", "{\"\xc3\":1}", "not valid UTF-8"},
	}
	for _, tc := range cases {
		e := convErr(t, table(t, "c", tc.typ), openx(), `{"c":`+tc.val+`}`)
		if e.Code != CodeMalformedData || !strings.Contains(e.Msg, tc.want) || !strings.Contains(e.Msg, "column c") {
			t.Errorf("%s %s: %s %q, want MalformedData containing %q", tc.typ, tc.val, e.Code, e.Msg, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tb := table(t, "a", "int")
	for _, rec := range []string{`[{"a":1}]`, `{"a":1`, `{"a":1}{`, `{"a":01}`, `"x"`, ``, `  `, `{"a":1} 5`, `{"a":tru}`, `{"a":"\x"}`} {
		e := convErr(t, tb, openx(), rec)
		if e.Code != CodeParseError {
			t.Errorf("%q: %s %s, want ParseError", rec, e.Code, e.Msg)
		}
	}
	e := convErr(t, tb, openx(), `[1,2]`)
	if !strings.Contains(e.Msg, "found a JSON array") {
		t.Errorf("array message: %s", e.Msg)
	}
}

func TestNestedAndNulls(t *testing.T) {
	tb := table(t, "tags", "array<string>", "m", "map<string,int>", "addr", "struct<city:string,zip:int,geo:struct<lat:double>>",
		"nested", "array<array<int>>", "lm", "array<map<string,string>>", "n", "int")
	rows := roundTrip(t, tb, openx(), WriterOptions{},
		`{"tags":["a",null,"c"],"m":{"x":1,"y":null},"addr":{"City":"Paris","zip":75001,"geo":{"lat":48.85}},"nested":[[1,2],[],null,[3]],"lm":[{"k":"v"}],"n":null}`,
		`{"tags":[],"m":{},"addr":null}`,
		`{"addr":{"city":"Lyon"}}`)
	r := rows[0]
	if got := fmt.Sprint(r["tags"]); got != "[a <nil> c]" {
		t.Errorf("tags = %s", got)
	}
	if got := fmt.Sprint(r["addr"]); !strings.Contains(got, "city:Paris") || !strings.Contains(got, "zip:75001") || !strings.Contains(got, "lat:48.85") {
		t.Errorf("addr = %s", got)
	}
	if got := fmt.Sprint(r["nested"]); got != "[[1 2] [] <nil> [3]]" {
		t.Errorf("nested = %s", got)
	}
	if m, ok := r["m"].(map[string]any); !ok || m["y"].(*int32) != nil || fmt.Sprint(deref(m["x"])) != "1" {
		t.Errorf("m = %v", r["m"])
	}
	if got := fmt.Sprint(rows[1]["tags"]); got != "[]" {
		t.Errorf("empty tags = %s", got)
	}
	if rows[1]["addr"] != nil {
		t.Errorf("null struct = %v", rows[1]["addr"])
	}
	if got := fmt.Sprint(rows[2]["addr"]); !strings.Contains(got, "city:Lyon") {
		t.Errorf("partial struct = %s", got)
	}
}

func TestDecimals(t *testing.T) {
	tb := table(t, "a", "decimal(5,2)", "b", "decimal(18,4)", "c", "decimal(38,10)", "d", "decimal")
	c, _ := New(tb, openx())
	var buf bytes.Buffer
	fw, _ := c.NewFileWriter(&buf, WriterOptions{})
	for _, r := range []string{`{"a":123.456,"b":"-12345678901234.5678","c":-1234567890123456789012345678.0123456789,"d":1e3}`, `{"a":-0.005,"c":0.00000000005}`} {
		enc, err := c.Convert(nil, []byte(r))
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(enc)
	}
	fw.Close()
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]parquet.Row, 2)
	rr := f.RowGroups()[0].Rows()
	n, _ := rr.ReadRows(rows)
	if n != 2 {
		t.Fatalf("rows %d", n)
	}
	if got := rows[0][0].Int32(); got != 12346 { // half-up
		t.Errorf("a = %d, want 12346", got)
	}
	if got := rows[0][1].Int64(); got != -123456789012345678 {
		t.Errorf("b = %d", got)
	}
	var x big.Int
	b := rows[0][2].ByteArray()
	x.SetBytes(b)
	if b[0]&0x80 != 0 { // negative two's complement
		x.Sub(&x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if got := x.String(); got != "-12345678901234567890123456780123456789" {
		t.Errorf("c = %s", got)
	}
	if got := rows[0][3].Int64(); got != 1000 {
		t.Errorf("d = %d", got)
	}
	if got := rows[1][0].Int32(); got != -1 { // -0.005 → -0.01 (half-up away from zero)
		t.Errorf("a = %d, want -1", got)
	}
	if got := rows[1][2]; got.Int64() == 0 && got.IsNull() {
		t.Errorf("c = null")
	}
	sch := f.Schema()
	if !strings.Contains(sch.String(), "DECIMAL(5,2)") && !strings.Contains(sch.String(), "Decimal(precision=5, scale=2)") {
		t.Logf("schema %s", sch)
	}
}

func TestTimestamps(t *testing.T) {
	base := time.Date(2018, 2, 7, 15, 13, 1, 0, time.UTC)
	us := func(d time.Duration) int64 { return base.Add(d).UnixMicro() }
	cases := []struct {
		val  string
		want int64
		o    Options
	}{
		{`"2018-02-07T15:13:01.39256Z"`, us(392560 * time.Microsecond), openx()},
		{`"2018-02-07 15:13:01.14"`, us(140 * time.Millisecond), openx()},
		{`"2018-2-7 15:13:01"`, us(0), openx()},
		{`"2018-02-07T17:13:01+02:00"`, us(0), openx()},
		{`1518016381`, us(0), openx()},
		{`1518016381123`, us(123 * time.Millisecond), openx()},
		{`1518016381.123`, us(123 * time.Millisecond), openx()},
		{`"1518016381123"`, us(123 * time.Millisecond), Options{Deserializer: Hive, TimestampFormats: []string{"millis"}}},
		{`"07/02/2018 15:13:01"`, us(0), Options{Deserializer: Hive, TimestampFormats: []string{"dd/MM/yyyy HH:mm:ss"}}},
		{`"20180207151301"`, us(0), Options{Deserializer: Hive, TimestampFormats: []string{"yyyyMMddHHmmss"}}},
		{`"Feb 7, 2018 3:13:01 PM"`, us(0), Options{Deserializer: Hive, TimestampFormats: []string{"MMM d, yyyy h:mm:ss a"}}},
		{`"2018-02-07T15:13:01.5+0100"`, us(500*time.Millisecond - time.Hour), Options{Deserializer: Hive, TimestampFormats: []string{"yyyy-MM-dd'T'HH:mm:ss.SSSZ"}}},
	}
	for _, tc := range cases {
		c, err := New(table(t, "ts", "timestamp"), tc.o)
		if err != nil {
			t.Fatalf("%v: %v", tc.o.TimestampFormats, err)
		}
		enc, err := c.Convert(nil, []byte(`{"ts":`+tc.val+`}`))
		if err != nil {
			t.Errorf("%s: %v", tc.val, err)
			continue
		}
		var buf bytes.Buffer
		fw, _ := c.NewFileWriter(&buf, WriterOptions{})
		fw.Write(enc)
		fw.Close()
		f, _ := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		rows := make([]parquet.Row, 1)
		f.RowGroups()[0].Rows().ReadRows(rows)
		if got := rows[0][0].Int64(); got != tc.want {
			t.Errorf("%s (%v): %s, want %s", tc.val, tc.o.TimestampFormats, time.UnixMicro(got).UTC(), time.UnixMicro(tc.want).UTC())
		}
	}
	if _, err := New(table(t, "ts", "timestamp"), Options{Deserializer: Hive, TimestampFormats: []string{"yyyy-QQ"}}); err == nil {
		t.Error("unsupported pattern letter accepted")
	}
}

func TestSerDeOptions(t *testing.T) {
	tb := table(t, "user_id", "int", "ip", "string", "Mixed", "string")
	o := Options{Deserializer: OpenX, CaseInsensitive: true, ConvertDots: true, KeyMappings: map[string]string{"ip": "source.address"}}
	rows := roundTrip(t, tb, o, WriterOptions{}, `{"user.id":7,"source.address":"10.0.0.1","MIXED":"m"}`)
	if got := fmt.Sprintf("%v %v %v", rows[0]["user_id"], rows[0]["ip"], rows[0]["mixed"]); got != "7 10.0.0.1 m" {
		t.Errorf("dots+mapping: %s (%v)", got, rows[0])
	}
	strict := Options{Deserializer: OpenX, CaseInsensitive: false}
	rows = roundTrip(t, tb, strict, WriterOptions{}, `{"USER_ID":7,"mixed":"m"}`)
	if rows[0]["user_id"] != nil || fmt.Sprint(rows[0]["mixed"]) != "m" {
		t.Errorf("case-sensitive: %v", rows[0])
	}
	rows = roundTrip(t, tb, Options{Deserializer: OpenX, CaseInsensitive: true}, WriterOptions{}, `{"user.id":7}`)
	if rows[0]["user_id"] != nil {
		t.Errorf("dots converted without ConvertDotsInJsonKeysToUnderscores: %v", rows[0])
	}
	if _, err := New(tb, Options{Deserializer: OpenX, KeyMappings: map[string]string{"nope": "x"}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("mapping to unknown column: %v", err)
	}
	// strings from non-string JSON values
	rows = roundTrip(t, table(t, "s", "string"), openx(), WriterOptions{}, `{"s":12.5}`, `{"s":{"a":[1]}}`)
	if rows[0]["s"] != "12.5" || rows[1]["s"] != `{"a":[1]}` {
		t.Errorf("string from number/object: %v %v", rows[0]["s"], rows[1]["s"])
	}
}

func TestCodecsAndVersions(t *testing.T) {
	tb := table(t, "a", "bigint", "s", "string")
	for _, cd := range []string{Uncompressed, GZIP, Snappy, ZSTD} {
		for _, v2 := range []bool{false, true} {
			var recs []string
			for i := range 1000 {
				recs = append(recs, fmt.Sprintf(`{"a":%d,"s":"row %d"}`, i, i%10))
			}
			rows := roundTrip(t, tb, openx(), WriterOptions{Compression: cd, V2: v2, Dictionary: v2, PageSize: 64 << 10}, recs...)
			if len(rows) != 1000 || fmt.Sprint(rows[999]["a"]) != "999" || rows[999]["s"] != "row 9" {
				t.Errorf("%s v2=%v: %d rows, last %v", cd, v2, len(rows), rows[len(rows)-1])
			}
		}
	}
	if _, err := New(tb, openx()); err != nil {
		t.Fatal(err)
	}
}

func TestRowGroupsAtBlockSize(t *testing.T) {
	tb := table(t, "s", "string")
	c, _ := New(tb, openx())
	var buf bytes.Buffer
	fw, _ := c.NewFileWriter(&buf, WriterOptions{BlockSize: 10 << 10})
	big := `{"s":"` + strings.Repeat("x", 1000) + `"}`
	for range 100 {
		enc, _ := c.Convert(nil, []byte(big))
		fw.Write(enc)
	}
	fw.Close()
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.RowGroups()); n < 9 || n > 11 {
		t.Errorf("%d row groups for ~100 KiB at 10 KiB blocks", n)
	}
	if f.NumRows() != 100 {
		t.Errorf("rows %d", f.NumRows())
	}
}

func TestColumnOrderFollowsTable(t *testing.T) {
	tb := table(t, "zeta", "int", "alpha", "struct<y:int,b:int>", "mid", "string")
	s := Schema(tb, false)
	var names []string
	for _, p := range s.Columns() {
		names = append(names, strings.Join(p, "."))
	}
	if got := strings.Join(names, " "); got != "zeta alpha.y alpha.b mid" {
		t.Errorf("columns %s", got)
	}
}

func deref(v any) any {
	switch p := v.(type) {
	case *int32:
		return *p
	case *int64:
		return *p
	case *string:
		return *p
	}
	return v
}

// A record that fails half-way through a row leaves nothing behind for the next one.
func TestFailedRowLeavesNoValues(t *testing.T) {
	tb := table(t, "a", "int", "b", "tinyint", "c", "array<int>")
	c, _ := New(tb, openx())
	var buf bytes.Buffer
	fw, _ := c.NewFileWriter(&buf, WriterOptions{})
	for _, r := range []string{`{"a":1,"b":1,"c":[1]}`, `{"a":2,"b":1000}`, `{"a":3,"c":[1,2,"x"]}`, `{"a":4,"b":4}`} {
		enc, err := c.Convert(nil, []byte(r))
		if err != nil {
			continue
		}
		if err := fw.Write(enc); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	rows := readBack(t, buf.Bytes())
	if len(rows) != 2 || fmt.Sprint(rows[1]["a"], rows[1]["b"]) != "4 4" || rows[1]["c"] != nil {
		t.Errorf("rows %v", rows)
	}
}

func TestDates(t *testing.T) {
	for _, tc := range []struct {
		in   string
		days int64
		ok   bool
	}{{"1970-01-01", 0, true}, {"1969-12-31", -1, true}, {"2026-7-3", 20637, true}, {"1900-03-01", -25508, true},
		{"2026-02-29", 0, false}, {"2026-13-01", 0, false}, {"2026-01-01T00:00:00", 0, false}, {"26-01-01", 0, false}} {
		d, ok := parseDate([]byte(tc.in))
		if ok != tc.ok || (ok && d != tc.days) {
			t.Errorf("%s: %d %v, want %d %v", tc.in, d, ok, tc.days, tc.ok)
		}
	}
}
