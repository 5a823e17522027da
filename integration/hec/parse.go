package hec

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// The event endpoint's parser: one validating pass over the body, without reflection, so
// that the test server keeps up with the destination it tests (encoding/json's Decoder
// scans every value twice). It accepts what encoding/json accepts, with the same outcome
// for each post (server_test checks it against encoding/json on fuzzed bodies).

// maxDepth bounds the nesting of a value (encoding/json's limit).
const maxDepth = 10000

var errSyntax = errors.New("invalid JSON")

// scanner walks a JSON text.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value skips one JSON value, checking its syntax.
func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return errSyntax
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return errSyntax
}

func (s *scanner) lit(w string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		return errSyntax
	}
	s.i += len(w)
	return nil
}

// str skips a string and reports whether it holds escapes.
func (s *scanner) str() (escaped bool, err error) {
	s.i++ // the opening quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, nil
		case c < 0x20:
			return false, errSyntax
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return false, errSyntax
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return false, errSyntax
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return false, errSyntax
					}
				}
				s.i += 6
			default:
				return false, errSyntax
			}
		default:
			s.i++
		}
	}
	return false, errSyntax
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return errSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return errSyntax
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return errSyntax
		}
	}
	return nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return errSyntax
	}
	return nil
}

func (s *scanner) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.value(); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errSyntax
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// object skips an object; member, when set, is told each member's key (unescaped) and the
// span of its value.
func (s *scanner) object(member func(key string, val []byte)) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errSyntax
		}
		ks := s.i
		esc, err := s.str()
		if err != nil {
			return err
		}
		key := s.b[ks+1 : s.i-1]
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errSyntax
		}
		s.i++
		s.ws()
		vs := s.i
		if err := s.value(); err != nil {
			return err
		}
		if member != nil {
			k := string(key)
			if esc {
				k, _ = unquote(s.b[ks:ks+len(key)+2], true)
			}
			member(k, s.b[vs:s.i])
		}
		s.ws()
		if s.i >= len(s.b) {
			return errSyntax
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// unquote returns the text of a JSON string literal (checked already).
func unquote(lit []byte, escaped bool) (string, bool) {
	if !escaped {
		return string(lit[1 : len(lit)-1]), true
	}
	var out string
	if json.Unmarshal(lit, &out) != nil {
		return "", false
	}
	return out, true
}

// ParseEvents parses an event post's body: concatenated JSON event objects. It returns the
// events (their Event and Fields values are slices of b) and CodeSuccess, or the HEC code
// refusing the post and the 0-based number of the offending event (-1 when the post as a
// whole is at fault). indexes, when set, are the allowed index names.
//
// Event members, as Splunk documents them: `event` (required, not null, not a blank
// string), `time` (epoch seconds: a number or a numeric string), `host`, `source`,
// `sourcetype`, `index` (strings; index one of indexes), `fields` (an object of strings,
// numbers, booleans or flat arrays of them). Other members are ignored; a repeated member
// counts by its last value.
func ParseEvents(b []byte, indexes []string) (evs []Event, code int, bad int) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, CodeNoData, -1
	}
	s := &scanner{b: b}
	for n := 0; ; n++ {
		s.ws()
		if s.i >= len(b) {
			return evs, CodeSuccess, -1
		}
		if bytes.HasPrefix(b[s.i:], []byte("null")) {
			// null decodes as an empty event object (encoding/json leaves the struct as is)
			return nil, CodeEventRequired, n
		}
		if b[s.i] != '{' {
			// a value that is not an object: encoding/json's type error, or a syntax error
			return nil, CodeInvalidFormat, n
		}
		ev := Event{Endpoint: "event", AckID: -1}
		var evRaw, timeRaw, fieldsRaw []byte
		typeErr := false
		str := func(val []byte, dst *string) {
			switch {
			case val[0] == 'n': // null: unset
				*dst = ""
			case val[0] != '"':
				typeErr = true
			default:
				v, ok := unquote(val, bytes.IndexByte(val, '\\') >= 0)
				if !ok {
					typeErr = true
				}
				*dst = v
			}
		}
		err := s.object(func(key string, val []byte) {
			switch key {
			case "event":
				evRaw = val
			case "time":
				timeRaw = val
			case "fields":
				fieldsRaw = val
			case "host":
				str(val, &ev.Host)
			case "source":
				str(val, &ev.Source)
			case "sourcetype":
				str(val, &ev.Sourcetype)
			case "index":
				str(val, &ev.Index)
			}
		})
		if err != nil || typeErr {
			return nil, CodeInvalidFormat, n
		}
		if fieldsRaw != nil && fieldsRaw[0] != 'n' {
			if fieldsRaw[0] != '{' {
				return nil, CodeInvalidFormat, n
			}
			ev.Fields = map[string]json.RawMessage{}
			fs := &scanner{b: fieldsRaw}
			_ = fs.object(func(key string, val []byte) { ev.Fields[key] = json.RawMessage(val) })
		}
		if len(evRaw) == 0 || evRaw[0] == 'n' {
			return nil, CodeEventRequired, n
		}
		if evRaw[0] == '"' {
			str, ok := unquote(evRaw, bytes.IndexByte(evRaw, '\\') >= 0)
			if !ok || strings.TrimSpace(str) == "" {
				return nil, CodeEventBlank, n
			}
		}
		ev.Event = evRaw
		if timeRaw != nil && timeRaw[0] != 'n' {
			t := string(timeRaw)
			if timeRaw[0] == '"' {
				t, _ = unquote(timeRaw, bytes.IndexByte(timeRaw, '\\') >= 0)
			}
			if _, err := strconv.ParseFloat(t, 64); err != nil {
				return nil, CodeInvalidFormat, n
			}
			ev.Time = t
		}
		for _, v := range ev.Fields {
			if !indexedValue(v) {
				return nil, CodeIndexedFields, n
			}
		}
		if ev.Index != "" && len(indexes) > 0 && !contains(indexes, ev.Index) {
			return nil, CodeIncorrectIndex, n
		}
		evs = append(evs, ev)
	}
}
