package redshift

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/sources/record"
)

// jsonPath is one expression of a jsonpaths file: $ then .name, ['name'] or ["name"], and
// [n] steps (Redshift's JSONPath subset).
type jsonPath struct {
	expr  string
	steps []step
}

type step struct {
	key   string
	index int // -1: key step
}

// parseJSONPaths reads a jsonpaths file ({"jsonpaths": ["$.a", "$['b']", "$.c[0]"]}).
func parseJSONPaths(data []byte) ([]jsonPath, error) {
	var f struct {
		JSONPaths []string `json:"jsonpaths"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, record.InvalidArgument("the jsonpaths file is not JSON: %v", err)
	}
	if len(f.JSONPaths) == 0 {
		return nil, record.InvalidArgument(`the jsonpaths file has no "jsonpaths" array`)
	}
	out := make([]jsonPath, len(f.JSONPaths))
	for i, e := range f.JSONPaths {
		p, err := parseJSONPath(e)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func parseJSONPath(e string) (jsonPath, error) {
	p := jsonPath{expr: e}
	bad := func() (jsonPath, error) {
		return p, record.InvalidArgument("jsonpaths: %q is not a path of the form $.a.b, $['a'] or $.a[0]", e)
	}
	if !strings.HasPrefix(e, "$") {
		return bad()
	}
	s := e[1:]
	for len(s) > 0 {
		switch {
		case s[0] == '.':
			j := 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == 1 {
				return bad()
			}
			p.steps = append(p.steps, step{key: s[1:j], index: -1})
			s = s[j:]
		case strings.HasPrefix(s, "['") || strings.HasPrefix(s, `["`):
			q := s[1]
			end := strings.IndexByte(s[2:], q)
			if end < 0 || len(s) < 2+end+2 || s[2+end+1] != ']' {
				return bad()
			}
			p.steps = append(p.steps, step{key: s[2 : 2+end], index: -1})
			s = s[2+end+2:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return bad()
			}
			n, err := strconv.Atoi(s[1:end])
			if err != nil || n < 0 {
				return bad()
			}
			p.steps = append(p.steps, step{index: n})
			s = s[end+1:]
		default:
			return bad()
		}
	}
	if len(p.steps) == 0 {
		return bad()
	}
	return p, nil
}

// eval returns the value at p in obj (false when a step is missing).
func (p jsonPath) eval(obj map[string]json.RawMessage) (json.RawMessage, bool) {
	v, ok := obj[p.steps[0].key]
	if !ok || p.steps[0].index >= 0 {
		return nil, false
	}
	for _, st := range p.steps[1:] {
		if st.index >= 0 {
			var arr []json.RawMessage
			if json.Unmarshal(v, &arr) != nil || st.index >= len(arr) {
				return nil, false
			}
			v = arr[st.index]
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return nil, false
		}
		if v, ok = m[st.key]; !ok {
			return nil, false
		}
	}
	return v, true
}
