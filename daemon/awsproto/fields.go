package awsproto

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Fields reads the members of one request structure decoded by ParseBody, applying
// AWS's member-type rules. The first type mismatch is remembered as a
// SerializationException (Err); later reads of bad members return "absent".
// Unknown members and JSON null are ignored.
type Fields struct {
	m   map[string]any
	err *Error
}

// ParseBody decodes a request body in codec c into Fields. An undecodable body, or a top
// level that is not a structure, is a SerializationException without message.
func ParseBody(c Codec, body []byte) (*Fields, *Error) {
	var v any
	var err error
	if c == CBOR {
		v, err = DecodeCBOR(body)
	} else {
		v, err = DecodeJSON(body)
	}
	if err != nil {
		return nil, Serialization("")
	}
	switch m := v.(type) {
	case map[string]any:
		return &Fields{m: m}, nil
	case nil:
		return &Fields{m: map[string]any{}}, nil
	}
	return nil, Serialization("")
}

// NewFields wraps an already decoded map (for nested structures).
func NewFields(m map[string]any) *Fields { return &Fields{m: m} }

// Err is the first SerializationException met, or nil.
func (f *Fields) Err() *Error { return f.err }

func (f *Fields) fail(msg string) {
	if f.err == nil {
		f.err = Serialization(msg)
	}
}

func (f *Fields) get(name string) (any, bool) {
	v, ok := f.m[name]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// Has reports whether the member is present and not null.
func (f *Fields) Has(name string) bool { _, ok := f.get(name); return ok }

func javaClass(v any) string {
	switch v.(type) {
	case string:
		return "java.lang.String"
	case bool:
		return "java.lang.Boolean"
	}
	return "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
}

// structural reports a scalar-member error for lists and maps; true if v was one.
func (f *Fields) structural(v any) bool {
	switch v.(type) {
	case []any:
		f.fail("Start of list found where not expected")
		return true
	case map[string]any, map[any]any:
		f.fail("Start of structure or map found where not expected.")
		return true
	}
	return false
}

// Str reads a String member.
func (f *Fields) Str(name string) (string, bool) {
	v, ok := f.get(name)
	if !ok {
		return "", false
	}
	return f.str(v)
}

// str converts a present value (a member, or an element of a list or map) to a String,
// recording the error AWS reports when it is anything else.
func (f *Fields) str(v any) (string, bool) {
	if f.structural(v) {
		return "", false
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	f.fail("class " + javaClass(v) + " can not be converted to an String")
	return "", false
}

// Int reads an Integer member; fractions are floored.
func (f *Fields) Int(name string) (int64, bool) { return f.integer(name, "Integer") }

// Long reads a Long member.
func (f *Fields) Long(name string) (int64, bool) { return f.integer(name, "Long") }

func (f *Fields) integer(name, typ string) (int64, bool) {
	v, ok := f.get(name)
	if !ok || f.structural(v) {
		return 0, false
	}
	n, isNum := numberOf(v)
	if !isNum {
		f.fail("class " + javaClass(v) + " can not be converted to an " + typ)
		return 0, false
	}
	return n, true
}

// numberOf converts a decoded number to an int64, flooring fractions and saturating.
func numberOf(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true
		}
		if fl, ok := new(big.Float).SetString(string(n)); ok {
			if fl.IsInf() {
				if fl.Sign() < 0 {
					return math.MinInt64, true
				}
				return math.MaxInt64, true
			}
			i, _ := fl.Int(nil)
			if fl.Sign() < 0 && !fl.IsInt() {
				i.Sub(i, big.NewInt(1))
			}
			if i.IsInt64() {
				return i.Int64(), true
			}
			if i.Sign() < 0 {
				return math.MinInt64, true
			}
			return math.MaxInt64, true
		}
		return 0, false
	case int64:
		return n, true
	case uint64:
		if n > math.MaxInt64 {
			return math.MaxInt64, true
		}
		return int64(n), true
	case float64:
		fl := math.Floor(n)
		if fl >= math.MaxInt64 {
			return math.MaxInt64, true
		}
		if fl <= math.MinInt64 {
			return math.MinInt64, true
		}
		return int64(fl), true
	case float32:
		return numberOf(float64(n))
	}
	return 0, false
}

// Bool reads a Boolean member; the strings "true"/"false" (any case) are accepted.
func (f *Fields) Bool(name string) (bool, bool) {
	v, ok := f.get(name)
	if !ok || f.structural(v) {
		return false, false
	}
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(b) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		f.fail("'" + strings.ToUpper(b) + "' can not be converted to an Boolean")
		return false, false
	}
	f.fail("class " + javaClass(v) + " can not be converted to an Boolean")
	return false, false
}

// Blob reads a blob member: a base64 string (JSON, and tolerated in CBOR) or a CBOR byte
// string.
func (f *Fields) Blob(name string) ([]byte, bool) {
	v, ok := f.get(name)
	if !ok || f.structural(v) {
		return nil, false
	}
	switch b := v.(type) {
	case []byte:
		return b, true
	case string:
		out, msg := DecodeBase64(b)
		if msg != "" {
			f.fail("'" + b + "' can not be converted to a Blob: " + msg)
			return nil, false
		}
		return out, true
	}
	f.fail("class " + javaClass(v) + " can not be converted to a Blob")
	return nil, false
}

// DecodeBase64 decodes padded standard base64 and returns AWS's error text on failure.
func DecodeBase64(s string) ([]byte, string) {
	if len(s)%4 != 0 {
		return nil, "Base64 encoded length is expected a multiple of 4 bytes but found: " + strconv.Itoa(len(s))
	}
	out, err := base64.StdEncoding.Strict().DecodeString(s)
	if err == nil {
		return out, ""
	}
	return nil, Base64ErrorText(s)
}

// Base64ErrorText explains why s (whose length is a multiple of 4) is not valid base64.
func Base64ErrorText(s string) string {
	end := len(s)
	for end > 0 && s[end-1] == '=' && len(s)-end < 2 {
		end--
	}
	for i := 0; i < end; i++ {
		if !isB64(s[i]) {
			return "Invalid Base64 character: '" + string(s[i]) + "'"
		}
	}
	return "Invalid last non-pad Base64 character dectected"
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// Time reads a timestamp: JSON epoch seconds (int or float) or ISO-8601 text; CBOR
// tag 1 or untagged numbers as epoch milliseconds (values below 10^11 are seconds).
func (f *Fields) Time(name string, c Codec) (time.Time, bool) {
	v, ok := f.get(name)
	if !ok || f.structural(v) {
		return time.Time{}, false
	}
	var fl float64
	switch t := v.(type) {
	case time.Time: // CBOR tag 1: the raw number was read as seconds
		fl = float64(t.Unix()) + float64(t.Nanosecond())/1e9
		return msOrSeconds(fl), true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
			if tt, err := time.Parse(layout, t); err == nil {
				return tt, true
			}
		}
		if n, err := strconv.ParseFloat(t, 64); err == nil {
			return secondsTime(n), true
		}
		f.fail("class java.lang.String can not be converted to milliseconds since epoch")
		return time.Time{}, false
	case json.Number:
		n, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			f.fail("class " + javaClass(t) + " can not be converted to milliseconds since epoch")
			return time.Time{}, false
		}
		return secondsTime(n), true
	case int64:
		fl = float64(t)
	case uint64:
		fl = float64(t)
	case float64:
		fl = t
	case float32:
		fl = float64(t)
	default:
		f.fail("class " + javaClass(v) + " can not be converted to milliseconds since epoch")
		return time.Time{}, false
	}
	if c == CBOR {
		return msOrSeconds(fl), true
	}
	return secondsTime(fl), true
}

func msOrSeconds(n float64) time.Time {
	if math.Abs(n) < 1e11 {
		return secondsTime(n)
	}
	return time.UnixMilli(int64(math.Round(n))).UTC()
}

func secondsTime(n float64) time.Time {
	ms := math.Round(n * 1000)
	if ms > 1e17 {
		ms = 1e17
	}
	if ms < -1e17 {
		ms = -1e17
	}
	return time.UnixMilli(int64(ms)).UTC()
}

// Struct reads a structure member.
func (f *Fields) Struct(name string) (*Fields, bool) {
	v, ok := f.get(name)
	if !ok {
		return nil, false
	}
	if m, ok := v.(map[string]any); ok {
		return &Fields{m: m}, true
	}
	f.notStruct(v)
	return nil, false
}

// notStruct records AWS's error for v where a structure was expected: a list is "not
// expected", a scalar is not null.
func (f *Fields) notStruct(v any) {
	if _, ok := v.([]any); ok {
		f.fail("Start of list found where not expected")
		return
	}
	f.fail("Expected null")
}

// Adopt copies the first error of a nested structure into f.
func (f *Fields) Adopt(sub *Fields) {
	if sub != nil && sub.err != nil && f.err == nil {
		f.err = sub.err
	}
}

// list reads a list member, recording the error AWS reports when it is not a list.
func (f *Fields) list(name string) ([]any, bool) {
	v, ok := f.get(name)
	if !ok {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		switch v.(type) {
		case map[string]any, map[any]any:
			f.fail("Start of structure or map found where not expected.")
		default:
			f.fail("Expected list or null")
		}
		return nil, false
	}
	return l, true
}

// StructList reads a list of structures. Elements that are not structures are reported.
func (f *Fields) StructList(name string) ([]*Fields, bool) {
	l, ok := f.list(name)
	if !ok {
		return nil, false
	}
	out := make([]*Fields, 0, len(l))
	for _, e := range l {
		switch m := e.(type) {
		case map[string]any:
			out = append(out, &Fields{m: m})
		case nil:
			out = append(out, &Fields{m: map[string]any{}})
		default:
			f.notStruct(e)
			return nil, false
		}
	}
	return out, true
}

// StrList reads a list of strings.
func (f *Fields) StrList(name string) ([]string, bool) {
	l, ok := f.list(name)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		if e == nil {
			continue
		}
		s, ok := f.str(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// StrMap reads a map of string to string.
func (f *Fields) StrMap(name string) (map[string]string, bool) {
	v, ok := f.get(name)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		if _, isList := v.([]any); isList {
			f.fail("Start of list found where not expected")
		} else {
			f.fail("Expected map or null")
		}
		return nil, false
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		if e == nil {
			continue
		}
		s, ok := f.str(e)
		if !ok {
			return nil, false
		}
		out[k] = s
	}
	return out, true
}
