package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration file. Its Error text is
// `FILE:LINE:COL: yaml.path: what is wrong`.
type Problem struct {
	File      string
	Line, Col int    // 1-based; 0 when the problem has no position in the file
	Path      string // e.g. streams[2].retention; "" for the whole document
	Msg       string
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems returns every *Problem carried by err (as returned by Load and Parse).
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if p, ok := e.(*Problem); ok {
			out = append(out, p)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		walk(errors.Unwrap(e))
	}
	walk(err)
	return out
}

// Validator decodes a YAML document strictly into Go values and collects every problem
// found while decoding and validating, each with the file position and YAML path of the
// value at fault. It is what section Validate hooks (such as DeliveryStream's) receive.
//
// Paths are written as in the error messages: `server.tls.cert`, `streams[0].name`,
// `delivery_streams[1].destination.s3.bucket`. A Validator is not safe for concurrent use.
type Validator struct {
	file     string
	nodes    map[string]*yaml.Node // path → value node
	keys     map[string]*yaml.Node // path → key node of a mapping entry
	problems []*Problem
	warnings []*Problem
	budget   int // nodes left to visit (guards against alias expansion bombs)
}

// Warnf records a warning at path: the file is valid, but something will behave
// differently from AWS or is unwise (sluice validate prints them).
func (v *Validator) Warnf(path, format string, args ...any) {
	p := &Problem{File: v.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n := v.At(path); n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	v.warnings = append(v.warnings, p)
}

func newValidator(file string) *Validator {
	return &Validator{file: file, nodes: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}, budget: 200000}
}

// Errorf records a problem at path. Its position is that of the value at path when the
// file sets it, else that of the nearest enclosing value the file sets (e.g. the stream's
// mapping for a missing required key), else the top of the file.
func (v *Validator) Errorf(path, format string, args ...any) {
	v.ErrorAt(v.At(path), path, format, args...)
}

// ErrorAt records a problem at an explicit node (nil = no position).
func (v *Validator) ErrorAt(n *yaml.Node, path, format string, args ...any) {
	p := &Problem{File: v.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	v.problems = append(v.problems, p)
}

// Node returns the YAML node the file gives for path, or nil when the key is absent
// (the value then is a default).
func (v *Validator) Node(path string) *yaml.Node { return v.nodes[path] }

// Set reports whether the file sets path explicitly.
func (v *Validator) Set(path string) bool { return v.nodes[path] != nil }

// At returns the node of path or of its nearest ancestor present in the file.
func (v *Validator) At(path string) *yaml.Node {
	for {
		if n := v.nodes[path]; n != nil {
			return n
		}
		if path == "" {
			return nil
		}
		path = parentPath(path)
	}
}

// Len is the number of problems recorded so far.
func (v *Validator) Len() int { return len(v.problems) }

// Err returns every recorded problem, sorted by position, joined with errors.Join; nil
// when there is none.
func (v *Validator) Err() error {
	if len(v.problems) == 0 {
		return nil
	}
	ps := append([]*Problem(nil), v.problems...)
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// IntRange records a problem unless lo <= n <= hi.
func (v *Validator) IntRange(path string, n, lo, hi int64) bool {
	if n < lo || n > hi {
		v.Errorf(path, "%d is out of range (allowed %d..%d)", n, lo, hi)
		return false
	}
	return true
}

// SizeRange records a problem unless lo <= s <= hi.
func (v *Validator) SizeRange(path string, s, lo, hi Size) bool {
	switch {
	case s < lo:
		v.Errorf(path, "%s is under the %s minimum (allowed %s..%s)", s, lo, lo, hi)
	case s > hi:
		v.Errorf(path, "%s is over the %s limit (allowed %s..%s)", s, hi, lo, hi)
	default:
		return true
	}
	return false
}

// DurationRange records a problem unless lo <= d <= hi.
func (v *Validator) DurationRange(path string, d, lo, hi time.Duration) bool {
	switch {
	case d < lo:
		v.Errorf(path, "%s is under the %s minimum (allowed %s..%s)", d, lo, lo, hi)
	case d > hi:
		v.Errorf(path, "%s is over the %s limit (allowed %s..%s)", d, hi, lo, hi)
	default:
		return true
	}
	return false
}

// OneOf records a problem unless s is one of allowed.
func (v *Validator) OneOf(path, s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	v.Errorf(path, "%q is not allowed (allowed: %s)", s, strings.Join(allowed, ", "))
	return false
}

// Required records a problem if s is empty.
func (v *Validator) Required(path, s string) bool {
	if s == "" {
		v.Errorf(path, "is required")
		return false
	}
	return true
}

// StrictUnmarshaler lets a config type take over its own decoding while staying strict:
// it gets the node and its path, and decodes parts of it with v.Decode. Use it for
// blocks chosen by a `type:` key.
type StrictUnmarshaler interface {
	UnmarshalStrict(v *Validator, node *yaml.Node, path string)
}

// Decode decodes node strictly into out (a non-nil pointer): unknown keys, duplicate
// keys and wrong types are recorded as problems at their position; fields the node does
// not set keep their current values (so pre-set defaults survive).
func (v *Validator) Decode(node *yaml.Node, path string, out any) {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		v.ErrorAt(node, path, "internal: Decode needs a non-nil pointer, got %T", out)
		return
	}
	v.decode(node, path, rv.Elem())
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	strictType      = reflect.TypeFor[StrictUnmarshaler]()
)

func (v *Validator) decode(node *yaml.Node, path string, rv reflect.Value) {
	if node == nil {
		return
	}
	if v.budget--; v.budget < 0 {
		if v.budget == -1 {
			v.ErrorAt(node, path, "document too large (too many values or aliases)")
		}
		return
	}
	for node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return
		}
		node = node.Content[0]
	}
	if node.Kind == yaml.AliasNode {
		if node.Alias == nil {
			return
		}
		node = node.Alias
	}
	if v.nodes[path] == nil {
		v.nodes[path] = node
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return // `key:` with no value keeps the default
	}
	if rv.CanAddr() {
		pt := rv.Addr().Type()
		if pt.Implements(strictType) {
			rv.Addr().Interface().(StrictUnmarshaler).UnmarshalStrict(v, node, path)
			return
		}
		if pt.Implements(unmarshalerType) {
			if err := rv.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(node); err != nil {
				v.ErrorAt(node, path, "%s", err.Error())
			}
			return
		}
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			rv.Set(reflect.New(rv.Type().Elem()))
		}
		v.decode(node, path, rv.Elem())
	case reflect.Struct:
		v.decodeStruct(node, path, rv)
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			v.ErrorAt(node, path, "expected a list, got a %s", kindName(node))
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(node.Content), len(node.Content))
		for i, c := range node.Content {
			v.decode(c, path+"["+strconv.Itoa(i)+"]", s.Index(i))
		}
		rv.Set(s)
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			v.ErrorAt(node, path, "expected a mapping, got a %s", kindName(node))
			return
		}
		if rv.Type().Key().Kind() != reflect.String {
			v.ErrorAt(node, path, "internal: map keys must be strings")
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMap(rv.Type()))
		}
		v.eachKey(node, path, func(k, val *yaml.Node, cp string) {
			ev := reflect.New(rv.Type().Elem()).Elem()
			v.decode(val, cp, ev)
			rv.SetMapIndex(reflect.ValueOf(k.Value).Convert(rv.Type().Key()), ev)
		})
	case reflect.String:
		if node.Kind != yaml.ScalarNode {
			v.ErrorAt(node, path, "expected a string, got a %s", kindName(node))
			return
		}
		rv.SetString(node.Value)
	case reflect.Bool:
		var b bool
		if node.Kind != yaml.ScalarNode || node.Decode(&b) != nil {
			v.ErrorAt(node, path, "expected true or false, got %s", show(node))
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := plainNumber[int64](node)
		if !ok || rv.OverflowInt(n) {
			v.ErrorAt(node, path, "expected an integer, got %s", show(node))
			return
		}
		rv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := plainNumber[uint64](node)
		if !ok || rv.OverflowUint(n) {
			v.ErrorAt(node, path, "expected a non-negative integer, got %s", show(node))
			return
		}
		rv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, ok := plainNumber[float64](node)
		if !ok {
			v.ErrorAt(node, path, "expected a number, got %s", show(node))
			return
		}
		rv.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := node.Decode(&x); err != nil {
			v.ErrorAt(node, path, "%s", err.Error())
			return
		}
		if x != nil {
			rv.Set(reflect.ValueOf(x))
		}
	default:
		v.ErrorAt(node, path, "internal: cannot decode into %s", rv.Type())
	}
}

func (v *Validator) decodeStruct(node *yaml.Node, path string, rv reflect.Value) {
	if node.Kind != yaml.MappingNode {
		v.ErrorAt(node, path, "expected a mapping, got a %s", kindName(node))
		return
	}
	fields := structFields(rv.Type())
	v.eachKey(node, path, func(k, val *yaml.Node, cp string) {
		idx, ok := fields.byName[k.Value]
		if !ok {
			v.ErrorAt(k, cp, "unknown key (allowed: %s)", strings.Join(fields.names, ", "))
			return
		}
		v.decode(val, cp, rv.FieldByIndex(idx))
	})
}

// eachKey calls fn for every key of the mapping node that is a plain, unrepeated string
// (the others are reported), with its value and path.
func (v *Validator) eachKey(node *yaml.Node, path string, fn func(k, val *yaml.Node, cp string)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		cp := joinPath(path, k.Value)
		if v.keyOK(k, cp, seen) {
			fn(k, val, cp)
		}
	}
}

// keyOK checks a mapping key: a scalar, not repeated.
func (v *Validator) keyOK(k *yaml.Node, cp string, seen map[string]bool) bool {
	if k.Kind != yaml.ScalarNode {
		v.ErrorAt(k, cp, "mapping keys must be plain strings")
		return false
	}
	if seen[k.Value] {
		v.ErrorAt(k, cp, "duplicate key")
		return false
	}
	seen[k.Value] = true
	v.keys[cp] = k
	return true
}

type fieldSet struct {
	byName map[string][]int
	names  []string
}

func structFields(t reflect.Type) fieldSet {
	fs := fieldSet{byName: map[string][]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			inner := structFields(f.Type)
			for _, n := range inner.names {
				fs.byName[n] = append([]int{i}, inner.byName[n]...)
				fs.names = append(fs.names, n)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs.byName[name] = []int{i}
		fs.names = append(fs.names, name)
	}
	return fs
}

func show(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return "a " + kindName(n)
	}
	return strconv.Quote(n.Value)
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// parentPath strips the last `.key` or `[i]` element.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// plainNumber decodes node as a number of type T. Only an unquoted scalar counts: a
// quoted "5" is a string, not a number.
func plainNumber[T int64 | uint64 | float64](node *yaml.Node) (T, bool) {
	var n T
	ok := node.Kind == yaml.ScalarNode && node.Tag != "!!str" && node.Decode(&n) == nil
	return n, ok
}
