package kinesisapi

import (
	"regexp"
	"sort"
	"strings"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// resourceARN validates a ResourceARN member and returns the stream it belongs to.
func (h *handler) resourceARN(rc *reqCtx, v *awsproto.Validation, arn string, has bool) {
	if v.Required("resourceARN", has) {
		v.Length("resourceARN", arn, 1, 2048)
		v.Pattern("resourceARN", arn, reResARN, patResARN) // "" breaks the pattern too, as AWS lists
	}
	validateStreamID(v, rc.streamID, rc.hasStreamID) // next in every model that has ResourceARN
}

func opAddTagsToStream(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	tags, hasTags := f.StrMap("Tags")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if v.Required("tags", hasTags) {
		validateTagMap(&v, "tags", tags, 200)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	rc.setRequestTags(tags)
	k, e := h.resolve(rc, a, "AddTagsToStream")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.AddTags(rc.ctx, k.ARN(), tags))
}

func showMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(keys, ", ") + "}"
}

func validateTagKeys(v *awsproto.Validation, path string, keys []string, max int) {
	if len(keys) < 1 || len(keys) > max {
		rule := awsproto.RuleMinLen(1)
		if len(keys) > max {
			rule = awsproto.RuleMaxLen(max)
		}
		v.Add(awsproto.Quote("["+strings.Join(keys, ", ")+"]"), path, rule)
	}
	for _, k := range keys {
		if n := len([]rune(k)); n < 1 || n > 128 {
			v.Add(awsproto.Quote("["+strings.Join(keys, ", ")+"]"), path, "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
			break
		}
	}
}

func opRemoveTagsFromStream(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	keys, has := f.StrList("TagKeys")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if v.Required("tagKeys", has) {
		validateTagKeys(&v, "tagKeys", keys, 50)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	rc.tagKeys = keys
	k, e := h.resolve(rc, a, "RemoveTagsFromStream")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.RemoveTags(rc.ctx, k.ARN(), keys))
}

func sortedTags(m map[string]string) []tagOut {
	out := make([]tagOut, 0, len(m))
	for k, v := range m {
		out = append(out, tagOut{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func opListTagsForStream(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	start, hasStart := f.Str("ExclusiveStartTagKey")
	limit, hasLimit := f.Int("Limit")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if hasStart {
		v.Length("exclusiveStartTagKey", start, 1, 128)
	}
	if hasLimit {
		v.Range("limit", limit, 1, 50)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "ListTagsForStream")
	if e != nil {
		return nil, e
	}
	m, err := h.eng.ListTags(rc.ctx, k.ARN())
	if err != nil {
		return nil, engErr(err)
	}
	tags := sortedTags(m)
	if hasStart {
		i := sort.Search(len(tags), func(i int) bool { return tags[i].Key > start })
		tags = tags[i:]
	}
	if !hasLimit {
		limit = 50
	}
	more := len(tags) > int(limit)
	if more {
		tags = tags[:limit]
	}
	return struct {
		Tags        []tagOut `json:"Tags"`
		HasMoreTags bool     `json:"HasMoreTags"`
	}{tags, more}, nil
}

func opTagResource(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	tags, hasTags := f.StrMap("Tags")
	arn, hasARN := f.Str("ResourceARN")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if v.Required("tags", hasTags) {
		validateTagMap(&v, "tags", tags, 50)
	}
	h.resourceARN(rc, &v, arn, hasARN)
	if e := v.Err(); e != nil {
		return nil, e
	}
	rc.setRequestTags(tags)
	if e := rc.authorize("TagResource", arn); e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.AddTags(rc.ctx, arn, tags))
}

func opUntagResource(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	keys, has := f.StrList("TagKeys")
	arn, hasARN := f.Str("ResourceARN")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if v.Required("tagKeys", has) {
		validateTagKeys(&v, "tagKeys", keys, 50)
	}
	h.resourceARN(rc, &v, arn, hasARN)
	if e := v.Err(); e != nil {
		return nil, e
	}
	rc.tagKeys = keys
	if e := rc.authorize("UntagResource", arn); e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.RemoveTags(rc.ctx, arn, keys))
}

func opListTagsForResource(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	arn, hasARN := rc.f.Str("ResourceARN")
	if e := rc.f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	h.resourceARN(rc, &v, arn, hasARN)
	if e := v.Err(); e != nil {
		return nil, e
	}
	if e := rc.authorize("ListTagsForResource", arn); e != nil {
		return nil, e
	}
	m, err := h.eng.ListTags(rc.ctx, arn)
	if err != nil {
		return nil, engErr(err)
	}
	return struct {
		Tags []tagOut `json:"Tags"`
	}{sortedTags(m)}, nil
}

// Resource policies.

func policyArgs(h *handler, rc *reqCtx, op string, withPolicy bool) (arn, policy string, e *awsproto.Error) {
	f := rc.f
	arn, hasARN := f.Str("ResourceARN")
	policy, hasPolicy := f.Str("Policy")
	if e := f.Err(); e != nil {
		return "", "", e
	}
	var v awsproto.Validation
	h.resourceARN(rc, &v, arn, hasARN)
	if withPolicy {
		v.Required("policy", hasPolicy)
	}
	if e := v.Err(); e != nil {
		return "", "", e
	}
	return arn, policy, rc.authorize(op, arn)
}

func opPutResourcePolicy(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	arn, policy, e := policyArgs(h, rc, "PutResourcePolicy", true)
	if e != nil {
		return nil, e
	}
	if _, err := parsePolicy(policy); err != nil {
		return nil, awsproto.NewError(awsproto.TypeInvalidArgument, "Policy document is not valid: "+err.Error())
	}
	defer h.policies.invalidate(arn)
	return nil, engErr(h.eng.PutResourcePolicy(rc.ctx, arn, policy))
}

func opGetResourcePolicy(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	arn, _, e := policyArgs(h, rc, "GetResourcePolicy", false)
	if e != nil {
		return nil, e
	}
	p, err := h.eng.GetResourcePolicy(rc.ctx, arn)
	if err != nil {
		return nil, engErr(err)
	}
	if p == "" {
		p = "{}" // AWS answers an empty policy document, not an empty reply
	}
	return struct {
		Policy string `json:"Policy"`
	}{p}, nil
}

func opDeleteResourcePolicy(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	arn, _, e := policyArgs(h, rc, "DeleteResourcePolicy", false)
	if e != nil {
		return nil, e
	}
	defer h.policies.invalidate(arn)
	return nil, engErr(h.eng.DeleteResourcePolicy(rc.ctx, arn))
}

// Consumers.

var reConsumerName = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

func validateConsumerARN(v *awsproto.Validation, arn string, has bool, required bool) {
	if has {
		v.Length("consumerARN", arn, 1, 2048)
		v.Pattern("consumerARN", arn, reConARN, patConARN) // "" breaks the pattern too, as AWS lists
	} else if required {
		v.Add(awsproto.Null, "consumerARN", awsproto.RuleNotNull)
	}
}

func validateStreamARNRequired(v *awsproto.Validation, arn string, has bool) {
	if v.Required("streamARN", has) {
		v.Length("streamARN", arn, 1, 2048)
		validateARNStream(v, arn) // "" breaks the pattern too, as AWS lists
	}
}

func validateConsumerName(v *awsproto.Validation, name string, has, required bool) {
	if !has {
		if required {
			v.Add(awsproto.Null, "consumerName", awsproto.RuleNotNull)
		}
		return
	}
	v.Length("consumerName", name, 1, 128)
	v.Pattern("consumerName", name, reConsumerName, patName) // "" breaks the pattern too, as AWS lists
}

func streamKeyFromARN(arn string) (streamcore.StreamKey, *awsproto.Error) {
	k, ok := parseStreamARN(arn)
	if !ok {
		return k, awsproto.NewError(awsproto.TypeInvalidArgument, "StreamARN "+arn+" is invalid.")
	}
	return k, nil
}

func opRegisterStreamConsumer(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	arn, hasARN := f.Str("StreamARN")
	name, hasName := f.Str("ConsumerName")
	tags, hasTags := f.StrMap("Tags") // checked as AWS checks them; consumers keep no tags in Sluice
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	validateStreamARNRequired(&v, arn, hasARN)
	validateConsumerName(&v, name, hasName, true)
	validateStreamID(&v, rc.streamID, rc.hasStreamID)
	if hasTags {
		validateTagMap(&v, "tags", tags, 200)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := streamKeyFromARN(arn)
	if e != nil {
		return nil, e
	}
	if e := rc.authorize("RegisterStreamConsumer", arn); e != nil {
		return nil, e
	}
	c, err := h.eng.RegisterConsumer(rc.ctx, k, name)
	if err != nil {
		return nil, engErr(err)
	}
	return struct {
		Consumer consumerOut `json:"Consumer"`
	}{toConsumerOut(c, false)}, nil
}

// consumerArgs reads StreamARN+ConsumerName or ConsumerARN.
func (h *handler) consumer(rc *reqCtx, op string) (streamcore.StreamKey, streamcore.Consumer, *awsproto.Error) {
	f := rc.f
	sarn, hasSARN := f.Str("StreamARN")
	name, hasName := f.Str("ConsumerName")
	carn, hasCARN := f.Str("ConsumerARN")
	var k streamcore.StreamKey
	var c streamcore.Consumer
	if e := f.Err(); e != nil {
		return k, c, e
	}
	var v awsproto.Validation
	if hasSARN {
		validateStreamARNRequired(&v, sarn, true)
	}
	validateConsumerName(&v, name, hasName, false)
	validateConsumerARN(&v, carn, hasCARN, false)
	validateStreamID(&v, rc.streamID, rc.hasStreamID)
	if e := v.Err(); e != nil {
		return k, c, e
	}
	if hasCARN {
		if e := rc.authorize(op, carn); e != nil {
			return k, c, e
		}
		k, c, err := h.eng.ConsumerByARN(rc.ctx, carn)
		return k, c, engErr(err)
	}
	if !hasSARN || !hasName {
		return k, c, awsproto.NewError(awsproto.TypeInvalidArgument, "Either ConsumerARN or both ConsumerName and StreamARN must be provided.")
	}
	k, e := streamKeyFromARN(sarn)
	if e != nil {
		return k, c, e
	}
	if e := rc.authorize(op, sarn); e != nil {
		return k, c, e
	}
	c, err := h.eng.DescribeConsumer(rc.ctx, k, name)
	return k, c, engErr(err)
}

func opDescribeStreamConsumer(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	_, c, e := h.consumer(rc, "DescribeStreamConsumer")
	if e != nil {
		return nil, e
	}
	return struct {
		ConsumerDescription consumerOut `json:"ConsumerDescription"`
	}{toConsumerOut(c, true)}, nil
}

func opDeregisterStreamConsumer(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	k, c, e := h.consumer(rc, "DeregisterStreamConsumer")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.DeregisterConsumer(rc.ctx, k, c.Name))
}

func opListStreamConsumers(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	arn, hasARN := f.Str("StreamARN")
	token, hasToken := f.Str("NextToken")
	maxRes, hasMax := f.Int("MaxResults")
	_, hasCreated := f.Time("StreamCreationTimestamp", rc.codec)
	if e := f.Err(); e != nil {
		return nil, e
	}
	_ = hasCreated
	var v awsproto.Validation
	validateStreamARNRequired(&v, arn, hasARN)
	if hasToken {
		v.Length("nextToken", token, 1, 1048576)
	}
	if hasMax {
		v.Range("maxResults", maxRes, 1, 10000)
	}
	validateStreamID(&v, rc.streamID, rc.hasStreamID)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := streamKeyFromARN(arn)
	if e != nil {
		return nil, e
	}
	if e := rc.authorize("ListStreamConsumers", arn); e != nil {
		return nil, e
	}
	after := ""
	if hasToken {
		t, e := h.tokens.decode(token, h.now())
		if e != nil {
			return nil, e
		}
		if t.Kind != "consumers" || t.Stream != k.Name {
			return nil, invalidToken()
		}
		after = t.After
	}
	cs, err := h.eng.ListConsumers(rc.ctx, k)
	if err != nil {
		return nil, engErr(err)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	if after != "" {
		i := sort.Search(len(cs), func(i int) bool { return cs[i].Name > after })
		cs = cs[i:]
	}
	if !hasMax {
		maxRes = 100
	}
	more := len(cs) > int(maxRes)
	if more {
		cs = cs[:maxRes]
	}
	type out struct {
		Consumers []consumerOut `json:"Consumers"`
		NextToken string        `json:"NextToken,omitempty"`
	}
	o := out{Consumers: make([]consumerOut, 0, len(cs))}
	for _, c := range cs {
		o.Consumers = append(o.Consumers, toConsumerOut(c, false))
	}
	if more {
		o.NextToken = h.tokens.encode(pageToken{Kind: "consumers", Account: k.Account, Region: k.Region, Stream: k.Name, After: cs[len(cs)-1].Name}, h.now())
	}
	return o, nil
}

// Account settings and warm throughput are stored, without effect (reference §2).

func opDescribeAccountSettings(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	if e := rc.authorize("DescribeAccountSettings", ""); e != nil {
		return nil, e
	}
	return h.accountSettingsOut(rc)
}

type commitmentOut struct {
	Status string `json:"Status"`
}

const settingBillingCommitment = "minimum-throughput-billing-commitment"

func (h *handler) accountSettingsOut(rc *reqCtx) (any, *awsproto.Error) {
	status, ok, err := h.eng.AccountSetting(rc.ctx, rc.id.Account, settingBillingCommitment)
	if err != nil {
		return nil, engErr(err)
	}
	if !ok {
		status = "DISABLED"
	}
	return struct {
		MinimumThroughputBillingCommitment commitmentOut `json:"MinimumThroughputBillingCommitment"`
	}{commitmentOut{status}}, nil
}

func opUpdateAccountSettings(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	c, has := rc.f.Struct("MinimumThroughputBillingCommitment")
	status, hasStatus := "", false
	if has {
		status, hasStatus = c.Str("Status")
		rc.f.Adopt(c)
	}
	if e := rc.f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	if v.Required("minimumThroughputBillingCommitment", has) && v.Required("minimumThroughputBillingCommitment.status", hasStatus) {
		v.Enum("minimumThroughputBillingCommitment.status", status, "ENABLED", "DISABLED")
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	if e := rc.authorize("UpdateAccountSettings", ""); e != nil {
		return nil, e
	}
	if err := h.eng.SetAccountSetting(rc.ctx, rc.id.Account, settingBillingCommitment, status); err != nil {
		return nil, engErr(err)
	}
	return h.accountSettingsOut(rc)
}

func opUpdateStreamWarmThroughput(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	mibps, has := f.Int("WarmThroughputMiBps")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	arnOnly := a
	arnOnly.hasStreamID = false // the model lists StreamId after StreamName here
	arnOnly.validateARN(&v)
	a.validateName(&v, true)
	validateStreamID(&v, a.streamID, a.hasStreamID)
	if v.Required("warmThroughputMiBps", has) {
		v.Range("warmThroughputMiBps", mibps, 0, 1<<31-1)
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "UpdateStreamWarmThroughput")
	if e != nil {
		return nil, e
	}
	if err := h.eng.SetWarmThroughput(rc.ctx, k, mibps); err != nil {
		return nil, engErr(err)
	}
	type wt struct {
		TargetMiBps  int64 `json:"TargetMiBps"`
		CurrentMiBps int64 `json:"CurrentMiBps"`
	}
	return struct {
		StreamARN      string `json:"StreamARN"`
		StreamName     string `json:"StreamName"`
		WarmThroughput wt     `json:"WarmThroughput"`
	}{k.ARN(), k.Name, wt{mibps, mibps}}, nil
}

// validateTagMap checks a tag map member: 1 to max entries, then each key and value.
func validateTagMap(v *awsproto.Validation, path string, tags map[string]string, max int) {
	if len(tags) < 1 || len(tags) > max {
		rule := awsproto.RuleMinLen(1)
		if len(tags) > max {
			rule = awsproto.RuleMaxLen(max)
		}
		v.Add(awsproto.Quote(showMap(tags)), path, rule)
	}
	validateTags(v, path, tags)
}
