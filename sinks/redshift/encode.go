package redshift

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/sluice-io/sluice/sources/record"
)

// encoded is one batch turned into the COPY stream, record by record, so that any subset
// of its records can be loaded again and a COPY error's line number leads back to the
// record it came from.
type encoded struct {
	data  []byte
	start []int // start[i]..start[i+1]: record i's part of data
	lines []int // lines[i]: COPY lines (rows) record i produced
	bad   map[int]error
}

// encode turns recs into COPY input in format f for the columns cols (JSON modes; the
// table's columns in order). A record that cannot be turned into rows (not JSON in a JSON
// mode) is in bad with the reason; it produces no rows.
func encode(recs []record.Record, f Format, cols []string, paths []jsonPath) *encoded {
	e := &encoded{start: make([]int, 0, len(recs)+1), lines: make([]int, len(recs))}
	n := 0
	for i := range recs {
		n += len(recs[i].Data) + 1
	}
	e.data = make([]byte, 0, n+n/16) // the usual output is no longer than the input
	var lookup map[string]int
	var auto *autoScanner
	if f.kind == kindJSONAuto {
		lookup = make(map[string]int, len(cols))
		for i, c := range cols {
			if f.IgnoreCase {
				c = strings.ToLower(c)
			}
			lookup[c] = i
		}
		auto = newAutoScanner(lookup, len(cols), f.IgnoreCase)
	}
	skip := f.IgnoreHeader
	vals := make([][]byte, len(cols))
	nulls := make([]bool, len(cols))
	for i, r := range recs {
		e.start = append(e.start, len(e.data))
		switch f.kind {
		case kindText, kindCSV:
			d := r.Data
			for skip > 0 && len(d) > 0 {
				nl := bytes.IndexByte(d, '\n')
				if nl < 0 {
					d = nil
				} else {
					d = d[nl+1:]
				}
				skip--
			}
			if len(d) == 0 {
				continue
			}
			e.data = append(e.data, d...)
			if d[len(d)-1] != '\n' { // a record is at least one row: it never runs into the next
				e.data = append(e.data, '\n')
			}
			e.lines[i] = bytes.Count(d, []byte{'\n'})
			if d[len(d)-1] != '\n' {
				e.lines[i]++
			}
		case kindRaw:
			appendText(&e.data, r.Data)
			e.data = append(e.data, '\n')
			e.lines[i] = 1
		default:
			if auto != nil {
				data, n, ok := auto.rows(e.data, r.Data)
				e.data = data
				if ok {
					e.lines[i] = n
					continue
				}
				e.data = e.data[:e.start[i]] // left to encoding/json: rows taken back
			}
			e.decodeJSON(i, r.Data, f, lookup, paths, vals, nulls)
		}
	}
	e.start = append(e.start, len(e.data))
	return e
}

// decodeJSON appends the rows of record i (JSON objects) with encoding/json: the
// reference for JSON 'auto' (whose common records autoScanner does in one pass, with the
// same result) and the way of jsonpaths.
func (e *encoded) decodeJSON(i int, data []byte, f Format, lookup map[string]int, paths []jsonPath, vals [][]byte, nulls []bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		var obj map[string]json.RawMessage
		err := dec.Decode(&obj)
		if err == io.EOF {
			break
		}
		if err != nil || obj == nil {
			if err == nil {
				err = fmt.Errorf("a JSON value that is not an object")
			}
			e.reject(i, fmt.Errorf("record %d is not JSON objects: %v", i, err))
			break
		}
		for k := range vals {
			vals[k], nulls[k] = nil, true
		}
		if f.kind == kindJSONAuto {
			for k, v := range obj {
				if f.IgnoreCase {
					k = strings.ToLower(k)
				}
				if c, ok := lookup[k]; ok {
					vals[c], nulls[c] = v, false
				}
			}
		} else {
			for c, p := range paths {
				if c < len(vals) {
					if v, ok := p.eval(obj); ok {
						vals[c], nulls[c] = v, false
					}
				}
			}
		}
		for c := range vals {
			if c > 0 {
				e.data = append(e.data, '\t')
			}
			if nulls[c] {
				e.data = append(e.data, '\\', 'N')
				continue
			}
			appendJSONValue(&e.data, vals[c])
		}
		e.data = append(e.data, '\n')
		e.lines[i]++
	}
	if e.bad[i] != nil { // rows already written for it are taken back
		e.data = e.data[:e.start[i]]
		e.lines[i] = 0
	}
}

func (e *encoded) reject(i int, err error) {
	if e.bad == nil {
		e.bad = map[int]error{}
	}
	e.bad[i] = err
}

// reader streams the records idx of e.
func (e *encoded) reader(idx []int) io.Reader {
	if len(idx) == len(e.lines) {
		return bytes.NewReader(e.data)
	}
	rs := make([]io.Reader, 0, len(idx))
	for _, i := range idx {
		if e.start[i+1] > e.start[i] {
			rs = append(rs, bytes.NewReader(e.data[e.start[i]:e.start[i+1]]))
		}
	}
	return io.MultiReader(rs...)
}

// at returns the position in idx of the record that produced COPY line line (1-based) of
// the stream reader(idx) sends, or -1.
func (e *encoded) at(idx []int, line int) int {
	n := 0
	for k, i := range idx {
		n += e.lines[i]
		if line <= n {
			return k
		}
	}
	return -1
}

// appendText appends b escaped for COPY's text format.
func appendText(dst *[]byte, b []byte) {
	d := *dst
	for {
		k := 0
		for k < len(b) && !textStop[b[k]] {
			k++
		}
		d = append(d, b[:k]...)
		if k == len(b) {
			break
		}
		switch b[k] {
		case '\\':
			d = append(d, '\\', '\\')
		case '\n':
			d = append(d, '\\', 'n')
		case '\r':
			d = append(d, '\\', 'r')
		case '\t':
			d = append(d, '\\', 't')
		}
		b = b[k+1:]
	}
	*dst = d
}

// textStop marks the bytes appendText escapes.
var textStop = [256]bool{'\\': true, '\n': true, '\r': true, '\t': true}

// appendJSONValue appends a JSON value as the text of a column: a string's contents, a
// number, true/false as they are, null as NULL, objects and arrays as compact JSON.
func appendJSONValue(dst *[]byte, v json.RawMessage) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		*dst = append(*dst, '\\', 'N')
	case v[0] == '"':
		if bytes.IndexByte(v, '\\') < 0 {
			appendText(dst, v[1:len(v)-1])
			return
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			appendText(dst, []byte(s))
		}
	case v[0] == '{' || v[0] == '[':
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			v = buf.Bytes()
		}
		appendText(dst, v)
	default:
		appendText(dst, v)
	}
}

// autoScanner turns the usual JSON 'auto' record into rows in one pass over its bytes,
// without encoding/json: top-level objects of ASCII keys without escapes, each mapped
// column present at most once. Whatever else it meets (invalid JSON, other top-level
// values, keys with escapes or non-ASCII letters, a column twice, deep nesting) it leaves
// to decodeJSON, so the result is always the same as decodeJSON's. Values go out as
// appendJSONValue writes them; a string without escapes is copied as it is (valid JSON
// holds no raw tab, newline or carriage return, nor a backslash outside an escape).
type autoScanner struct {
	lookup     map[string]int
	ignoreCase bool
	vals       [][]byte // the value of each column in the object being read (nil: absent)
	plain      []bool   // vals[c] is a string without escapes, quotes included
	key        []byte   // scratch for a lower-cased key
}

// maxAutoDepth bounds the nesting the scanner follows (encoding/json allows 10000).
const maxAutoDepth = 512

func newAutoScanner(lookup map[string]int, ncols int, ignoreCase bool) *autoScanner {
	return &autoScanner{lookup: lookup, ignoreCase: ignoreCase, vals: make([][]byte, ncols), plain: make([]bool, ncols)}
}

// rows appends the rows of data to dst and returns the result and the number of rows; ok
// is false when data is left to decodeJSON (dst may then hold part of its rows).
func (a *autoScanner) rows(dst, data []byte) (out []byte, lines int, ok bool) {
	i := skipSpace(data, 0)
	for i < len(data) {
		if data[i] != '{' {
			return dst, 0, false
		}
		if i, ok = a.object(data, i); !ok {
			return dst, 0, false
		}
		for c, v := range a.vals {
			if c > 0 {
				dst = append(dst, '\t')
			}
			switch {
			case v == nil:
				dst = append(dst, '\\', 'N')
			case a.plain[c]:
				dst = append(dst, v[1:len(v)-1]...)
			default:
				appendJSONValue(&dst, v)
			}
		}
		dst = append(dst, '\n')
		lines++
		i = skipSpace(data, i)
	}
	return dst, lines, true
}

// object reads the top-level object at data[i] ('{') into a.vals and returns the index
// after it.
func (a *autoScanner) object(data []byte, i int) (int, bool) {
	for c := range a.vals {
		a.vals[c], a.plain[c] = nil, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, false
		}
		ks := i + 1
		ke := ks
		for ke < len(data) && data[ke] != '"' {
			if c := data[ke]; c < 0x20 || c >= 0x80 || c == '\\' {
				return 0, false
			}
			ke++
		}
		if ke >= len(data) {
			return 0, false
		}
		key := data[ks:ke]
		i = skipSpace(data, ke+1)
		if i >= len(data) || data[i] != ':' {
			return 0, false
		}
		vs := skipSpace(data, i+1)
		ve, plain, ok := skipValue(data, vs, 1)
		if !ok {
			return 0, false
		}
		if a.ignoreCase {
			a.key = append(a.key[:0], key...)
			for k, c := range a.key {
				if 'A' <= c && c <= 'Z' {
					a.key[k] = c + 'a' - 'A'
				}
			}
			key = a.key
		}
		if c, found := a.lookup[string(key)]; found {
			if a.vals[c] != nil { // the same column twice: decodeJSON's map decides
				return 0, false
			}
			a.vals[c], a.plain[c] = data[vs:ve], plain // null: appendJSONValue writes NULL
		}
		i = skipSpace(data, ve)
		if i >= len(data) {
			return 0, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// strStop marks the bytes that end a run of a JSON string's contents: the quote, the
// backslash and the control characters.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// stringRun returns the index of the first byte from i on that ends a run of a JSON
// string's contents (strStop), or len(data). It tests eight bytes at a time: for each
// test the lowest flagged byte is exact (a borrow only flags bytes above a real hit), so
// the lowest flag of their union is the first stop.
func stringRun(data []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		if m := ((x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(data) && !strStop[data[i]] {
		i++
	}
	return i
}

// skipValue checks the JSON value at data[i] and returns the index after it; plain
// reports a string without escapes. depth is the nesting of the value.
func skipValue(data []byte, i, depth int) (end int, plain, ok bool) {
	if i >= len(data) {
		return 0, false, false
	}
	switch c := data[i]; {
	case c == '"':
		return skipString(data, i)
	case c == '{' || c == '[':
		if depth >= maxAutoDepth {
			return 0, false, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == closer {
			return i + 1, false, true
		}
		for {
			if closer == '}' {
				if i >= len(data) || data[i] != '"' {
					return 0, false, false
				}
				if i, _, ok = skipString(data, i); !ok {
					return 0, false, false
				}
				i = skipSpace(data, i)
				if i >= len(data) || data[i] != ':' {
					return 0, false, false
				}
				i = skipSpace(data, i+1)
			}
			if i, _, ok = skipValue(data, i, depth+1); !ok {
				return 0, false, false
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, false, false
			}
			switch data[i] {
			case ',':
				i = skipSpace(data, i+1)
			case closer:
				return i + 1, false, true
			default:
				return 0, false, false
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(data, i)
	case c == 't':
		return skipWord(data, i, "true")
	case c == 'f':
		return skipWord(data, i, "false")
	case c == 'n':
		return skipWord(data, i, "null")
	}
	return 0, false, false
}

// skipString checks the string at data[i] ('"').
func skipString(data []byte, i int) (end int, plain, ok bool) {
	plain = true
	i++
	for {
		i = stringRun(data, i)
		if i >= len(data) {
			return 0, false, false
		}
		switch data[i] {
		case '"':
			return i + 1, plain, true
		case '\\':
			plain = false
			if i+1 >= len(data) {
				return 0, false, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return 0, false, false
				}
				for _, h := range data[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, false, false
					}
				}
				i += 6
			default:
				return 0, false, false
			}
		default: // a control character
			return 0, false, false
		}
	}
}

// skipNumber checks the number at data[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(data []byte, i int) (end int, plain, ok bool) {
	digits := func() bool {
		s := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i > s
	}
	if data[i] == '-' {
		i++
	}
	if i < len(data) && data[i] == '0' {
		i++
	} else if !digits() {
		return 0, false, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		if !digits() {
			return 0, false, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false, false
		}
	}
	return i, false, true
}

func skipWord(data []byte, i int, w string) (end int, plain, ok bool) {
	if len(data)-i < len(w) || string(data[i:i+len(w)]) != w {
		return 0, false, false
	}
	return i + len(w), false, true
}
