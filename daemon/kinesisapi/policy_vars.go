package kinesisapi

import "strings"

// Policy variables (IAM): in a policy with "Version": "2012-10-17", ${key} in a Resource
// or a condition value is replaced by the request's value of condition key key (e.g.
// ${aws:username}); ${key, 'default'} supplies a value when the request has none; ${*},
// ${?} and ${$} stand for those characters (here * and ? keep their wildcard meaning in
// patterns). A variable the request cannot answer, without a default, makes the
// Resource entry or condition value match nothing.
const policyVarsVersion = "2012-10-17"

// expandVars substitutes the variables of s; ok=false when one has no value.
func expandVars(s string, ctx condContext) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 { // not a variable: literal text
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		inner := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		switch inner {
		case "*", "?", "$":
			b.WriteString(inner)
			continue
		}
		name, def, hasDef := strings.Cut(inner, ",")
		if v, ok := ctx(strings.ToLower(strings.TrimSpace(name))); ok && len(v) == 1 {
			b.WriteString(v[0])
			continue
		}
		def = strings.TrimSpace(def)
		if !hasDef || len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return "", false
		}
		b.WriteString(def[1 : len(def)-1])
	}
}
