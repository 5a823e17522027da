package convert

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluice-io/sluice/sinks/catalog"
)

// value shreds the JSON value data[sp.start:sp.end] (sp.end == 0: missing) of node n at
// repetition level rep.
func (c *Converter) value(st *state, n *node, data []byte, sp span, rep int) error {
	if sp.end == 0 || data[sp.start] == 'n' {
		c.nulls(st, n, rep, n.def-1)
		return nil
	}
	v := data[sp.start:sp.end]
	switch n.t.Kind {
	case catalog.Array:
		if v[0] != '[' {
			return malformed("column %s (%s) needs a JSON array, got a %s", n.name, n.t, kindName(v[0]))
		}
		i := skipSpace(data, sp.start+1)
		if data[i] == ']' {
			c.nulls(st, n.elem, rep, n.def)
			return nil
		}
		r := rep
		for {
			_, ve, err := skipValue(data, i, 0)
			if err != nil {
				return jsonErr(data, i, err)
			}
			if err := c.value(st, n.elem, data, span{i, ve}, r); err != nil {
				return err
			}
			r = n.rep
			i = skipSpace(data, ve)
			if data[i] == ']' {
				return nil
			}
			i = skipSpace(data, i+1) // ','
		}
	case catalog.Map:
		if v[0] != '{' {
			return malformed("column %s (%s) needs a JSON object, got a %s", n.name, n.t, kindName(v[0]))
		}
		i := skipSpace(data, sp.start+1)
		if data[i] == '}' {
			c.nulls(st, n.key, rep, n.def)
			c.nulls(st, n.elem, rep, n.def)
			return nil
		}
		r := rep
		for {
			kend, _, _ := scanString(data, i)
			if err := c.prim(st, n.key, data[i:kend], r); err != nil {
				return err
			}
			vs := skipSpace(data, skipSpace(data, kend)+1)
			_, ve, err := skipValue(data, vs, 0)
			if err != nil {
				return jsonErr(data, vs, err)
			}
			if err := c.value(st, n.elem, data, span{vs, ve}, r); err != nil {
				return err
			}
			r = n.rep
			i = skipSpace(data, ve)
			if data[i] == '}' {
				return nil
			}
			i = skipSpace(data, i+1)
		}
	case catalog.Struct:
		if v[0] != '{' {
			return malformed("column %s (%s) needs a JSON object, got a %s", n.name, n.t, kindName(v[0]))
		}
		base := len(st.stack)
		for range n.fields {
			st.stack = append(st.stack, span{})
		}
		_, err := c.eachKey(st, data, sp.start, 1, n, base)
		if err == nil {
			for k, f := range n.fields {
				if err = c.value(st, f, data, st.stack[base+k], rep); err != nil {
					break
				}
			}
		}
		st.stack = st.stack[:base]
		return err
	}
	return c.prim(st, n, v, rep)
}

// nulls gives every leaf under n one value at levels rep and def (a null, or an empty
// array or map when def is n's own).
func (c *Converter) nulls(st *state, n *node, rep, def int) {
	for l := n.first; l < n.last; l++ {
		st.vals[l] = append(st.vals[l], byte(rep), byte(def))
		st.count[l]++
	}
}

// put starts a present value of leaf n and returns its buffer.
func (st *state) put(n *node, rep int) []byte {
	st.count[n.leaf]++
	return append(st.vals[n.leaf], byte(rep), byte(n.def))
}

// text returns the text of a scalar: a string's content (unescaped), a number or
// boolean literally; ok is false for objects and arrays.
func (st *state) text(v []byte) ([]byte, bool) {
	switch v[0] {
	case '"':
		if bytes.IndexByte(v, '\\') >= 0 {
			st.str = unquote(st.str[:0], v)
			return st.str, true
		}
		return v[1 : len(v)-1], true
	case '{', '[':
		return nil, false
	}
	return v, true
}

// prim converts the JSON scalar v (a map key: a JSON string) into primitive leaf n.
func (c *Converter) prim(st *state, n *node, v []byte, rep int) error {
	t := n.t
	switch t.Kind {
	case catalog.String, catalog.Char, catalog.Varchar:
		s := v
		if v[0] == '"' {
			s, _ = st.text(v)
		}
		if !utf8.Valid(s) {
			// a reader refuses a whole file over one invalid STRING value
			return malformed("column %s (%s): the value is not valid UTF-8", n.name, t)
		}
		if t.Kind != catalog.String {
			if l := utf8.RuneCount(s); l > t.Length {
				return malformed("column %s (%s): the value is %d characters long, over the length %d", n.name, t, l, t.Length)
			}
		}
		b := st.put(n, rep)
		b = binary.AppendUvarint(b, uint64(len(s)))
		st.vals[n.leaf] = append(b, s...)
		return nil
	case catalog.Binary:
		if v[0] != '"' {
			return malformed("column %s (binary) needs a base64 JSON string, got a %s", n.name, kindName(v[0]))
		}
		s, _ := st.text(v)
		raw, err := base64.StdEncoding.AppendDecode(nil, s)
		if err != nil {
			return malformed("column %s (binary): the value is not base64: %v", n.name, err)
		}
		b := st.put(n, rep)
		b = binary.AppendUvarint(b, uint64(len(raw)))
		st.vals[n.leaf] = append(b, raw...)
		return nil
	case catalog.Boolean:
		var x byte
		switch s, _ := st.text(v); {
		case equalFold(s, "true"):
			x = 1
		case equalFold(s, "false"):
		default:
			return malformed("column %s (boolean): %s is not true or false", n.name, clip(v))
		}
		st.vals[n.leaf] = append(st.put(n, rep), x)
		return nil
	case catalog.TinyInt, catalog.SmallInt, catalog.Int, catalog.BigInt:
		s, ok := st.text(v)
		if !ok || v[0] == 't' || v[0] == 'f' {
			return malformed("column %s (%s) needs a number, got a %s", n.name, t, kindName(v[0]))
		}
		x, ok := atoi(s)
		if !ok {
			if _, err := strconv.ParseInt(string(s), 10, 64); errors.Is(err, strconv.ErrRange) {
				return malformed("column %s (%s): %s is out of range %d..%d", n.name, t, clip(s), lo(t.Kind), hi(t.Kind))
			}
			return malformed("column %s (%s): %s is not an integer", n.name, t, clip(v))
		}
		if x < lo(t.Kind) || x > hi(t.Kind) {
			return malformed("column %s (%s): %d is out of range %d..%d", n.name, t, x, lo(t.Kind), hi(t.Kind))
		}
		if t.Kind == catalog.BigInt {
			st.vals[n.leaf] = binary.LittleEndian.AppendUint64(st.put(n, rep), uint64(x))
		} else {
			st.vals[n.leaf] = binary.LittleEndian.AppendUint32(st.put(n, rep), uint32(int32(x)))
		}
		return nil
	case catalog.Float, catalog.Double:
		s, ok := st.text(v)
		if !ok || v[0] == 't' || v[0] == 'f' {
			return malformed("column %s (%s) needs a number, got a %s", n.name, t, kindName(v[0]))
		}
		x, err := strconv.ParseFloat(string(s), 64)
		if err != nil && !(v[0] == '"' && isSpecialFloat(s)) {
			return malformed("column %s (%s): %s is not a number within its range", n.name, t, clip(v))
		}
		if t.Kind == catalog.Float {
			if !math.IsInf(x, 0) && !math.IsNaN(x) && math.Abs(x) > math.MaxFloat32 {
				return malformed("column %s (float): %s is out of the float range (±%g)", n.name, clip(s), math.MaxFloat32)
			}
			st.vals[n.leaf] = binary.LittleEndian.AppendUint32(st.put(n, rep), math.Float32bits(float32(x)))
		} else {
			st.vals[n.leaf] = binary.LittleEndian.AppendUint64(st.put(n, rep), math.Float64bits(x))
		}
		return nil
	case catalog.Decimal:
		s, ok := st.text(v)
		if !ok || v[0] == 't' || v[0] == 'f' {
			return malformed("column %s (%s) needs a number, got a %s", n.name, t, kindName(v[0]))
		}
		return c.decimal(st, n, s, rep)
	case catalog.Date:
		s, ok := st.text(v)
		if !ok || v[0] != '"' {
			return malformed("column %s (date) needs a yyyy-MM-dd string, got a %s", n.name, kindName(v[0]))
		}
		d, ok := parseDate(s)
		if !ok {
			return malformed("column %s (date): %s is not a date (yyyy-MM-dd)", n.name, clip(v))
		}
		st.vals[n.leaf] = binary.LittleEndian.AppendUint32(st.put(n, rep), uint32(int32(d)))
		return nil
	case catalog.Timestamp:
		s, ok := st.text(v)
		if !ok || v[0] == 't' || v[0] == 'f' {
			return malformed("column %s (timestamp) needs a string or a number, got a %s", n.name, kindName(v[0]))
		}
		us, err := c.timestamp(s, v[0] != '"')
		if err != nil {
			return malformed("column %s (timestamp): %s %v", n.name, clip(v), err)
		}
		st.vals[n.leaf] = binary.LittleEndian.AppendUint64(st.put(n, rep), uint64(us))
		return nil
	}
	return malformed("column %s: type %s is not supported", n.name, t)
}

func isSpecialFloat(s []byte) bool {
	switch string(s) {
	case "NaN", "Infinity", "-Infinity", "+Infinity":
		return true
	}
	return false
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// clip is a value as the record writes it, for an error message: cut at 64 bytes,
// control characters and invalid UTF-8 replaced.
func clip(v []byte) string {
	cut := len(v) > 64
	if cut {
		v = v[:64]
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == utf8.RuneError {
			return '?'
		}
		return r
	}, string(v))
	if cut {
		s += "…"
	}
	return s
}

func lo(k catalog.Kind) int64 {
	switch k {
	case catalog.TinyInt:
		return math.MinInt8
	case catalog.SmallInt:
		return math.MinInt16
	case catalog.Int:
		return math.MinInt32
	}
	return math.MinInt64
}

func hi(k catalog.Kind) int64 {
	switch k {
	case catalog.TinyInt:
		return math.MaxInt8
	case catalog.SmallInt:
		return math.MaxInt16
	case catalog.Int:
		return math.MaxInt32
	}
	return math.MaxInt64
}

// flushRow appends the row in st's leaf buffers to dst and resets them.
func (c *Converter) flushRow(st *state, dst []byte) []byte {
	for l := range st.vals {
		dst = binary.AppendUvarint(dst, uint64(st.count[l]))
		dst = append(dst, st.vals[l]...)
		st.vals[l], st.count[l] = st.vals[l][:0], 0
	}
	return dst
}
