// Package catalog is Sluice's local stand-in for the AWS Glue Data Catalog: tables
// (database.table → columns with Glue/Hive types) that record format conversion
// (firehose.md §5.5) reads its schema from, and the parser of Hive type strings.
//
// A type string is what Glue stores in a column's Type: a primitive (string, int,
// bigint, smallint, tinyint, double, float, boolean, timestamp, date, binary),
// decimal(p,s) (1 ≤ p ≤ 38, 0 ≤ s ≤ p; bare decimal is decimal(10,0)), char(n)
// (1 ≤ n ≤ 255), varchar(n) (1 ≤ n ≤ 65535), array<T>, map<K,V> (K primitive) and
// struct<name:T,…>. Keywords are case-insensitive; struct field names are kept as
// written (matching is the deserializer's business). Nesting is limited to MaxDepth.
package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of a Hive type.
type Kind uint8

// The Hive type kinds.
const (
	String Kind = iota + 1
	Char
	Varchar
	TinyInt
	SmallInt
	Int
	BigInt
	Float
	Double
	Boolean
	Timestamp
	Date
	Decimal
	Binary
	Array
	Map
	Struct
)

var kindNames = map[Kind]string{String: "string", Char: "char", Varchar: "varchar", TinyInt: "tinyint", SmallInt: "smallint",
	Int: "int", BigInt: "bigint", Float: "float", Double: "double", Boolean: "boolean", Timestamp: "timestamp", Date: "date",
	Decimal: "decimal", Binary: "binary", Array: "array", Map: "map", Struct: "struct"}

func (k Kind) String() string { return kindNames[k] }

// Limits of the type grammar.
const (
	MaxDecimalPrecision = 38
	MaxCharLength       = 255
	MaxVarcharLength    = 65535
	// MaxDepth bounds how deeply array/map/struct types nest.
	MaxDepth = 32
	// MaxTypeLength bounds a type string.
	MaxTypeLength = 131072
)

// Type is a parsed Hive type. Types are immutable once parsed.
type Type struct {
	Kind Kind
	// Precision and Scale of a decimal.
	Precision, Scale int
	// Length of a char or varchar.
	Length int
	// Elem is the element type of an array, the value type of a map.
	Elem *Type
	// Key is the key type of a map (a primitive).
	Key *Type
	// Fields are the fields of a struct, in order.
	Fields []Field
}

// Field is a struct field or a table column.
type Field struct {
	Name string
	Type *Type
}

// Primitive reports whether t is not an array, map or struct.
func (t *Type) Primitive() bool { return t.Kind != Array && t.Kind != Map && t.Kind != Struct }

// String writes t back in the canonical lowercase form (parsing it gives t again).
func (t *Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t *Type) write(b *strings.Builder) {
	switch t.Kind {
	case Decimal:
		fmt.Fprintf(b, "decimal(%d,%d)", t.Precision, t.Scale)
	case Char, Varchar:
		fmt.Fprintf(b, "%s(%d)", t.Kind, t.Length)
	case Array:
		b.WriteString("array<")
		t.Elem.write(b)
		b.WriteByte('>')
	case Map:
		b.WriteString("map<")
		t.Key.write(b)
		b.WriteByte(',')
		t.Elem.write(b)
		b.WriteByte('>')
	case Struct:
		b.WriteString("struct<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			if identOK(f.Name) {
				b.WriteString(f.Name)
			} else {
				b.WriteByte('`')
				b.WriteString(strings.ReplaceAll(f.Name, "`", "``"))
				b.WriteByte('`')
			}
			b.WriteByte(':')
			f.Type.write(b)
		}
		b.WriteByte('>')
	default:
		b.WriteString(t.Kind.String())
	}
}

func identOK(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdent(s[i]) {
			return false
		}
	}
	return true
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ParseType parses a Hive type string. Errors say where and what was expected.
func ParseType(s string) (*Type, error) {
	if len(s) > MaxTypeLength {
		return nil, fmt.Errorf("type is %d characters long, over the limit of %d", len(s), MaxTypeLength)
	}
	p := &parser{s: s}
	t, err := p.typ(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected %q after the type", p.rest())
	}
	return t, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("type %q, at offset %d: %s", p.s, p.i, fmt.Sprintf(format, args...))
}

func (p *parser) rest() string {
	r := p.s[p.i:]
	if len(r) > 16 {
		r = r[:16] + "…"
	}
	return r
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) word() string {
	p.space()
	j := p.i
	for p.i < len(p.s) && isIdent(p.s[p.i]) {
		p.i++
	}
	return p.s[j:p.i]
}

func (p *parser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(c byte) error {
	if !p.eat(c) {
		if p.i >= len(p.s) {
			return p.errorf("expected %q, got the end", c)
		}
		return p.errorf("expected %q, got %q", c, p.rest())
	}
	return nil
}

func (p *parser) number(what string, lo, hi int) (int, error) {
	p.space()
	j := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if j == p.i {
		return 0, p.errorf("expected the %s (a number)", what)
	}
	n, err := strconv.Atoi(p.s[j:p.i])
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("type %q: %s %s is out of range (allowed %d..%d)", p.s, what, p.s[j:p.i], lo, hi)
	}
	return n, nil
}

var primitives = map[string]Kind{"string": String, "tinyint": TinyInt, "smallint": SmallInt, "int": Int, "integer": Int,
	"bigint": BigInt, "float": Float, "double": Double, "boolean": Boolean, "timestamp": Timestamp, "date": Date, "binary": Binary}

func (p *parser) typ(depth int) (*Type, error) {
	if depth > MaxDepth {
		return nil, p.errorf("types nest more than %d deep", MaxDepth)
	}
	start := p.i
	w := strings.ToLower(p.word())
	if w == "" {
		if p.i >= len(p.s) {
			return nil, p.errorf("expected a type, got the end")
		}
		return nil, p.errorf("expected a type, got %q", p.rest())
	}
	if k, ok := primitives[w]; ok {
		return &Type{Kind: k}, nil
	}
	switch w {
	case "decimal":
		t := &Type{Kind: Decimal, Precision: 10}
		if !p.eat('(') {
			return t, nil
		}
		var err error
		if t.Precision, err = p.number("decimal precision", 1, MaxDecimalPrecision); err != nil {
			return nil, err
		}
		if p.eat(',') {
			if t.Scale, err = p.number("decimal scale", 0, t.Precision); err != nil {
				return nil, err
			}
		}
		return t, p.expect(')')
	case "char", "varchar":
		t := &Type{Kind: Char}
		hi := MaxCharLength
		if w == "varchar" {
			t.Kind, hi = Varchar, MaxVarcharLength
		}
		if err := p.expect('('); err != nil {
			return nil, err
		}
		var err error
		if t.Length, err = p.number(w+" length", 1, hi); err != nil {
			return nil, err
		}
		return t, p.expect(')')
	case "array":
		if err := p.expect('<'); err != nil {
			return nil, err
		}
		e, err := p.typ(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Type{Kind: Array, Elem: e}, p.expect('>')
	case "map":
		if err := p.expect('<'); err != nil {
			return nil, err
		}
		at := p.i
		k, err := p.typ(depth + 1)
		if err != nil {
			return nil, err
		}
		if !k.Primitive() {
			p.i = at
			return nil, p.errorf("a map key must be a primitive type, got %s", k)
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
		v, err := p.typ(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Type{Kind: Map, Key: k, Elem: v}, p.expect('>')
	case "struct":
		if err := p.expect('<'); err != nil {
			return nil, err
		}
		t := &Type{Kind: Struct}
		seen := map[string]bool{}
		for {
			name, err := p.fieldName()
			if err != nil {
				return nil, err
			}
			if seen[strings.ToLower(name)] {
				return nil, p.errorf("struct field %q appears twice", name)
			}
			seen[strings.ToLower(name)] = true
			if err := p.expect(':'); err != nil {
				return nil, err
			}
			ft, err := p.typ(depth + 1)
			if err != nil {
				return nil, err
			}
			t.Fields = append(t.Fields, Field{Name: name, Type: ft})
			if !p.eat(',') {
				break
			}
		}
		return t, p.expect('>')
	}
	p.i = start
	p.space()
	return nil, p.errorf("unknown type %q (one of string, char(n), varchar(n), tinyint, smallint, int, bigint, float, double, boolean, timestamp, date, decimal(p,s), binary, array<…>, map<…>, struct<…>)", w)
}

func (p *parser) fieldName() (string, error) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '`' {
		p.i++
		var b strings.Builder
		for p.i < len(p.s) {
			c := p.s[p.i]
			p.i++
			if c == '`' {
				if p.i < len(p.s) && p.s[p.i] == '`' {
					b.WriteByte('`')
					p.i++
					continue
				}
				if b.Len() == 0 {
					return "", p.errorf("empty struct field name")
				}
				return b.String(), nil
			}
			b.WriteByte(c)
		}
		return "", p.errorf("unterminated `quoted` struct field name")
	}
	w := p.word()
	if w == "" {
		return "", p.errorf("expected a struct field name, got %q", p.rest())
	}
	return w, nil
}
