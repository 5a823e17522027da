package convert

import (
	"encoding/binary"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// A small validating JSON scanner: the converter reads each value once, straight into
// its column, without building a generic tree (encoding/json would allocate per value).

// MaxNesting bounds how deeply a record's JSON values nest.
const MaxNesting = 512

// Value kinds as the scanner reports them.
const (
	jNull   = 'n'
	jBool   = 'b'
	jNumber = '0'
	jString = 's'
	jObject = 'o'
	jArray  = 'a'
)

var errEnd = errors.New("unexpected end of the JSON text")

type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return e.msg }

func syntaxErr(off int, msg string) error { return &jsonError{off, msg} }

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue validates the value starting at b[i] (no leading space) and returns its kind
// and the index after it.
func skipValue(b []byte, i, depth int) (byte, int, error) {
	if i >= len(b) {
		return 0, i, errEnd
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return jString, end, err
	case c == '{':
		if depth >= MaxNesting {
			return 0, i, syntaxErr(i, "JSON nests too deeply")
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return jObject, i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, i, syntaxErr(i, "expected a string key in the JSON object")
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return 0, end, err
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, i, syntaxErr(i, "expected ':' after a JSON object key")
			}
			i = skipSpace(b, i+1)
			if _, i, err = skipValue(b, i, depth+1); err != nil {
				return 0, i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, i, errEnd
			}
			if b[i] == '}' {
				return jObject, i + 1, nil
			}
			if b[i] != ',' {
				return 0, i, syntaxErr(i, "expected ',' or '}' in the JSON object")
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		if depth >= MaxNesting {
			return 0, i, syntaxErr(i, "JSON nests too deeply")
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return jArray, i + 1, nil
		}
		for {
			var err error
			if _, i, err = skipValue(b, i, depth+1); err != nil {
				return 0, i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, i, errEnd
			}
			if b[i] == ']' {
				return jArray, i + 1, nil
			}
			if b[i] != ',' {
				return 0, i, syntaxErr(i, "expected ',' or ']' in the JSON array")
			}
			i = skipSpace(b, i+1)
		}
	case c == 't':
		return literal(b, i, "true", jBool)
	case c == 'f':
		return literal(b, i, "false", jBool)
	case c == 'n':
		return literal(b, i, "null", jNull)
	case c == '-' || c >= '0' && c <= '9':
		end, err := scanNumber(b, i)
		return jNumber, end, err
	default:
		return 0, i, syntaxErr(i, "invalid character "+quoteByte(c)+" looking for a JSON value")
	}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	return "0x" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
}

func literal(b []byte, i int, lit string, kind byte) (byte, int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, i, syntaxErr(i, "invalid JSON literal")
	}
	return kind, i + len(lit), nil
}

// scanNumber validates a JSON number at b[i] and returns the index after it.
func scanNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, errEnd
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, syntaxErr(start, "invalid JSON number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return i, syntaxErr(start, "invalid JSON number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return i, syntaxErr(start, "invalid JSON number")
		}
	}
	return i, nil
}

// scanString validates the string starting at the quote b[i]; it returns the index after
// the closing quote and whether the string has escapes.
func scanString(b []byte, i int) (int, bool, error) {
	i++
	esc := false
	for i < len(b) {
		// eight bytes at a time while none is a quote, a backslash or a control character
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i : i+8])
			q, bs := x^(lsb*'"'), x^(lsb*'\\')
			if ((q-lsb)&^q|(bs-lsb)&^bs|(x-lsb*0x20)&^x)&msb != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return i, esc, errEnd
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, esc, errEnd
				}
				for _, h := range b[i+2 : i+6] {
					if hexVal(h) < 0 {
						return i, esc, syntaxErr(i, "invalid \\u escape in a JSON string")
					}
				}
				i += 6
			default:
				return i, esc, syntaxErr(i, "invalid escape in a JSON string")
			}
		case c < 0x20:
			return i, esc, syntaxErr(i, "control character in a JSON string")
		default:
			i++
		}
	}
	return i, esc, errEnd
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 reports whether one of the eight bytes of x may be '"', '\\' or below 0x20
// (no false negatives).
func special8(x uint64) bool {
	q := x ^ (lsb * '"')
	bs := x ^ (lsb * '\\')
	return ((q-lsb)&^q|(bs-lsb)&^bs|(x-lsb*0x20)&^x)&msb != 0
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unquote appends the content of the validated JSON string s (quotes included) to dst.
func unquote(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, rune(hex4(s[i+2:]))); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // " \ /
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}
