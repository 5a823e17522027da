package dynamoapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

// Kind is a DynamoDB attribute type descriptor.
type Kind uint8

// The attribute types, named as on the wire.
const (
	KindNone Kind = iota
	KindS
	KindN
	KindB
	KindBOOL
	KindNULL
	KindM
	KindL
	KindSS
	KindNS
	KindBS
)

var kindNames = [...]string{"", "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}

func (k Kind) String() string { return kindNames[k] }

func kindByName(s string) Kind {
	for i, n := range kindNames {
		if i > 0 && n == s {
			return Kind(i)
		}
	}
	return KindNone
}

// AV is one attribute value. S holds the string of S, the canonical string of N and the
// bytes of B; Set holds SS/NS (canonical)/BS members in the order they were given.
type AV struct {
	Kind Kind
	S    string
	Bool bool
	M    map[string]AV
	L    []AV
	Set  []string
}

// Item is a map of attribute names to values.
type Item map[string]AV

// avError is a ValidationException text found while decoding an attribute value.
type avError struct{ msg string }

func (e *avError) Error() string { return e.msg }

// UnmarshalJSON decodes DynamoDB's {"S":"…"} form, checking what DynamoDB checks: one
// type per value, numbers parse, sets are non-empty without duplicates.
func (v *AV) UnmarshalJSON(b []byte) error {
	if v.fastScalar(b) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return &avError{"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"}
	}
	var set []string
	for k, raw := range m {
		if string(raw) == "null" {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return &avError{"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"}
	}
	if len(m) > 1 {
		return &avError{"Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"}
	}
	for k, raw := range m {
		kind := kindByName(k)
		*v = AV{Kind: kind}
		switch kind {
		case KindS:
			return json.Unmarshal(raw, &v.S)
		case KindN:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			c, msg := canonicalNumber(s)
			if msg != "" {
				return &avError{msg}
			}
			v.S = c
		case KindB:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			p, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return &avError{"Invalid Base64 value for binary attribute"}
			}
			v.S = string(p)
		case KindBOOL:
			return json.Unmarshal(raw, &v.Bool)
		case KindNULL:
			var t bool
			if err := json.Unmarshal(raw, &t); err != nil {
				return err
			}
			if !t {
				return &avError{"One or more parameter values were invalid: Null attribute value types must have the value of true"}
			}
		case KindM:
			v.M = map[string]AV{}
			return json.Unmarshal(raw, &v.M)
		case KindL:
			v.L = []AV{}
			return json.Unmarshal(raw, &v.L)
		case KindSS, KindNS, KindBS:
			if err := json.Unmarshal(raw, &set); err != nil {
				return err
			}
			if len(set) == 0 {
				name := map[Kind]string{KindSS: "string", KindNS: "number", KindBS: "binary"}[kind]
				return &avError{"One or more parameter values were invalid: An " + name + " set  may not be empty"}
			}
			for i, s := range set {
				switch kind {
				case KindNS:
					c, msg := canonicalNumber(s)
					if msg != "" {
						return &avError{msg}
					}
					set[i] = c
				case KindBS:
					p, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						return &avError{"Invalid Base64 value for binary attribute"}
					}
					set[i] = string(p)
				}
			}
			seen := make(map[string]struct{}, len(set))
			for _, s := range set {
				if _, dup := seen[s]; dup {
					return &avError{"Input collection [" + strings.Join(set, ", ") + "] contains duplicates."}
				}
				seen[s] = struct{}{}
			}
			v.Set = set
		default:
			return &avError{"Supplied AttributeValue has an unknown datatype: " + k}
		}
	}
	return nil
}

// fastScalar decodes the common {"S":"…"}, {"N":"…"} and {"BOOL":…} forms without
// escapes or extra space; it reports false (leaving v alone) for anything else, which
// then takes the general path.
func (v *AV) fastScalar(b []byte) bool {
	if len(b) < 7 || b[0] != '{' || b[1] != '"' || b[len(b)-1] != '}' {
		return false
	}
	i := bytes.IndexByte(b[2:], '"')
	if i < 0 || 2+i+1 >= len(b) || b[2+i+1] != ':' {
		return false
	}
	key, val := string(b[2:2+i]), b[2+i+2:len(b)-1]
	switch key {
	case "S", "N":
		if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			return false
		}
		inner := val[1 : len(val)-1]
		for _, c := range inner {
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				return false
			}
		}
		if key == "S" {
			*v = AV{Kind: KindS, S: string(inner)}
			return true
		}
		c, msg := canonicalNumber(string(inner))
		if msg != "" {
			return false
		}
		*v = AV{Kind: KindN, S: c}
		return true
	case "BOOL":
		switch string(val) {
		case "true":
			*v = AV{Kind: KindBOOL, Bool: true}
			return true
		case "false":
			*v = AV{Kind: KindBOOL}
			return true
		}
	}
	return false
}

// MarshalJSON encodes v in DynamoDB's wire form.
func (v AV) MarshalJSON() ([]byte, error) { return v.appendJSON(nil), nil }

func (v AV) appendJSON(b []byte) []byte {
	b = append(b, `{"`...)
	b = append(b, v.Kind.String()...)
	b = append(b, `":`...)
	switch v.Kind {
	case KindS, KindN:
		b = awsproto.AppendJSONString(b, v.S)
	case KindB:
		b = awsproto.AppendJSONBase64(b, []byte(v.S))
	case KindBOOL:
		b = strconv.AppendBool(b, v.Bool)
	case KindNULL:
		b = append(b, "true"...)
	case KindM:
		b = appendItemJSON(b, v.M)
	case KindL:
		b = append(b, '[')
		for i, e := range v.L {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		b = append(b, ']')
	case KindSS, KindNS, KindBS:
		b = append(b, '[')
		for i, s := range v.Set {
			if i > 0 {
				b = append(b, ',')
			}
			if v.Kind == KindBS {
				b = awsproto.AppendJSONBase64(b, []byte(s))
			} else {
				b = awsproto.AppendJSONString(b, s)
			}
		}
		b = append(b, ']')
	default:
		b = append(b, "null"...)
	}
	return append(b, '}')
}

func appendItemJSON(b []byte, m map[string]AV) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = awsproto.AppendJSONString(b, k)
		b = append(b, ':')
		b = m[k].appendJSON(b)
	}
	return append(b, '}')
}

// MarshalJSON encodes the item as a JSON object of attribute values, names sorted.
func (it Item) MarshalJSON() ([]byte, error) { return appendItemJSON(nil, it), nil }

// clone returns a deep copy of v.
func (v AV) clone() AV {
	switch v.Kind {
	case KindM:
		m := make(map[string]AV, len(v.M))
		for k, e := range v.M {
			m[k] = e.clone()
		}
		v.M = m
	case KindL:
		l := make([]AV, len(v.L))
		for i, e := range v.L {
			l[i] = e.clone()
		}
		v.L = l
	case KindSS, KindNS, KindBS:
		v.Set = slices.Clone(v.Set)
	}
	return v
}

func (it Item) clone() Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v.clone()
	}
	return out
}

// equal is DynamoDB's equality: same type and value; sets compare as sets.
func (v AV) equal(o AV) bool {
	if v.Kind != o.Kind {
		return false
	}
	switch v.Kind {
	case KindS, KindN, KindB:
		return v.S == o.S
	case KindBOOL:
		return v.Bool == o.Bool
	case KindNULL:
		return true
	case KindM:
		if len(v.M) != len(o.M) {
			return false
		}
		for k, e := range v.M {
			f, ok := o.M[k]
			if !ok || !e.equal(f) {
				return false
			}
		}
		return true
	case KindL:
		if len(v.L) != len(o.L) {
			return false
		}
		for i := range v.L {
			if !v.L[i].equal(o.L[i]) {
				return false
			}
		}
		return true
	case KindSS, KindNS, KindBS:
		if len(v.Set) != len(o.Set) {
			return false
		}
		for _, s := range v.Set {
			if !slices.Contains(o.Set, s) {
				return false
			}
		}
		return true
	}
	return false
}

// compare orders two scalars of the same type (S by UTF-8 bytes, N numerically, B by
// bytes); ok is false for other types or mixed types.
func compare(a, b AV) (c int, ok bool) {
	if a.Kind != b.Kind {
		return 0, false
	}
	switch a.Kind {
	case KindS, KindB:
		return strings.Compare(a.S, b.S), true
	case KindN:
		x, _ := parseNumber(a.S)
		y, _ := parseNumber(b.S)
		return cmpNumbers(x, y), true
	}
	return 0, false
}

// size is DynamoDB's item size estimate: names plus values.
func (v AV) size() int {
	switch v.Kind {
	case KindS, KindB:
		return len(v.S)
	case KindN:
		return len(v.S)/2 + 2
	case KindBOOL, KindNULL:
		return 1
	case KindM:
		n := 3
		for k, e := range v.M {
			n += len(k) + e.size() + 1
		}
		return n
	case KindL:
		n := 3
		for _, e := range v.L {
			n += e.size() + 1
		}
		return n
	case KindSS, KindNS, KindBS:
		n := 0
		for _, s := range v.Set {
			n += len(s)
		}
		return n
	}
	return 0
}

func (it Item) size() int {
	n := 0
	for k, v := range it {
		n += len(k) + v.size()
	}
	return n
}

// keyString encodes a key value for map keys: its type and bytes.
func keyString(v AV) string {
	return v.Kind.String() + ":" + v.S
}

// setKindOf is the set type holding elements of scalar kind k.
func setKindOf(k Kind) Kind {
	switch k {
	case KindS:
		return KindSS
	case KindN:
		return KindNS
	case KindB:
		return KindBS
	}
	return KindNone
}

// elemKindOf is the element type of set kind k.
func elemKindOf(k Kind) Kind {
	switch k {
	case KindSS:
		return KindS
	case KindNS:
		return KindN
	case KindBS:
		return KindB
	}
	return KindNone
}

func isSet(k Kind) bool { return k == KindSS || k == KindNS || k == KindBS }

// bytesContains reports whether b holds sub.
func bytesContains(b, sub string) bool { return bytes.Contains([]byte(b), []byte(sub)) }
