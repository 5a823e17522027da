package dynamoapi

import (
	"fmt"
	"strconv"
	"strings"
)

// The expression grammar of DynamoDB's documentation ("Condition and filter expressions",
// "Update expressions", "Projection expressions", "Key condition expressions"):
//
//	condition  := or
//	or         := and { OR and }
//	and        := not { AND not }
//	not        := NOT not | primary
//	primary    := '(' condition ')' | function | operand cmp operand
//	              | operand BETWEEN operand AND operand | operand IN '(' operand {',' operand} ')'
//	function   := attribute_exists(path) | attribute_not_exists(path) | attribute_type(path, :v)
//	              | begins_with(path, operand) | contains(path, operand)
//	operand    := path | :value | size(path)
//	path       := name { '.' name | '[' digits ']' }      name := identifier | #placeholder
//	update     := clause { clause }  (each of SET, REMOVE, ADD, DELETE at most once)
//	SET        := SET path '=' value { ',' path '=' value }
//	value      := term [ ('+'|'-') term ]
//	term       := operand | if_not_exists(path, value) | list_append(value, value)
//	REMOVE     := REMOVE path { ',' path }
//	ADD/DELETE := ADD path :value { ',' path :value }
//
// Keywords are case-insensitive; function names are not. Placeholders are resolved while
// parsing, and the names and values used are recorded so that the request can reject
// unused or undefined ones as DynamoDB does.

// pathElem is one step of a document path: a name or a list index.
type pathElem struct {
	name    string
	index   int
	isIndex bool
}

type docPath []pathElem

func (p docPath) String() string {
	var b strings.Builder
	for i, e := range p {
		if e.isIndex {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	return b.String()
}

// operand kinds
type operand struct {
	kind   opKind
	path   docPath
	value  AV
	a, b   *operand // arithmetic, list_append, if_not_exists (b only)
	minus  bool
	lexeme string
}

type opKind uint8

const (
	opPath opKind = iota
	opValue
	opSize
	opIfNotExists
	opListAppend
	opArith
)

type condKind uint8

const (
	cCmp condKind = iota
	cBetween
	cIn
	cExists
	cNotExists
	cType
	cBeginsWith
	cContains
	cAnd
	cOr
	cNot
)

type cond struct {
	kind condKind
	cmp  string // = <> < <= > >=
	x    *operand
	args []*operand
	l, r *cond
}

type updateAction struct {
	path  docPath
	value *operand // SET value, ADD/DELETE operand
}

type updateExpr struct {
	set, remove, add, del []updateAction
}

// exprCtx resolves placeholders and records which were used.
type exprCtx struct {
	names     map[string]string
	values    map[string]AV
	usedNames map[string]bool
	usedVals  map[string]bool
}

func newExprCtx(names map[string]string, values map[string]AV) *exprCtx {
	return &exprCtx{names: names, values: values, usedNames: map[string]bool{}, usedVals: map[string]bool{}}
}

type token struct {
	kind byte // 'i' identifier, '#' name, ':' value, 'n' number, 'p' punctuation, 0 end
	text string
	pos  int
}

type parser struct {
	what string // "ConditionExpression", …
	src  string
	toks []token
	i    int
	ctx  *exprCtx
	err  string
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func lex(src string) ([]token, string) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Sprintf("Syntax error; token: %q, near: %q", string(c), near(src, i))
			}
			toks = append(toks, token{kind: c, text: src[i:j], pos: i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j < len(src) && isIdentChar(src[j]) {
				for j < len(src) && isIdentChar(src[j]) {
					j++
				}
				toks = append(toks, token{kind: 'i', text: src[i:j], pos: i})
			} else {
				toks = append(toks, token{kind: 'n', text: src[i:j], pos: i})
			}
			i = j
		case isIdentChar(c):
			j := i
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{kind: 'i', text: src[i:j], pos: i})
			i = j
		case c == '<' && i+1 < len(src) && (src[i+1] == '>' || src[i+1] == '='):
			toks = append(toks, token{kind: 'p', text: src[i : i+2], pos: i})
			i += 2
		case c == '>' && i+1 < len(src) && src[i+1] == '=':
			toks = append(toks, token{kind: 'p', text: ">=", pos: i})
			i += 2
		case strings.IndexByte("()[],.=<>+-", c) >= 0:
			toks = append(toks, token{kind: 'p', text: string(c), pos: i})
			i++
		default:
			return nil, fmt.Sprintf("Invalid character encountered; character: %q, near: %q", string(c), near(src, i))
		}
	}
	return append(toks, token{pos: len(src)}), ""
}

func near(src string, pos int) string {
	lo, hi := max(pos-8, 0), min(pos+8, len(src))
	return src[lo:hi]
}

func newParser(what, src string, ctx *exprCtx) (*parser, string) {
	toks, msg := lex(src)
	if msg != "" {
		return nil, "Invalid " + what + ": " + msg
	}
	return &parser{what: what, src: src, toks: toks, ctx: ctx}, ""
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != 0 {
		p.i++
	}
	return t
}

func (p *parser) fail(t token) {
	if p.err != "" {
		return
	}
	if t.kind == 0 {
		p.err = fmt.Sprintf("Invalid %s: Syntax error; token: \"<EOF>\", near: %q", p.what, near(p.src, t.pos))
		return
	}
	p.err = fmt.Sprintf("Invalid %s: Syntax error; token: %q, near: %q", p.what, t.text, near(p.src, t.pos))
}

func (p *parser) failMsg(msg string) {
	if p.err == "" {
		p.err = "Invalid " + p.what + ": " + msg
	}
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == 'i' && strings.EqualFold(t.text, kw)
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == 'p' && t.text == s
}

func (p *parser) expectPunct(s string) bool {
	if !p.isPunct(s) {
		p.fail(p.peek())
		return false
	}
	p.next()
	return true
}

// parsePath parses a document path; the first token must be a name.
func (p *parser) parsePath() docPath {
	var path docPath
	name, ok := p.parseName()
	if !ok {
		return nil
	}
	path = append(path, pathElem{name: name})
	for p.err == "" {
		switch {
		case p.isPunct("."):
			p.next()
			n, ok := p.parseName()
			if !ok {
				return nil
			}
			path = append(path, pathElem{name: n})
		case p.isPunct("["):
			p.next()
			t := p.next()
			if t.kind != 'n' {
				p.fail(t)
				return nil
			}
			n, err := strconv.Atoi(t.text)
			if err != nil {
				p.fail(t)
				return nil
			}
			if !p.expectPunct("]") {
				return nil
			}
			path = append(path, pathElem{index: n, isIndex: true})
		default:
			return path
		}
	}
	return nil
}

func (p *parser) parseName() (string, bool) {
	t := p.next()
	switch t.kind {
	case 'i':
		if t.text[0] >= '0' && t.text[0] <= '9' {
			p.fail(t)
			return "", false
		}
		return t.text, true
	case '#':
		v, ok := p.ctx.names[t.text]
		if !ok {
			p.failMsg("An expression attribute name used in the document path is not defined; attribute name: " + t.text)
			return "", false
		}
		p.ctx.usedNames[t.text] = true
		return v, true
	}
	p.fail(t)
	return "", false
}

func (p *parser) parseValueRef() *operand {
	t := p.next()
	if t.kind != ':' {
		p.fail(t)
		return nil
	}
	v, ok := p.ctx.values[t.text]
	if !ok {
		p.failMsg("An expression attribute value used in expression is not defined; attribute value: " + t.text)
		return nil
	}
	p.ctx.usedVals[t.text] = true
	return &operand{kind: opValue, value: v, lexeme: t.text}
}

// parseOperand parses path | :value | size(path).
func (p *parser) parseOperand() *operand {
	t := p.peek()
	switch t.kind {
	case ':':
		return p.parseValueRef()
	case 'i':
		if p.toks[p.i+1].kind == 'p' && p.toks[p.i+1].text == "(" {
			if t.text != "size" {
				p.failMsg("Invalid function name; function: " + t.text)
				return nil
			}
			p.next()
			p.next()
			path := p.parsePath()
			if p.err != "" || !p.expectPunct(")") {
				return nil
			}
			return &operand{kind: opSize, path: path, lexeme: "size"}
		}
		fallthrough
	case '#':
		path := p.parsePath()
		if p.err != "" {
			return nil
		}
		return &operand{kind: opPath, path: path}
	}
	p.fail(t)
	return nil
}

func (p *parser) parseCondition() *cond {
	l := p.parseAnd()
	for p.err == "" && p.isKeyword("OR") {
		p.next()
		r := p.parseAnd()
		l = &cond{kind: cOr, l: l, r: r}
	}
	return l
}

func (p *parser) parseAnd() *cond {
	l := p.parseNot()
	for p.err == "" && p.isKeyword("AND") {
		p.next()
		r := p.parseNot()
		l = &cond{kind: cAnd, l: l, r: r}
	}
	return l
}

func (p *parser) parseNot() *cond {
	if p.isKeyword("NOT") {
		p.next()
		return &cond{kind: cNot, l: p.parseNot()}
	}
	return p.parsePrimary()
}

var condFuncs = map[string]condKind{
	"attribute_exists":     cExists,
	"attribute_not_exists": cNotExists,
	"attribute_type":       cType,
	"begins_with":          cBeginsWith,
	"contains":             cContains,
}

func (p *parser) parsePrimary() *cond {
	if p.err != "" {
		return nil
	}
	if p.isPunct("(") {
		p.next()
		c := p.parseCondition()
		if !p.expectPunct(")") {
			return nil
		}
		return c
	}
	t := p.peek()
	if t.kind == 'i' && p.toks[p.i+1].kind == 'p' && p.toks[p.i+1].text == "(" && t.text != "size" {
		kind, ok := condFuncs[t.text]
		if !ok {
			p.failMsg("Invalid function name; function: " + t.text)
			return nil
		}
		p.next()
		p.next()
		path := p.parsePath()
		if p.err != "" {
			return nil
		}
		c := &cond{kind: kind, x: &operand{kind: opPath, path: path}}
		switch kind {
		case cType, cBeginsWith, cContains:
			if !p.expectPunct(",") {
				return nil
			}
			var arg *operand
			if kind == cType {
				arg = p.parseValueRef()
			} else {
				arg = p.parseOperand()
			}
			if p.err != "" {
				return nil
			}
			c.args = []*operand{arg}
			if kind == cType && (arg.value.Kind != KindS || kindByName(arg.value.S) == KindNone) {
				p.failMsg(fmt.Sprintf("Invalid attribute type name found; type: %s, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }", arg.value.S))
				return nil
			}
		}
		if !p.expectPunct(")") {
			return nil
		}
		return c
	}
	x := p.parseOperand()
	if p.err != "" {
		return nil
	}
	switch {
	case p.isKeyword("BETWEEN"):
		p.next()
		lo := p.parseOperand()
		if p.err != "" {
			return nil
		}
		if !p.isKeyword("AND") {
			p.fail(p.peek())
			return nil
		}
		p.next()
		hi := p.parseOperand()
		if p.err != "" {
			return nil
		}
		return &cond{kind: cBetween, x: x, args: []*operand{lo, hi}}
	case p.isKeyword("IN"):
		p.next()
		if !p.expectPunct("(") {
			return nil
		}
		var list []*operand
		for {
			o := p.parseOperand()
			if p.err != "" {
				return nil
			}
			list = append(list, o)
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
		if !p.expectPunct(")") {
			return nil
		}
		if len(list) > 100 {
			p.failMsg("The IN operator is provided with too many operands; number of operands: " + strconv.Itoa(len(list)))
			return nil
		}
		return &cond{kind: cIn, x: x, args: list}
	}
	t = p.peek()
	if t.kind == 'p' {
		switch t.text {
		case "=", "<>", "<", "<=", ">", ">=":
			p.next()
			y := p.parseOperand()
			if p.err != "" {
				return nil
			}
			return &cond{kind: cCmp, cmp: t.text, x: x, args: []*operand{y}}
		}
	}
	if x.kind == opSize && p.err == "" {
		p.failMsg("The function is not allowed to be used this way in an expression; function: size")
		return nil
	}
	p.fail(t)
	return nil
}

// parseConditionExpr parses a full condition (ConditionExpression, FilterExpression,
// KeyConditionExpression); the message is DynamoDB's ValidationException text.
func parseConditionExpr(what, src string, ctx *exprCtx) (*cond, string) {
	if strings.TrimSpace(src) == "" {
		return nil, "Invalid " + what + ": The expression can not be empty;"
	}
	p, msg := newParser(what, src, ctx)
	if msg != "" {
		return nil, msg
	}
	c := p.parseCondition()
	if p.err == "" && p.peek().kind != 0 {
		p.fail(p.peek())
	}
	if p.err != "" {
		return nil, p.err
	}
	return c, ""
}

// parseProjection parses a ProjectionExpression: paths separated by commas.
func parseProjection(src string, ctx *exprCtx) ([]docPath, string) {
	const what = "ProjectionExpression"
	if strings.TrimSpace(src) == "" {
		return nil, "Invalid " + what + ": The expression can not be empty;"
	}
	p, msg := newParser(what, src, ctx)
	if msg != "" {
		return nil, msg
	}
	var out []docPath
	for {
		path := p.parsePath()
		if p.err != "" {
			return nil, p.err
		}
		out = append(out, path)
		if p.isPunct(",") {
			p.next()
			continue
		}
		break
	}
	if p.peek().kind != 0 {
		p.fail(p.peek())
		return nil, p.err
	}
	if m := overlapping(out); m != "" {
		return nil, "Invalid " + what + ": " + m
	}
	return out, ""
}

// parseUpdate parses an UpdateExpression.
func parseUpdate(src string, ctx *exprCtx) (*updateExpr, string) {
	const what = "UpdateExpression"
	if strings.TrimSpace(src) == "" {
		return nil, "Invalid " + what + ": The expression can not be empty;"
	}
	p, msg := newParser(what, src, ctx)
	if msg != "" {
		return nil, msg
	}
	u := &updateExpr{}
	seen := map[string]bool{}
	for p.err == "" && p.peek().kind != 0 {
		t := p.next()
		kw := strings.ToUpper(t.text)
		if t.kind != 'i' || (kw != "SET" && kw != "REMOVE" && kw != "ADD" && kw != "DELETE") {
			p.fail(t)
			break
		}
		if seen[kw] {
			p.failMsg("The \"" + kw + "\" section can only be used once in an update expression;")
			break
		}
		seen[kw] = true
		for p.err == "" {
			path := p.parsePath()
			if p.err != "" {
				break
			}
			switch kw {
			case "SET":
				if !p.expectPunct("=") {
					break
				}
				v := p.parseSetValue()
				u.set = append(u.set, updateAction{path: path, value: v})
			case "REMOVE":
				u.remove = append(u.remove, updateAction{path: path})
			case "ADD", "DELETE":
				v := p.parseValueRef()
				if kw == "ADD" {
					u.add = append(u.add, updateAction{path: path, value: v})
				} else {
					u.del = append(u.del, updateAction{path: path, value: v})
				}
			}
			if p.err == "" && p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
	}
	if p.err != "" {
		return nil, p.err
	}
	var all []docPath
	for _, l := range [][]updateAction{u.set, u.remove, u.add, u.del} {
		for _, a := range l {
			all = append(all, a.path)
		}
	}
	if m := overlapping(all); m != "" {
		return nil, "Invalid " + what + ": " + m
	}
	return u, ""
}

func (p *parser) parseSetValue() *operand {
	a := p.parseSetTerm()
	if p.err != "" {
		return nil
	}
	if p.isPunct("+") || p.isPunct("-") {
		minus := p.next().text == "-"
		b := p.parseSetTerm()
		if p.err != "" {
			return nil
		}
		return &operand{kind: opArith, a: a, b: b, minus: minus}
	}
	return a
}

func (p *parser) parseSetTerm() *operand {
	t := p.peek()
	if t.kind == 'i' && p.toks[p.i+1].kind == 'p' && p.toks[p.i+1].text == "(" {
		switch t.text {
		case "if_not_exists":
			p.next()
			p.next()
			path := p.parsePath()
			if p.err != "" || !p.expectPunct(",") {
				return nil
			}
			v := p.parseSetValue()
			if p.err != "" || !p.expectPunct(")") {
				return nil
			}
			return &operand{kind: opIfNotExists, path: path, b: v, lexeme: t.text}
		case "list_append":
			p.next()
			p.next()
			a := p.parseSetValue()
			if p.err != "" || !p.expectPunct(",") {
				return nil
			}
			b := p.parseSetValue()
			if p.err != "" || !p.expectPunct(")") {
				return nil
			}
			return &operand{kind: opListAppend, a: a, b: b, lexeme: t.text}
		case "size":
			p.failMsg("The function is not allowed in an update expression; function: size")
			return nil
		default:
			p.failMsg("Invalid function name; function: " + t.text)
			return nil
		}
	}
	return p.parseOperand()
}

// overlapping reports the first pair of paths where one is a prefix of the other, in
// DynamoDB's words.
func overlapping(paths []docPath) string {
	for i := range paths {
		for j := i + 1; j < len(paths); j++ {
			a, b := paths[i], paths[j]
			n := min(len(a), len(b))
			same := true
			for k := 0; k < n; k++ {
				if a[k] != b[k] {
					same = false
					break
				}
			}
			if same {
				return fmt.Sprintf("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: %s, path two: %s", pathList(a), pathList(b))
			}
		}
	}
	return ""
}

func pathList(p docPath) string {
	parts := make([]string, len(p))
	for i, e := range p {
		if e.isIndex {
			parts[i] = "[" + strconv.Itoa(e.index) + "]"
		} else {
			parts[i] = e.name
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
