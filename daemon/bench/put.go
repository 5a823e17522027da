package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// ensureStream creates the stream with shards shards unless it exists, and waits until
// it is ACTIVE.
func ensureStream(ctx context.Context, kc *kinesis.Client, name string, shards int) error {
	_, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create stream: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && d.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream %s not ACTIVE after 2 minutes (%v)", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func runPut(ctx context.Context, kc *kinesis.Client, c config, st *stats) error {
	if c.create > 0 {
		if err := ensureStream(ctx, kc, c.stream, c.create); err != nil {
			return err
		}
		st.start = time.Now()
	}
	data := make([]byte, c.size)
	rand.Read(data)
	var mu sync.Mutex
	remaining := c.records
	take := func() int {
		if c.records == 0 {
			return c.batch
		}
		mu.Lock()
		defer mu.Unlock()
		n := int(min(int64(c.batch), remaining))
		remaining -= int64(n)
		return n
	}
	var wg sync.WaitGroup
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			entries := make([]types.PutRecordsRequestEntry, c.batch)
			for i := range entries {
				entries[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(fmt.Sprintf("bench-%d-%d", w, i))}
			}
			for ctx.Err() == nil {
				n := take()
				if n == 0 {
					return
				}
				t0 := time.Now()
				out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(c.stream), Records: entries[:n]})
				st.calls.Add(1)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					st.failed.Add(int64(n))
					st.lastErr.Store(err.Error())
					continue
				}
				st.observe(time.Since(t0))
				failed := int64(aws.ToInt32(out.FailedRecordCount))
				st.failed.Add(failed)
				st.records.Add(int64(n) - failed)
				st.bytes.Add((int64(n) - failed) * int64(c.size))
				if failed > 0 {
					for _, r := range out.Records {
						if r.ErrorCode != nil {
							st.lastErr.Store(aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage))
							break
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if c.records > 0 && st.records.Load() == 0 && st.failed.Load() > 0 {
		return errors.New("every request failed")
	}
	return nil
}
