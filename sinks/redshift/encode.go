package redshift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
	var lookup map[string]int
	if f.kind == kindJSONAuto {
		lookup = make(map[string]int, len(cols))
		for i, c := range cols {
			if f.IgnoreCase {
				c = strings.ToLower(c)
			}
			lookup[c] = i
		}
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
			dec := json.NewDecoder(bytes.NewReader(r.Data))
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
	}
	e.start = append(e.start, len(e.data))
	return e
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
	for _, c := range b {
		switch c {
		case '\\':
			d = append(d, '\\', '\\')
		case '\n':
			d = append(d, '\\', 'n')
		case '\r':
			d = append(d, '\\', 'r')
		case '\t':
			d = append(d, '\\', 't')
		default:
			d = append(d, c)
		}
	}
	*dst = d
}

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
