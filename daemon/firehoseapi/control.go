package firehoseapi

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/firehose"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

type kinesisSourceIn struct {
	KinesisStreamARN *string `json:"KinesisStreamARN"`
	RoleARN          *string `json:"RoleARN"`
}

type encryptionIn struct {
	KeyType *string `json:"KeyType"`
	KeyARN  *string `json:"KeyARN"`
}

type createIn struct {
	DeliveryStreamName                         *string          `json:"DeliveryStreamName"`
	DeliveryStreamType                         *string          `json:"DeliveryStreamType"`
	KinesisStreamSourceConfiguration           *kinesisSourceIn `json:"KinesisStreamSourceConfiguration"`
	DeliveryStreamEncryptionConfigurationInput *encryptionIn    `json:"DeliveryStreamEncryptionConfigurationInput"`
	Tags                                       []tagIn          `json:"Tags"`

	MSKSource      json.RawMessage `json:"MSKSourceConfiguration"`
	DatabaseSource json.RawMessage `json:"DatabaseSourceConfiguration"`
}

// Firehose's destination members Sluice knows by name: the create member of every
// destination AWS has, and the update member, in the same order. Those of a registered
// sinks.Kind are served; the others are refused as not supported yet.
var (
	awsCreateMembers = []string{"ExtendedS3DestinationConfiguration", "S3DestinationConfiguration",
		"RedshiftDestinationConfiguration", "ElasticsearchDestinationConfiguration",
		"AmazonopensearchserviceDestinationConfiguration", "AmazonOpenSearchServerlessDestinationConfiguration",
		"SplunkDestinationConfiguration", "HttpEndpointDestinationConfiguration", "SnowflakeDestinationConfiguration",
		"IcebergDestinationConfiguration"}
	awsUpdateMembers = []string{"ExtendedS3DestinationUpdate", "S3DestinationUpdate", "RedshiftDestinationUpdate",
		"ElasticsearchDestinationUpdate", "AmazonopensearchserviceDestinationUpdate",
		"AmazonOpenSearchServerlessDestinationUpdate", "SplunkDestinationUpdate", "HttpEndpointDestinationUpdate",
		"SnowflakeDestinationUpdate", "IcebergDestinationUpdate"}
)

// destMember is one destination member of a request.
type destMember struct {
	name string          // e.g. ExtendedS3DestinationConfiguration
	raw  json.RawMessage // its JSON
	kind *sinks.Kind     // nil when no registered kind serves it
}

// destMembers returns the destination members present in body, in the order of known
// (create or update members); registered kinds' members that known lacks come after.
func destMembers(body []byte, known []string, update bool) ([]destMember, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, err
	}
	byMember := map[string]*sinks.Kind{}
	names := append([]string(nil), known...)
	for _, k := range sinks.Kinds() {
		ms := k.Create
		if update {
			ms = k.Update
		}
		for _, m := range ms {
			byMember[m] = &k
			if !slices.Contains(names, m) {
				names = append(names, m)
			}
		}
	}
	var out []destMember
	for _, n := range names {
		if raw, ok := all[n]; ok && present(raw) {
			out = append(out, destMember{name: n, raw: raw, kind: byMember[n]})
		}
	}
	return out, nil
}

// lowerFirst is a member name as AWS writes it in validation paths.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func present(r json.RawMessage) bool { return len(r) > 0 && string(r) != "null" }

func checkEncryption(v *awsproto.Validation, path string, e *encryptionIn) {
	if e == nil {
		return
	}
	if v.Required(path+".keyType", e.KeyType != nil) {
		v.Enum(path+".keyType", *e.KeyType, "AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK")
	}
	if e.KeyARN != nil {
		v.Length(path+".keyARN", *e.KeyARN, 1, 512)
		v.Pattern(path+".keyARN", *e.KeyARN, kmsARNRE, kmsARNPattern)
	}
}

func encryptionSemantics(e *encryptionIn) *awsproto.Error {
	if e == nil {
		return nil
	}
	if *e.KeyType == "CUSTOMER_MANAGED_CMK" && (e.KeyARN == nil || *e.KeyARN == "") {
		return iae("KeyARN must be specified when KeyType is CUSTOMER_MANAGED_CMK.")
	}
	if *e.KeyType == "AWS_OWNED_CMK" && e.KeyARN != nil && *e.KeyARN != "" {
		return iae("KeyARN must not be specified when KeyType is AWS_OWNED_CMK.")
	}
	return nil
}

func opCreate(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in createIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if in.DeliveryStreamType != nil {
		v.Enum("deliveryStreamType", *in.DeliveryStreamType, "DirectPut", "KinesisStreamAsSource", "MSKAsSource", "DatabaseAsSource")
	}
	if ks := in.KinesisStreamSourceConfiguration; ks != nil {
		if v.Required("kinesisStreamSourceConfiguration.kinesisStreamARN", ks.KinesisStreamARN != nil) {
			v.Length("kinesisStreamSourceConfiguration.kinesisStreamARN", *ks.KinesisStreamARN, 1, 512)
			v.Pattern("kinesisStreamSourceConfiguration.kinesisStreamARN", *ks.KinesisStreamARN, streamARNRE, streamARNPattern)
		}
		if v.Required("kinesisStreamSourceConfiguration.roleARN", ks.RoleARN != nil) {
			v.Length("kinesisStreamSourceConfiguration.roleARN", *ks.RoleARN, 1, 512)
			v.Pattern("kinesisStreamSourceConfiguration.roleARN", *ks.RoleARN, sinks.RoleARNRE, sinks.RoleARNPattern)
		}
	}
	checkEncryption(&v, "deliveryStreamEncryptionConfigurationInput", in.DeliveryStreamEncryptionConfigurationInput)
	checkTags(&v, "tags", in.Tags, false)
	members, err := destMembers(call.Body, awsCreateMembers, false)
	if err != nil {
		return nil, awsproto.Serialization("")
	}
	configs := make([]sinks.Config, len(members))
	for i, m := range members {
		if m.kind == nil {
			continue
		}
		c := m.kind.New()
		if err := json.Unmarshal(m.raw, c); err != nil {
			return nil, awsproto.Serialization("")
		}
		c.CheckAPI(&v, lowerFirst(m.name), m.name, true)
		configs[i] = c
	}
	if e := v.Err(); e != nil {
		return nil, e
	}

	typ := firehose.TypeDirectPut
	if in.DeliveryStreamType != nil {
		typ = *in.DeliveryStreamType
	}
	switch typ {
	case "MSKAsSource", "DatabaseAsSource":
		return nil, iae("DeliveryStreamType " + typ + " is not supported yet by Sluice.")
	case firehose.TypeKinesisSrc:
		if in.KinesisStreamSourceConfiguration == nil {
			return nil, iae("KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource.")
		}
		if in.DeliveryStreamEncryptionConfigurationInput != nil {
			return nil, iae("DeliveryStreamEncryptionConfigurationInput is not supported for KinesisStreamAsSource delivery streams.")
		}
	default:
		if in.KinesisStreamSourceConfiguration != nil {
			return nil, iae("KinesisStreamSourceConfiguration is only allowed when DeliveryStreamType is KinesisStreamAsSource.")
		}
	}
	if present(in.MSKSource) || present(in.DatabaseSource) {
		return nil, iae("Only DirectPut and KinesisStreamAsSource sources are supported yet by Sluice.")
	}
	if e := encryptionSemantics(in.DeliveryStreamEncryptionConfigurationInput); e != nil {
		return nil, e
	}

	if len(members) != 1 {
		return nil, iae("Exactly one destination configuration is supported for a Firehose")
	}
	if members[0].kind == nil {
		return nil, iae(members[0].name + " is not supported yet by Sluice; use " + orList(supportedMembers(false)) + ".")
	}
	def := &firehose.Definition{Name: *in.DeliveryStreamName, Type: typ,
		Dest: firehose.Destination{Kind: members[0].kind.Name, Config: configs[0]}}

	if ks := in.KinesisStreamSourceConfiguration; ks != nil {
		def.Source = &firehose.KinesisStreamSource{KinesisStreamARN: *ks.KinesisStreamARN, RoleARN: *ks.RoleARN}
	}
	if e := in.DeliveryStreamEncryptionConfigurationInput; e != nil {
		def.Encryption = firehose.Encryption{Enabled: true, KeyType: *e.KeyType}
		if e.KeyARN != nil {
			def.Encryption.KeyARN = *e.KeyARN
		}
	}
	for _, t := range in.Tags {
		def.Tags = upsertTag(def.Tags, *t.Key, t.Value)
	}
	if err := h.mgr.Create(ctx, def); err != nil {
		return nil, mapErr(err)
	}
	return map[string]string{"DeliveryStreamARN": def.ARN}, nil
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// supportedMembers names the destination members the registered kinds serve.
func supportedMembers(update bool) []string {
	var out []string
	for _, k := range sinks.Kinds() {
		if update {
			out = append(out, k.Update...)
		} else {
			out = append(out, k.Create...)
		}
	}
	return out
}

func upsertTag(tags []firehose.Tag, key string, value *string) []firehose.Tag {
	for i := range tags {
		if tags[i].Key == key {
			tags[i].Value = value
			return tags
		}
	}
	tags = append(tags, firehose.Tag{Key: key, Value: value})
	firehose.SortTags(tags)
	return tags
}

type nameIn struct {
	DeliveryStreamName *string `json:"DeliveryStreamName"`
}

type describeIn struct {
	DeliveryStreamName          *string `json:"DeliveryStreamName"`
	Limit                       *int    `json:"Limit"`
	ExclusiveStartDestinationId *string `json:"ExclusiveStartDestinationId"`
}

type failureDescription struct {
	Type    string `json:"Type"`
	Details string `json:"Details"`
}

type description struct {
	DeliveryStreamName                    string              `json:"DeliveryStreamName"`
	DeliveryStreamARN                     string              `json:"DeliveryStreamARN"`
	DeliveryStreamStatus                  string              `json:"DeliveryStreamStatus"`
	FailureDescription                    *failureDescription `json:"FailureDescription,omitempty"`
	DeliveryStreamEncryptionConfiguration map[string]any      `json:"DeliveryStreamEncryptionConfiguration"`
	DeliveryStreamType                    string              `json:"DeliveryStreamType"`
	VersionId                             string              `json:"VersionId"`
	CreateTimestamp                       *ts                 `json:"CreateTimestamp,omitempty"`
	LastUpdateTimestamp                   *ts                 `json:"LastUpdateTimestamp,omitempty"`
	Source                                map[string]any      `json:"Source,omitempty"`
	Destinations                          []map[string]any    `json:"Destinations"`
	HasMoreDestinations                   bool                `json:"HasMoreDestinations"`
}

func opDescribe(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in describeIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if in.Limit != nil {
		v.Range("limit", int64(*in.Limit), 1, 10000)
	}
	if in.ExclusiveStartDestinationId != nil {
		v.Length("exclusiveStartDestinationId", *in.ExclusiveStartDestinationId, 1, 100)
		v.Pattern("exclusiveStartDestinationId", *in.ExclusiveStartDestinationId, destIDRE, "[a-zA-Z0-9-]+")
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	snap, err := h.mgr.Describe(*in.DeliveryStreamName)
	if err != nil {
		return nil, mapErr(err)
	}
	d := &snap.Def
	out := description{
		DeliveryStreamName:                    d.Name,
		DeliveryStreamARN:                     d.ARN,
		DeliveryStreamStatus:                  snap.Status,
		DeliveryStreamEncryptionConfiguration: d.EncryptionDescription(),
		DeliveryStreamType:                    d.Type,
		VersionId:                             d.VersionString(),
		CreateTimestamp:                       tsOf(d.Created),
		LastUpdateTimestamp:                   tsOf(d.LastUpdate),
		Destinations:                          []map[string]any{},
	}
	if snap.Health.Failing {
		out.FailureDescription = &failureDescription{Type: "UNKNOWN_ERROR",
			Details: "Delivery to the destination is failing and being retried: " + snap.Health.LastError}
	}
	if d.Source != nil {
		ks := map[string]any{"KinesisStreamARN": d.Source.KinesisStreamARN, "DeliveryStartTimestamp": tsOf(d.Source.DeliveryStartTimestamp)}
		if d.Source.RoleARN != "" {
			ks["RoleARN"] = d.Source.RoleARN
		}
		out.Source = map[string]any{"KinesisStreamSourceDescription": ks}
	}
	if in.ExclusiveStartDestinationId == nil || *in.ExclusiveStartDestinationId < d.DestinationID {
		dd := d.Dest.Config.Describe()
		dd["DestinationId"] = d.DestinationID
		out.Destinations = append(out.Destinations, dd)
	}
	return map[string]any{"DeliveryStreamDescription": out}, nil
}

type listIn struct {
	Limit                            *int    `json:"Limit"`
	DeliveryStreamType               *string `json:"DeliveryStreamType"`
	ExclusiveStartDeliveryStreamName *string `json:"ExclusiveStartDeliveryStreamName"`
}

func opList(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in listIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if in.Limit != nil {
		v.Range("limit", int64(*in.Limit), 1, 10000)
	}
	if in.DeliveryStreamType != nil {
		v.Enum("deliveryStreamType", *in.DeliveryStreamType, "DirectPut", "KinesisStreamAsSource", "MSKAsSource", "DatabaseAsSource")
	}
	if in.ExclusiveStartDeliveryStreamName != nil {
		v.Length("exclusiveStartDeliveryStreamName", *in.ExclusiveStartDeliveryStreamName, 1, 64)
		v.Pattern("exclusiveStartDeliveryStreamName", *in.ExclusiveStartDeliveryStreamName, nameRE, namePattern)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	limit := 10
	if in.Limit != nil {
		limit = *in.Limit
	}
	typ := ""
	if in.DeliveryStreamType != nil {
		typ = *in.DeliveryStreamType
	}
	names := h.mgr.List(typ)
	if in.ExclusiveStartDeliveryStreamName != nil {
		i := sort.SearchStrings(names, *in.ExclusiveStartDeliveryStreamName)
		if i < len(names) && names[i] == *in.ExclusiveStartDeliveryStreamName {
			i++
		}
		names = names[i:]
	}
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	if names == nil {
		names = []string{}
	}
	return map[string]any{"DeliveryStreamNames": names, "HasMoreDeliveryStreams": more}, nil
}

type deleteIn struct {
	DeliveryStreamName *string `json:"DeliveryStreamName"`
	AllowForceDelete   *bool   `json:"AllowForceDelete"`
}

func opDelete(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in deleteIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if e := v.Err(); e != nil {
		return nil, e
	}
	return nil, mapErr(h.mgr.Delete(ctx, *in.DeliveryStreamName))
}

type updateIn struct {
	DeliveryStreamName             *string `json:"DeliveryStreamName"`
	CurrentDeliveryStreamVersionId *string `json:"CurrentDeliveryStreamVersionId"`
	DestinationId                  *string `json:"DestinationId"`
}

func opUpdateDestination(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in updateIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if v.Required("currentDeliveryStreamVersionId", in.CurrentDeliveryStreamVersionId != nil) {
		v.Length("currentDeliveryStreamVersionId", *in.CurrentDeliveryStreamVersionId, 1, 50)
		v.Pattern("currentDeliveryStreamVersionId", *in.CurrentDeliveryStreamVersionId, versionRE, "[0-9]+")
	}
	if v.Required("destinationId", in.DestinationId != nil) {
		v.Length("destinationId", *in.DestinationId, 1, 100)
		v.Pattern("destinationId", *in.DestinationId, destIDRE, "[a-zA-Z0-9-]+")
	}
	// validate the update shapes (nothing required)
	members, err := destMembers(call.Body, awsUpdateMembers, true)
	if err != nil {
		return nil, awsproto.Serialization("")
	}
	var upd *destMember
	for i := range members {
		m := &members[i]
		if m.kind == nil {
			continue
		}
		probe := m.kind.New()
		if err := json.Unmarshal(m.raw, probe); err != nil {
			return nil, awsproto.Serialization("")
		}
		probe.CheckAPI(&v, lowerFirst(m.name), m.name, false)
		if upd == nil {
			upd = m
		}
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	for _, m := range members {
		if m.kind == nil {
			return nil, iae("Only " + orList(supportedMembers(true)) + " are supported yet by Sluice.")
		}
	}
	err = h.mgr.Update(ctx, *in.DeliveryStreamName, *in.CurrentDeliveryStreamVersionId, *in.DestinationId, func(d *firehose.Definition) error {
		if upd == nil {
			return nil
		}
		if upd.kind.Name != d.Dest.Kind {
			return &firehose.Error{Type: firehose.ErrTypeInvalidArgument, Msg: "Changing the destination type of a delivery stream (" + d.Dest.Kind + " to " + upd.kind.Name + ") is not supported yet by Sluice."}
		}
		c, err := d.Dest.Config.Merge(upd.name, upd.raw)
		if err != nil {
			return &firehose.Error{Type: firehose.ErrTypeInvalidArgument, Msg: record.Message(err)}
		}
		d.Dest.Config = c
		return nil
	})
	if err != nil {
		var de *firehose.Error
		if asDeliveryErr(err, &de) && de.Type == "SerializationException" {
			return nil, awsproto.Serialization("")
		}
		return nil, mapErr(err)
	}
	return nil, nil
}

type tagStreamIn struct {
	DeliveryStreamName *string `json:"DeliveryStreamName"`
	Tags               []tagIn `json:"Tags"`
}

func opTag(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in tagStreamIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	checkTags(&v, "tags", in.Tags, true)
	if e := v.Err(); e != nil {
		return nil, e
	}
	return nil, mapErr(h.mgr.Mutate(*in.DeliveryStreamName, func(d *firehose.Definition) error {
		tags := append([]firehose.Tag(nil), d.Tags...)
		for _, t := range in.Tags {
			tags = upsertTag(tags, *t.Key, t.Value)
		}
		if len(tags) > 50 {
			return &firehose.Error{Type: firehose.ErrTypeLimitExceeded,
				Msg: "Tag limit exceeded for delivery stream " + d.ARN + ". A delivery stream can have at most 50 tags."}
		}
		d.Tags = tags
		return nil
	}))
}

type untagIn struct {
	DeliveryStreamName *string  `json:"DeliveryStreamName"`
	TagKeys            []string `json:"TagKeys"`
}

func opUntag(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in untagIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if v.Required("tagKeys", in.TagKeys != nil) {
		if len(in.TagKeys) < 1 {
			v.Add("'[]'", "tagKeys", awsproto.RuleMinLen(1))
		} else if len(in.TagKeys) > 50 {
			v.Add("'[...]'", "tagKeys", awsproto.RuleMaxLen(50))
		}
		for i, k := range in.TagKeys {
			v.Length("tagKeys."+itoa(i+1)+".member", k, 1, 128)
		}
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	return nil, mapErr(h.mgr.Mutate(*in.DeliveryStreamName, func(d *firehose.Definition) error {
		drop := map[string]bool{}
		for _, k := range in.TagKeys {
			drop[k] = true
		}
		kept := d.Tags[:0]
		for _, t := range d.Tags {
			if !drop[t.Key] {
				kept = append(kept, t)
			}
		}
		d.Tags = kept
		return nil
	}))
}

type listTagsIn struct {
	DeliveryStreamName   *string `json:"DeliveryStreamName"`
	ExclusiveStartTagKey *string `json:"ExclusiveStartTagKey"`
	Limit                *int    `json:"Limit"`
}

func opListTags(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in listTagsIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if in.ExclusiveStartTagKey != nil {
		v.Length("exclusiveStartTagKey", *in.ExclusiveStartTagKey, 1, 128)
	}
	if in.Limit != nil {
		v.Range("limit", int64(*in.Limit), 1, 50)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	snap, err := h.mgr.Describe(*in.DeliveryStreamName)
	if err != nil {
		return nil, mapErr(err)
	}
	limit := 50
	if in.Limit != nil {
		limit = *in.Limit
	}
	tags := []firehose.Tag{}
	for _, t := range snap.Def.Tags {
		if in.ExclusiveStartTagKey != nil && t.Key <= *in.ExclusiveStartTagKey {
			continue
		}
		tags = append(tags, t)
	}
	more := len(tags) > limit
	if more {
		tags = tags[:limit]
	}
	return map[string]any{"Tags": tags, "HasMoreTags": more}, nil
}

type encryptionOpIn struct {
	DeliveryStreamName                         *string       `json:"DeliveryStreamName"`
	DeliveryStreamEncryptionConfigurationInput *encryptionIn `json:"DeliveryStreamEncryptionConfigurationInput"`
}

func opStartEncryption(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	return setEncryption(h, call, true)
}

func opStopEncryption(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	return setEncryption(h, call, false)
}

func setEncryption(h *handler, call *awsproto.Call, on bool) (any, *awsproto.Error) {
	var in encryptionOpIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if on {
		checkEncryption(&v, "deliveryStreamEncryptionConfigurationInput", in.DeliveryStreamEncryptionConfigurationInput)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	if on {
		if e := encryptionSemantics(in.DeliveryStreamEncryptionConfigurationInput); e != nil {
			return nil, e
		}
	}
	return nil, mapErr(h.mgr.Mutate(*in.DeliveryStreamName, func(d *firehose.Definition) error {
		if d.Type == firehose.TypeKinesisSrc {
			return &firehose.Error{Type: firehose.ErrTypeInvalidArgument,
				Msg: "This operation is not permitted on KinesisStreamAsSource delivery stream type."}
		}
		if !on {
			d.Encryption = firehose.Encryption{}
			return nil
		}
		d.Encryption = firehose.Encryption{Enabled: true, KeyType: "AWS_OWNED_CMK"}
		if e := in.DeliveryStreamEncryptionConfigurationInput; e != nil {
			d.Encryption.KeyType = *e.KeyType
			if e.KeyARN != nil {
				d.Encryption.KeyARN = *e.KeyARN
			}
		}
		return nil
	}))
}

func asDeliveryErr(err error, target **firehose.Error) bool { return errors.As(err, target) }
