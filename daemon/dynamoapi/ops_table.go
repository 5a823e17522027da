package dynamoapi

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

func sortStrings(s []string) { sort.Strings(s) }

var tableNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

const tableNamePattern = "[a-zA-Z0-9_.-]+"

func checkTableName(v *awsproto.Validation, path, name string, has bool) {
	if !v.Required(path, has) {
		return
	}
	v.Length(path, name, 3, 255)
	v.Pattern(path, name, tableNameRe, tableNamePattern)
}

type tagWire struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type gsiWire struct {
	IndexName             string      `json:"IndexName"`
	KeySchema             []keyElem   `json:"KeySchema"`
	Projection            *projection `json:"Projection"`
	ProvisionedThroughput *throughput `json:"ProvisionedThroughput"`
}

type createTableIn struct {
	TableName                 *string           `json:"TableName"`
	KeySchema                 []keyElem         `json:"KeySchema"`
	AttributeDefinitions      []attrDef         `json:"AttributeDefinitions"`
	BillingMode               string            `json:"BillingMode"`
	ProvisionedThroughput     *throughput       `json:"ProvisionedThroughput"`
	GlobalSecondaryIndexes    []gsiWire         `json:"GlobalSecondaryIndexes"`
	LocalSecondaryIndexes     []json.RawMessage `json:"LocalSecondaryIndexes"`
	StreamSpecification       *streamSpec       `json:"StreamSpecification"`
	Tags                      []tagWire         `json:"Tags"`
	DeletionProtectionEnabled *bool             `json:"DeletionProtectionEnabled"`
}

type streamSpec struct {
	StreamEnabled bool `json:"StreamEnabled"`
}

// keySchemaProblem checks a key schema against the definitions (DynamoDB's texts).
func keySchemaProblem(ks []keyElem, defs map[string]string, what string) string {
	if len(ks) == 0 || len(ks) > 2 {
		return "1 validation error detected: Value null at '" + what + "' failed to satisfy constraint: Member must have length less than or equal to 2"
	}
	if ks[0].KeyType != "HASH" {
		return "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
	}
	if len(ks) == 2 {
		if ks[1].KeyType != "RANGE" {
			return "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
		}
		if ks[0].AttributeName == ks[1].AttributeName {
			return "Invalid KeySchema: The second KeySchemaElement has the same name as the first"
		}
	}
	for _, k := range ks {
		if k.AttributeName == "" {
			return "1 validation error detected: Value null at '" + what + ".member.attributeName' failed to satisfy constraint: Member must not be null"
		}
		if _, ok := defs[k.AttributeName]; !ok {
			return "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [" + k.AttributeName + "], AttributeDefinitions: [" + defNames(defs) + "]"
		}
	}
	return ""
}

func defNames(defs map[string]string) string {
	n := make([]string, 0, len(defs))
	for k := range defs {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

func checkProjection(p *projection) string {
	if p == nil {
		return "One or more parameter values were invalid: Projection must be specified for a global secondary index"
	}
	switch p.ProjectionType {
	case "ALL", "KEYS_ONLY":
		if len(p.NonKeyAttributes) > 0 {
			return "One or more parameter values were invalid: ProjectionType is " + p.ProjectionType + ", but NonKeyAttributes is specified"
		}
	case "INCLUDE":
		if len(p.NonKeyAttributes) == 0 {
			return "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
		}
	case "":
		return "One or more parameter values were invalid: Unknown ProjectionType: null"
	default:
		return "1 validation error detected: Value '" + p.ProjectionType + "' at 'projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
	}
	return ""
}

func checkThroughput(t *throughput, path string) string {
	if t == nil {
		return ""
	}
	if t.ReadCapacityUnits < 1 {
		return "1 validation error detected: Value '" + itoa(int(t.ReadCapacityUnits)) + "' at '" + path + ".readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1"
	}
	if t.WriteCapacityUnits < 1 {
		return "1 validation error detected: Value '" + itoa(int(t.WriteCapacityUnits)) + "' at '" + path + ".writeCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1"
	}
	return ""
}

func checkTags(tags []tagWire) (map[string]string, *apiError) {
	out := map[string]string{}
	var v awsproto.Validation
	for i, t := range tags {
		p := "tags." + itoa(i+1) + ".member"
		if v.Required(p+".key", t.Key != nil) {
			v.Length(p+".key", *t.Key, 1, 128)
		}
		if v.Required(p+".value", t.Value != nil) {
			v.Length(p+".value", *t.Value, 0, 256)
		}
		if t.Key != nil && t.Value != nil {
			out[*t.Key] = *t.Value
		}
	}
	if e := v.Err(); e != nil {
		return nil, fromAWS(e)
	}
	return out, nil
}

func opCreateTable(r *req) (any, *apiError) {
	var in createTableIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	name := deref(in.TableName)
	checkTableName(&v, "tableName", name, in.TableName != nil)
	v.Required("keySchema", in.KeySchema != nil)
	v.Required("attributeDefinitions", in.AttributeDefinitions != nil)
	if in.BillingMode != "" && in.BillingMode != "PROVISIONED" && in.BillingMode != "PAY_PER_REQUEST" {
		v.Add(awsproto.Quote(in.BillingMode), "billingMode", awsproto.RuleEnum("PROVISIONED", "PAY_PER_REQUEST"))
	}
	if e := v.Err(); e != nil {
		return nil, fromAWS(e)
	}
	if len(in.LocalSecondaryIndexes) > 0 {
		return nil, validation("Sluice does not support LocalSecondaryIndexes (CreateTable member LocalSecondaryIndexes); use a global secondary index")
	}
	if in.StreamSpecification != nil && in.StreamSpecification.StreamEnabled {
		return nil, validation("Sluice does not support DynamoDB Streams (CreateTable member StreamSpecification.StreamEnabled)")
	}
	defs := map[string]string{}
	for _, d := range in.AttributeDefinitions {
		switch d.AttributeType {
		case "S", "N", "B":
		default:
			return nil, validation("1 validation error detected: Value '" + d.AttributeType + "' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]")
		}
		if _, dup := defs[d.AttributeName]; dup {
			return nil, validation("Cannot have two attributes with the same name; attribute name: " + d.AttributeName)
		}
		defs[d.AttributeName] = d.AttributeType
	}
	if m := keySchemaProblem(in.KeySchema, defs, "keySchema"); m != "" {
		return nil, validation(m)
	}
	used := map[string]bool{}
	for _, k := range in.KeySchema {
		used[k.AttributeName] = true
	}
	mode := in.BillingMode
	if mode == "" {
		mode = "PROVISIONED"
	}
	switch {
	case mode == "PROVISIONED" && in.ProvisionedThroughput == nil:
		return nil, validation("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
	case mode == "PAY_PER_REQUEST" && in.ProvisionedThroughput != nil:
		return nil, validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
	}
	if m := checkThroughput(in.ProvisionedThroughput, "provisionedThroughput"); m != "" {
		return nil, validation(m)
	}
	now := r.h.now().UnixMilli()
	meta := tableMeta{
		ID: uuid.NewString(), Name: name, Account: r.account(), Region: r.region(),
		KeySchema: in.KeySchema, AttributeDefs: in.AttributeDefinitions, BillingMode: mode,
		Throughput: in.ProvisionedThroughput, CreatedMs: now,
		DeletionProtection: in.DeletionProtectionEnabled != nil && *in.DeletionProtectionEnabled,
	}
	if len(in.GlobalSecondaryIndexes) > 20 {
		return nil, validation("One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20")
	}
	for _, g := range in.GlobalSecondaryIndexes {
		gm, e := newGSI(g, defs, mode, now)
		if e != nil {
			return nil, e
		}
		if meta.gsi(g.IndexName) != nil {
			return nil, validation("One or more parameter values were invalid: Duplicate index name: " + g.IndexName)
		}
		for _, k := range g.KeySchema {
			used[k.AttributeName] = true
		}
		meta.GSIs = append(meta.GSIs, gm)
	}
	if len(used) != len(defs) {
		return nil, validation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	tags, e := checkTags(in.Tags)
	if e != nil {
		return nil, e
	}
	if len(tags) > 0 {
		meta.Tags = tags
	}
	if e := r.allow(meta.arn()); e != nil {
		return nil, e
	}

	db := r.h.db
	db.mu.Lock()
	if _, exists := db.tables[meta.storeKey()]; exists {
		db.mu.Unlock()
		return nil, dynamoErr("ResourceInUseException", "Table already exists: "+name)
	}
	t := &table{meta: meta, items: map[string]Item{}}
	db.tables[meta.storeKey()] = t
	raw, _ := json.Marshal(&meta)
	p := db.c.enqueue(func(tx streamcore.MetaTx) error { return tx.Put(tablesBucket, meta.storeKey(), raw) })
	db.mu.Unlock()
	if err := <-p.done; err != nil {
		return nil, internal(err)
	}
	return map[string]any{"TableDescription": r.h.describe(t, &meta, 0, 0)}, nil
}

func newGSI(g gsiWire, defs map[string]string, mode string, now int64) (gsiMeta, *apiError) {
	if l := len(g.IndexName); l < 3 || l > 255 || !tableNameRe.MatchString(g.IndexName) {
		return gsiMeta{}, validation("1 validation error detected: Value '" + g.IndexName + "' at 'globalSecondaryIndexes.member.indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + tableNamePattern + " and have length between 3 and 255")
	}
	if m := keySchemaProblem(g.KeySchema, defs, "globalSecondaryIndexes.member.keySchema"); m != "" {
		return gsiMeta{}, validation(m)
	}
	if m := checkProjection(g.Projection); m != "" {
		return gsiMeta{}, validation(m)
	}
	if m := checkThroughput(g.ProvisionedThroughput, "globalSecondaryIndexes.member.provisionedThroughput"); m != "" {
		return gsiMeta{}, validation(m)
	}
	if mode == "PAY_PER_REQUEST" && g.ProvisionedThroughput != nil {
		return gsiMeta{}, validation("One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: " + g.IndexName + " when BillingMode is PAY_PER_REQUEST")
	}
	return gsiMeta{IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: *g.Projection,
		Throughput: g.ProvisionedThroughput, CreatedMs: now}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Descriptions.

type tableDesc struct {
	TableName                 string             `json:"TableName"`
	TableArn                  string             `json:"TableArn"`
	TableId                   string             `json:"TableId"`
	TableStatus               string             `json:"TableStatus"`
	CreationDateTime          awsproto.Timestamp `json:"CreationDateTime"`
	KeySchema                 []keyElem          `json:"KeySchema"`
	AttributeDefinitions      []attrDef          `json:"AttributeDefinitions"`
	ItemCount                 int                `json:"ItemCount"`
	TableSizeBytes            int                `json:"TableSizeBytes"`
	ProvisionedThroughput     throughputDesc     `json:"ProvisionedThroughput"`
	BillingModeSummary        *billingSummary    `json:"BillingModeSummary,omitempty"`
	GlobalSecondaryIndexes    []gsiDesc          `json:"GlobalSecondaryIndexes,omitempty"`
	DeletionProtectionEnabled bool               `json:"DeletionProtectionEnabled"`
}

type throughputDesc struct {
	NumberOfDecreasesToday int   `json:"NumberOfDecreasesToday"`
	ReadCapacityUnits      int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits     int64 `json:"WriteCapacityUnits"`
}

type billingSummary struct {
	BillingMode                       string             `json:"BillingMode"`
	LastUpdateToPayPerRequestDateTime awsproto.Timestamp `json:"LastUpdateToPayPerRequestDateTime,omitempty"`
}

type gsiDesc struct {
	IndexName             string         `json:"IndexName"`
	IndexArn              string         `json:"IndexArn"`
	KeySchema             []keyElem      `json:"KeySchema"`
	Projection            projection     `json:"Projection"`
	IndexStatus           string         `json:"IndexStatus"`
	Backfilling           *bool          `json:"Backfilling,omitempty"`
	ProvisionedThroughput throughputDesc `json:"ProvisionedThroughput"`
	IndexSizeBytes        int            `json:"IndexSizeBytes"`
	ItemCount             int            `json:"ItemCount"`
}

// describe renders meta (t's, or a snapshot of it) with the item figures given.
func (h *Handler) describe(t *table, m *tableMeta, items, bytes int) tableDesc {
	now := h.now().UnixMilli()
	creating := h.opts.CreatingFor.Milliseconds()
	status := "ACTIVE"
	if now-m.CreatedMs < creating {
		status = "CREATING"
	}
	d := tableDesc{
		TableName: m.Name, TableArn: m.arn(), TableId: m.ID, TableStatus: status,
		CreationDateTime: awsproto.Timestamp(m.CreatedMs), KeySchema: m.KeySchema,
		AttributeDefinitions: m.AttributeDefs, ItemCount: items, TableSizeBytes: bytes,
		DeletionProtectionEnabled: m.DeletionProtection,
	}
	if m.Throughput != nil {
		d.ProvisionedThroughput.ReadCapacityUnits = m.Throughput.ReadCapacityUnits
		d.ProvisionedThroughput.WriteCapacityUnits = m.Throughput.WriteCapacityUnits
	}
	if m.BillingMode == "PAY_PER_REQUEST" {
		d.BillingModeSummary = &billingSummary{BillingMode: m.BillingMode, LastUpdateToPayPerRequestDateTime: awsproto.Timestamp(m.CreatedMs)}
	} else {
		d.BillingModeSummary = &billingSummary{BillingMode: "PROVISIONED"}
	}
	for _, g := range m.GSIs {
		gd := gsiDesc{IndexName: g.IndexName, IndexArn: m.arn() + "/index/" + g.IndexName,
			KeySchema: g.KeySchema, Projection: g.Projection, IndexStatus: "ACTIVE", ItemCount: items, IndexSizeBytes: bytes}
		if now-g.CreatedMs < creating {
			gd.IndexStatus = "CREATING"
			f := g.CreatedMs != m.CreatedMs
			gd.Backfilling = &f
		}
		if g.Throughput != nil {
			gd.ProvisionedThroughput.ReadCapacityUnits = g.Throughput.ReadCapacityUnits
			gd.ProvisionedThroughput.WriteCapacityUnits = g.Throughput.WriteCapacityUnits
		}
		d.GlobalSecondaryIndexes = append(d.GlobalSecondaryIndexes, gd)
	}
	return d
}

type tableNameIn struct {
	TableName *string `json:"TableName"`
}

// lookup decodes the TableName member, checks it and the caller's policy, and returns
// the table (nil with ResourceNotFoundException when there is none).
func (r *req) lookup(in *tableNameIn) (*table, *apiError) {
	var v awsproto.Validation
	checkTableName(&v, "tableName", deref(in.TableName), in.TableName != nil)
	if e := v.Err(); e != nil {
		return nil, fromAWS(e)
	}
	name := *in.TableName
	if e := r.allow("arn:aws:dynamodb:" + r.region() + ":" + r.account() + ":table/" + name); e != nil {
		return nil, e
	}
	t := r.h.db.table(r.account(), r.region(), name)
	if t == nil {
		switch r.op {
		case "DescribeTable", "UpdateTable", "DeleteTable":
			return nil, tableNotFound(name)
		}
		return nil, notFound() // item operations name no table, as DynamoDB
	}
	return t, nil
}

// lockTable locks t (for writing when write is set), re-resolving it when a rollback
// or a delete replaced it; nil when the table is gone.
func (r *req) lockTable(t *table, write bool) (*table, func()) {
	for {
		if write {
			t.mu.Lock()
		} else {
			t.mu.RLock()
		}
		if !t.gone {
			if write {
				return t, t.mu.Unlock
			}
			return t, t.mu.RUnlock
		}
		name := t.meta.Name
		if write {
			t.mu.Unlock()
		} else {
			t.mu.RUnlock()
		}
		t = r.h.db.table(r.account(), r.region(), name)
		if t == nil {
			return nil, nil
		}
	}
}

func opDescribeTable(r *req) (any, *apiError) {
	var in tableNameIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in)
	if e != nil {
		return nil, e
	}
	t, unlock := r.lockTable(t, false)
	if t == nil {
		return nil, tableNotFound(*in.TableName)
	}
	d := r.h.describe(t, &t.meta, len(t.items), t.bytes)
	unlock()
	return map[string]any{"Table": d}, nil
}

type gsiUpdate struct {
	Create *gsiWire `json:"Create"`
	Delete *struct {
		IndexName string `json:"IndexName"`
	} `json:"Delete"`
	Update *struct {
		IndexName             string      `json:"IndexName"`
		ProvisionedThroughput *throughput `json:"ProvisionedThroughput"`
	} `json:"Update"`
}

type updateTableIn struct {
	TableName                   *string           `json:"TableName"`
	AttributeDefinitions        []attrDef         `json:"AttributeDefinitions"`
	BillingMode                 string            `json:"BillingMode"`
	ProvisionedThroughput       *throughput       `json:"ProvisionedThroughput"`
	GlobalSecondaryIndexUpdates []gsiUpdate       `json:"GlobalSecondaryIndexUpdates"`
	DeletionProtectionEnabled   *bool             `json:"DeletionProtectionEnabled"`
	StreamSpecification         *streamSpec       `json:"StreamSpecification"`
	ReplicaUpdates              []json.RawMessage `json:"ReplicaUpdates"`
}

func opUpdateTable(r *req) (any, *apiError) {
	var in updateTableIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&tableNameIn{in.TableName})
	if e != nil {
		return nil, e
	}
	if in.StreamSpecification != nil && in.StreamSpecification.StreamEnabled {
		return nil, validation("Sluice does not support DynamoDB Streams (UpdateTable member StreamSpecification.StreamEnabled)")
	}
	if len(in.ReplicaUpdates) > 0 {
		return nil, validation("Sluice does not support global tables (UpdateTable member ReplicaUpdates)")
	}
	if in.BillingMode == "" && in.ProvisionedThroughput == nil && len(in.GlobalSecondaryIndexUpdates) == 0 && in.DeletionProtectionEnabled == nil && in.StreamSpecification == nil {
		return nil, validation("At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required")
	}
	if in.BillingMode != "" && in.BillingMode != "PROVISIONED" && in.BillingMode != "PAY_PER_REQUEST" {
		return nil, validation("1 validation error detected: Value '" + in.BillingMode + "' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]")
	}
	if m := checkThroughput(in.ProvisionedThroughput, "provisionedThroughput"); m != "" {
		return nil, validation(m)
	}
	t, unlockOnce := r.lockTable(t, true)
	if t == nil {
		return nil, tableNotFound(*in.TableName)
	}
	unlock := sync.OnceFunc(unlockOnce)
	defer unlock()
	m := t.meta // copy; committed below
	m.GSIs = append([]gsiMeta(nil), t.meta.GSIs...)
	m.AttributeDefs = append([]attrDef(nil), t.meta.AttributeDefs...)
	now := r.h.now().UnixMilli()
	if in.BillingMode != "" {
		m.BillingMode = in.BillingMode
		if in.BillingMode == "PAY_PER_REQUEST" {
			m.Throughput = nil
		}
	}
	if in.ProvisionedThroughput != nil {
		if m.BillingMode == "PAY_PER_REQUEST" {
			return nil, validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
		m.Throughput = in.ProvisionedThroughput
	} else if m.BillingMode == "PROVISIONED" && m.Throughput == nil {
		return nil, validation("One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED")
	}
	if in.DeletionProtectionEnabled != nil {
		m.DeletionProtection = *in.DeletionProtectionEnabled
	}
	defs := map[string]string{}
	for _, d := range m.AttributeDefs {
		defs[d.AttributeName] = d.AttributeType
	}
	for _, d := range in.AttributeDefinitions {
		if old, ok := defs[d.AttributeName]; ok && old != d.AttributeType {
			return nil, validation("Cannot change the type of an existing attribute definition; attribute name: " + d.AttributeName)
		}
		if _, ok := defs[d.AttributeName]; !ok {
			switch d.AttributeType {
			case "S", "N", "B":
			default:
				return nil, validation("1 validation error detected: Value '" + d.AttributeType + "' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]")
			}
			defs[d.AttributeName] = d.AttributeType
			m.AttributeDefs = append(m.AttributeDefs, d)
		}
	}
	if len(in.GlobalSecondaryIndexUpdates) > 1 {
		return nil, dynamoErr("LimitExceededException", "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table")
	}
	for _, u := range in.GlobalSecondaryIndexUpdates {
		switch {
		case u.Create != nil:
			if m.gsi(u.Create.IndexName) != nil {
				return nil, validation("One or more parameter values were invalid: Index already exists: " + u.Create.IndexName)
			}
			g, e := newGSI(*u.Create, defs, m.BillingMode, now)
			if e != nil {
				return nil, e
			}
			if len(m.GSIs) >= 20 {
				return nil, dynamoErr("LimitExceededException", "Subscriber limit exceeded: the table has 20 global secondary indexes")
			}
			m.GSIs = append(m.GSIs, g)
		case u.Delete != nil:
			i := -1
			for j := range m.GSIs {
				if m.GSIs[j].IndexName == u.Delete.IndexName {
					i = j
				}
			}
			if i < 0 {
				return nil, dynamoErr("ResourceNotFoundException", "Requested resource not found: Index: "+u.Delete.IndexName+" not found")
			}
			m.GSIs = append(m.GSIs[:i], m.GSIs[i+1:]...)
		case u.Update != nil:
			g := m.gsi(u.Update.IndexName)
			if g == nil {
				return nil, dynamoErr("ResourceNotFoundException", "Requested resource not found: Index: "+u.Update.IndexName+" not found")
			}
			g.Throughput = u.Update.ProvisionedThroughput
		default:
			return nil, validation("One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Create, Update or Delete must be specified")
		}
	}
	// unused definitions are dropped, as DynamoDB does after an index is deleted
	used := map[string]bool{}
	for _, k := range m.KeySchema {
		used[k.AttributeName] = true
	}
	for _, g := range m.GSIs {
		for _, k := range g.KeySchema {
			used[k.AttributeName] = true
		}
	}
	kept := m.AttributeDefs[:0]
	for _, d := range m.AttributeDefs {
		if used[d.AttributeName] {
			kept = append(kept, d)
		}
	}
	m.AttributeDefs = kept
	m.UpdatedMs = now
	d := r.h.describe(t, &m, len(t.items), t.bytes)
	if e := r.h.commitMeta(t, m, unlock); e != nil {
		return nil, e
	}
	return map[string]any{"TableDescription": d}, nil
}

// commitMeta stores m as t's metadata. The caller holds t's write lock; commitMeta
// releases it with unlock (which must be safe to call again) before waiting for the
// commit, so that a failed commit's rollback can take every table lock.
func (h *Handler) commitMeta(t *table, m tableMeta, unlock func()) *apiError {
	raw, _ := json.Marshal(&m)
	key := m.storeKey()
	t.meta = m
	p := h.db.c.enqueue(func(tx streamcore.MetaTx) error { return tx.Put(tablesBucket, key, raw) })
	t.lastSeq = p.seq
	unlock()
	if err := <-p.done; err != nil {
		return internal(err)
	}
	return nil
}

func opDeleteTable(r *req) (any, *apiError) {
	var in tableNameIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in)
	if e != nil {
		return nil, e
	}
	db := r.h.db
	db.mu.Lock()
	t, unlock := r.lockTableHeld(t)
	if t == nil {
		db.mu.Unlock()
		return nil, tableNotFound(*in.TableName)
	}
	if t.meta.DeletionProtection {
		unlock()
		db.mu.Unlock()
		return nil, validation("Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.")
	}
	d := r.h.describe(t, &t.meta, len(t.items), t.bytes)
	d.TableStatus = "DELETING"
	keys := make([]string, 0, len(t.items))
	for k := range t.items {
		keys = append(keys, k)
	}
	bucket, metaKey := itemsBucketPrefix+t.meta.ID, t.meta.storeKey()
	delete(db.tables, metaKey)
	db.total.Add(-int64(t.bytes))
	t.gone = true
	p := db.c.enqueue(func(tx streamcore.MetaTx) error {
		for _, k := range keys {
			if err := tx.Delete(bucket, k); err != nil {
				return err
			}
		}
		return tx.Delete(tablesBucket, metaKey)
	})
	unlock()
	db.mu.Unlock()
	if err := <-p.done; err != nil {
		return nil, internal(err)
	}
	return map[string]any{"TableDescription": d}, nil
}

// lockTableHeld write-locks t while db.mu is held (t cannot be replaced meanwhile).
func (r *req) lockTableHeld(t *table) (*table, func()) {
	t = r.h.db.tables[t.meta.storeKey()]
	if t == nil {
		return nil, nil
	}
	t.mu.Lock()
	return t, t.mu.Unlock
}

type listTablesIn struct {
	ExclusiveStartTableName *string `json:"ExclusiveStartTableName"`
	Limit                   *int    `json:"Limit"`
}

func opListTables(r *req) (any, *apiError) {
	var in listTablesIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if in.ExclusiveStartTableName != nil {
		checkTableName(&v, "exclusiveStartTableName", *in.ExclusiveStartTableName, true)
	}
	limit := 100
	if in.Limit != nil {
		v.Range("limit", int64(*in.Limit), 1, 100)
		limit = *in.Limit
	}
	if e := v.Err(); e != nil {
		return nil, fromAWS(e)
	}
	if e := r.allow(""); e != nil {
		return nil, e
	}
	prefix := r.account() + "/" + r.region() + "/"
	db := r.h.db
	db.mu.RLock()
	var names []string
	for k := range db.tables {
		if n, ok := strings.CutPrefix(k, prefix); ok {
			names = append(names, n)
		}
	}
	db.mu.RUnlock()
	sort.Strings(names)
	if in.ExclusiveStartTableName != nil {
		i := sort.SearchStrings(names, *in.ExclusiveStartTableName)
		if i < len(names) && names[i] == *in.ExclusiveStartTableName {
			i++
		}
		names = names[i:]
	}
	out := map[string]any{}
	if len(names) > limit {
		names = names[:limit]
		out["LastEvaluatedTableName"] = names[limit-1]
	}
	if names == nil {
		names = []string{}
	}
	out["TableNames"] = names
	return out, nil
}

// tableByARN resolves a table ARN of the caller's account and region.
func (r *req) tableByARN(arn *string) (*table, *apiError) {
	var v awsproto.Validation
	if v.Required("resourceArn", arn != nil) {
		v.Length("resourceArn", *arn, 1, 1283)
	}
	if e := v.Err(); e != nil {
		return nil, fromAWS(e)
	}
	parts := strings.SplitN(*arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "dynamodb" || !strings.HasPrefix(parts[5], "table/") {
		return nil, validation("Invalid TableArn: Invalid ResourceArn provided as input " + *arn)
	}
	name := strings.TrimPrefix(parts[5], "table/")
	if e := r.allow(*arn); e != nil {
		return nil, e
	}
	t := r.h.db.table(parts[4], parts[3], name)
	if t == nil || parts[4] != r.account() {
		return nil, dynamoErr("ResourceNotFoundException", "Requested resource not found: ResourcArn: "+*arn+" not found")
	}
	return t, nil
}

func opTagResource(r *req) (any, *apiError) {
	var in struct {
		ResourceArn *string   `json:"ResourceArn"`
		Tags        []tagWire `json:"Tags"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	tags, e := checkTags(in.Tags)
	if e != nil {
		return nil, e
	}
	t, e := r.tableByARN(in.ResourceArn)
	if e != nil {
		return nil, e
	}
	t, unlockOnce := r.lockTable(t, true)
	if t == nil {
		return nil, notFound()
	}
	unlock := sync.OnceFunc(unlockOnce)
	defer unlock()
	m := t.meta
	m.Tags = map[string]string{}
	for k, v := range t.meta.Tags {
		m.Tags[k] = v
	}
	for k, v := range tags {
		m.Tags[k] = v
	}
	if len(m.Tags) > 50 {
		return nil, dynamoErr("LimitExceededException", "Too many tags: a table has at most 50")
	}
	return struct{}{}, r.h.commitMeta(t, m, unlock)
}

func opUntagResource(r *req) (any, *apiError) {
	var in struct {
		ResourceArn *string  `json:"ResourceArn"`
		TagKeys     []string `json:"TagKeys"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.tableByARN(in.ResourceArn)
	if e != nil {
		return nil, e
	}
	t, unlockOnce := r.lockTable(t, true)
	if t == nil {
		return nil, notFound()
	}
	unlock := sync.OnceFunc(unlockOnce)
	defer unlock()
	m := t.meta
	m.Tags = map[string]string{}
	for k, v := range t.meta.Tags {
		m.Tags[k] = v
	}
	for _, k := range in.TagKeys {
		delete(m.Tags, k)
	}
	return struct{}{}, r.h.commitMeta(t, m, unlock)
}

func opListTagsOfResource(r *req) (any, *apiError) {
	var in struct {
		ResourceArn *string `json:"ResourceArn"`
		NextToken   *string `json:"NextToken"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.tableByARN(in.ResourceArn)
	if e != nil {
		return nil, e
	}
	t.mu.RLock()
	keys := make([]string, 0, len(t.meta.Tags))
	for k := range t.meta.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, map[string]string{"Key": k, "Value": t.meta.Tags[k]})
	}
	t.mu.RUnlock()
	return map[string]any{"Tags": tags}, nil
}

func backupsDesc(m *tableMeta) map[string]any {
	pitr := map[string]any{"PointInTimeRecoveryStatus": "DISABLED"}
	if m.PITR {
		now := time.Now().UnixMilli()
		pitr = map[string]any{
			"PointInTimeRecoveryStatus":  "ENABLED",
			"RecoveryPeriodInDays":       35,
			"EarliestRestorableDateTime": awsproto.Timestamp(m.PITRSinceMs),
			"LatestRestorableDateTime":   awsproto.Timestamp(now - 5000),
		}
	}
	return map[string]any{"ContinuousBackupsDescription": map[string]any{
		"ContinuousBackupsStatus":        "ENABLED",
		"PointInTimeRecoveryDescription": pitr,
	}}
}

func opDescribeContinuousBackups(r *req) (any, *apiError) {
	var in tableNameIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	t, e := r.lookup(&in)
	if e != nil {
		if strings.HasSuffix(e.typ, "#ResourceNotFoundException") {
			return nil, dynamoErr("TableNotFoundException", "Table not found: "+*in.TableName)
		}
		return nil, e
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return backupsDesc(&t.meta), nil
}

func opUpdateContinuousBackups(r *req) (any, *apiError) {
	var in struct {
		TableName *string `json:"TableName"`
		Spec      *struct {
			Enabled *bool `json:"PointInTimeRecoveryEnabled"`
		} `json:"PointInTimeRecoverySpecification"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if v.Required("pointInTimeRecoverySpecification", in.Spec != nil) {
		v.Required("pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled", in.Spec.Enabled != nil)
	}
	t, e := r.lookup(&tableNameIn{in.TableName})
	if e != nil {
		if strings.HasSuffix(e.typ, "#ResourceNotFoundException") {
			return nil, dynamoErr("TableNotFoundException", "Table not found: "+*in.TableName)
		}
		return nil, e
	}
	if e := v.Err(); e != nil {
		return nil, fromAWS(e)
	}
	t, unlockOnce := r.lockTable(t, true)
	if t == nil {
		return nil, dynamoErr("TableNotFoundException", "Table not found: "+*in.TableName)
	}
	unlock := sync.OnceFunc(unlockOnce)
	defer unlock()
	m := t.meta
	if *in.Spec.Enabled && !m.PITR {
		m.PITRSinceMs = r.h.now().UnixMilli()
	}
	m.PITR = *in.Spec.Enabled
	if e := r.h.commitMeta(t, m, unlock); e != nil {
		return nil, e
	}
	return backupsDesc(&m), nil
}

func opDescribeTimeToLive(r *req) (any, *apiError) {
	var in tableNameIn
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if _, e := r.lookup(&in); e != nil {
		return nil, e
	}
	return map[string]any{"TimeToLiveDescription": map[string]string{"TimeToLiveStatus": "DISABLED"}}, nil
}
