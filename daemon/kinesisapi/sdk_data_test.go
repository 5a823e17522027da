package kinesisapi

import (
	"bytes"
	"fmt"
	"math/big"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestSDKDataPlane(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	// Routing vectors of reference §3.1.
	for key, shard := range map[string]string{"a": "shardId-000000000000", "b": "shardId-000000000001", "e": "shardId-000000000002"} {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(key), Data: []byte("v-" + key)})
		if err != nil {
			t.Fatal(err)
		}
		if *out.ShardId != shard || len(*out.SequenceNumber) != 56 {
			t.Fatalf("PutRecord %q → %s %s", key, *out.ShardId, *out.SequenceNumber)
		}
	}
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 500; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte(fmt.Sprintf("rec-%03d", i))})
	}
	entries[7].ExplicitHashKey = aws.String("0")
	pr, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
	if err != nil {
		t.Fatal(err)
	}
	if *pr.FailedRecordCount != 0 || len(pr.Records) != 500 || *pr.Records[7].ShardId != "shardId-000000000000" {
		t.Fatalf("PutRecords: failed=%d n=%d", *pr.FailedRecordCount, len(pr.Records))
	}
	// Validation texts.
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String(""), Data: []byte("x")}, {PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String("01")}}})
	apiErr(t, err, "ValidationException", "2 validation errors detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '01' at 'records.2.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})")
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String("340282366920938463463374607431768211456")})
	apiErr(t, err, "InvalidArgumentException", "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was 340282366920938463463374607431768211456")
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, 1<<20+1)})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576")
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("missing"), PartitionKey: aws.String("k"), Data: []byte("x")})
	apiErr(t, err, "ResourceNotFoundException", "Stream missing under account 000000000000 not found.")

	// Read shard 0 from TRIM_HORIZON to the end.
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	// an iterator pasted with its JSON quotes reads like the bare one, as on AWS
	quoted, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(`"` + aws.ToString(it.ShardIterator) + `"`), Limit: aws.Int32(10000)})
	if err != nil || len(quoted.Records) < 2 {
		t.Fatalf("GetRecords with a quoted iterator: %v", err)
	}
	gr, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10000)})
	if err != nil {
		t.Fatal(err)
	}
	if len(gr.Records) < 2 || string(gr.Records[0].Data) != "v-a" || *gr.Records[0].PartitionKey != "a" || gr.NextShardIterator == nil ||
		gr.Records[0].ApproximateArrivalTimestamp.IsZero() || time.Since(*gr.Records[0].ApproximateArrivalTimestamp) > time.Minute {
		t.Fatalf("GetRecords: %d records, first %+v", len(gr.Records), gr.Records[0])
	}
	for i := 1; i < len(gr.Records); i++ {
		a, _ := new(big.Int).SetString(*gr.Records[i-1].SequenceNumber, 10)
		b, _ := new(big.Int).SetString(*gr.Records[i].SequenceNumber, 10)
		if a.Cmp(b) >= 0 {
			t.Fatalf("sequence numbers not increasing at %d", i)
		}
	}
	// AFTER_SEQUENCE_NUMBER resumes right after a record; AT includes it.
	mid := gr.Records[1]
	for typ, want := range map[types.ShardIteratorType]string{types.ShardIteratorTypeAfterSequenceNumber: *gr.Records[2].SequenceNumber, types.ShardIteratorTypeAtSequenceNumber: *mid.SequenceNumber} {
		it2, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-0"), ShardIteratorType: typ, StartingSequenceNumber: mid.SequenceNumber})
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it2.ShardIterator, Limit: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Records) != 1 || *g.Records[0].SequenceNumber != want {
			t.Fatalf("%s: got %+v", typ, g.Records)
		}
	}
	// LATEST sees only new records; AT_TIMESTAMP.
	lat, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: lat.ShardIterator})
	if err != nil || len(g.Records) != 0 || *g.MillisBehindLatest != 0 {
		t.Fatalf("LATEST: %+v %v", g, err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("a"), Data: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	g, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: g.NextShardIterator})
	if err != nil || len(g.Records) != 1 || string(g.Records[0].Data) != "late" {
		t.Fatalf("after LATEST: %+v %v", g, err)
	}
	ts, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(time.Now().Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	g, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: ts.ShardIterator, Limit: aws.Int32(1)})
	if err != nil || len(g.Records) != 1 || string(g.Records[0].Data) != "v-a" {
		t.Fatalf("AT_TIMESTAMP: %+v %v", g, err)
	}

	// Iterator and position errors.
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAAAAAAAAE=")})
	apiErr(t, err, "InvalidArgumentException", "Invalid ShardIterator.")
	_, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest, StartingSequenceNumber: mid.SequenceNumber})
	apiErr(t, err, "InvalidArgumentException", "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified LATEST and also a StartingSequenceNumber.")
	_, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000009"), ShardIteratorType: types.ShardIteratorTypeLatest})
	apiErr(t, err, "ResourceNotFoundException", "")
	_, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: "SOMEWHERE"})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]")
}

// readAll reads a shard from TRIM_HORIZON until the end of a closed shard, returning
// its records and child shards.
func readAll(t *testing.T, c *kinesis.Client, stream, shard string) ([]types.Record, []types.ChildShard) {
	t.Helper()
	ctx := ctxT(t)
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var recs []types.Record
	iter := it.ShardIterator
	for i := 0; iter != nil; i++ {
		if i > 50 {
			t.Fatalf("shard %s did not end", shard)
		}
		g, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, g.Records...)
		if g.NextShardIterator == nil {
			return recs, g.ChildShards
		}
		if len(g.ChildShards) > 0 {
			t.Fatalf("ChildShards with a NextShardIterator")
		}
		if len(g.Records) == 0 && *g.MillisBehindLatest == 0 {
			return recs, nil // an open shard, read up to its tip
		}
		iter = g.NextShardIterator
	}
	return recs, nil
}

func TestSDKReshardReadParentsThenChildren(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("r"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	put := func(tag string, n int) {
		var es []types.PutRecordsRequestEntry
		for i := 0; i < n; i++ {
			es = append(es, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(tag, i)), Data: []byte(fmt.Sprint(tag, i))})
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("r"), Records: es})
		if err != nil || *out.FailedRecordCount != 0 {
			t.Fatalf("put %s: %v", tag, err)
		}
	}
	active := func() {
		waitFor(t, "stream ACTIVE", func() bool {
			s, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("r")})
			return err == nil && s.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive
		})
	}
	put("gen0-", 100)
	// Split shard 0 at the middle of its range.
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("r"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("85070591730234615865843651857942052864")})
	if err != nil {
		t.Fatal(err)
	}
	active()
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("r"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("5")})
	apiErr(t, err, "InvalidArgumentException", "")
	put("gen1-", 100)
	// Merge the two children back.
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("r"), ShardToMerge: aws.String("shardId-000000000002"), AdjacentShardToMerge: aws.String("shardId-000000000003")}); err != nil {
		t.Fatal(err)
	}
	active()
	put("gen2-", 100)
	us, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("r"), TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling})
	if err != nil {
		t.Fatal(err)
	}
	if *us.CurrentShardCount != 2 || *us.TargetShardCount != 4 {
		t.Fatalf("UpdateShardCount: %+v", us)
	}
	active()
	put("gen3-", 100)

	// Walk the lineage: read each shard to its end (parents before children), collect all.
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("r")})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]types.Shard{}
	for _, s := range shards.Shards {
		byID[*s.ShardId] = s
	}
	done := map[string]bool{}
	seen := map[string]int{}
	queue := []string{"shardId-000000000000", "shardId-000000000001"}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if done[id] {
			continue
		}
		s := byID[id]
		if s.ParentShardId != nil && !done[*s.ParentShardId] || s.AdjacentParentShardId != nil && !done[*s.AdjacentParentShardId] {
			queue = append(queue, id) // parents first
			continue
		}
		recs, children := readAll(t, c, "r", id)
		done[id] = true
		for _, r := range recs {
			seen[string(r.Data)]++
		}
		open := s.SequenceNumberRange.EndingSequenceNumber == nil
		if open != (children == nil) && !open {
			t.Fatalf("closed shard %s ended without children", id)
		}
		for _, ch := range children {
			if len(ch.ParentShards) == 0 {
				t.Fatalf("child %s without parents", *ch.ShardId)
			}
			queue = append(queue, *ch.ShardId)
		}
		if open {
			continue
		}
	}
	if len(seen) != 400 {
		t.Fatalf("read %d distinct records across the lineage, want 400", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("record %s read %d times", k, n)
		}
	}
	var ids []string
	for id := range done {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) != len(byID) {
		t.Fatalf("visited %v, stream has %d shards", ids, len(byID))
	}
	_ = bytes.Equal
}

func TestSDKPutRecordsThrottledPerRecord(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdk("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("tight"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	// 500 × 4 KiB = 2 MiB against a 1 MiB/s shard: the tail of the batch is throttled.
	var es []types.PutRecordsRequestEntry
	for i := 0; i < 500; i++ {
		es = append(es, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(i)), Data: bytes.Repeat([]byte{'z'}, 4096)})
	}
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("tight"), Records: es})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 500 || *out.FailedRecordCount == 0 || *out.FailedRecordCount == 500 {
		t.Fatalf("FailedRecordCount %d of %d", *out.FailedRecordCount, len(out.Records))
	}
	failed := 0
	for _, r := range out.Records {
		if r.ErrorCode == nil {
			if r.SequenceNumber == nil || r.ShardId == nil {
				t.Fatalf("accepted entry without sequence number: %+v", r)
			}
			continue
		}
		failed++
		if *r.ErrorCode != "ProvisionedThroughputExceededException" || *r.ErrorMessage != "Rate exceeded for shard shardId-000000000000 in stream tight under account 000000000000." || r.SequenceNumber != nil {
			t.Fatalf("throttled entry: %+v", r)
		}
	}
	if failed != int(*out.FailedRecordCount) {
		t.Fatalf("%d failed entries, FailedRecordCount %d", failed, *out.FailedRecordCount)
	}
	// PutRecord over the quota is a 400 with the same text.
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("tight"), PartitionKey: aws.String("k"), Data: bytes.Repeat([]byte{'z'}, 900<<10)})
	apiErr(t, err, "ProvisionedThroughputExceededException", "Rate exceeded for shard shardId-000000000000 in stream tight under account 000000000000.")
}

func TestSDKEncryptedStreamReportsKMS(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("sec"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String("sec"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "encryption on", func() bool {
		s, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("sec")})
		return err == nil && s.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive && s.StreamDescriptionSummary.EncryptionType == types.EncryptionTypeKms
	})
	p, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("sec"), PartitionKey: aws.String("k"), Data: []byte("secret")})
	if err != nil || p.EncryptionType != types.EncryptionTypeKms {
		t.Fatalf("PutRecord: %+v %v", p, err)
	}
	ps, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("sec"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("s2")}}})
	if err != nil || ps.EncryptionType != types.EncryptionTypeKms {
		t.Fatalf("PutRecords: %+v %v", ps, err)
	}
	recs, _ := readAll(t, c, "sec", "shardId-000000000000")
	if len(recs) != 2 || string(recs[0].Data) != "secret" || recs[0].EncryptionType != types.EncryptionTypeKms {
		t.Fatalf("read back: %+v", recs)
	}
}

// PutRecord's SequenceNumberForOrdering reaches the engine: a number from the future is
// refused with Kinesis's text, a past one is accepted.
func TestSDKPutRecordSequenceNumberForOrdering(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("o"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stream active", func() bool {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("o")})
		return err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive
	})
	first, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("o"), PartitionKey: aws.String("k"), Data: []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("o"), PartitionKey: aws.String("k"), Data: []byte("2"), SequenceNumberForOrdering: first.SequenceNumber}); err != nil {
		t.Fatalf("ordering on an earlier number: %v", err)
	}
	future := "99999999999999999999999999999999999999999999999999999999"
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("o"), PartitionKey: aws.String("k"), Data: []byte("3"), SequenceNumberForOrdering: aws.String(future)})
	apiErr(t, err, "InvalidArgumentException", "ExclusiveMinimumSequenceNumber "+future+" used in PutRecord on stream o under account 000000000000 is invalid.")
}
