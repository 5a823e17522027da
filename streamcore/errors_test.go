package streamcore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

func TestErrorTexts(t *testing.T) {
	e := newEnv(t, "mem", nil)
	eng := e.eng
	k := create(t, eng, "s", 2)
	missing := key("nope")
	big := make([]byte, 1024*1024+1)
	shard0 := "shardId-000000000000"
	tests := []struct {
		name string
		call func() error
		code streamcore.Code
		msg  string
	}{
		{"unknown stream", func() error { _, err := eng.DescribeStream(ctx, missing); return err },
			streamcore.CodeResourceNotFound, "Stream nope under account 000000000000 not found."},
		{"exists", func() error { return eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: 1}) },
			streamcore.CodeResourceInUse, "Stream s under account 000000000000 already exists."},
		{"hash key", func() error {
			_, err := eng.PutRecords(ctx, k, []streamcore.PutEntry{{PartitionKey: "a", ExplicitHashKey: "340282366920938463463374607431768211456", Data: []byte("x")}})
			return err
		}, streamcore.CodeInvalidArgument, "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was 340282366920938463463374607431768211456"},
		{"record too big", func() error {
			_, err := eng.PutRecords(ctx, k, []streamcore.PutEntry{{PartitionKey: "a", Data: []byte("x")}, {PartitionKey: "a", Data: big}})
			return err
		}, streamcore.CodeValidation, "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576"},
		{"PutRecord too big", func() error {
			_, err := eng.PutRecord(ctx, k, streamcore.PutEntry{PartitionKey: "a", Data: big})
			return err
		}, streamcore.CodeValidation, "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576"},
		{"batch too big", func() error {
			var es []streamcore.PutEntry
			for i := 0; i < 11; i++ {
				es = append(es, streamcore.PutEntry{PartitionKey: "a", Data: big[:1<<20]})
			}
			_, err := eng.PutRecords(ctx, k, es)
			return err
		}, streamcore.CodeInvalidArgument, "Records size exceeds 10 MB limit"},
		{"retention short", func() error { return eng.IncreaseRetention(ctx, k, 23) },
			streamcore.CodeInvalidArgument, "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short."},
		{"retention long", func() error { return eng.IncreaseRetention(ctx, k, 8761) },
			streamcore.CodeInvalidArgument, "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long."},
		{"decrease via increase", func() error {
			if err := eng.IncreaseRetention(ctx, k, 48); err != nil {
				return err
			}
			return eng.IncreaseRetention(ctx, k, 24)
		}, streamcore.CodeInvalidArgument, "Requested retention period (24 hours) for stream s can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API."},
		{"increase via decrease", func() error { return eng.DecreaseRetention(ctx, k, 100) },
			streamcore.CodeInvalidArgument, "Requested retention period (100 hours) for stream s can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API."},
		{"split outside", func() error { return eng.SplitShard(ctx, k, shard0, "1") },
			streamcore.CodeInvalidArgument, "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream s under account 000000000000 is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's EndingHashKey 170141183460469231731687303715884105727."},
		{"unknown shard", func() error { return eng.SplitShard(ctx, k, "shardId-x", "5") },
			streamcore.CodeResourceNotFound, "Could not find shard shardId-x in stream s under account 000000000000."},
		{"merge not adjacent", func() error { return eng.MergeShards(ctx, k, "shardId-000000000001", shard0) },
			streamcore.CodeInvalidArgument, "Shards shardId-000000000001 and shardId-000000000000 in stream s under account 000000000000 are not an adjacent pair of shards eligible for merging"},
		{"scale up", func() error { _, err := eng.UpdateShardCount(ctx, k, 5); return err },
			streamcore.CodeLimitExceeded, "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 2, Target shard count: 5"},
		{"scale down", func() error {
			_, err := eng.UpdateShardCount(ctx, create(t, eng, "five", 5), 2)
			return err
		}, streamcore.CodeLimitExceeded, "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 5, Target shard count: 2"},
		{"shard limit", func() error { return eng.CreateStream(ctx, key("huge"), streamcore.CreateOptions{ShardCount: 19994}) },
			streamcore.CodeLimitExceeded, "This request would exceed the shard limit for the account 000000000000 in us-east-1. Current shard count for the account: 7. Limit: 20000. Number of additional shards that would have resulted from this request: 19994. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits."},
		{"iterator trim+seq", func() error {
			_, err := eng.GetShardIterator(ctx, k, shard0, streamcore.Position{Type: streamcore.TrimHorizon, SequenceNumber: "1"})
			return err
		}, streamcore.CodeInvalidArgument, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified TRIM_HORIZON and also a StartingSequenceNumber."},
		{"iterator at without seq", func() error {
			_, err := eng.GetShardIterator(ctx, k, shard0, streamcore.Position{Type: streamcore.AtSequenceNumber})
			return err
		}, streamcore.CodeInvalidArgument, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."},
		{"malformed seq", func() error {
			_, err := eng.GetShardIterator(ctx, k, shard0, streamcore.Position{Type: streamcore.AtSequenceNumber, SequenceNumber: "12x"})
			return err
		}, streamcore.CodeInvalidArgument, "StartingSequenceNumber 12x used in GetShardIterator on shard shardId-000000000000 in stream s under account 000000000000 is invalid."},
		{"foreign seq", func() error {
			_, err := eng.GetShardIterator(ctx, k, shard0, streamcore.Position{Type: streamcore.AtSequenceNumber, SequenceNumber: "12345"})
			return err
		}, streamcore.CodeInvalidArgument, "StartingSequenceNumber 12345 used in GetShardIterator on shard shardId-000000000000 in stream s under account 000000000000 is invalid because it did not come from this stream."},
		{"other shard's seq", func() error {
			seq := put(t, eng, k, "b", "x").SequenceNumber // shard 1
			_, err := eng.GetShardIterator(ctx, k, shard0, streamcore.Position{Type: streamcore.AtSequenceNumber, SequenceNumber: seq})
			return err
		}, streamcore.CodeInvalidArgument, "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000"},
		{"no timestamp", func() error {
			_, err := eng.GetShardIterator(ctx, k, shard0, streamcore.Position{Type: streamcore.AtTimestamp})
			return err
		}, streamcore.CodeInvalidArgument, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter."},
		{"missing shard", func() error {
			_, err := eng.GetShardIterator(ctx, k, "shardId-000000000009", streamcore.Position{Type: streamcore.Latest})
			return err
		}, streamcore.CodeResourceNotFound, "Shard shardId-000000000009 in stream s under account 000000000000 does not exist"},
		{"bad iterator", func() error { _, err := eng.GetRecords(ctx, "AAAAAAAAAAE=", 1); return err },
			streamcore.CodeInvalidArgument, "Invalid ShardIterator."},
		{"unknown key", func() error { return eng.StartEncryption(ctx, k, "nokey") },
			streamcore.CodeKMSNotFound, "Key 'nokey' does not exist in the keyring."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(), tc.code, tc.msg) })
	}
}

func TestMoreErrorTexts(t *testing.T) {
	e := newEnv(t, "mem", func(o *streamcore.Options) { o.UpdateDelay = time.Hour })
	eng := e.eng
	k := create(t, eng, "s", 2)
	must(t, eng.SplitShard(ctx, k, "shardId-000000000000", "85070591730234615865843651857942052864"))
	tests := []struct {
		name string
		err  error
		code streamcore.Code
		msg  string
	}{
		{"retention while UPDATING", eng.IncreaseRetention(ctx, k, 48), streamcore.CodeResourceInUse, "Stream s under account 000000000000 not ACTIVE, instead in state UPDATING"},
		{"consumer missing", func() error { _, err := eng.DescribeConsumer(ctx, k, "x"); return err }(), streamcore.CodeResourceNotFound,
			"Consumer arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/x not found."},
		{"consumer ARN missing", func() error {
			_, _, err := eng.ConsumerByARN(ctx, "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/x:1")
			return err
		}(), streamcore.CodeResourceNotFound, "Consumer arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/x:1 not found."},
		{"target too big", func() error { _, err := eng.UpdateShardCount(ctx, create(t, eng, "t", 1), 10001); return err }(), streamcore.CodeLimitExceeded,
			"Target shard count or number of open shards cannot be greater than 10000. Current open shard count: 1, Target shard count: 10001"},
		{"future timestamp", func() error {
			_, err := eng.GetShardIterator(ctx, key("t"), "shardId-000000000000", streamcore.Position{Type: streamcore.AtTimestamp, Timestamp: time.UnixMilli(4102444800000)})
			return err
		}(), streamcore.CodeInvalidArgument, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.msg == "" {
				if streamcore.CodeOf(tc.err) != tc.code || !strings.HasPrefix(tc.err.(*streamcore.Error).Msg, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: 4102444800000, currentTimestampInMillis: ") {
					t.Fatalf("err = %v", tc.err)
				}
				return
			}
			wantErr(t, tc.err, tc.code, tc.msg)
		})
	}
}
