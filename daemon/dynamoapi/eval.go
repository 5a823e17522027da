package dynamoapi

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// resolve returns the value at path in item, if any.
func resolve(item Item, path docPath) (AV, bool) {
	if len(path) == 0 || path[0].isIndex {
		return AV{}, false
	}
	v, ok := item[path[0].name]
	if !ok {
		return AV{}, false
	}
	for _, e := range path[1:] {
		switch {
		case e.isIndex && v.Kind == KindL:
			if e.index >= len(v.L) {
				return AV{}, false
			}
			v = v.L[e.index]
		case !e.isIndex && v.Kind == KindM:
			w, ok := v.M[e.name]
			if !ok {
				return AV{}, false
			}
			v = w
		default:
			return AV{}, false
		}
	}
	return v, true
}

// operandValue evaluates a condition operand; ok is false when a path is missing.
func operandValue(item Item, o *operand) (AV, bool) {
	switch o.kind {
	case opValue:
		return o.value, true
	case opPath:
		return resolve(item, o.path)
	case opSize:
		v, ok := resolve(item, o.path)
		if !ok {
			return AV{}, false
		}
		var n int
		switch v.Kind {
		case KindS:
			n = utf8.RuneCountInString(v.S)
		case KindB:
			n = len(v.S)
		case KindM:
			n = len(v.M)
		case KindL:
			n = len(v.L)
		case KindSS, KindNS, KindBS:
			n = len(v.Set)
		default:
			return AV{}, false
		}
		return AV{Kind: KindN, S: itoa(n)}, true
	}
	return AV{}, false
}

func itoa(n int) string { return strconv.Itoa(n) }

// evalCond evaluates c against item (nil item: no item).
func evalCond(item Item, c *cond) bool {
	switch c.kind {
	case cAnd:
		return evalCond(item, c.l) && evalCond(item, c.r)
	case cOr:
		return evalCond(item, c.l) || evalCond(item, c.r)
	case cNot:
		return !evalCond(item, c.l)
	case cExists:
		_, ok := resolve(item, c.x.path)
		return ok
	case cNotExists:
		_, ok := resolve(item, c.x.path)
		return !ok
	case cType:
		v, ok := resolve(item, c.x.path)
		return ok && v.Kind.String() == c.args[0].value.S
	case cBeginsWith:
		v, ok := resolve(item, c.x.path)
		p, pok := operandValue(item, c.args[0])
		if !ok || !pok || v.Kind != p.Kind || (v.Kind != KindS && v.Kind != KindB) {
			return false
		}
		return strings.HasPrefix(v.S, p.S)
	case cContains:
		v, ok := resolve(item, c.x.path)
		p, pok := operandValue(item, c.args[0])
		if !ok || !pok {
			return false
		}
		switch v.Kind {
		case KindS, KindB:
			return p.Kind == v.Kind && bytesContains(v.S, p.S)
		case KindSS, KindNS, KindBS:
			return p.Kind == elemKindOf(v.Kind) && slices.Contains(v.Set, p.S)
		case KindL:
			for _, e := range v.L {
				if e.equal(p) {
					return true
				}
			}
		}
		return false
	case cCmp:
		a, aok := operandValue(item, c.x)
		b, bok := operandValue(item, c.args[0])
		if !aok || !bok {
			return c.cmp == "<>" // a missing attribute is not equal to anything
		}
		switch c.cmp {
		case "=":
			return a.equal(b)
		case "<>":
			return !a.equal(b)
		}
		r, ok := compare(a, b)
		if !ok {
			return false
		}
		switch c.cmp {
		case "<":
			return r < 0
		case "<=":
			return r <= 0
		case ">":
			return r > 0
		case ">=":
			return r >= 0
		}
	case cBetween:
		x, ok := operandValue(item, c.x)
		lo, lok := operandValue(item, c.args[0])
		hi, hok := operandValue(item, c.args[1])
		if !ok || !lok || !hok {
			return false
		}
		r1, ok1 := compare(lo, x)
		r2, ok2 := compare(x, hi)
		return ok1 && ok2 && r1 <= 0 && r2 <= 0
	case cIn:
		x, ok := operandValue(item, c.x)
		if !ok {
			return false
		}
		for _, o := range c.args {
			if v, ok := operandValue(item, o); ok && v.equal(x) {
				return true
			}
		}
	}
	return false
}

// updateError is a ValidationException text raised while applying an update.
type updateError string

// setValue evaluates a SET right-hand side against the old item.
func setValue(old Item, o *operand) (AV, updateError) {
	switch o.kind {
	case opValue:
		return o.value, ""
	case opPath:
		v, ok := resolve(old, o.path)
		if !ok {
			return AV{}, "The provided expression refers to an attribute that does not exist in the item"
		}
		return v.clone(), ""
	case opIfNotExists:
		if v, ok := resolve(old, o.path); ok {
			return v.clone(), ""
		}
		return setValue(old, o.b)
	case opListAppend:
		a, e := setValue(old, o.a)
		if e != "" {
			return AV{}, e
		}
		b, e := setValue(old, o.b)
		if e != "" {
			return AV{}, e
		}
		if a.Kind != KindL || b.Kind != KindL {
			bad := a
			if a.Kind == KindL {
				bad = b
			}
			return AV{}, updateError("Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: " + typeWord(bad.Kind))
		}
		return AV{Kind: KindL, L: append(slices.Clone(a.L), b.L...)}, ""
	case opArith:
		a, e := setValue(old, o.a)
		if e != "" {
			return AV{}, e
		}
		b, e := setValue(old, o.b)
		if e != "" {
			return AV{}, e
		}
		if a.Kind != KindN || b.Kind != KindN {
			return AV{}, "An operand in the update expression has an incorrect data type"
		}
		x, _ := parseNumber(a.S)
		y, _ := parseNumber(b.S)
		r, msg := addNumbers(x, y, o.minus)
		if msg != "" {
			return AV{}, updateError(msg)
		}
		return AV{Kind: KindN, S: r.String()}, ""
	}
	return AV{}, "The provided expression refers to an attribute that does not exist in the item"
}

func typeWord(k Kind) string {
	switch k {
	case KindS:
		return "S"
	case KindN:
		return "N"
	}
	return k.String()
}

const badPath updateError = "The document path provided in the update expression is invalid for update"

// assign stores v at path in item (creating the top-level attribute or the last map key
// or appending past a list's end, as DynamoDB does).
func assign(item Item, path docPath, v AV) updateError {
	if len(path) == 1 {
		item[path[0].name] = v
		return ""
	}
	parent, ok := item[path[0].name]
	if !ok {
		return badPath
	}
	nv, e := assignIn(parent, path[1:], v)
	if e != "" {
		return e
	}
	item[path[0].name] = nv
	return ""
}

func assignIn(cur AV, path docPath, v AV) (AV, updateError) {
	e := path[0]
	switch {
	case e.isIndex && cur.Kind == KindL:
		l := slices.Clone(cur.L)
		if len(path) == 1 {
			if e.index >= len(l) {
				l = append(l, v)
			} else {
				l[e.index] = v
			}
			return AV{Kind: KindL, L: l}, ""
		}
		if e.index >= len(l) {
			return AV{}, badPath
		}
		nv, err := assignIn(l[e.index], path[1:], v)
		if err != "" {
			return AV{}, err
		}
		l[e.index] = nv
		return AV{Kind: KindL, L: l}, ""
	case !e.isIndex && cur.Kind == KindM:
		m := make(map[string]AV, len(cur.M)+1)
		for k, x := range cur.M {
			m[k] = x
		}
		if len(path) == 1 {
			m[e.name] = v
			return AV{Kind: KindM, M: m}, ""
		}
		child, ok := m[e.name]
		if !ok {
			return AV{}, badPath
		}
		nv, err := assignIn(child, path[1:], v)
		if err != "" {
			return AV{}, err
		}
		m[e.name] = nv
		return AV{Kind: KindM, M: m}, ""
	}
	return AV{}, badPath
}

// removePath deletes path from item; a missing path is not an error.
func removePath(item Item, path docPath) {
	if len(path) == 1 {
		delete(item, path[0].name)
		return
	}
	parent, ok := item[path[0].name]
	if !ok {
		return
	}
	if nv, ok := removeIn(parent, path[1:]); ok {
		item[path[0].name] = nv
	}
}

func removeIn(cur AV, path docPath) (AV, bool) {
	e := path[0]
	switch {
	case e.isIndex && cur.Kind == KindL:
		if e.index >= len(cur.L) {
			return cur, false
		}
		l := slices.Clone(cur.L)
		if len(path) == 1 {
			l = slices.Delete(l, e.index, e.index+1)
			return AV{Kind: KindL, L: l}, true
		}
		nv, ok := removeIn(l[e.index], path[1:])
		if !ok {
			return cur, false
		}
		l[e.index] = nv
		return AV{Kind: KindL, L: l}, true
	case !e.isIndex && cur.Kind == KindM:
		m := make(map[string]AV, len(cur.M))
		for k, x := range cur.M {
			m[k] = x
		}
		if len(path) == 1 {
			delete(m, e.name)
			return AV{Kind: KindM, M: m}, true
		}
		child, ok := m[e.name]
		if !ok {
			return cur, false
		}
		nv, ok := removeIn(child, path[1:])
		if !ok {
			return cur, false
		}
		m[e.name] = nv
		return AV{Kind: KindM, M: m}, true
	}
	return cur, false
}

// addValue is ADD: numbers add (a missing attribute counts as 0), sets union.
func addValue(old AV, exists bool, v AV) (AV, updateError) {
	switch v.Kind {
	case KindN:
		if !exists {
			return v, ""
		}
		if old.Kind != KindN {
			return AV{}, "An operand in the update expression has an incorrect data type"
		}
		x, _ := parseNumber(old.S)
		y, _ := parseNumber(v.S)
		r, msg := addNumbers(x, y, false)
		if msg != "" {
			return AV{}, updateError(msg)
		}
		return AV{Kind: KindN, S: r.String()}, ""
	case KindL: // legacy AttributeUpdates ADD appends to a list
		if !exists {
			return v, ""
		}
		if old.Kind != KindL {
			return AV{}, "An operand in the update expression has an incorrect data type"
		}
		return AV{Kind: KindL, L: append(slices.Clone(old.L), v.L...)}, ""
	case KindSS, KindNS, KindBS:
		if !exists {
			return v.clone(), ""
		}
		if old.Kind != v.Kind {
			return AV{}, "An operand in the update expression has an incorrect data type"
		}
		out := slices.Clone(old.Set)
		for _, s := range v.Set {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return AV{Kind: v.Kind, Set: out}, ""
	}
	return AV{}, updateError("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: " + typeName(v.Kind))
}

// deleteValue is DELETE: remove set members; an emptied set removes the attribute.
func deleteValue(old AV, exists bool, v AV) (AV, bool, updateError) {
	if !isSet(v.Kind) {
		return AV{}, false, updateError("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: " + typeName(v.Kind))
	}
	if !exists {
		return AV{}, false, ""
	}
	if old.Kind != v.Kind {
		return AV{}, false, "An operand in the update expression has an incorrect data type"
	}
	var out []string
	for _, s := range old.Set {
		if !slices.Contains(v.Set, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return AV{}, false, ""
	}
	return AV{Kind: v.Kind, Set: out}, true, ""
}

func typeName(k Kind) string {
	switch k {
	case KindS:
		return "STRING"
	case KindN:
		return "NUMBER"
	case KindB:
		return "BINARY"
	case KindBOOL:
		return "BOOLEAN"
	case KindNULL:
		return "NULL"
	case KindM:
		return "MAP"
	case KindL:
		return "LIST"
	}
	return k.String()
}

// applyUpdate applies u to a copy of old and returns the new item and the paths it
// touched (for ReturnValues UPDATED_OLD/UPDATED_NEW).
func applyUpdate(old Item, u *updateExpr) (Item, []docPath, updateError) {
	// values are never changed in place (assign and removePath copy along the path), so
	// a shallow copy of the top level is enough
	item := make(Item, len(old)+len(u.set)+len(u.add))
	for k, v := range old {
		item[k] = v
	}
	var touched []docPath
	touch := func(p docPath) { touched = append(touched, p) }
	for _, a := range u.set {
		v, e := setValue(old, a.value)
		if e != "" {
			return nil, nil, e
		}
		if e := assign(item, a.path, v); e != "" {
			return nil, nil, e
		}
		touch(a.path)
	}
	for _, a := range removalOrder(u.remove) {
		removePath(item, a.path)
		touch(a.path)
	}
	for _, a := range u.add {
		if len(a.path) > 1 && !parentExists(item, a.path) {
			return nil, nil, badPath
		}
		cur, ok := resolve(item, a.path)
		v, e := addValue(cur, ok, a.value.value)
		if e != "" {
			return nil, nil, e
		}
		if e := assign(item, a.path, v); e != "" {
			return nil, nil, e
		}
		touch(a.path)
	}
	for _, a := range u.del {
		cur, ok := resolve(item, a.path)
		v, keep, e := deleteValue(cur, ok, a.value.value)
		if e != "" {
			return nil, nil, e
		}
		if keep {
			if e := assign(item, a.path, v); e != "" {
				return nil, nil, e
			}
		} else if ok {
			removePath(item, a.path)
		}
		touch(a.path)
	}
	return item, touched, ""
}

func parentExists(item Item, path docPath) bool {
	_, ok := resolve(item, path[:len(path)-1])
	return ok
}

// project returns the parts of item named by paths (nested paths keep their shape;
// list elements picked by index are packed in order, as DynamoDB does).
func project(item Item, paths []docPath) Item {
	out := Item{}
	for _, p := range paths {
		v, ok := resolve(item, p)
		if !ok {
			continue
		}
		if len(p) == 1 {
			out[p[0].name] = v.clone()
			continue
		}
		top, had := out[p[0].name]
		if !had {
			src := item[p[0].name]
			top = emptyLike(src)
		}
		out[p[0].name] = mergeAt(top, item[p[0].name], p[1:], v)
	}
	return out
}

func emptyLike(v AV) AV {
	if v.Kind == KindL {
		return AV{Kind: KindL, L: []AV{}}
	}
	return AV{Kind: KindM, M: map[string]AV{}}
}

func mergeAt(dst, src AV, path docPath, v AV) AV {
	e := path[0]
	if e.isIndex {
		if len(path) == 1 {
			dst.L = append(dst.L, v.clone())
			return dst
		}
		child := emptyLike(src.L[e.index])
		dst.L = append(dst.L, mergeAt(child, src.L[e.index], path[1:], v))
		return dst
	}
	if dst.M == nil {
		dst = AV{Kind: KindM, M: map[string]AV{}}
	}
	if len(path) == 1 {
		dst.M[e.name] = v.clone()
		return dst
	}
	child, ok := dst.M[e.name]
	if !ok {
		child = emptyLike(src.M[e.name])
	}
	dst.M[e.name] = mergeAt(child, src.M[e.name], path[1:], v)
	return dst
}

// removalOrder orders REMOVE actions so that elements of one list go from the highest
// index down: the indexes all name positions in the old item, as DynamoDB reads them.
func removalOrder(rs []updateAction) []updateAction {
	key := func(p docPath) string {
		last := p[len(p)-1]
		if !last.isIndex {
			return p.String()
		}
		return p[:len(p)-1].String() + "\x00" + strconv.FormatInt(int64(math.MaxInt32-last.index), 10)
	}
	out := slices.Clone(rs)
	sort.SliceStable(out, func(i, j int) bool { return key(out[i].path) < key(out[j].path) })
	return out
}
