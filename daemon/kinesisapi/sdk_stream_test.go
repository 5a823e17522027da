package kinesisapi

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// apiErr asserts err is an AWS API error with code and (if non-empty) message.
func apiErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s error, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code = %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("message = %q\nwant      %q", ae.ErrorMessage(), msg)
	}
}

func TestSDKStreamControlPlane(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdk("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)

	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(3),
		Tags: map[string]string{"team": "core"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)})
	apiErr(t, err, "ResourceInUseException", "Stream orders under account 000000000000 already exists.")
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad name!"), ShardCount: aws.Int32(1)})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	for _, n := range []string{"alpha", "beta"} {
		if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(n), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
	}

	d, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	sd := d.StreamDescription
	if sd.StreamStatus != types.StreamStatusActive || len(sd.Shards) != 3 || *sd.StreamARN != "arn:aws:kinesis:us-east-1:000000000000:stream/orders" ||
		*sd.Shards[0].HashKeyRange.EndingHashKey != "113427455640312821154458202477256070484" || sd.EncryptionType != types.EncryptionTypeNone ||
		*sd.RetentionPeriodHours != 24 || sd.StreamCreationTimestamp == nil || *sd.HasMoreShards {
		t.Fatalf("DescribeStream: %+v", sd)
	}
	// Paging DescribeStream and addressing by ARN.
	d, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamARN: sd.StreamARN, Limit: aws.Int32(2), ExclusiveStartShardId: aws.String("shardId-000000000000")})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.StreamDescription.Shards) != 2 || *d.StreamDescription.Shards[0].ShardId != "shardId-000000000001" || *d.StreamDescription.HasMoreShards {
		t.Fatalf("DescribeStream page: %+v", d.StreamDescription)
	}
	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("nope")})
	apiErr(t, err, "ResourceNotFoundException", "Stream nope under account 000000000000 not found.")
	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("alpha"), StreamARN: sd.StreamARN})
	apiErr(t, err, "InvalidArgumentException", "StreamARN arn:aws:kinesis:us-east-1:000000000000:stream/orders does not refer to stream alpha.")

	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if *sum.StreamDescriptionSummary.OpenShardCount != 3 || sum.StreamDescriptionSummary.StreamId == nil {
		t.Fatalf("summary: %+v", sum.StreamDescriptionSummary)
	}
	// a client that passes the StreamId back (KCL 3 does) still reaches the endpoint override:
	// the SDK's endpoint rules send an AWS-shaped StreamId to *.control-kinesis.amazonaws.com
	ep, err := kinesis.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, kinesis.EndpointParameters{Region: aws.String("us-east-1"),
		Endpoint: aws.String("http://127.0.0.1:4600"), OperationType: aws.String("control"), StreamId: sum.StreamDescriptionSummary.StreamId})
	if err != nil || ep.URI.Host != "127.0.0.1:4600" {
		t.Errorf("StreamId %s routes the SDK to %v (%v), away from the endpoint override", aws.ToString(sum.StreamDescriptionSummary.StreamId), ep.URI.String(), err)
	}

	// ListStreams with pagination.
	var names []string
	var token *string
	for pages := 0; ; pages++ {
		in := &kinesis.ListStreamsInput{Limit: aws.Int32(2), NextToken: token}
		out, err := c.ListStreams(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, out.StreamNames...)
		if len(out.StreamSummaries) != len(out.StreamNames) {
			t.Fatalf("summaries %d vs names %d", len(out.StreamSummaries), len(out.StreamNames))
		}
		if !*out.HasMoreStreams {
			break
		}
		token = out.NextToken
		if pages > 3 || token == nil {
			t.Fatalf("paging did not end: %+v", out)
		}
	}
	if strings.Join(names, ",") != "alpha,beta,orders" {
		t.Fatalf("ListStreams = %v", names)
	}
	_, err = c.ListStreams(ctx, &kinesis.ListStreamsInput{NextToken: aws.String("garbage")})
	apiErr(t, err, "InvalidArgumentException", "")

	// ListShards: pages, filters, token rules.
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("orders"), MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Shards) != 2 || ls.NextToken == nil {
		t.Fatalf("ListShards page 1: %+v", ls)
	}
	ls2, err := c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: ls.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls2.Shards) != 1 || *ls2.Shards[0].ShardId != "shardId-000000000002" || ls2.NextToken != nil {
		t.Fatalf("ListShards page 2: %+v", ls2)
	}
	_, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: ls.NextToken, StreamName: aws.String("orders")})
	apiErr(t, err, "InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
	_, err = c.ListShards(ctx, &kinesis.ListShardsInput{})
	apiErr(t, err, "InvalidArgumentException", "Either NextToken or StreamName should be provided.")
	ls, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("orders"),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String("shardId-000000000001")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Shards) != 1 || *ls.Shards[0].ShardId != "shardId-000000000002" {
		t.Fatalf("AFTER_SHARD_ID: %+v", ls.Shards)
	}

	// Tags on streams and via *Resource.
	if _, err := c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("orders"), Tags: map[string]string{"env": "prod", "b": "2"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("orders"), Limit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tags) != 2 || *lt.Tags[0].Key != "b" || *lt.Tags[1].Key != "env" || !*lt.HasMoreTags {
		t.Fatalf("ListTagsForStream: %+v", lt)
	}
	if _, err := c.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String("orders"), TagKeys: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	arn := sd.StreamARN
	if _, err := c.TagResource(ctx, &kinesis.TagResourceInput{ResourceARN: arn, Tags: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &kinesis.UntagResourceInput{ResourceARN: arn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	lr, err := c.ListTagsForResource(ctx, &kinesis.ListTagsForResourceInput{ResourceARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	var kv []string
	for _, tg := range lr.Tags {
		kv = append(kv, *tg.Key+"="+*tg.Value)
	}
	sort.Strings(kv)
	if strings.Join(kv, ",") != "env=prod,x=y" {
		t.Fatalf("tags = %v", kv)
	}
	_, err = c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("orders"), Tags: map[string]string{"": "v"}})
	apiErr(t, err, "ValidationException", "")

	// Retention.
	if _, err := c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("orders"), RetentionPeriodHours: aws.Int32(48)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("orders"), RetentionPeriodHours: aws.Int32(10)})
	apiErr(t, err, "InvalidArgumentException", "Minimum allowed retention period is 24 hours. Requested retention period (10 hours) is too short.")
	if _, err := c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("orders"), RetentionPeriodHours: aws.Int32(24)}); err != nil {
		t.Fatal(err)
	}

	// Monitoring, max record size, encryption, mode.
	em, err := c.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{StreamName: aws.String("orders"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameIncomingBytes}})
	if err != nil {
		t.Fatal(err)
	}
	if len(em.DesiredShardLevelMetrics) != 1 || em.DesiredShardLevelMetrics[0] != types.MetricsNameIncomingBytes {
		t.Fatalf("EnableEnhancedMonitoring: %+v", em)
	}
	if _, err := c.DisableEnhancedMonitoring(ctx, &kinesis.DisableEnhancedMonitoringInput{StreamName: aws.String("orders"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: arn, MaxRecordSizeInKiB: aws.Int32(2048)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: arn, MaxRecordSizeInKiB: aws.Int32(20000)})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value '20000' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value less than or equal to 10240")
	_, err = c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String("alpha"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/unknown")})
	apiErr(t, err, "KMSNotFoundException", "")
	if _, err := c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String("alpha"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alpha ACTIVE with KMS", func() bool {
		s, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("alpha")})
		return err == nil && s.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive && s.StreamDescriptionSummary.EncryptionType == types.EncryptionTypeKms
	})
	if _, err := c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: aws.String("alpha"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis")}); err != nil {
		t.Fatal(err)
	}
	betaARN := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/beta")
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: betaARN, StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "beta ON_DEMAND", func() bool {
		s, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: betaARN})
		return err == nil && s.StreamDescriptionSummary.StreamModeDetails.StreamMode == types.StreamModeOnDemand
	})

	// Limits and account settings.
	lim, err := c.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *lim.ShardLimit != 20000 || *lim.OpenShardCount < 5 {
		t.Fatalf("DescribeLimits: %+v", lim)
	}
	if _, err := c.UpdateAccountSettings(ctx, &kinesis.UpdateAccountSettingsInput{MinimumThroughputBillingCommitment: &types.MinimumThroughputBillingCommitmentInput{
		Status: types.MinimumThroughputBillingCommitmentInputStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	acct, err := c.DescribeAccountSettings(ctx, &kinesis.DescribeAccountSettingsInput{})
	if err != nil || acct.MinimumThroughputBillingCommitment == nil || acct.MinimumThroughputBillingCommitment.Status != types.MinimumThroughputBillingCommitmentOutputStatusEnabled {
		t.Fatalf("DescribeAccountSettings after enabling the commitment: %+v %v", acct, err)
	}

	// Resource policies.
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kinesis:GetRecords","Resource":"*"}]}`
	gp, err := c.GetResourcePolicy(ctx, &kinesis.GetResourcePolicyInput{ResourceARN: arn})
	if err != nil || aws.ToString(gp.Policy) != "{}" { // as AWS answers a stream without a policy
		t.Fatalf("GetResourcePolicy before put: %v %v, want Policy \"{}\"", aws.ToString(gp.Policy), err)
	}
	if _, err := c.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	gp, err = c.GetResourcePolicy(ctx, &kinesis.GetResourcePolicyInput{ResourceARN: arn})
	if err != nil || gp.Policy == nil || *gp.Policy != pol {
		t.Fatalf("GetResourcePolicy: %+v %v", gp, err)
	}
	if _, err := c.DeleteResourcePolicy(ctx, &kinesis.DeleteResourcePolicyInput{ResourceARN: arn}); err != nil {
		t.Fatal(err)
	}
	// with nothing left to delete, AWS refuses with ResourceNotFoundException
	_, err = c.DeleteResourcePolicy(ctx, &kinesis.DeleteResourcePolicyInput{ResourceARN: arn})
	apiErr(t, err, "ResourceNotFoundException", "No resource policy is attached to "+aws.ToString(arn)+".")
	// a CreateStream with neither ShardCount nor StreamModeDetails is ON_DEMAND, as on AWS
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("nomode")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nomode active", func() bool {
		d, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("nomode")})
		return err == nil && d.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive
	})
	if d, _ := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("nomode")}); d.StreamDescriptionSummary.StreamModeDetails == nil ||
		d.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeOnDemand || aws.ToInt32(d.StreamDescriptionSummary.OpenShardCount) != 4 {
		t.Errorf("CreateStream without ShardCount or mode: %+v, want ON_DEMAND with 4 shards", d.StreamDescriptionSummary)
	}

	// Delete.
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("beta")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "beta gone", func() bool {
		_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("beta")})
		var nf *types.ResourceNotFoundException
		return errors.As(err, &nf)
	})
}

// A StreamARN names one stream and nothing after it: "stream/orders-1/../secret" is not
// stream orders-1 (before, the tail was cut off and the call reached orders-1).
func TestStreamARNWithATailIsRefused(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdk("AKID", "secret")
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders-1"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{
		"arn:aws:kinesis:us-east-1:000000000000:stream/orders-1/../secret",
		"arn:aws:kinesis:us-east-1:000000000000:stream/orders-1/",
		"arn:aws:kinesis:us-east-1:000000000000:stream/..",
	} {
		_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(arn)})
		apiErr(t, err, "ValidationException", "")
		if !strings.Contains(err.Error(), "streamARN") {
			t.Errorf("%s: error %v does not name the member", arn, err)
		}
		_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: aws.String(arn), PartitionKey: aws.String("k"), Data: []byte("x")})
		apiErr(t, err, "ValidationException", "")
	}
	if _, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{
		StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/orders-1")}); err != nil {
		t.Fatalf("the stream's own ARN: %v", err)
	}
}
