package dynamoapi

import (
	"sort"
	"strings"
)

// The legacy (pre-expression) parameters, translated into the expression trees.

type expectedWire struct {
	Value              *AV    `json:"Value"`
	Exists             *bool  `json:"Exists"`
	ComparisonOperator string `json:"ComparisonOperator"`
	AttributeValueList []AV   `json:"AttributeValueList"`
}

type attrUpdateWire struct {
	Value  *AV    `json:"Value"`
	Action string `json:"Action"`
}

type conditionWire struct {
	ComparisonOperator string `json:"ComparisonOperator"`
	AttributeValueList []AV   `json:"AttributeValueList"`
}

func pathOf(name string) *operand {
	return &operand{kind: opPath, path: docPath{{name: name}}}
}

func valueOf(v AV) *operand { return &operand{kind: opValue, value: v} }

func sortedNames[T any](m map[string]T) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// comparison builds the tree of one legacy ComparisonOperator on attribute name.
func comparison(name, op string, vals []AV) (*cond, string) {
	want := map[string]int{"EQ": 1, "NE": 1, "LE": 1, "LT": 1, "GE": 1, "GT": 1, "NOT_NULL": 0, "NULL": 0,
		"CONTAINS": 1, "NOT_CONTAINS": 1, "BEGINS_WITH": 1, "IN": -1, "BETWEEN": 2}
	n, ok := want[op]
	if !ok {
		return nil, "1 validation error detected: Value '" + op + "' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
	}
	if (n >= 0 && len(vals) != n) || (n < 0 && len(vals) == 0) {
		return nil, "One or more parameter values were invalid: Invalid number of argument(s) for the " + op + " ComparisonOperator"
	}
	p := pathOf(name)
	switch op {
	case "EQ", "NE", "LE", "LT", "GE", "GT":
		sym := map[string]string{"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}[op]
		return &cond{kind: cCmp, cmp: sym, x: p, args: []*operand{valueOf(vals[0])}}, ""
	case "NOT_NULL":
		return &cond{kind: cExists, x: p}, ""
	case "NULL":
		return &cond{kind: cNotExists, x: p}, ""
	case "CONTAINS":
		return &cond{kind: cContains, x: p, args: []*operand{valueOf(vals[0])}}, ""
	case "NOT_CONTAINS":
		return &cond{kind: cAnd, l: &cond{kind: cExists, x: p},
			r: &cond{kind: cNot, l: &cond{kind: cContains, x: p, args: []*operand{valueOf(vals[0])}}}}, ""
	case "BEGINS_WITH":
		return &cond{kind: cBeginsWith, x: p, args: []*operand{valueOf(vals[0])}}, ""
	case "IN":
		args := make([]*operand, len(vals))
		for i, v := range vals {
			args[i] = valueOf(v)
		}
		return &cond{kind: cIn, x: p, args: args}, ""
	case "BETWEEN":
		return &cond{kind: cBetween, x: p, args: []*operand{valueOf(vals[0]), valueOf(vals[1])}}, ""
	}
	return nil, "unsupported ComparisonOperator " + op
}

func join(cs []*cond, or bool) *cond {
	var out *cond
	for _, c := range cs {
		if out == nil {
			out = c
			continue
		}
		k := cAnd
		if or {
			k = cOr
		}
		out = &cond{kind: k, l: out, r: c}
	}
	return out
}

func conditionalOperator(op string) (bool, string) {
	switch op {
	case "", "AND":
		return false, ""
	case "OR":
		return true, ""
	}
	return false, "1 validation error detected: Value '" + op + "' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]"
}

// expectedCond translates Expected (with ConditionalOperator).
func expectedCond(exp map[string]expectedWire, condOp string) (*cond, string) {
	or, msg := conditionalOperator(condOp)
	if msg != "" {
		return nil, msg
	}
	var cs []*cond
	for _, name := range sortedNames(exp) {
		e := exp[name]
		if e.ComparisonOperator != "" {
			if e.Value != nil {
				return nil, "One or more parameter values were invalid: Value and AttributeValueList cannot be used together for Attribute: " + name
			}
			if e.Exists != nil {
				return nil, "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: " + name
			}
			c, msg := comparison(name, e.ComparisonOperator, e.AttributeValueList)
			if msg != "" {
				return nil, msg
			}
			cs = append(cs, c)
			continue
		}
		if len(e.AttributeValueList) > 0 {
			return nil, "One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: " + name
		}
		exists := e.Exists == nil || *e.Exists
		switch {
		case !exists && e.Value != nil:
			return nil, "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: " + name
		case !exists:
			cs = append(cs, &cond{kind: cNotExists, x: pathOf(name)})
		case e.Value == nil:
			return nil, "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: " + name
		default:
			cs = append(cs, &cond{kind: cCmp, cmp: "=", x: pathOf(name), args: []*operand{valueOf(*e.Value)}})
		}
	}
	return join(cs, or), ""
}

// filterCond translates QueryFilter/ScanFilter (with ConditionalOperator).
func filterCond(f map[string]conditionWire, condOp string) (*cond, string) {
	or, msg := conditionalOperator(condOp)
	if msg != "" {
		return nil, msg
	}
	var cs []*cond
	for _, name := range sortedNames(f) {
		c, msg := comparison(name, f[name].ComparisonOperator, f[name].AttributeValueList)
		if msg != "" {
			return nil, msg
		}
		cs = append(cs, c)
	}
	return join(cs, or), ""
}

// attributeUpdates translates AttributeUpdates into an update tree.
func attributeUpdates(m *tableMeta, ups map[string]attrUpdateWire) (*updateExpr, string) {
	u := &updateExpr{}
	for _, name := range sortedNames(ups) {
		a := ups[name]
		if name == m.hashKey() || name == m.rangeKey() {
			return nil, "One or more parameter values were invalid: Cannot update attribute " + name + ". This attribute is part of the key"
		}
		p := docPath{{name: name}}
		action := a.Action
		if action == "" {
			action = "PUT"
		}
		switch action {
		case "PUT":
			if a.Value == nil {
				return nil, "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
			}
			u.set = append(u.set, updateAction{path: p, value: valueOf(*a.Value)})
		case "DELETE":
			if a.Value == nil {
				u.remove = append(u.remove, updateAction{path: p})
			} else {
				if !isSet(a.Value.Kind) {
					return nil, "One or more parameter values were invalid: DELETE action with value is not supported for the type " + typeName(a.Value.Kind)
				}
				u.del = append(u.del, updateAction{path: p, value: valueOf(*a.Value)})
			}
		case "ADD":
			if a.Value == nil {
				return nil, "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
			}
			if a.Value.Kind != KindN && !isSet(a.Value.Kind) && a.Value.Kind != KindL {
				return nil, "One or more parameter values were invalid: ADD action is not supported for the type " + typeName(a.Value.Kind)
			}
			u.add = append(u.add, updateAction{path: p, value: valueOf(*a.Value)})
		default:
			return nil, "1 validation error detected: Value '" + action + "' at 'attributeUpdates." + name + ".member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
		}
	}
	return u, ""
}

// mixed is DynamoDB's error for a request that uses both parameter styles.
func mixed(legacy, expr []string) string {
	return "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {" +
		strings.Join(legacy, ", ") + "} Expression parameters: {" + strings.Join(expr, ", ") + "}"
}
