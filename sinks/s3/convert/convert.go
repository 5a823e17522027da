// Package convert is record format conversion (firehose.md §5.5): it turns JSON records
// into rows of a catalog table with the OpenX or Hive JSON SerDe's rules, and writes the
// rows as Apache Parquet files.
//
// Conversion runs before buffering (Converter.Convert): a record is one or more JSON
// objects (concatenated or newline-separated); it becomes an encoded row batch that the
// buffer holds in place of the JSON, or an *Error (DataFormatConversion.ParseError or
// DataFormatConversion.MalformedData) that makes the record a format-conversion-failed
// failure. At flush, a FileWriter decodes the row batches and writes one Parquet file.
//
// # Row batch encoding
//
// An encoded record is its rows back to back. A row is, for each leaf column of the schema
// in order, uvarint(n) followed by n values; a value is its repetition level and its
// definition level (one byte each) and, when the definition level is the column's maximum,
// its payload: 1 byte (BOOLEAN), 4 bytes little-endian (INT32, FLOAT), 8 bytes
// little-endian (INT64, DOUBLE), uvarint length + bytes (BYTE_ARRAY) or the fixed length
// (FIXED_LEN_BYTE_ARRAY). Values are already shredded (Dremel levels), so the writer does
// no JSON work.
package convert

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sluice-io/sluice/sinks/catalog"
)

// Error codes of format-conversion failures (§5.5).
const (
	CodeParseError    = "DataFormatConversion.ParseError"
	CodeMalformedData = "DataFormatConversion.MalformedData"
)

// Error is why a record could not be converted. Code is one of the Code constants.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func parseErr(format string, args ...any) *Error {
	return &Error{Code: CodeParseError, Msg: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *Error {
	return &Error{Code: CodeMalformedData, Msg: fmt.Sprintf(format, args...)}
}

// Deserializer names.
const (
	OpenX = "OpenXJsonSerDe"
	Hive  = "HiveJsonSerDe"
)

// Options are the deserializer's settings.
type Options struct {
	// Deserializer is OpenX or Hive.
	Deserializer string
	// OpenX: CaseInsensitive matches keys to columns regardless of case (AWS default
	// true); ConvertDots turns '.' in keys into '_' first; KeyMappings maps a column name
	// to the JSON key that fills it.
	CaseInsensitive bool
	ConvertDots     bool
	KeyMappings     map[string]string
	// Hive: TimestampFormats are Joda-Time patterns (or "millis", epoch milliseconds)
	// tried in order before the default formats.
	TimestampFormats []string
}

// Converter converts records for one table. It is immutable and safe for concurrent use.
type Converter struct {
	table   *catalog.Table
	cols    []*node
	lookup  map[string]int
	keys    []string // per column, the normalised key that filled it last (lookup's key)
	leaves  []leafInfo
	opts    Options
	tsForms []*tsFormat
	pool    sync.Pool
}

// New compiles a converter for table. Errors (a bad timestamp pattern, a mapping to an
// unknown column) wrap no record and name the setting.
func New(table *catalog.Table, opts Options) (*Converter, error) {
	c := &Converter{table: table, opts: opts, lookup: map[string]int{}}
	if opts.Deserializer == Hive {
		c.opts.CaseInsensitive, c.opts.ConvertDots, c.opts.KeyMappings = true, false, nil
	}
	p := &planner{norm: c.norm}
	for i, col := range table.Columns {
		c.cols = append(c.cols, p.build(col.Type, col.Name, 0, 0, false))
		c.lookup[c.norm(col.Name)] = i
	}
	for col, key := range c.opts.KeyMappings {
		i := -1
		for j, tc := range table.Columns {
			if strings.EqualFold(tc.Name, col) {
				i = j
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("ColumnToJsonKeyMappings: column %q is not a column of table %s.%s", col, table.Database, table.Name)
		}
		c.lookup[c.normKey(key)] = i
	}
	c.leaves = p.leaves
	c.keys = make([]string, len(c.cols))
	for k, col := range c.lookup {
		if c.keys[col] == "" || k == c.norm(table.Columns[col].Name) {
			c.keys[col] = k
		}
	}
	for _, f := range c.opts.TimestampFormats {
		tf, err := parseTSFormat(f)
		if err != nil {
			return nil, fmt.Errorf("TimestampFormats: %q: %w", f, err)
		}
		c.tsForms = append(c.tsForms, tf)
	}
	c.pool.New = func() any { return c.newState() }
	return c, nil
}

// Table returns the converter's table.
func (c *Converter) Table() *catalog.Table { return c.table }

// Leaves is the number of leaf columns.
func (c *Converter) Leaves() int { return len(c.leaves) }

func (c *Converter) norm(name string) string {
	if c.opts.CaseInsensitive {
		return strings.ToLower(name)
	}
	return name
}

// normKey normalises a JSON key the way keys of records are.
func (c *Converter) normKey(key string) string {
	if c.opts.ConvertDots {
		key = strings.ReplaceAll(key, ".", "_")
	}
	return c.norm(key)
}

// state is one conversion's scratch space.
type state struct {
	vals  [][]byte // per leaf: encoded values of the current row
	count []int
	spans []span // per top-level column: where its value is in the record
	stack []span // struct fields being filled
	order []int  // the column of the k-th key of the last record (-1: none)
	nkey  int    // keys seen in the current row
	dec   []byte
	key   []byte
	str   []byte
	out   []byte
}

type span struct{ start, end int }

// reset drops the values of a row left half-shredded.
func (st *state) reset() {
	for l := range st.vals {
		st.vals[l], st.count[l] = st.vals[l][:0], 0
	}
	st.stack = st.stack[:0]
}

func (c *Converter) newState() *state {
	return &state{vals: make([][]byte, len(c.leaves)), count: make([]int, len(c.leaves)), spans: make([]span, len(c.cols))}
}

// Convert converts one record: dst with the encoded rows of every JSON object in data
// appended. An error is an *Error; dst is then returned unchanged in length.
func (c *Converter) Convert(dst, data []byte) ([]byte, error) {
	st := c.pool.Get().(*state)
	defer c.pool.Put(st)
	n0 := len(dst)
	i := skipSpace(data, 0)
	if i == len(data) {
		return dst, parseErr("the record holds no JSON object")
	}
	for i < len(data) {
		if data[i] != '{' {
			what := "a JSON " + kindName(data[i])
			return dst[:n0], parseErr("expected a JSON object at offset %d, found %s (records must be JSON objects, concatenated or one per line)", i, what)
		}
		end, err := c.row(st, data, i)
		if err != nil {
			st.reset() // the row's values written so far are dropped with it
			return dst[:n0], err
		}
		dst = c.flushRow(st, dst)
		i = skipSpace(data, end)
	}
	return dst, nil
}

func kindName(c byte) string {
	switch {
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "number"
	}
	return "value starting with " + quoteByte(c)
}

// row shreds the object at data[i] into st's leaf buffers and returns the index after it.
func (c *Converter) row(st *state, data []byte, i int) (int, error) {
	for k := range st.spans {
		st.spans[k] = span{}
	}
	st.nkey = 0
	end, err := c.eachKey(st, data, i, 0, nil, 0)
	if err != nil {
		return end, err
	}
	for k, n := range c.cols {
		sp := st.spans[k]
		if err := c.value(st, n, data, sp, 0); err != nil {
			return end, err
		}
	}
	return end, nil
}

// eachKey walks the object at data[i] and records the span of the value of each key
// (unescaped, normalised) that names a column (n == nil: the table's, in st.spans) or a
// field of struct n (in st.stack from base); it returns the index after the object.
func (c *Converter) eachKey(st *state, data []byte, i, depth int, n *node, base int) (int, error) {
	if depth >= MaxNesting {
		return i, parseErr("the JSON nests more than %d deep", MaxNesting)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, jsonErr(data, i, syntaxErr(i, "expected a string key in the JSON object"))
		}
		kend, esc, err := scanString(data, i)
		if err != nil {
			return kend, jsonErr(data, i, err)
		}
		st.key = st.key[:0]
		if esc {
			st.key = unquote(st.key, data[i:kend])
		} else {
			st.key = append(st.key, data[i+1:kend-1]...)
		}
		st.key = c.normBytes(st.key)
		i = skipSpace(data, kend)
		if i >= len(data) || data[i] != ':' {
			return i, jsonErr(data, i, syntaxErr(i, "expected ':' after a JSON object key"))
		}
		vs := skipSpace(data, i+1)
		_, ve, err := skipValue(data, vs, depth+1)
		if err != nil {
			return ve, jsonErr(data, vs, err)
		}
		if n == nil {
			c.column(st, span{vs, ve})
		} else if f, ok := n.byName[string(st.key)]; ok {
			st.stack[base+f] = span{vs, ve}
		}
		i = skipSpace(data, ve)
		if i >= len(data) {
			return i, jsonErr(data, i, errEnd)
		}
		if data[i] == '}' {
			return i + 1, nil
		}
		if data[i] != ',' {
			return i, jsonErr(data, i, syntaxErr(i, "expected ',' or '}' in the JSON object"))
		}
		i = skipSpace(data, i+1)
	}
}

func jsonErr(data []byte, at int, err error) *Error {
	var je *jsonError
	if errors.As(err, &je) {
		at = je.off
	}
	return parseErr("the record is not valid JSON: %v (offset %d)", err, at)
}

// column records the span of the value of top-level key st.key. Records of a stream
// usually have their keys in the same order: the column the k-th key named last time is
// tried before hashing.
func (c *Converter) column(st *state, sp span) {
	k := st.nkey
	st.nkey++
	if k < len(st.order) {
		if col := st.order[k]; col >= 0 && c.keys[col] == string(st.key) {
			st.spans[col] = sp
			return
		}
	}
	col, ok := c.lookup[string(st.key)]
	if !ok {
		col = -1
	} else {
		st.spans[col] = sp
	}
	if k < len(st.order) {
		st.order[k] = col
	} else if k < 4*len(c.cols) {
		st.order = append(st.order, col)
	}
}

// normBytes normalises a key in place (dots, then case) and returns it.
func (c *Converter) normBytes(k []byte) []byte {
	if c.opts.ConvertDots {
		for j, b := range k {
			if b == '.' {
				k[j] = '_'
			}
		}
	}
	if !c.opts.CaseInsensitive {
		return k
	}
	for j, b := range k {
		if b >= 'A' && b <= 'Z' {
			k[j] = b + 'a' - 'A'
		} else if b >= 0x80 {
			return append(k[:0], strings.ToLower(string(k))...) // rare: non-ASCII keys
		}
	}
	return k
}
