package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseType(t *testing.T) {
	cases := []struct{ in, want string }{
		{"string", "string"}, {"INT", "int"}, {"integer", "int"}, {"BigInt", "bigint"}, {"smallint", "smallint"},
		{"tinyint", "tinyint"}, {"double", "double"}, {"float", "float"}, {"boolean", "boolean"},
		{"timestamp", "timestamp"}, {"date", "date"}, {"binary", "binary"},
		{"decimal", "decimal(10,0)"}, {"decimal(38)", "decimal(38,0)"}, {"decimal( 10 , 2 )", "decimal(10,2)"},
		{"char(1)", "char(1)"}, {"varchar(65535)", "varchar(65535)"},
		{"array<string>", "array<string>"}, {"array< array<int> >", "array<array<int>>"},
		{"map<string,bigint>", "map<string,bigint>"}, {"map<int, array<struct<a:int>>>", "map<int,array<struct<a:int>>>"},
		{"struct<id:bigint, Name:varchar(10), geo:struct<lat:double,lon:double>>", "struct<id:bigint,Name:varchar(10),geo:struct<lat:double,lon:double>>"},
		{"struct<`my field`:int,`a``b`:string>", "struct<`my field`:int,`a``b`:string>"},
	}
	for _, tc := range cases {
		typ, err := ParseType(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := typ.String(); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseTypeErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "expected a type, got the end"},
		{"strin", `unknown type "strin"`},
		{"decimal(0,0)", "decimal precision 0 is out of range (allowed 1..38)"},
		{"decimal(39,2)", "decimal precision 39 is out of range (allowed 1..38)"},
		{"decimal(5,6)", "decimal scale 6 is out of range (allowed 0..5)"},
		{"varchar(0)", "varchar length 0 is out of range (allowed 1..65535)"},
		{"char(256)", "char length 256 is out of range (allowed 1..255)"},
		{"varchar", `expected '('`},
		{"array<int", `expected '>', got the end`},
		{"map<array<int>,int>", "a map key must be a primitive type, got array<int>"},
		{"struct<a:int,a:string>", `struct field "a" appears twice`},
		{"struct<:int>", "expected a struct field name"},
		{"int int", `unexpected "int" after the type`},
		{strings.Repeat("array<", 40) + "int" + strings.Repeat(">", 40), "types nest more than 32 deep"},
	}
	for _, tc := range cases {
		_, err := ParseType(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"int", "decimal(10,2)", "array<map<string,struct<a:int,`b c`:varchar(3)>>>", "struct<", "map<int,", "char(", "`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := ParseType(s)
		if err != nil {
			return
		}
		// the canonical form parses to itself
		again, err := ParseType(typ.String())
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", s, typ.String(), err)
		}
		if again.String() != typ.String() {
			t.Fatalf("%q → %q → %q", s, typ.String(), again.String())
		}
	})
}

func TestBuildAndLookup(t *testing.T) {
	c, probs := Build(map[string]TableSpec{
		"Analytics.Events": {Columns: []ColumnSpec{{Name: "ID", Type: "bigint"}, {Name: "tags", Type: "array<string>"}}},
	})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	tb, ok := c.Lookup("analytics", "EVENTS")
	if !ok || tb.Columns[0].Name != "id" || tb.Columns[1].Type.String() != "array<string>" {
		t.Fatalf("lookup: %v %+v", ok, tb)
	}
	if _, ok := c.Lookup("analytics", "clicks"); ok {
		t.Error("unknown table found")
	}
	if got := strings.Join(c.Names(), ","); got != "analytics.events" {
		t.Errorf("names %s", got)
	}
}

func TestBuildProblems(t *testing.T) {
	_, probs := Build(map[string]TableSpec{
		"nodot":  {Columns: []ColumnSpec{{Name: "a", Type: "int"}}},
		"db.t":   {Columns: []ColumnSpec{{Name: "a", Type: "int"}, {Name: "A", Type: "int"}, {Name: "", Type: "int"}, {Name: "b", Type: "nope"}}},
		"db.emp": {},
	})
	var got []string
	for _, p := range probs {
		got = append(got, p.Error())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"nodot: must be database.table (one dot)",
		`db.t.columns[1].name: column "A" appears twice (names are case-insensitive)`,
		"db.t.columns[2].name: is required",
		`db.t.columns[3].type: type "nope", at offset 0: unknown type "nope"`,
		"db.emp.columns: needs at least one column",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "catalog.yaml")
	os.WriteFile(p, []byte("shop.orders:\n  columns:\n    - {name: id, type: bigint}\n    - {name: total, type: 'decimal(12,2)'}\n"), 0o644)
	specs, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c, probs := Build(specs)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if tb, ok := c.Lookup("shop", "orders"); !ok || tb.Columns[1].Type.Precision != 12 {
		t.Errorf("%+v", tb)
	}
	os.WriteFile(p, []byte("shop.orders:\n  colums: []\n"), 0o644)
	if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), "colums") {
		t.Errorf("unknown key: %v", err)
	}
}
