package dynamoapi

import (
	"hash/fnv"
	"sort"
)

// maxPageBytes is DynamoDB's 1 MB page of evaluated items.
const maxPageBytes = 1 << 20

type readIn struct {
	tableNameIn
	exprParams
	IndexName              *string                  `json:"IndexName"`
	Select                 string                   `json:"Select"`
	Limit                  *int                     `json:"Limit"`
	ConsistentRead         bool                     `json:"ConsistentRead"`
	ExclusiveStartKey      Item                     `json:"ExclusiveStartKey"`
	ProjectionExpression   *string                  `json:"ProjectionExpression"`
	AttributesToGet        []string                 `json:"AttributesToGet"`
	FilterExpression       *string                  `json:"FilterExpression"`
	ConditionalOperator    string                   `json:"ConditionalOperator"`
	KeyConditionExpression *string                  `json:"KeyConditionExpression"`
	KeyConditions          map[string]conditionWire `json:"KeyConditions"`
	QueryFilter            map[string]conditionWire `json:"QueryFilter"`
	ScanFilter             map[string]conditionWire `json:"ScanFilter"`
	ScanIndexForward       *bool                    `json:"ScanIndexForward"`
	Segment                *int                     `json:"Segment"`
	TotalSegments          *int                     `json:"TotalSegments"`
}

// view is the key schema a read walks: the table's or a GSI's.
type view struct {
	meta  *tableMeta
	gsi   *gsiMeta
	hash  string
	rng   string
	names []string // every key attribute of the view and the table, for LastEvaluatedKey
}

func newView(m *tableMeta, g *gsiMeta) view {
	v := view{meta: m, gsi: g, hash: m.hashKey(), rng: m.rangeKey()}
	if g != nil {
		v.hash = g.KeySchema[0].AttributeName
		v.rng = ""
		if len(g.KeySchema) > 1 {
			v.rng = g.KeySchema[1].AttributeName
		}
	}
	seen := map[string]bool{}
	for _, n := range []string{v.hash, v.rng, m.hashKey(), m.rangeKey()} {
		if n != "" && !seen[n] {
			seen[n] = true
			v.names = append(v.names, n)
		}
	}
	return v
}

// in reports whether it appears in the view (a GSI holds only items with its keys).
func (v view) in(it Item) bool {
	if v.gsi == nil {
		return true
	}
	if _, ok := it[v.hash]; !ok {
		return false
	}
	if v.rng != "" {
		if _, ok := it[v.rng]; !ok {
			return false
		}
	}
	return true
}

// cmp orders items of the view: its hash, its range, then the table's keys.
func (v view) cmp(a, b Item) int {
	for _, n := range v.names {
		if c := avOrder(a[n], b[n]); c != 0 {
			return c
		}
	}
	return 0
}

func (v view) rangeCmp(a, b Item) int {
	if v.rng != "" {
		if c := avOrder(a[v.rng], b[v.rng]); c != 0 {
			return c
		}
	}
	for _, n := range v.names {
		if n == v.hash || n == v.rng {
			continue
		}
		if c := avOrder(a[n], b[n]); c != 0 {
			return c
		}
	}
	return 0
}

// projectView applies the GSI projection (KEYS_ONLY, INCLUDE) to it.
func (v view) projectView(it Item) Item {
	if v.gsi == nil || v.gsi.Projection.ProjectionType == "ALL" {
		return it
	}
	out := Item{}
	for _, n := range v.names {
		if x, ok := it[n]; ok {
			out[n] = x
		}
	}
	for _, n := range v.gsi.Projection.NonKeyAttributes {
		if x, ok := it[n]; ok {
			out[n] = x
		}
	}
	return out
}

func (v view) lastKey(it Item) Item {
	out := Item{}
	for _, n := range v.names {
		if x, ok := it[n]; ok {
			out[n] = x
		}
	}
	return out
}

// keyCond is a parsed key condition: hash = value [AND range condition].
type keyCond struct {
	hash AV
	rng  *cond
}

func (r *req) keyCondition(v view, in *readIn, ctx *exprCtx) (keyCond, *apiError) {
	var kc keyCond
	var parts []*cond
	switch {
	case in.KeyConditionExpression != nil && in.KeyConditions != nil:
		return kc, validation(mixed([]string{"KeyConditions"}, []string{"KeyConditionExpression"}))
	case in.KeyConditionExpression != nil:
		c, msg := parseConditionExpr("KeyConditionExpression", *in.KeyConditionExpression, ctx)
		if msg != "" {
			return kc, validation(msg)
		}
		var flatten func(c *cond) bool
		flatten = func(c *cond) bool {
			if c.kind == cAnd {
				return flatten(c.l) && flatten(c.r)
			}
			parts = append(parts, c)
			return true
		}
		flatten(c)
	case in.KeyConditions != nil:
		for _, name := range sortedNames(in.KeyConditions) {
			kcw := in.KeyConditions[name]
			c, msg := comparison(name, kcw.ComparisonOperator, kcw.AttributeValueList)
			if msg != "" {
				return kc, validation(msg)
			}
			parts = append(parts, c)
		}
	default:
		return kc, validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	if len(parts) > 2 {
		return kc, validation("Conditions can be of length 1 or 2 only")
	}
	var hashSeen bool
	for _, c := range parts {
		name, ok := keyCondAttr(c)
		if !ok {
			return kc, validation("Invalid operator used in KeyConditionExpression: " + condName(c))
		}
		switch name {
		case v.hash:
			if c.kind != cCmp || c.cmp != "=" {
				return kc, validation("Query key condition not supported")
			}
			kc.hash = c.args[0].value
			hashSeen = true
		case v.rng:
			if c.kind == cCmp && c.cmp == "<>" {
				return kc, validation("Query key condition not supported")
			}
			if kc.rng != nil {
				return kc, validation("KeyConditionExpressions must only contain one condition per key")
			}
			kc.rng = c
		default:
			return kc, validation("Query condition missed key schema element: " + v.hash)
		}
	}
	if !hashSeen {
		return kc, validation("Query condition missed key schema element: " + v.hash)
	}
	if kc.hash.Kind.String() != v.meta.attrType(v.hash) {
		return kc, validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
	}
	return kc, nil
}

func condName(c *cond) string {
	switch c.kind {
	case cOr:
		return "OR"
	case cNot:
		return "NOT"
	case cIn:
		return "IN"
	case cExists:
		return "attribute_exists"
	case cNotExists:
		return "attribute_not_exists"
	case cContains:
		return "contains"
	case cType:
		return "attribute_type"
	}
	return c.cmp
}

// keyCondAttr returns the key attribute a key-condition part constrains.
func keyCondAttr(c *cond) (string, bool) {
	switch c.kind {
	case cCmp, cBetween, cBeginsWith:
	default:
		return "", false
	}
	if c.x.kind != opPath || len(c.x.path) != 1 {
		return "", false
	}
	for _, a := range c.args {
		if a.kind != opValue {
			return "", false
		}
	}
	return c.x.path[0].name, true
}

func opQuery(r *req) (any, *apiError) { return r.read(true) }
func opScan(r *req) (any, *apiError)  { return r.read(false) }

// read serves Query (query) and Scan.
func (r *req) read(query bool) (any, *apiError) {
	var in readIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in.tableNameIn)
	if e != nil {
		return nil, e
	}
	if in.Limit != nil && *in.Limit < 1 {
		return nil, validation("1 validation error detected: Value '" + itoa(*in.Limit) + "' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
	}
	if !query {
		if in.KeyConditionExpression != nil || in.KeyConditions != nil || in.QueryFilter != nil || in.ScanIndexForward != nil {
			return nil, validation("Scan takes no KeyConditionExpression, KeyConditions, QueryFilter or ScanIndexForward")
		}
		if (in.Segment == nil) != (in.TotalSegments == nil) {
			return nil, validation("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
		}
		if in.TotalSegments != nil {
			if *in.TotalSegments < 1 || *in.TotalSegments > 1000000 {
				return nil, validation("1 validation error detected: Value '" + itoa(*in.TotalSegments) + "' at 'totalSegments' failed to satisfy constraint: Member must have value between 1 and 1000000")
			}
			if *in.Segment < 0 || *in.Segment >= *in.TotalSegments {
				return nil, validation("The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: " + itoa(*in.Segment) + " is not less than TotalSegments: " + itoa(*in.TotalSegments))
			}
		}
	} else if in.ScanFilter != nil || in.Segment != nil || in.TotalSegments != nil {
		return nil, validation("Query takes no ScanFilter, Segment or TotalSegments")
	}

	t.mu.RLock()
	meta := t.meta
	t.mu.RUnlock()
	var g *gsiMeta
	if in.IndexName != nil {
		g = meta.gsi(*in.IndexName)
		if g == nil {
			return nil, validation("The table does not have the specified index: " + *in.IndexName)
		}
		if in.ConsistentRead {
			return nil, validation("Consistent reads are not supported on global secondary indexes")
		}
	}
	v := newView(&meta, g)
	switch in.Select {
	case "", "ALL_ATTRIBUTES", "COUNT", "SPECIFIC_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES":
	default:
		return nil, validation("1 validation error detected: Value '" + in.Select + "' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]")
	}
	if in.Select == "ALL_ATTRIBUTES" && g != nil && g.Projection.ProjectionType != "ALL" {
		return nil, validation("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index " + g.IndexName + " because its projection type is not ALL")
	}
	if in.Select == "ALL_PROJECTED_ATTRIBUTES" && g == nil {
		return nil, validation("One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries")
	}
	if in.Select != "" && in.Select != "SPECIFIC_ATTRIBUTES" && (in.ProjectionExpression != nil || in.AttributesToGet != nil) {
		return nil, validation("One or more parameter values were invalid: Cannot specify the AttributesToGet when choosing to get " + in.Select)
	}

	ctx := newExprCtx(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	var kc keyCond
	if query {
		if kc, e = r.keyCondition(v, &in, ctx); e != nil {
			return nil, e
		}
	}
	paths, e := projectionOf(in.ProjectionExpression, in.AttributesToGet, ctx)
	if e != nil {
		return nil, e
	}
	legacyFilter := in.ScanFilter
	if query {
		legacyFilter = in.QueryFilter
	}
	var filter *cond
	switch {
	case in.FilterExpression != nil && legacyFilter != nil:
		return nil, validation(mixed([]string{"QueryFilter/ScanFilter"}, []string{"FilterExpression"}))
	case in.FilterExpression != nil:
		c, msg := parseConditionExpr("FilterExpression", *in.FilterExpression, ctx)
		if msg != "" {
			return nil, validation(msg)
		}
		filter = c
	case legacyFilter != nil:
		c, msg := filterCond(legacyFilter, in.ConditionalOperator)
		if msg != "" {
			return nil, validation(msg)
		}
		filter = c
	}
	anyExpr := in.FilterExpression != nil || in.KeyConditionExpression != nil || in.ProjectionExpression != nil
	if e := checkUnused(&in.exprParams, ctx, anyExpr); e != nil {
		return nil, e
	}
	if in.ExclusiveStartKey != nil {
		for _, n := range v.names {
			if _, ok := in.ExclusiveStartKey[n]; !ok {
				return nil, validation("The provided starting key is invalid: The provided key element does not match the schema")
			}
		}
		if query && !in.ExclusiveStartKey[v.hash].equal(kc.hash) {
			return nil, validation("The provided starting key is invalid: The provided key element does not match the schema")
		}
	}
	forward := in.ScanIndexForward == nil || *in.ScanIndexForward
	limit := -1
	if in.Limit != nil {
		limit = *in.Limit
	}

	t, unlock := r.lockTable(t, false)
	if t == nil {
		return nil, notFound()
	}
	var cands []Item
	if query {
		for _, it := range t.items {
			if !v.in(it) || !it[v.hash].equal(kc.hash) {
				continue
			}
			if kc.rng != nil && !evalCond(it, kc.rng) {
				continue
			}
			cands = append(cands, it)
		}
		sort.Slice(cands, func(i, j int) bool { return v.rangeCmp(cands[i], cands[j]) < 0 })
		if !forward {
			for i, j := 0, len(cands)-1; i < j; i, j = i+1, j-1 {
				cands[i], cands[j] = cands[j], cands[i]
			}
		}
	} else if g == nil {
		keys := t.sortedKeys()
		start := 0
		if in.ExclusiveStartKey != nil {
			start = sort.Search(len(keys), func(i int) bool { return v.cmp(t.items[keys[i]], in.ExclusiveStartKey) > 0 })
		}
		for _, k := range keys[start:] {
			cands = append(cands, t.items[k])
		}
	} else {
		for _, it := range t.items {
			if v.in(it) {
				cands = append(cands, it)
			}
		}
		sort.Slice(cands, func(i, j int) bool { return v.cmp(cands[i], cands[j]) < 0 })
	}
	seq, epoch := t.lastSeq, r.h.db.c.currentEpoch()
	unlock()

	if in.ExclusiveStartKey != nil && (query || g != nil) {
		i := 0
		for i < len(cands) {
			c := v.cmp(cands[i], in.ExclusiveStartKey)
			if query {
				c = v.rangeCmp(cands[i], in.ExclusiveStartKey)
				if !forward {
					c = -c
				}
			}
			if c > 0 {
				break
			}
			i++
		}
		cands = cands[i:]
	}
	if in.TotalSegments != nil {
		seg, total := uint32(*in.Segment), uint32(*in.TotalSegments)
		kept := cands[:0:0]
		for _, it := range cands {
			h := fnv.New32a()
			h.Write([]byte(keyString(it[v.hash])))
			if h.Sum32()%total == seg {
				kept = append(kept, it)
			}
		}
		cands = kept
	}
	if e := r.readBarrier(seq, epoch); e != nil {
		return nil, e
	}

	var items []Item
	scanned, bytes := 0, 0
	var last Item
	for i, it := range cands {
		if limit >= 0 && scanned >= limit || bytes >= maxPageBytes {
			last = v.lastKey(cands[i-1])
			break
		}
		scanned++
		bytes += it.size()
		pv := v.projectView(it)
		if filter != nil && !evalCond(pv, filter) {
			continue
		}
		if in.Select == "COUNT" {
			items = append(items, nil)
			continue
		}
		if paths != nil {
			pv = project(pv, paths)
		}
		items = append(items, pv)
	}
	out := map[string]any{"Count": len(items), "ScannedCount": scanned}
	if in.Select != "COUNT" {
		if items == nil {
			items = []Item{}
		}
		out["Items"] = items
	}
	if last != nil {
		out["LastEvaluatedKey"] = last
	}
	return out, nil
}
