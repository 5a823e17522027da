package kinesisapi

import (
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// resolve turns validated stream members into a key and checks the caller's policy.
func (h *handler) resolve(rc *reqCtx, a streamArgs, op string) (streamcore.StreamKey, *awsproto.Error) {
	k, e := h.key(rc, a)
	if e != nil {
		return k, e
	}
	return k, rc.authorize(op, k.ARN())
}

// simpleStream handles operations whose only members address a stream.
func (h *handler) simpleStream(rc *reqCtx, op string) (streamcore.StreamKey, *awsproto.Error) {
	a := readStreamArgs(rc.f)
	if e := rc.f.Err(); e != nil {
		return streamcore.StreamKey{}, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return streamcore.StreamKey{}, e
	}
	return h.resolve(rc, a, op)
}

func validateTags(v *awsproto.Validation, path string, tags map[string]string) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	badKey, badVal := false, false
	for _, k := range keys {
		if n := len([]rune(k)); n < 1 || n > 128 {
			badKey = true
		}
		if len([]rune(tags[k])) > 256 {
			badVal = true
		}
	}
	if !badKey && !badVal {
		return
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	shown := "'{" + strings.Join(parts, ", ") + "}'"
	if badKey {
		v.Add(shown, path, "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
	}
	if badVal {
		v.Add(shown, path, "Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]")
	}
}

func readMode(f *awsproto.Fields, name string) (mode string, present, modePresent bool) {
	sm, ok := f.Struct(name)
	if !ok {
		return "", false, false
	}
	mode, modePresent = sm.Str("StreamMode")
	f.Adopt(sm)
	return mode, true, modePresent
}

func opCreateStream(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	shards, hasShards := f.Int("ShardCount")
	mode, hasModeDetails, hasMode := readMode(f, "StreamModeDetails")
	tags, _ := f.StrMap("Tags")
	maxKiB, hasMax := f.Int("MaxRecordSizeInKiB")
	warm, hasWarm := f.Int("WarmThroughputMiBps")
	dist, hasDist := f.Str("RecordDistributionStrategy")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if v.Required("streamName", a.hasName) {
		a.validateName(&v, true)
	}
	if hasShards {
		v.Range("shardCount", shards, 1, 1<<31-1)
	}
	if hasModeDetails && v.Required("streamModeDetails.streamMode", hasMode) {
		v.Enum("streamModeDetails.streamMode", mode, "PROVISIONED", "ON_DEMAND")
	}
	validateTags(&v, "tags", tags)
	if hasMax {
		v.Range("maxRecordSizeInKiB", maxKiB, 1024, 10240)
	}
	if hasWarm {
		v.Range("warmThroughputMiBps", warm, 0, 1<<31-1)
	}
	if hasDist {
		v.Enum("recordDistributionStrategy", dist, distributions...)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	a.hasARN = false
	k, e := h.resolve(rc, a, "CreateStream")
	if e != nil {
		return nil, e
	}
	o := streamcore.CreateOptions{
		ShardCount:       int(shards),
		Mode:             streamcore.StreamMode(mode),
		MaxRecordSizeKiB: int(maxKiB),
		Tags:             tags,
		WarmMiBps:        warm,
		Distribution:     streamcore.Distribution(dist),
	}
	if o.Mode == "" {
		// neither a shard count nor a mode: AWS creates an ON_DEMAND stream today
		o.Mode = streamcore.ModeProvisioned
		if !hasShards && !hasModeDetails {
			o.Mode = streamcore.ModeOnDemand
		}
	}
	if o.Mode == streamcore.ModeProvisioned && !hasShards {
		o.ShardCount = 1
	}
	return nil, engErr(h.eng.CreateStream(rc.ctx, k, o))
}

func opDeleteStream(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	a := readStreamArgs(rc.f)
	enforce, _ := rc.f.Bool("EnforceConsumerDeletion")
	if e := rc.f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "DeleteStream")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.DeleteStream(rc.ctx, k, enforce))
}

func opDescribeStream(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	limit, hasLimit := f.Int("Limit")
	start, hasStart := f.Str("ExclusiveStartShardId")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if hasLimit {
		v.Range("limit", limit, 1, 10000)
	}
	if hasStart {
		checkShardID(&v, "exclusiveStartShardId", start)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "DescribeStream")
	if e != nil {
		return nil, e
	}
	d, err := h.eng.DescribeStream(rc.ctx, k)
	if err != nil {
		return nil, engErr(err)
	}
	if !hasLimit || limit > 100 {
		limit = 100
	}
	shards := d.Shards
	if hasStart {
		idx, ok := shardIndex(start)
		if ok {
			i := 0
			for i < len(shards) && shards[i].Index <= idx {
				i++
			}
			shards = shards[i:]
		}
	}
	more := false
	if len(shards) > int(limit) {
		shards, more = shards[:limit], true
	}
	out := streamDescriptionOut{
		StreamName:              d.Key.Name,
		StreamARN:               d.Key.ARN(),
		StreamStatus:            string(d.Status),
		StreamModeDetails:       streamModeOut{StreamMode: string(d.Mode)},
		Shards:                  make([]shardOut, 0, len(shards)),
		HasMoreShards:           more,
		RetentionPeriodHours:    d.RetentionHours,
		StreamCreationTimestamp: awsproto.TS(d.CreatedAt),
		EnhancedMonitoring:      monitoringOut(d.ShardLevelMetrics),
		EncryptionType:          encryptionType(d),
		KeyId:                   d.KeyID,
	}
	for _, s := range shards {
		out.Shards = append(out.Shards, toShardOut(s))
	}
	return struct {
		StreamDescription streamDescriptionOut `json:"StreamDescription"`
	}{out}, nil
}

// shardIndex parses a shard id leniently (reference §3.2).
func shardIndex(id string) (int, bool) {
	s := id
	if i := strings.IndexByte(id, '-'); i >= 0 {
		rest := id[i+1:]
		if j := strings.IndexByte(rest, '-'); j >= 0 {
			rest = rest[:j]
		}
		if rest != "" {
			s = rest
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 2147483647 {
		return 0, false
	}
	return int(n), true
}

func opDescribeStreamSummary(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	k, e := h.simpleStream(rc, "DescribeStreamSummary")
	if e != nil {
		return nil, e
	}
	d, err := h.eng.DescribeStream(rc.ctx, k)
	if err != nil {
		return nil, engErr(err)
	}
	return struct {
		StreamDescriptionSummary streamSummaryOut `json:"StreamDescriptionSummary"`
	}{streamSummaryOut{
		StreamName:              d.Key.Name,
		StreamARN:               d.Key.ARN(),
		StreamId:                clientStreamID(d.StreamID),
		StreamStatus:            string(d.Status),
		StreamModeDetails:       streamModeOut{StreamMode: string(d.Mode)},
		RetentionPeriodHours:    d.RetentionHours,
		StreamCreationTimestamp: awsproto.TS(d.CreatedAt),
		EnhancedMonitoring:      monitoringOut(d.ShardLevelMetrics),
		EncryptionType:          encryptionType(d),
		KeyId:                   d.KeyID,
		OpenShardCount:          d.OpenShardCount,
		ConsumerCount:           d.ConsumerCount,
		MaxRecordSizeInKiB:      d.MaxRecordSizeKiB,
		// AWS documents the member for ON_DEMAND streams; the KPL looks for it on every
		// stream (and logs and retries without it), so Sluice always answers it
		RecordDistributionStrategy: string(d.Distribution),
	}}, nil
}

// distributions are the RecordDistributionStrategy values in model order.
var distributions = []string{string(streamcore.DistributeAuto), string(streamcore.DistributeByKey)}

// opUpdateStreamRecordDistributionStrategy sets how put records find their shard (AUTO:
// spread evenly whatever their keys, ON_DEMAND streams only; USER_PARTITION_KEY: by key).
// The stream is named by its ARN only, as in the model.
func opUpdateStreamRecordDistributionStrategy(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	a.hasName = false
	dist, hasDist := f.Str("RecordDistributionStrategy")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if v.Required("streamARN", a.hasARN) {
		a.validateARN(&v)
	}
	if v.Required("recordDistributionStrategy", hasDist) {
		v.Enum("recordDistributionStrategy", dist, distributions...)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "UpdateStreamRecordDistributionStrategy")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.UpdateRecordDistribution(rc.ctx, k, streamcore.Distribution(dist)))
}

func opListStreams(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	limit, hasLimit := f.Int("Limit")
	start, hasStart := f.Str("ExclusiveStartStreamName")
	token, hasToken := f.Str("NextToken")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if hasLimit {
		v.Range("limit", limit, 1, 10000)
	}
	if hasStart {
		v.Length("exclusiveStartStreamName", start, 1, 128)
		v.Pattern("exclusiveStartStreamName", start, reName, patName) // "" breaks the pattern too, as AWS lists
	}
	if hasToken {
		v.Length("nextToken", token, 1, 1048576)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	if e := rc.authorize("ListStreams", ""); e != nil {
		return nil, e
	}
	account, region := rc.id.Account, rc.id.Region
	if hasToken {
		t, e := h.tokens.decode(token, h.now())
		if e != nil {
			return nil, e
		}
		if t.Kind != "streams" {
			return nil, invalidToken()
		}
		account, region, start, hasStart = t.Account, t.Region, t.After, true
	}
	all, err := h.eng.ListStreams(rc.ctx, account, region)
	if err != nil {
		return nil, engErr(err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key.Name < all[j].Key.Name })
	if hasStart {
		i := sort.Search(len(all), func(i int) bool { return all[i].Key.Name > start })
		all = all[i:]
	}
	if !hasLimit || limit > 10000 {
		limit = 100
	}
	more := len(all) > int(limit)
	if more {
		all = all[:limit]
	}
	type out struct {
		StreamNames     []string               `json:"StreamNames"`
		HasMoreStreams  bool                   `json:"HasMoreStreams"`
		NextToken       string                 `json:"NextToken,omitempty"`
		StreamSummaries []listStreamSummaryOut `json:"StreamSummaries"`
	}
	o := out{StreamNames: make([]string, 0, len(all)), HasMoreStreams: more, StreamSummaries: make([]listStreamSummaryOut, 0, len(all))}
	for _, d := range all {
		o.StreamNames = append(o.StreamNames, d.Key.Name)
		o.StreamSummaries = append(o.StreamSummaries, listStreamSummaryOut{
			StreamName:              d.Key.Name,
			StreamARN:               d.Key.ARN(),
			StreamStatus:            string(d.Status),
			StreamModeDetails:       streamModeOut{StreamMode: string(d.Mode)},
			StreamCreationTimestamp: awsproto.TS(d.CreatedAt),
		})
	}
	if more {
		o.NextToken = h.tokens.encode(pageToken{Kind: "streams", Account: account, Region: region, After: all[len(all)-1].Key.Name}, h.now())
	}
	return o, nil
}

func opListShards(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	token, hasToken := f.Str("NextToken")
	start, hasStart := f.Str("ExclusiveStartShardId")
	maxRes, hasMax := f.Int("MaxResults")
	created, hasCreated := f.Time("StreamCreationTimestamp", rc.codec)
	var filter streamcore.ShardFilter
	var hasFilterType, hasFilterShard, hasFilterTS bool
	fs, hasFilter := f.Struct("ShardFilter")
	if hasFilter {
		filter.Type, hasFilterType = fs.Str("Type")
		filter.ShardID, hasFilterShard = fs.Str("ShardId")
		filter.Timestamp, hasFilterTS = fs.Time("Timestamp", rc.codec)
		f.Adopt(fs)
	}
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, false)
	if hasToken {
		v.Length("nextToken", token, 1, 1048576)
	}
	if hasStart {
		checkShardID(&v, "exclusiveStartShardId", start)
	}
	if hasMax {
		v.Range("maxResults", maxRes, 1, 10000)
	}
	if hasFilter {
		if v.Required("shardFilter.type", hasFilterType) {
			v.Enum("shardFilter.type", filter.Type, "AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP")
		}
		if hasFilterShard {
			checkShardID(&v, "shardFilter.shardId", filter.ShardID)
		}
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	iae := func(msg string) *awsproto.Error { return awsproto.NewError(awsproto.TypeInvalidArgument, msg) }
	var k streamcore.StreamKey
	if hasToken {
		for _, c := range []struct {
			has  bool
			name string
		}{{a.hasName, "StreamName"}, {a.hasARN, "StreamARN"}, {hasStart, "ExclusiveStartShardId"}, {hasFilter, "ShardFilter"}, {hasCreated, "StreamCreationTimestamp"}} {
			if c.has {
				return nil, iae("NextToken and " + c.name + " cannot be provided together.")
			}
		}
		t, e := h.tokens.decode(token, h.now())
		if e != nil {
			return nil, e
		}
		if t.Kind != "shards" {
			return nil, invalidToken()
		}
		k = streamcore.StreamKey{Account: t.Account, Region: t.Region, Name: t.Stream}
		if e := rc.authorize("ListShards", k.ARN()); e != nil {
			return nil, e
		}
		start, hasStart = t.After, t.After != ""
		filter = t.Filter.toFilter()
		hasFilter = filter.Type != ""
	} else {
		if !a.hasName && !a.hasARN {
			return nil, iae("Either NextToken or StreamName should be provided.")
		}
		var e *awsproto.Error
		if k, e = h.resolve(rc, a, "ListShards"); e != nil {
			return nil, e
		}
		if hasFilter {
			switch filter.Type {
			case "AFTER_SHARD_ID":
				if !hasFilterShard {
					return nil, iae("ShardFilter AFTER_SHARD_ID requires ShardId.")
				}
			case "AT_TIMESTAMP", "FROM_TIMESTAMP":
				if !hasFilterTS {
					return nil, iae("ShardFilter " + filter.Type + " requires Timestamp.")
				}
			}
		}
	}
	shards, err := h.eng.ListShards(rc.ctx, k, filter)
	if err != nil {
		return nil, engErr(err)
	}
	if hasCreated {
		if d, err := h.eng.DescribeStream(rc.ctx, k); err == nil && !d.CreatedAt.IsZero() && d.CreatedAt.UnixMilli()/1000 != created.UnixMilli()/1000 {
			return nil, awsproto.NewError(string(streamcore.CodeResourceNotFound), "Stream "+k.Name+" under account "+k.Account+" not found.")
		}
	}
	if hasStart {
		if idx, ok := shardIndex(start); ok {
			i := 0
			for i < len(shards) && shards[i].Index <= idx {
				i++
			}
			shards = shards[i:]
		}
	}
	if !hasMax {
		maxRes = 1000
	}
	type out struct {
		Shards    []shardOut `json:"Shards"`
		NextToken string     `json:"NextToken,omitempty"`
	}
	o := out{Shards: make([]shardOut, 0, min(len(shards), int(maxRes)))}
	more := len(shards) > int(maxRes)
	if more {
		shards = shards[:maxRes]
	}
	for _, s := range shards {
		o.Shards = append(o.Shards, toShardOut(s))
	}
	if more {
		o.NextToken = h.tokens.encode(pageToken{Kind: "shards", Account: k.Account, Region: k.Region, Stream: k.Name,
			After: shards[len(shards)-1].ShardID, Filter: fromFilter(filter)}, h.now())
	}
	return o, nil
}

func opUpdateStreamMode(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	mode, hasDetails, hasMode := readMode(f, "StreamModeDetails")
	warm, hasWarm := f.Int("WarmThroughputMiBps")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, false)
	if !a.hasARN && !a.hasName {
		v.Add(awsproto.Null, "streamARN", awsproto.RuleNotNull)
	}
	a.validateARN(&v)
	if v.Required("streamModeDetails", hasDetails) && v.Required("streamModeDetails.streamMode", hasMode) {
		v.Enum("streamModeDetails.streamMode", mode, "PROVISIONED", "ON_DEMAND")
	}
	if hasWarm {
		v.Range("warmThroughputMiBps", warm, 0, 1<<31-1)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "UpdateStreamMode")
	if e != nil {
		return nil, e
	}
	if err := h.eng.UpdateStreamMode(rc.ctx, k, streamcore.StreamMode(mode)); err != nil {
		return nil, engErr(err)
	}
	if hasWarm { // the warm throughput an on-demand stream is switched to with
		return nil, engErr(h.eng.SetWarmThroughput(rc.ctx, k, warm))
	}
	return nil, nil
}

func opUpdateMaxRecordSize(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	kib, has := f.Int("MaxRecordSizeInKiB")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, false)
	if !a.hasARN && !a.hasName {
		v.Add(awsproto.Null, "streamARN", awsproto.RuleNotNull)
	}
	a.validateARN(&v)
	if v.Required("maxRecordSizeInKiB", has) {
		v.Range("maxRecordSizeInKiB", kib, 1024, 10240)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "UpdateMaxRecordSize")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.UpdateMaxRecordSize(rc.ctx, k, int(kib)))
}

func retentionArgs(h *handler, rc *reqCtx, op string) (streamcore.StreamKey, int, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	hours, has := f.Int("RetentionPeriodHours")
	if e := f.Err(); e != nil {
		return streamcore.StreamKey{}, 0, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if v.Required("retentionPeriodHours", has) {
		v.Range("retentionPeriodHours", hours, 1, 1<<31-1)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return streamcore.StreamKey{}, 0, e
	}
	k, e := h.resolve(rc, a, op)
	return k, int(hours), e
}

func opIncreaseRetention(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	k, hours, e := retentionArgs(h, rc, "IncreaseStreamRetentionPeriod")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.IncreaseRetention(rc.ctx, k, hours))
}

func opDecreaseRetention(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	k, hours, e := retentionArgs(h, rc, "DecreaseStreamRetentionPeriod")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.DecreaseRetention(rc.ctx, k, hours))
}

// encryptionArgs reads and validates the input shared by Start/StopStreamEncryption.
func encryptionArgs(h *handler, rc *reqCtx, op string) (k streamcore.StreamKey, typ, keyID string, e *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	typ, hasType := f.Str("EncryptionType")
	keyID, hasKey := f.Str("KeyId")
	if e := f.Err(); e != nil {
		return k, "", "", e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if v.Required("encryptionType", hasType) {
		v.Enum("encryptionType", typ, "NONE", "KMS")
	}
	if v.Required("keyId", hasKey) {
		v.Length("keyId", keyID, 1, 2048)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return k, "", "", e
	}
	k, e = h.resolve(rc, a, op)
	return k, typ, keyID, e
}

func opStartStreamEncryption(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	k, typ, keyID, e := encryptionArgs(h, rc, "StartStreamEncryption")
	if e != nil {
		return nil, e
	}
	if typ != "KMS" {
		return nil, awsproto.NewError(awsproto.TypeInvalidArgument, "Encryption type "+typ+" is not supported; use KMS.")
	}
	return nil, engErr(h.eng.StartEncryption(rc.ctx, k, keyID))
}

func opStopStreamEncryption(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	k, _, _, e := encryptionArgs(h, rc, "StopStreamEncryption")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.StopEncryption(rc.ctx, k))
}

var shardLevelMetrics = []string{"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds", "ALL"}

func monitoring(h *handler, rc *reqCtx, enable bool) (any, *awsproto.Error) {
	op := "EnableEnhancedMonitoring"
	if !enable {
		op = "DisableEnhancedMonitoring"
	}
	f := rc.f
	a := readStreamArgs(f)
	metrics, has := f.StrList("ShardLevelMetrics")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if v.Required("shardLevelMetrics", has) {
		if len(metrics) < 1 || len(metrics) > 7 {
			rule := awsproto.RuleMinLen(1)
			if len(metrics) > 7 {
				rule = awsproto.RuleMaxLen(7)
			}
			v.Add(awsproto.Quote("["+strings.Join(metrics, ", ")+"]"), "shardLevelMetrics", rule)
		}
		for _, m := range metrics {
			ok := false
			for _, x := range shardLevelMetrics {
				ok = ok || m == x
			}
			if !ok {
				v.Add(awsproto.Quote("["+strings.Join(metrics, ", ")+"]"), "shardLevelMetrics", "Member must satisfy constraint: [Member must satisfy enum value set: ["+strings.Join(shardLevelMetrics, ", ")+"]]")
				break
			}
		}
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, op)
	if e != nil {
		return nil, e
	}
	cur, des, err := h.eng.SetShardLevelMetrics(rc.ctx, k, enable, metrics)
	if err != nil {
		return nil, engErr(err)
	}
	if cur == nil {
		cur = []string{}
	}
	if des == nil {
		des = []string{}
	}
	return struct {
		StreamName               string   `json:"StreamName"`
		StreamARN                string   `json:"StreamARN"`
		CurrentShardLevelMetrics []string `json:"CurrentShardLevelMetrics"`
		DesiredShardLevelMetrics []string `json:"DesiredShardLevelMetrics"`
	}{k.Name, k.ARN(), cur, des}, nil
}

func opEnableEnhancedMonitoring(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	return monitoring(h, rc, true)
}

func opDisableEnhancedMonitoring(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	return monitoring(h, rc, false)
}

func opDescribeLimits(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	if e := rc.authorize("DescribeLimits", ""); e != nil {
		return nil, e
	}
	l, err := h.eng.DescribeLimits(rc.ctx, rc.id.Account, rc.id.Region)
	if err != nil {
		return nil, engErr(err)
	}
	return struct {
		ShardLimit               int `json:"ShardLimit"`
		OpenShardCount           int `json:"OpenShardCount"`
		OnDemandStreamCount      int `json:"OnDemandStreamCount"`
		OnDemandStreamCountLimit int `json:"OnDemandStreamCountLimit"`
	}{l.ShardLimit, l.OpenShardCount, l.OnDemandStreamCount, l.OnDemandStreamCountLimit}, nil
}

// clientStreamID is the StreamId Sluice shows: the stream's id with its '-' turned into '_'.
// The AWS SDKs' endpoint rules send any call that carries a StreamId of AWS's shape
// (<20>-<3>) to https://<20>.<3>.control-kinesis.<region>.amazonaws.com, ignoring the
// endpoint override; KCL 3 passes the StreamId of DescribeStreamSummary back on its
// consumer calls, so an AWS-shaped id would route it away from Sluice.
func clientStreamID(id string) string { return strings.Replace(id, "-", "_", 1) }
