package kinesisapi

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The record distribution strategy as the SDK uses it: USER_PARTITION_KEY by default
// (partition key required, one key on one shard), AUTO on ON_DEMAND streams (keys optional
// and ignored, records spread over the shards), refused on PROVISIONED streams.
func TestRecordDistributionStrategy(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdk("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	summary := func(name string) *types.StreamDescriptionSummary {
		t.Helper()
		s, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return s.StreamDescriptionSummary
	}
	active := func(name string) {
		waitFor(t, name+" ACTIVE", func() bool { return summary(name).StreamStatus == types.StreamStatusActive })
	}

	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("spread"),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("fixed"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	active("spread")
	active("fixed")
	for _, n := range []string{"spread", "fixed"} {
		if got := summary(n).RecordDistributionStrategy; got != types.RecordDistributionStrategyUserPartitionKey {
			t.Fatalf("%s: RecordDistributionStrategy = %q, want USER_PARTITION_KEY", n, got)
		}
	}

	// By key: a record without a partition key is refused, alone or with other violations.
	_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("spread"), Data: []byte("x")})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null")
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("spread"), Records: []types.PutRecordsRequestEntry{
		{Data: []byte("x"), PartitionKey: aws.String("k")}, {Data: []byte("y")}}})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value null at 'records.2.member.partitionKey' failed to satisfy constraint: Member must not be null")
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("spread"), Data: []byte("x"), ExplicitHashKey: aws.String("x")})
	apiErr(t, err, "ValidationException", "2 validation errors detected: "+
		"Value null at 'partitionKey' failed to satisfy constraint: Member must not be null; "+
		"Value 'x' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})")

	// AUTO is for ON_DEMAND streams only.
	fixedARN := summary("fixed").StreamARN
	_, err = c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: fixedARN,
		RecordDistributionStrategy: types.RecordDistributionStrategyAuto})
	apiErr(t, err, "InvalidArgumentException", "The AUTO record distribution strategy is supported only for streams in ON_DEMAND capacity mode; stream fixed under account 000000000000 is PROVISIONED.")
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("other"), ShardCount: aws.Int32(2),
		RecordDistributionStrategy: types.RecordDistributionStrategyAuto})
	apiErr(t, err, "InvalidArgumentException", "")
	_, err = c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: fixedARN,
		RecordDistributionStrategy: "BOGUS"})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value 'BOGUS' at 'recordDistributionStrategy' failed to satisfy constraint: Member must satisfy enum value set: [AUTO, USER_PARTITION_KEY]")

	spreadARN := summary("spread").StreamARN
	if _, err := c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: spreadARN,
		RecordDistributionStrategy: types.RecordDistributionStrategyAuto}); err != nil {
		t.Fatal(err)
	}
	if got := summary("spread").RecordDistributionStrategy; got != types.RecordDistributionStrategyAuto {
		t.Fatalf("after update: RecordDistributionStrategy = %q, want AUTO", got)
	}
	// AUTO: one partition key (or none) still lands on every shard.
	perShard := map[string]int{}
	for range 4 {
		entries := make([]types.PutRecordsRequestEntry, 100)
		for i := range entries {
			entries[i] = types.PutRecordsRequestEntry{Data: []byte("v"), PartitionKey: aws.String("one-key")}
			if i%2 == 1 {
				entries[i].PartitionKey = nil
			}
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: spreadARN, Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			if r.ErrorCode != nil {
				t.Fatalf("record refused: %s %s", *r.ErrorCode, *r.ErrorMessage)
			}
			perShard[*r.ShardId]++
		}
	}
	if len(perShard) != 4 {
		t.Fatalf("AUTO put 400 records with one key on %d of 4 shards: %v", len(perShard), perShard)
	}
	for id, n := range perShard {
		if n < 50 {
			t.Errorf("shard %s got %d of 400 records: not spread evenly (%v)", id, n, perShard)
		}
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: spreadARN, Data: []byte("no key")}); err != nil {
		t.Fatalf("PutRecord without a partition key on an AUTO stream: %v", err)
	}
	// An AUTO stream cannot go back to PROVISIONED without going back to by-key first.
	_, err = c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: spreadARN,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}})
	apiErr(t, err, "InvalidArgumentException", "")

	if _, err := c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: spreadARN,
		RecordDistributionStrategy: types.RecordDistributionStrategyUserPartitionKey}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: spreadARN, Data: []byte("x")})
	apiErr(t, err, "ValidationException", "")
}
