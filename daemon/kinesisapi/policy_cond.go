package kinesisapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Condition blocks of resource policies, evaluated as IAM does:
//
//   - operators AND together, the keys of one operator AND together, the values of one
//     key OR together (a negated operator: none of them may match);
//   - a key the request does not carry fails the condition, except for negated operators
//     (StringNotEquals, NotIpAddress, …), which then hold; …IfExists holds when the key is
//     absent; Null tests presence;
//   - ForAnyValue:/ForAllValues: qualify multi-valued keys (ForAllValues holds when the key
//     is absent).
//
// The keys Sluice knows are the global ones it can answer, aws:ResourceTag/<key>, and on
// tagging calls aws:RequestTag/<key> and aws:TagKeys (reqCtx.condContext); any other key
// is absent from every request. Policy variables (${aws:username}): policy_vars.go.

// condition is one key of one operator of a statement's Condition block.
type condition struct {
	op       condOp
	set      string // "", "ForAnyValue" or "ForAllValues"
	ifExists bool
	key      string // lower case: condition keys are case-insensitive
	values   []string
	vars     bool // values may hold policy variables (policy_vars.go)
}

type condOp struct {
	name    string // as written, without qualifier and IfExists
	negated bool
	match   func(have, want string) bool
	check   func(want string) error // validates a policy value
}

func anyValue(string) error { return nil }

func numberValue(s string) error {
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	return nil
}

func dateValue(s string) error {
	if _, ok := parseCondTime(s); !ok {
		return fmt.Errorf("%q is not a date (ISO 8601, e.g. 2026-12-31T23:59:59Z, or epoch seconds)", s)
	}
	return nil
}

func boolValue(s string) error {
	if !strings.EqualFold(s, "true") && !strings.EqualFold(s, "false") {
		return fmt.Errorf("%q is not true or false", s)
	}
	return nil
}

func ipValue(s string) error {
	if _, ok := parsePrefix(s); !ok {
		return fmt.Errorf("%q is not an IP address or CIDR block", s)
	}
	return nil
}

func binaryValue(s string) error {
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return fmt.Errorf("%q is not base64", s)
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func parseCondTime(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func cmpNumbers(have, want string, ok func(int) bool) bool {
	h, err1 := strconv.ParseFloat(have, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	switch {
	case err1 != nil || err2 != nil:
		return false
	case h < w:
		return ok(-1)
	case h > w:
		return ok(1)
	}
	return ok(0)
}

func cmpDates(have, want string, ok func(int) bool) bool {
	h, ok1 := parseCondTime(have)
	w, ok2 := parseCondTime(want)
	if !ok1 || !ok2 {
		return false
	}
	return ok(h.Compare(w))
}

func inPrefix(have, want string) bool {
	a, err := netip.ParseAddr(have)
	p, ok := parsePrefix(want)
	return err == nil && ok && p.Contains(a.Unmap())
}

var condOps = func() map[string]condOp {
	eq := func(c int) bool { return c == 0 }
	lt := func(c int) bool { return c < 0 }
	le := func(c int) bool { return c <= 0 }
	gt := func(c int) bool { return c > 0 }
	ge := func(c int) bool { return c >= 0 }
	num := func(ok func(int) bool) func(string, string) bool {
		return func(h, w string) bool { return cmpNumbers(h, w, ok) }
	}
	date := func(ok func(int) bool) func(string, string) bool {
		return func(h, w string) bool { return cmpDates(h, w, ok) }
	}
	str := func(h, w string) bool { return h == w }
	fold := strings.EqualFold
	like := func(h, w string) bool { return wildcardMatch(w, h) }
	ops := []condOp{
		{name: "StringEquals", match: str}, {name: "StringNotEquals", negated: true, match: str},
		{name: "StringEqualsIgnoreCase", match: fold}, {name: "StringNotEqualsIgnoreCase", negated: true, match: fold},
		{name: "StringLike", match: like}, {name: "StringNotLike", negated: true, match: like},
		{name: "NumericEquals", match: num(eq), check: numberValue}, {name: "NumericNotEquals", negated: true, match: num(eq), check: numberValue},
		{name: "NumericLessThan", match: num(lt), check: numberValue}, {name: "NumericLessThanEquals", match: num(le), check: numberValue},
		{name: "NumericGreaterThan", match: num(gt), check: numberValue}, {name: "NumericGreaterThanEquals", match: num(ge), check: numberValue},
		{name: "DateEquals", match: date(eq), check: dateValue}, {name: "DateNotEquals", negated: true, match: date(eq), check: dateValue},
		{name: "DateLessThan", match: date(lt), check: dateValue}, {name: "DateLessThanEquals", match: date(le), check: dateValue},
		{name: "DateGreaterThan", match: date(gt), check: dateValue}, {name: "DateGreaterThanEquals", match: date(ge), check: dateValue},
		{name: "Bool", match: fold, check: boolValue},
		{name: "BinaryEquals", match: str, check: binaryValue},
		{name: "IpAddress", match: inPrefix, check: ipValue}, {name: "NotIpAddress", negated: true, match: inPrefix, check: ipValue},
		{name: "ArnEquals", match: like}, {name: "ArnLike", match: like},
		{name: "ArnNotEquals", negated: true, match: like}, {name: "ArnNotLike", negated: true, match: like},
		{name: "Null", check: boolValue},
	}
	m := make(map[string]condOp, len(ops))
	for _, o := range ops {
		if o.check == nil {
			o.check = anyValue
		}
		m[o.name] = o
	}
	return m
}()

// wildcardMatch matches s against pattern, where * is any run of characters and ? any
// one character (StringLike, ArnLike).
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// parseConditions compiles a statement's Condition block. Errors name the operator or
// key and say what is wrong with it.
func parseConditions(raw json.RawMessage) ([]condition, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var block map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil {
		return nil, fmt.Errorf("Condition must map operators to objects of condition keys")
	}
	var out []condition
	for _, opName := range sortedKeys(block) {
		c := condition{}
		name := opName
		if q, rest, ok := strings.Cut(name, ":"); ok {
			if q != "ForAnyValue" && q != "ForAllValues" {
				return nil, fmt.Errorf("Condition operator %s: unknown qualifier %s (ForAnyValue or ForAllValues)", opName, q)
			}
			c.set, name = q, rest
		}
		if base, ok := strings.CutSuffix(name, "IfExists"); ok && base != "Null" {
			c.ifExists, name = true, base
		}
		op, ok := condOps[name]
		if !ok {
			return nil, fmt.Errorf("Condition operator %s is not supported", opName)
		}
		c.op = op
		for _, key := range sortedKeys(block[opName]) {
			vals, err := condValues(block[opName][key])
			if err != nil {
				return nil, fmt.Errorf("Condition %s %s: %v", opName, key, err)
			}
			for _, v := range vals {
				if err := op.check(v); err != nil {
					return nil, fmt.Errorf("Condition %s %s: %v", opName, key, err)
				}
			}
			c.key, c.values = strings.ToLower(key), vals
			out = append(out, c)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// condValues reads a condition value: a string, number or boolean, or a list of them.
func condValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		list = []json.RawMessage{raw}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("no values")
	}
	out := make([]string, len(list))
	for i, v := range list {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[i] = s
			continue
		}
		var f json.Number
		var b bool
		switch {
		case json.Unmarshal(v, &f) == nil:
			out[i] = f.String()
		case json.Unmarshal(v, &b) == nil:
			out[i] = strconv.FormatBool(b)
		default:
			return nil, fmt.Errorf("values must be strings, numbers or booleans")
		}
	}
	return out, nil
}

// condContext answers a condition key (lower case) with the request's values, or
// ok=false when the request does not carry it.
type condContext func(key string) (values []string, ok bool)

// holds reports whether every condition holds for the request.
func conditionsHold(conds []condition, ctx condContext) bool {
	for i := range conds {
		if !conds[i].holds(ctx) {
			return false
		}
	}
	return true
}

func (c *condition) holds(ctx condContext) bool {
	have, present := ctx(c.key)
	if c.op.name == "Null" {
		for _, v := range c.values {
			if strings.EqualFold(v, "true") != present {
				return true
			}
		}
		return false
	}
	if !present || len(have) == 0 {
		return c.ifExists || c.op.negated || c.set == "ForAllValues"
	}
	// matches: one request value against the policy's values, negation applied.
	matches := func(h string) bool {
		for _, w := range c.values {
			if c.vars {
				var ok bool
				if w, ok = expandVars(w, ctx); !ok {
					continue
				}
			}
			if c.op.match(h, w) {
				return !c.op.negated
			}
		}
		return c.op.negated
	}
	if c.set == "ForAllValues" {
		for _, h := range have {
			if !matches(h) {
				return false
			}
		}
		return true
	}
	for _, h := range have {
		if matches(h) {
			return true
		}
	}
	return false
}
