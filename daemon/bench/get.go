package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// runGet reads every shard of the stream (following resharding children) with up to
// -concurrency shards at a time, until -records records, -duration, or every shard is
// drained: a closed shard ends at its last record, an open one when it is caught up.
func runGet(ctx context.Context, kc *kinesis.Client, c config, st *stats) error {
	var shards []types.Shard
	var token *string
	for {
		in := &kinesis.ListShardsInput{NextToken: token}
		if token == nil {
			in.StreamName = aws.String(c.stream)
		}
		out, err := kc.ListShards(ctx, in)
		if err != nil {
			return fmt.Errorf("list shards: %w", err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, c.concurrency)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for _, s := range shards {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := readShard(ctx, kc, c, st, id, cancel); err != nil && ctx.Err() == nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		}(aws.ToString(s.ShardId))
	}
	wg.Wait()
	return firstErr
}

func readShard(ctx context.Context, kc *kinesis.Client, c config, st *stats, shardID string, stop context.CancelFunc) error {
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(c.stream), ShardId: aws.String(shardID),
		ShardIteratorType: types.ShardIteratorType(c.from)})
	if err != nil {
		return fmt.Errorf("shard %s: %w", shardID, err)
	}
	iter := it.ShardIterator
	for iter != nil && ctx.Err() == nil {
		t0 := time.Now()
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
		st.calls.Add(1)
		if err != nil {
			var pt *types.ProvisionedThroughputExceededException
			if errors.As(err, &pt) {
				st.failed.Add(1)
				sleep(ctx, 200*time.Millisecond)
				continue
			}
			return fmt.Errorf("shard %s: %w", shardID, err)
		}
		st.observe(time.Since(t0))
		n := int64(len(out.Records))
		var b int64
		for _, r := range out.Records {
			b += int64(len(r.Data))
		}
		total := st.records.Add(n)
		st.bytes.Add(b)
		if c.records > 0 && total >= c.records {
			stop()
			return nil
		}
		if out.NextShardIterator == nil {
			return nil // end of a closed shard
		}
		if n == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 && c.duration == 0 && c.records == 0 {
			return nil
		}
		iter = out.NextShardIterator
		if n == 0 {
			sleep(ctx, 200*time.Millisecond) // AWS allows 5 GetRecords per shard per second
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
