package firehoseapi

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/firehose"
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
	DeliveryStreamName                         *string              `json:"DeliveryStreamName"`
	DeliveryStreamType                         *string              `json:"DeliveryStreamType"`
	KinesisStreamSourceConfiguration           *kinesisSourceIn     `json:"KinesisStreamSourceConfiguration"`
	DeliveryStreamEncryptionConfigurationInput *encryptionIn        `json:"DeliveryStreamEncryptionConfigurationInput"`
	Tags                                       []tagIn              `json:"Tags"`
	S3DestinationConfiguration                 *firehose.ExtendedS3 `json:"S3DestinationConfiguration"`
	ExtendedS3DestinationConfiguration         *firehose.ExtendedS3 `json:"ExtendedS3DestinationConfiguration"`

	Redshift            json.RawMessage `json:"RedshiftDestinationConfiguration"`
	Elasticsearch       json.RawMessage `json:"ElasticsearchDestinationConfiguration"`
	OpenSearch          json.RawMessage `json:"AmazonopensearchserviceDestinationConfiguration"`
	OpenSearchServeless json.RawMessage `json:"AmazonOpenSearchServerlessDestinationConfiguration"`
	Splunk              json.RawMessage `json:"SplunkDestinationConfiguration"`
	HTTPEndpoint        json.RawMessage `json:"HttpEndpointDestinationConfiguration"`
	Snowflake           json.RawMessage `json:"SnowflakeDestinationConfiguration"`
	Iceberg             json.RawMessage `json:"IcebergDestinationConfiguration"`
	MSKSource           json.RawMessage `json:"MSKSourceConfiguration"`
	DatabaseSource      json.RawMessage `json:"DatabaseSourceConfiguration"`
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
			v.Pattern("kinesisStreamSourceConfiguration.roleARN", *ks.RoleARN, roleARNRE, roleARNPattern)
		}
	}
	checkEncryption(&v, "deliveryStreamEncryptionConfigurationInput", in.DeliveryStreamEncryptionConfigurationInput)
	checkTags(&v, "tags", in.Tags, false)
	if in.S3DestinationConfiguration != nil {
		checkS3(&v, "s3DestinationConfiguration", in.S3DestinationConfiguration, true, false)
	}
	if in.ExtendedS3DestinationConfiguration != nil {
		checkS3(&v, "extendedS3DestinationConfiguration", in.ExtendedS3DestinationConfiguration, true, true)
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

	n := 0
	other := ""
	for name, raw := range map[string]json.RawMessage{
		"RedshiftDestinationConfiguration":                   in.Redshift,
		"ElasticsearchDestinationConfiguration":              in.Elasticsearch,
		"AmazonopensearchserviceDestinationConfiguration":    in.OpenSearch,
		"AmazonOpenSearchServerlessDestinationConfiguration": in.OpenSearchServeless,
		"SplunkDestinationConfiguration":                     in.Splunk,
		"HttpEndpointDestinationConfiguration":               in.HTTPEndpoint,
		"SnowflakeDestinationConfiguration":                  in.Snowflake,
		"IcebergDestinationConfiguration":                    in.Iceberg,
	} {
		if present(raw) {
			n++
			other = name
		}
	}
	if in.S3DestinationConfiguration != nil {
		n++
	}
	if in.ExtendedS3DestinationConfiguration != nil {
		n++
	}
	if n != 1 {
		return nil, iae("Exactly one destination configuration is supported for a Firehose")
	}
	if other != "" {
		return nil, iae(other + " is not supported yet by Sluice; use ExtendedS3DestinationConfiguration or S3DestinationConfiguration.")
	}

	s3 := in.ExtendedS3DestinationConfiguration
	if s3 == nil {
		s3 = in.S3DestinationConfiguration
	}
	if s3.S3BackupMode == "Enabled" {
		return nil, iae("S3BackupMode Enabled is not supported yet by Sluice.")
	}
	if len(s3.DataFormatConversionConfiguration) > 0 && string(s3.DataFormatConversionConfiguration) != "null" {
		var dfc struct{ Enabled *bool }
		_ = json.Unmarshal(s3.DataFormatConversionConfiguration, &dfc)
		if dfc.Enabled == nil || *dfc.Enabled {
			return nil, iae("DataFormatConversionConfiguration is not supported yet by Sluice.")
		}
	}
	def := &firehose.Definition{Name: *in.DeliveryStreamName, Type: typ, S3: s3}
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
		out.Destinations = append(out.Destinations, map[string]any{
			"DestinationId":                    d.DestinationID,
			"ExtendedS3DestinationDescription": d.S3Description(),
			"S3DestinationDescription":         d.PlainS3Description(),
		})
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
	DeliveryStreamName             *string         `json:"DeliveryStreamName"`
	CurrentDeliveryStreamVersionId *string         `json:"CurrentDeliveryStreamVersionId"`
	DestinationId                  *string         `json:"DestinationId"`
	S3DestinationUpdate            json.RawMessage `json:"S3DestinationUpdate"`
	ExtendedS3DestinationUpdate    json.RawMessage `json:"ExtendedS3DestinationUpdate"`

	Redshift      json.RawMessage `json:"RedshiftDestinationUpdate"`
	Elasticsearch json.RawMessage `json:"ElasticsearchDestinationUpdate"`
	OpenSearch    json.RawMessage `json:"AmazonopensearchserviceDestinationUpdate"`
	Serverless    json.RawMessage `json:"AmazonOpenSearchServerlessDestinationUpdate"`
	Splunk        json.RawMessage `json:"SplunkDestinationUpdate"`
	HTTPEndpoint  json.RawMessage `json:"HttpEndpointDestinationUpdate"`
	Snowflake     json.RawMessage `json:"SnowflakeDestinationUpdate"`
	Iceberg       json.RawMessage `json:"IcebergDestinationUpdate"`
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
	var upd firehose.ExtendedS3
	raw, path, ext := in.ExtendedS3DestinationUpdate, "extendedS3DestinationUpdate", true
	if !present(raw) {
		raw, path, ext = in.S3DestinationUpdate, "s3DestinationUpdate", false
	}
	if present(raw) {
		if err := json.Unmarshal(raw, &upd); err != nil {
			return nil, awsproto.Serialization("")
		}
		checkS3(&v, path, &upd, false, ext)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	for _, r := range []json.RawMessage{in.Redshift, in.Elasticsearch, in.OpenSearch, in.Serverless, in.Splunk, in.HTTPEndpoint, in.Snowflake, in.Iceberg} {
		if present(r) {
			return nil, iae("Only S3 and ExtendedS3 destinations are supported yet by Sluice.")
		}
	}
	err := h.mgr.Update(ctx, *in.DeliveryStreamName, *in.CurrentDeliveryStreamVersionId, *in.DestinationId, func(d *firehose.Definition) error {
		if !present(raw) {
			return nil
		}
		wasPartitioned := d.S3.Partitioned()
		// deep merge: members present in the update replace or merge into the current ones
		if err := json.Unmarshal(raw, d.S3); err != nil {
			return &firehose.Error{Type: "SerializationException", Msg: ""}
		}
		if d.S3.Partitioned() != wasPartitioned {
			return &firehose.Error{Type: firehose.ErrTypeInvalidArgument, Msg: "Dynamic partitioning cannot be enabled or disabled on an existing delivery stream."}
		}
		if d.S3.S3BackupMode == "Enabled" {
			return &firehose.Error{Type: firehose.ErrTypeInvalidArgument, Msg: "S3BackupMode Enabled is not supported yet by Sluice."}
		}
		if len(d.S3.S3BackupUpdate) > 0 {
			d.S3.S3BackupConfiguration, d.S3.S3BackupUpdate = d.S3.S3BackupUpdate, nil
		}
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
