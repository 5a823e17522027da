package convert

import (
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/sluice-io/sluice/sinks/catalog"
)

// Physical kinds of the leaf columns, as the row encoding stores them.
const (
	pBool = iota + 1
	pInt32
	pInt64
	pFloat
	pDouble
	pBytes
	pFixed
)

// node is one type of the table's schema with what shredding a value of it needs: the
// leaf columns under it, its definition level when present, and for arrays and maps the
// repetition level of their entries (Dremel levels; every column and element is
// optional, map keys are required).
type node struct {
	t *catalog.Type
	// name is the path for error messages ("address.city").
	name string
	// leaf is the leaf column index of a primitive; first..last the leaves under the node.
	leaf, first, last int
	// def is the definition level when the node has a value.
	def int
	// rep is the repetition level of the entries of an array or map.
	rep int
	// phys is the physical kind of a primitive; fixed its byte length (pFixed).
	phys, fixed int
	elem, key   *node
	fields      []*node
	// byName maps normalised field names to fields (structs).
	byName map[string]int
}

// leafInfo is what the row decoder needs per leaf column.
type leafInfo struct {
	phys, fixed int
	maxDef      int
}

// plan builds the nodes of the table's columns and the leaf table.
type planner struct {
	leaves []leafInfo
	norm   func(string) string
}

func (p *planner) build(t *catalog.Type, name string, parentDef, parentRep int, required bool) *node {
	n := &node{t: t, name: name, first: len(p.leaves), def: parentDef + 1}
	if required {
		n.def = parentDef
	}
	switch t.Kind {
	case catalog.Array:
		n.rep = parentRep + 1
		n.elem = p.build(t.Elem, name+"[]", n.def+1, n.rep, false)
	case catalog.Map:
		n.rep = parentRep + 1
		n.key = p.build(t.Key, name+".key", n.def+1, n.rep, true)
		n.elem = p.build(t.Elem, name+".value", n.def+1, n.rep, false)
	case catalog.Struct:
		n.byName = map[string]int{}
		for i, f := range t.Fields {
			n.fields = append(n.fields, p.build(f.Type, name+"."+f.Name, n.def, parentRep, false))
			n.byName[p.norm(f.Name)] = i
		}
	default:
		n.leaf = len(p.leaves)
		n.phys, n.fixed = physical(t)
		p.leaves = append(p.leaves, leafInfo{phys: n.phys, fixed: n.fixed, maxDef: n.def})
	}
	n.last = len(p.leaves)
	return n
}

func physical(t *catalog.Type) (phys, fixed int) {
	switch t.Kind {
	case catalog.Boolean:
		return pBool, 0
	case catalog.TinyInt, catalog.SmallInt, catalog.Int, catalog.Date:
		return pInt32, 0
	case catalog.BigInt, catalog.Timestamp:
		return pInt64, 0
	case catalog.Float:
		return pFloat, 0
	case catalog.Double:
		return pDouble, 0
	case catalog.Decimal:
		switch {
		case t.Precision <= 9:
			return pInt32, 0
		case t.Precision <= 18:
			return pInt64, 0
		}
		return pFixed, decimalBytes(t.Precision)
	}
	return pBytes, 0
}

// decimalBytes is the smallest two's-complement byte length holding 10^p - 1.
func decimalBytes(p int) int {
	// digits held by n bytes: floor(log10(2^(8n-1) - 1))
	n := 1
	for maxDigits(n) < p {
		n++
	}
	return n
}

func maxDigits(n int) int { return int(float64(8*n-1) * 0.30102999566398120) }

// parquetNode is the Parquet schema node of a Hive type. Primitive mapping: string,
// char, varchar → BYTE_ARRAY (STRING); tinyint, smallint, int → INT32 (INT(8|16|32));
// bigint → INT64; float → FLOAT; double → DOUBLE; boolean → BOOLEAN; timestamp → INT64
// TIMESTAMP(MICROS, UTC); date → INT32 DATE; decimal(p,s) → INT32 (p ≤ 9), INT64
// (p ≤ 18) or FIXED_LEN_BYTE_ARRAY, DECIMAL(p,s); binary → BYTE_ARRAY; array → LIST,
// map → MAP, struct → group (fields in table order).
func parquetNode(t *catalog.Type, dict bool) parquet.Node {
	var n parquet.Node
	switch t.Kind {
	case catalog.String, catalog.Char, catalog.Varchar:
		n = parquet.String()
		if dict {
			n = parquet.Encoded(n, &parquet.RLEDictionary)
		}
	case catalog.Binary:
		n = parquet.Leaf(parquet.ByteArrayType)
	case catalog.TinyInt:
		n = parquet.Int(8)
	case catalog.SmallInt:
		n = parquet.Int(16)
	case catalog.Int:
		n = parquet.Int(32)
	case catalog.BigInt:
		n = parquet.Int(64)
	case catalog.Float:
		n = parquet.Leaf(parquet.FloatType)
	case catalog.Double:
		n = parquet.Leaf(parquet.DoubleType)
	case catalog.Boolean:
		n = parquet.Leaf(parquet.BooleanType)
	case catalog.Timestamp:
		n = parquet.Timestamp(parquet.Microsecond)
	case catalog.Date:
		n = parquet.Date()
	case catalog.Decimal:
		phys, fixed := physical(t)
		var pt parquet.Type
		switch phys {
		case pInt32:
			pt = parquet.Int32Type
		case pInt64:
			pt = parquet.Int64Type
		default:
			pt = parquet.FixedLenByteArrayType(fixed)
		}
		n = parquet.Decimal(t.Scale, t.Precision, pt)
	case catalog.Array:
		n = parquet.List(parquet.Optional(parquet.Node(parquetNode(t.Elem, dict))))
	case catalog.Map:
		n = parquet.Map(parquetNode(t.Key, dict), parquet.Optional(parquetNode(t.Elem, dict)))
	case catalog.Struct:
		n = groupOf(t.Fields, dict)
	}
	return n
}

func groupOf(fields []catalog.Field, dict bool) *orderedGroup {
	g := &orderedGroup{}
	for _, f := range fields {
		g.fields = append(g.fields, orderedField{Node: parquet.Optional(parquetNode(f.Type, dict)), name: f.Name})
	}
	return g
}

// orderedGroup is a Parquet group whose fields keep the table's order (parquet.Group
// sorts them by name).
type orderedGroup struct{ fields []orderedField }

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string                           { return f.name }
func (f *orderedField) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

func (g *orderedGroup) ID() int                     { return 0 }
func (g *orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *orderedGroup) Optional() bool              { return false }
func (g *orderedGroup) Repeated() bool              { return false }
func (g *orderedGroup) Required() bool              { return true }
func (g *orderedGroup) Leaf() bool                  { return false }
func (g *orderedGroup) Encoding() encoding.Encoding { return nil }
func (g *orderedGroup) Compression() compress.Codec { return nil }
func (g *orderedGroup) GoType() reflect.Type {
	m := parquet.Group{}
	for _, f := range g.fields {
		m[f.name] = f.Node
	}
	return m.GoType()
}

func (g *orderedGroup) Fields() []parquet.Field {
	out := make([]parquet.Field, len(g.fields))
	for i := range g.fields {
		out[i] = &g.fields[i]
	}
	return out
}

func (g *orderedGroup) String() string {
	var b strings.Builder
	b.WriteString("group{")
	for i, f := range g.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name)
	}
	b.WriteString("}")
	return b.String()
}

// Schema returns the Parquet schema of table (named after it).
func Schema(table *catalog.Table, dict bool) *parquet.Schema {
	return parquet.NewSchema(table.Name, groupOf(table.Columns, dict))
}
