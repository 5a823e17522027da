package dynamoapi

import (
	"strings"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// maxItemSize is DynamoDB's item size limit.
const maxItemSize = 400 << 10

// exprParams are the expression members shared by the item operations.
type exprParams struct {
	ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues map[string]AV     `json:"ExpressionAttributeValues"`
}

// checkUnused rejects names and values given but not used by any expression (and given
// with no expression at all), as DynamoDB does.
func checkUnused(p *exprParams, ctx *exprCtx, anyExpr bool) *apiError {
	if !anyExpr {
		if p.ExpressionAttributeNames != nil {
			return validation("ExpressionAttributeNames can only be specified when using expressions")
		}
		if p.ExpressionAttributeValues != nil {
			return validation("ExpressionAttributeValues can only be specified when using expressions")
		}
		return nil
	}
	if len(p.ExpressionAttributeValues) == 0 && p.ExpressionAttributeValues != nil {
		return validation("ExpressionAttributeValues must not be empty")
	}
	if len(p.ExpressionAttributeNames) == 0 && p.ExpressionAttributeNames != nil {
		return validation("ExpressionAttributeNames must not be empty")
	}
	var un []string
	for _, k := range sortedNames(p.ExpressionAttributeNames) {
		if !ctx.usedNames[k] {
			un = append(un, k)
		}
	}
	if len(un) > 0 {
		return validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {" + strings.Join(un, ", ") + "}")
	}
	var uv []string
	for _, k := range sortedNames(p.ExpressionAttributeValues) {
		if !ctx.usedVals[k] {
			uv = append(uv, k)
		}
	}
	if len(uv) > 0 {
		return validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {" + strings.Join(uv, ", ") + "}")
	}
	return nil
}

// checkKey validates a Key member against the table's key schema.
func checkKey(m *tableMeta, key Item) *apiError {
	want := 1
	if m.rangeKey() != "" {
		want = 2
	}
	if len(key) != want {
		return validation("The provided key element does not match the schema")
	}
	for _, k := range m.KeySchema {
		v, ok := key[k.AttributeName]
		if !ok || v.Kind.String() != m.attrType(k.AttributeName) {
			return validation("The provided key element does not match the schema")
		}
		if (v.Kind == KindS || v.Kind == KindB) && v.S == "" {
			return validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty " + map[Kind]string{KindS: "string", KindB: "binary"}[v.Kind] + " value. Key: " + k.AttributeName)
		}
	}
	return nil
}

// checkItem validates a whole item: the key attributes, index key types, the size.
func checkItem(m *tableMeta, it Item) *apiError {
	for _, k := range m.KeySchema {
		v, ok := it[k.AttributeName]
		if !ok {
			return validation("One or more parameter values were invalid: Missing the key " + k.AttributeName + " in the item")
		}
		if want := m.attrType(k.AttributeName); v.Kind.String() != want {
			return validation("One or more parameter values were invalid: Type mismatch for key " + k.AttributeName + " expected: " + want + " actual: " + v.Kind.String())
		}
		if (v.Kind == KindS || v.Kind == KindB) && v.S == "" {
			return validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty " + map[Kind]string{KindS: "string", KindB: "binary"}[v.Kind] + " value. Key: " + k.AttributeName)
		}
	}
	for _, g := range m.GSIs {
		for _, k := range g.KeySchema {
			v, ok := it[k.AttributeName]
			if !ok {
				continue
			}
			if want := m.attrType(k.AttributeName); v.Kind.String() != want {
				return validation("One or more parameter values were invalid: Type mismatch for Index Key " + k.AttributeName + " Expected: " + want + " Actual: " + v.Kind.String() + " IndexName: " + g.IndexName)
			}
			if (v.Kind == KindS || v.Kind == KindB) && v.S == "" {
				return validation("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: " + g.IndexName + ", IndexKey: " + k.AttributeName)
			}
		}
	}
	if it.size() > maxItemSize {
		return validation("Item size has exceeded the maximum allowed size")
	}
	return nil
}

// condSpec is the condition of a write, from ConditionExpression or Expected.
type condSpec struct {
	cond      *cond
	returnOld bool // ReturnValuesOnConditionCheckFailure ALL_OLD
}

func returnOnFailure(s string) (bool, *apiError) {
	switch s {
	case "", "NONE":
		return false, nil
	case "ALL_OLD":
		return true, nil
	}
	return false, validation("1 validation error detected: Value '" + s + "' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]")
}

// write runs one conditional write of key in t: under the table's lock it reads the
// item, checks the condition, computes the new item (nil deletes), applies it and queues
// its commit; then it waits for the commit. It returns the old and new items.
func (r *req) write(t *table, key Item, cs condSpec, compute func(old Item) (Item, *apiError)) (Item, Item, *apiError) {
	t, unlock := r.lockTable(t, true)
	if t == nil {
		return nil, nil, notFound()
	}
	m := &t.meta
	k := itemKey(m, key)
	old, had := t.items[k]
	if cs.cond != nil && !evalCond(old, cs.cond) {
		unlock()
		if cs.returnOld && had {
			return nil, nil, conditionFailed(old)
		}
		return nil, nil, conditionFailed(nil)
	}
	nw, e := compute(old)
	if e != nil {
		unlock()
		return nil, nil, e
	}
	if nw != nil {
		if e := checkItem(m, nw); e != nil {
			unlock()
			return nil, nil, e
		}
	}
	db := r.h.db
	delta := int64(nw.size() - old.size())
	if delta > 0 && db.total.Load()+delta > maxTotalBytes {
		unlock()
		return nil, nil, dynamoErr("ItemCollectionSizeLimitExceededException",
			"Sluice keeps DynamoDB tables in memory and they are at their limit (512 MiB of items in all tables)")
	}
	db.total.Add(delta)
	t.bytes += int(delta)
	bucket := itemsBucketPrefix + m.ID
	var p *pending
	if nw == nil {
		if !had {
			unlock()
			return nil, nil, nil
		}
		delete(t.items, k)
		t.sorted = nil
		p = db.c.enqueue(func(tx streamcore.MetaTx) error { return tx.Delete(bucket, k) })
	} else {
		if !had {
			t.sorted = nil
		}
		t.items[k] = nw
		raw := appendItemJSON(nil, nw)
		p = db.c.enqueue(func(tx streamcore.MetaTx) error { return tx.Put(bucket, k, raw) })
	}
	t.lastSeq = p.seq
	unlock()
	if err := <-p.done; err != nil {
		return nil, nil, internal(err)
	}
	if !had {
		old = nil
	}
	return old, nw, nil
}

// readBarrier waits until the writes a read of t (at seq, epoch) could see are durable.
func (r *req) readBarrier(seq, epoch uint64) *apiError {
	if !r.h.db.c.waitDurable(seq, epoch) {
		return &apiError{status: 500, typ: nsDynamo + "InternalServerError", msg: "Internal server error: the metadata store failed a commit; retry"}
	}
	return nil
}

type getItemIn struct {
	tableNameIn
	exprParams
	Key                  Item     `json:"Key"`
	ConsistentRead       bool     `json:"ConsistentRead"`
	ProjectionExpression *string  `json:"ProjectionExpression"`
	AttributesToGet      []string `json:"AttributesToGet"`
}

// projectionOf parses ProjectionExpression or AttributesToGet.
func projectionOf(pe *string, atg []string, ctx *exprCtx) ([]docPath, *apiError) {
	if pe != nil && atg != nil {
		return nil, validation(mixed([]string{"AttributesToGet"}, []string{"ProjectionExpression"}))
	}
	if pe != nil {
		paths, msg := parseProjection(*pe, ctx)
		if msg != "" {
			return nil, validation(msg)
		}
		return paths, nil
	}
	if atg != nil {
		if len(atg) == 0 {
			return nil, validation("1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		seen := map[string]bool{}
		var paths []docPath
		for _, a := range atg {
			if seen[a] {
				return nil, validation("One or more parameter values were invalid: Duplicate value in attribute name: " + a)
			}
			seen[a] = true
			paths = append(paths, docPath{{name: a}})
		}
		return paths, nil
	}
	return nil, nil
}

func opGetItem(r *req) (any, *apiError) {
	var in getItemIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in.tableNameIn)
	if e != nil {
		return nil, e
	}
	if in.Key == nil {
		return nil, fromAWS(missing("key"))
	}
	ctx := newExprCtx(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	paths, e := projectionOf(in.ProjectionExpression, in.AttributesToGet, ctx)
	if e != nil {
		return nil, e
	}
	if e := checkUnused(&in.exprParams, ctx, in.ProjectionExpression != nil); e != nil {
		return nil, e
	}
	t, unlock := r.lockTable(t, false)
	if t == nil {
		return nil, notFound()
	}
	if e := checkKey(&t.meta, in.Key); e != nil {
		unlock()
		return nil, e
	}
	it, ok := t.items[itemKey(&t.meta, in.Key)]
	seq, epoch := t.lastSeq, r.h.db.c.currentEpoch()
	unlock()
	if e := r.readBarrier(seq, epoch); e != nil {
		return nil, e
	}
	if !ok {
		return struct{}{}, nil
	}
	if paths != nil {
		it = project(it, paths)
	}
	return map[string]Item{"Item": it}, nil
}

func missing(path string) *awsproto.Error {
	var v awsproto.Validation
	v.Required(path, false)
	return v.Err()
}

type putItemIn struct {
	tableNameIn
	exprParams
	Item Item `json:"Item"`
	condWriteIn
}

// condWriteIn are the members PutItem and DeleteItem share: a condition (expression or
// legacy Expected) and what to return.
type condWriteIn struct {
	ConditionExpression                 *string                 `json:"ConditionExpression"`
	Expected                            map[string]expectedWire `json:"Expected"`
	ConditionalOperator                 string                  `json:"ConditionalOperator"`
	ReturnValues                        string                  `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string                  `json:"ReturnValuesOnConditionCheckFailure"`
}

// prepare checks the members (ReturnValues NONE or ALL_OLD, the condition, names and values
// all used) and returns the write's condition.
func (w *condWriteIn) prepare(p *exprParams) (condSpec, *apiError) {
	if e := checkReturnValues(w.ReturnValues, "NONE", "ALL_OLD"); e != nil {
		return condSpec{}, e
	}
	retOld, e := returnOnFailure(w.ReturnValuesOnConditionCheckFailure)
	if e != nil {
		return condSpec{}, e
	}
	ctx := newExprCtx(p.ExpressionAttributeNames, p.ExpressionAttributeValues)
	c, e := conditionOf(w.ConditionExpression, w.Expected, w.ConditionalOperator, ctx)
	if e != nil {
		return condSpec{}, e
	}
	if e := checkUnused(p, ctx, w.ConditionExpression != nil); e != nil {
		return condSpec{}, e
	}
	return condSpec{cond: c, returnOld: retOld}, nil
}

// condition builds the write condition from ConditionExpression or Expected.
func conditionOf(ce *string, exp map[string]expectedWire, condOp string, ctx *exprCtx) (*cond, *apiError) {
	if ce != nil && exp != nil {
		return nil, validation(mixed([]string{"Expected"}, []string{"ConditionExpression"}))
	}
	if ce != nil {
		c, msg := parseConditionExpr("ConditionExpression", *ce, ctx)
		if msg != "" {
			return nil, validation(msg)
		}
		return c, nil
	}
	if exp != nil {
		c, msg := expectedCond(exp, condOp)
		if msg != "" {
			return nil, validation(msg)
		}
		return c, nil
	}
	if condOp != "" {
		return nil, validation("ConditionalOperator can only be used when Filter or Expected has two or more elements")
	}
	return nil, nil
}

func checkReturnValues(rv string, allowed ...string) *apiError {
	if rv == "" {
		return nil
	}
	for _, a := range allowed {
		if rv == a {
			return nil
		}
	}
	for _, a := range []string{"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"} {
		if rv == a {
			return validation("Return values set to invalid value")
		}
	}
	return validation("1 validation error detected: Value '" + rv + "' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]")
}

func opPutItem(r *req) (any, *apiError) {
	var in putItemIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in.tableNameIn)
	if e != nil {
		return nil, e
	}
	if in.Item == nil {
		return nil, fromAWS(missing("item"))
	}
	spec, e := in.prepare(&in.exprParams)
	if e != nil {
		return nil, e
	}
	t.mu.RLock()
	e = checkItem(&t.meta, in.Item)
	t.mu.RUnlock()
	if e != nil {
		return nil, e
	}
	old, _, e := r.write(t, in.Item, spec, func(Item) (Item, *apiError) { return in.Item, nil })
	if e != nil {
		return nil, e
	}
	if in.ReturnValues == "ALL_OLD" && old != nil {
		return map[string]Item{"Attributes": old}, nil
	}
	return struct{}{}, nil
}

type updateItemIn struct {
	tableNameIn
	exprParams
	Key                                 Item                      `json:"Key"`
	UpdateExpression                    *string                   `json:"UpdateExpression"`
	AttributeUpdates                    map[string]attrUpdateWire `json:"AttributeUpdates"`
	ConditionExpression                 *string                   `json:"ConditionExpression"`
	Expected                            map[string]expectedWire   `json:"Expected"`
	ConditionalOperator                 string                    `json:"ConditionalOperator"`
	ReturnValues                        string                    `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string                    `json:"ReturnValuesOnConditionCheckFailure"`
}

func opUpdateItem(r *req) (any, *apiError) {
	var in updateItemIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in.tableNameIn)
	if e != nil {
		return nil, e
	}
	if in.Key == nil {
		return nil, fromAWS(missing("key"))
	}
	if e := checkReturnValues(in.ReturnValues, "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"); e != nil {
		return nil, e
	}
	retOld, e := returnOnFailure(in.ReturnValuesOnConditionCheckFailure)
	if e != nil {
		return nil, e
	}
	if in.UpdateExpression != nil && in.AttributeUpdates != nil {
		return nil, validation(mixed([]string{"AttributeUpdates"}, []string{"UpdateExpression"}))
	}
	if in.AttributeUpdates != nil && in.ConditionExpression != nil {
		return nil, validation(mixed([]string{"AttributeUpdates"}, []string{"ConditionExpression"}))
	}
	if in.UpdateExpression != nil && in.Expected != nil {
		return nil, validation(mixed([]string{"Expected"}, []string{"UpdateExpression"}))
	}
	ctx := newExprCtx(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	c, e := conditionOf(in.ConditionExpression, in.Expected, in.ConditionalOperator, ctx)
	if e != nil {
		return nil, e
	}
	t.mu.RLock()
	meta := t.meta
	t.mu.RUnlock()
	if e := checkKey(&meta, in.Key); e != nil {
		return nil, e
	}
	var u *updateExpr
	switch {
	case in.UpdateExpression != nil:
		var msg string
		u, msg = parseUpdate(*in.UpdateExpression, ctx)
		if msg != "" {
			return nil, validation(msg)
		}
		for _, l := range [][]updateAction{u.set, u.remove, u.add, u.del} {
			for _, a := range l {
				if a.path[0].name == meta.hashKey() || a.path[0].name == meta.rangeKey() {
					return nil, validation("One or more parameter values were invalid: Cannot update attribute " + a.path[0].name + ". This attribute is part of the key")
				}
			}
		}
	case in.AttributeUpdates != nil:
		var msg string
		u, msg = attributeUpdates(&meta, in.AttributeUpdates)
		if msg != "" {
			return nil, validation(msg)
		}
	default:
		u = &updateExpr{}
	}
	if e := checkUnused(&in.exprParams, ctx, in.UpdateExpression != nil || in.ConditionExpression != nil); e != nil {
		return nil, e
	}
	var touched []docPath
	old, nw, e := r.write(t, in.Key, condSpec{cond: c, returnOld: retOld}, func(old Item) (Item, *apiError) {
		base := old
		if base == nil {
			base = Item{}
			for k, v := range in.Key {
				base[k] = v
			}
		}
		nw, tn, msg := applyUpdate(base, u)
		if msg != "" {
			return nil, validation(string(msg))
		}
		touched = tn
		return nw, nil
	})
	if e != nil {
		return nil, e
	}
	var attrs Item
	switch in.ReturnValues {
	case "ALL_OLD":
		attrs = old
	case "ALL_NEW":
		attrs = nw
	case "UPDATED_OLD", "UPDATED_NEW":
		src := old
		if in.ReturnValues == "UPDATED_NEW" {
			src = nw
		}
		attrs = project(src, touched) // only the updated paths, as DynamoDB returns them
	}
	if len(attrs) == 0 {
		return struct{}{}, nil
	}
	return map[string]Item{"Attributes": attrs}, nil
}

type deleteItemIn struct {
	tableNameIn
	exprParams
	Key Item `json:"Key"`
	condWriteIn
}

func opDeleteItem(r *req) (any, *apiError) {
	var in deleteItemIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in.tableNameIn)
	if e != nil {
		return nil, e
	}
	if in.Key == nil {
		return nil, fromAWS(missing("key"))
	}
	spec, e := in.prepare(&in.exprParams)
	if e != nil {
		return nil, e
	}
	t.mu.RLock()
	e = checkKey(&t.meta, in.Key)
	t.mu.RUnlock()
	if e != nil {
		return nil, e
	}
	old, _, e := r.write(t, in.Key, spec, func(Item) (Item, *apiError) { return nil, nil })
	if e != nil {
		return nil, e
	}
	if in.ReturnValues == "ALL_OLD" && old != nil {
		return map[string]Item{"Attributes": old}, nil
	}
	return struct{}{}, nil
}

type keysAndAttrs struct {
	exprParams
	Keys                 []Item   `json:"Keys"`
	ConsistentRead       bool     `json:"ConsistentRead"`
	ProjectionExpression *string  `json:"ProjectionExpression"`
	AttributesToGet      []string `json:"AttributesToGet"`
}

func opBatchGetItem(r *req) (any, *apiError) {
	var in struct {
		RequestItems map[string]keysAndAttrs `json:"RequestItems"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if len(in.RequestItems) == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	total := 0
	for _, ka := range in.RequestItems {
		total += len(ka.Keys)
	}
	if total > 100 {
		return nil, validation("Too many items requested for the BatchGetItem call")
	}
	responses := map[string][]Item{}
	for _, name := range sortedNames(in.RequestItems) {
		ka := in.RequestItems[name]
		n := name
		t, e := r.lookup(&tableNameIn{&n})
		if e != nil {
			return nil, e
		}
		ctx := newExprCtx(ka.ExpressionAttributeNames, ka.ExpressionAttributeValues)
		paths, e := projectionOf(ka.ProjectionExpression, ka.AttributesToGet, ctx)
		if e != nil {
			return nil, e
		}
		if e := checkUnused(&ka.exprParams, ctx, ka.ProjectionExpression != nil); e != nil {
			return nil, e
		}
		t, unlock := r.lockTable(t, false)
		if t == nil {
			return nil, notFound()
		}
		var got []Item
		seen := map[string]bool{}
		for _, k := range ka.Keys {
			if e := checkKey(&t.meta, k); e != nil {
				unlock()
				return nil, e
			}
			ik := itemKey(&t.meta, k)
			if seen[ik] {
				unlock()
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[ik] = true
			if it, ok := t.items[ik]; ok {
				got = append(got, it)
			}
		}
		seq, epoch := t.lastSeq, r.h.db.c.currentEpoch()
		unlock()
		if e := r.readBarrier(seq, epoch); e != nil {
			return nil, e
		}
		out := make([]Item, 0, len(got))
		for _, it := range got {
			if paths != nil {
				it = project(it, paths)
			}
			out = append(out, it)
		}
		responses[name] = out
	}
	return map[string]any{"Responses": responses, "UnprocessedKeys": map[string]any{}}, nil
}

type writeRequest struct {
	PutRequest *struct {
		Item Item `json:"Item"`
	} `json:"PutRequest"`
	DeleteRequest *struct {
		Key Item `json:"Key"`
	} `json:"DeleteRequest"`
}

func opBatchWriteItem(r *req) (any, *apiError) {
	var in struct {
		RequestItems map[string][]writeRequest `json:"RequestItems"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if len(in.RequestItems) == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	total := 0
	for _, ws := range in.RequestItems {
		total += len(ws)
	}
	if total > 25 {
		return nil, validation("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
	}
	// validate everything first: DynamoDB rejects the whole batch on bad input
	type op struct {
		t   *table
		key Item
		put Item
	}
	var ops []op
	for _, name := range sortedNames(in.RequestItems) {
		n := name
		t, e := r.lookup(&tableNameIn{&n})
		if e != nil {
			return nil, e
		}
		t.mu.RLock()
		meta := t.meta
		t.mu.RUnlock()
		seen := map[string]bool{}
		for _, w := range in.RequestItems[name] {
			var o op
			switch {
			case w.PutRequest != nil && w.DeleteRequest == nil:
				if e := checkItem(&meta, w.PutRequest.Item); e != nil {
					return nil, e
				}
				o = op{t: t, key: w.PutRequest.Item, put: w.PutRequest.Item}
			case w.DeleteRequest != nil && w.PutRequest == nil:
				if e := checkKey(&meta, w.DeleteRequest.Key); e != nil {
					return nil, e
				}
				o = op{t: t, key: w.DeleteRequest.Key}
			default:
				return nil, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			k := itemKey(&meta, o.key)
			if seen[k] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[k] = true
			ops = append(ops, o)
		}
	}
	for _, o := range ops {
		put := o.put
		if _, _, e := r.write(o.t, o.key, condSpec{}, func(Item) (Item, *apiError) { return put, nil }); e != nil {
			return nil, e
		}
	}
	return map[string]any{"UnprocessedItems": map[string]any{}}, nil
}
