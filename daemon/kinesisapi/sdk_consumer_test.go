package kinesisapi

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestSDKConsumersAndSubscribeToShard(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("efo"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	streamARN := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/efo")
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	carn := reg.Consumer.ConsumerARN
	_, err = c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String("app")})
	apiErr(t, err, "ResourceInUseException", "")
	for i := 0; i < 2; i++ {
		if _, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(fmt.Sprint("extra", i))}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "consumer ACTIVE", func() bool {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: carn})
		return err == nil && d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive && *d.ConsumerDescription.StreamARN == *streamARN
	})
	d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String("app")})
	if err != nil || *d.ConsumerDescription.ConsumerARN != *carn {
		t.Fatalf("describe by name: %+v %v", d, err)
	}
	lc, err := c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: streamARN, MaxResults: aws.Int32(2)})
	if err != nil || len(lc.Consumers) != 2 || lc.NextToken == nil {
		t.Fatalf("ListStreamConsumers page 1: %+v %v", lc, err)
	}
	lc2, err := c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: streamARN, NextToken: lc.NextToken})
	if err != nil || len(lc2.Consumers) != 1 || lc2.NextToken != nil {
		t.Fatalf("ListStreamConsumers page 2: %+v %v", lc2, err)
	}
	if _, err := c.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String("extra0")}); err != nil {
		t.Fatal(err)
	}

	// Records before the subscription, then live ones.
	for i := 0; i < 3; i++ {
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("efo"), PartitionKey: aws.String("k"), Data: []byte(fmt.Sprint("old", i))}); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: carn, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
	if err != nil {
		t.Fatal(err)
	}
	stream := sub.GetStream()
	defer stream.Close()
	// A second subscription within 5 s is refused (own client: the SDK's event-stream
	// codec is not safe for concurrent streams).
	_, err = env.sdk("AKIDEXAMPLE", "secret").SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: carn, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	apiErr(t, err, "ResourceInUseException", "")

	var got []string
	var lastCont string
	put := false
	deadline := time.After(15 * time.Second)
	for len(got) < 5 {
		select {
		case ev, ok := <-stream.Events():
			if !ok {
				t.Fatalf("stream ended early: %v (got %v)", stream.Err(), got)
			}
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				t.Fatalf("unexpected event %T", ev)
			}
			for _, r := range e.Value.Records {
				got = append(got, string(r.Data))
			}
			if e.Value.ContinuationSequenceNumber == nil {
				t.Fatalf("event without ContinuationSequenceNumber on an open shard")
			}
			lastCont = *e.Value.ContinuationSequenceNumber
			if len(got) >= 3 && !put {
				put = true
				for i := 0; i < 2; i++ {
					if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("efo"), PartitionKey: aws.String("k"), Data: []byte(fmt.Sprint("new", i))}); err != nil {
						t.Fatal(err)
					}
				}
			}
		case <-deadline:
			t.Fatalf("timed out; got %v", got)
		}
	}
	want := []string{"old0", "old1", "old2", "new0", "new1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records = %v, want %v", got, want)
	}
	// The continuation number is the last record delivered: resuming AFTER it yields nothing old.
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("efo"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: aws.String(lastCont)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(g.Records) != 0 {
		t.Fatalf("after continuation: %+v %v", g, err)
	}

	_, err = c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(*streamARN + "/consumer/nobody:1"), ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	apiErr(t, err, "ResourceNotFoundException", "")
}

func TestSubscribeToShardEndsWithChildShards(t *testing.T) {
	env := newEnv(t, Options{})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("end"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/end"), ConsumerName: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "consumer ACTIVE", func() bool {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
		return err == nil && d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive
	})
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("end"), PartitionKey: aws.String("k"), Data: []byte("last")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("end"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "split done", func() bool {
		s, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("end")})
		return err == nil && s.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive && *s.StreamDescriptionSummary.OpenShardCount == 2
	})
	sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
	if err != nil {
		t.Fatal(err)
	}
	stream := sub.GetStream()
	defer stream.Close()
	var records []string
	for ev := range stream.Events() {
		e := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
		for _, r := range e.Records {
			records = append(records, string(r.Data))
		}
		if len(e.ChildShards) > 0 {
			if e.ContinuationSequenceNumber != nil {
				t.Fatalf("shard-end event carries ContinuationSequenceNumber %s", *e.ContinuationSequenceNumber)
			}
			if len(e.ChildShards) != 2 || e.ChildShards[0].ParentShards[0] != "shardId-000000000000" {
				t.Fatalf("ChildShards: %+v", e.ChildShards)
			}
			break
		}
	}
	if fmt.Sprint(records) != "[last]" {
		t.Fatalf("records %v", records)
	}
	// The server ends the stream after the shard-end event.
	for range stream.Events() {
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream error: %v", err)
	}
}

func TestSubscriptionEndsCleanlyAtItsLifetime(t *testing.T) {
	env := newEnv(t, Options{SubscriptionLifetime: 1500 * time.Millisecond})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("life"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/life"), ConsumerName: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "consumer ACTIVE", func() bool {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
		return err == nil && d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive
	})
	sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	if err != nil {
		t.Fatal(err)
	}
	stream := sub.GetStream()
	defer stream.Close()
	events := 0
	for ev := range stream.Events() {
		e := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
		if len(e.Records) != 0 || e.ContinuationSequenceNumber == nil {
			t.Fatalf("idle event: %+v", e)
		}
		events++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream ended with %v", err)
	}
	if events < 1 {
		t.Fatalf("no idle heartbeat event before the subscription ended")
	}
}

func TestNewSubscriptionReplacesOneOlderThanFiveSeconds(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	env := newEnv(t, Options{Now: now})
	c := env.sdkRetrying("AKIDEXAMPLE", "secret")
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("rep"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/rep"), ConsumerName: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "consumer ACTIVE", func() bool {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
		return err == nil && d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive
	})
	in := &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}}
	first, err := c.SubscribeToShard(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	defer first.GetStream().Close()
	// Separate clients: the SDK's event-stream codec is not safe for concurrent streams.
	_, err = env.sdk("AKIDEXAMPLE", "secret").SubscribeToShard(ctx, in)
	apiErr(t, err, "ResourceInUseException", "Another subscription for consumer "+*reg.Consumer.ConsumerARN+" on shard shardId-000000000000 started less than 5 seconds ago.")
	mu.Lock()
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	second, err := env.sdk("AKIDEXAMPLE", "secret").SubscribeToShard(ctx, in)
	if err != nil {
		t.Fatalf("replacement refused: %v", err)
	}
	defer second.GetStream().Close()
	// The old subscription ends cleanly.
	for range first.GetStream().Events() {
	}
	if err := first.GetStream().Err(); err != nil {
		t.Fatalf("replaced subscription ended with %v", err)
	}
}
