package directput

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

// sized returns records of the given sizes.
func sized(sizes ...int) [][]byte {
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		out[i] = make([]byte, n)
	}
	return out
}

// nine returns n records of 9 bytes.
func nine(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("rec-%05d", i))
	}
	return out
}

func TestByteBucketRefillsContinuously(t *testing.T) {
	now := time.Unix(0, 0)
	in := New(Options{Limits: Limits{Bytes: 100}, Now: func() time.Time { return now }})
	if n, err := in.Admit(sized(60, 30, 20)); err != nil || n != 2 {
		t.Fatalf("admitted %d (%v), want 2 (bytes 60+30 fit in 100, 20 more do not)", n, err)
	}
	now = time.Unix(0, 200_000_000)
	if n, err := in.Admit(sized(20)); err != nil || n != 1 {
		t.Fatalf("after 0.2 s (20 bytes refilled + 10 left): admitted %d (%v), want 1", n, err)
	}
}

// aws-small-like quotas scaled down: a request is admitted in order while the record and
// byte buckets last; an empty request bucket refuses the whole request; a second refills
// every bucket.
func TestTokenBuckets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	in := New(Options{Limits: Limits{Records: 25, Requests: 3, Bytes: 1 << 20}, Now: func() time.Time { return now }})
	steps := []struct {
		records int
		want    int
		err     error
	}{
		{20, 20, nil},
		{10, 5, nil},           // 5 record tokens left
		{1, 0, nil},            // the last request token; no record token
		{1, 0, ErrThrottled},   // request bucket empty
		{100, 0, ErrThrottled}, // still empty, and no record tokens taken meanwhile
	}
	for i, s := range steps {
		n, err := in.Admit(nine(s.records))
		if n != s.want || !errors.Is(err, s.err) {
			t.Fatalf("request %d: admitted %d (%v), want %d (%v)", i+1, n, err, s.want, s.err)
		}
	}
	now = now.Add(time.Second)
	if n, err := in.Admit(nine(30)); err != nil || n != 25 {
		t.Fatalf("after a second: admitted %d (%v), want the 25 of a full bucket", n, err)
	}
}

func TestNoLimitsAdmitsEverything(t *testing.T) {
	in := New(Options{})
	if n, err := in.Admit(nine(500)); err != nil || n != 500 {
		t.Fatalf("admitted %d (%v)", n, err)
	}
}

// Over the high-water mark nothing is admitted and no quota token is taken; below it again
// (commits), requests go in.
func TestHighWaterMark(t *testing.T) {
	eng, key := internalStream(t, 1)
	in := New(Options{Engine: eng, Stream: key, HighWater: 90, Limits: Limits{Requests: 1}})
	appendAll(t, in, nine(11)) // 99 bytes > 90
	if got := in.Undelivered(); got != 99 {
		t.Fatalf("undelivered = %d, want 99", got)
	}
	for i := 0; i < 3; i++ {
		if n, err := in.Admit(nine(1)); n != 0 || err != nil {
			t.Fatalf("over the mark: admitted %d (%v), want 0 and no error", n, err)
		}
	}
	if got := in.Committed(50); got != 49 {
		t.Fatalf("after committing 50 bytes: %d, want 49", got)
	}
	if n, err := in.Admit(nine(1)); n != 1 || err != nil {
		t.Fatalf("under the mark: admitted %d (%v); the request token must still be there", n, err)
	}
	if got := in.Committed(1000); got != 0 {
		t.Fatalf("committing more than counted: %d, want 0", got)
	}
}

// Append spreads requests over every open shard and counts what it stored.
func TestAppendSpreadsOverShards(t *testing.T) {
	eng, key := internalStream(t, 4)
	in := New(Options{Engine: eng, Stream: key})
	d, err := eng.DescribeStream(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	in.Route(d.Shards)
	shards := map[string]int{}
	for i := 0; i < 8; i++ {
		for _, r := range appendAll(t, in, nine(3)) {
			shards[r.ShardID]++
		}
	}
	if len(shards) != 4 {
		t.Fatalf("records landed in %d shards, want all 4: %v", len(shards), shards)
	}
	for sh, n := range shards {
		if n != 6 {
			t.Fatalf("shard %s got %d records, want 6 (two requests of 3)", sh, n)
		}
	}
	if got := in.Undelivered(); got != 8*3*9 {
		t.Fatalf("undelivered = %d, want %d", got, 8*3*9)
	}
}

// Backlog counts what follows the group's checkpoints; CountBacklog makes it the count.
func TestBacklogCountsAfterCheckpoints(t *testing.T) {
	eng, key := internalStream(t, 1)
	in := New(Options{Engine: eng, Stream: key, Group: "g"})
	res := appendAll(t, in, nine(10))
	cp := []streamcore.Checkpoint{{ShardID: res[3].ShardID, SequenceNumber: res[3].SequenceNumber}}
	if err := eng.CommitCheckpoints(context.Background(), key, "g", cp); err != nil {
		t.Fatal(err)
	}
	again := New(Options{Engine: eng, Stream: key, Group: "g"}) // as after a restart
	n, err := again.CountBacklog(context.Background())
	if err != nil || n != 6*9 || again.Undelivered() != 6*9 {
		t.Fatalf("backlog = %d (%v), undelivered %d; want the 54 bytes after the checkpoint", n, err, again.Undelivered())
	}
}

// A recount takes off what was committed while it scanned, and runs one at a time.
func TestRecount(t *testing.T) {
	eng, key := internalStream(t, 1)
	hooked := &hookEngine{Engine: eng}
	in := New(Options{Engine: hooked, Stream: key, Group: "g"})
	appendAll(t, in, nine(10))
	in.undelivered.Store(10_000) // counted bytes that will never be committed (expired)
	entered, release := make(chan struct{}), make(chan struct{})
	hooked.onList = func() {
		close(entered)
		<-release
	}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result)
	go func() {
		n, err := in.Recount(context.Background())
		done <- result{n, err}
	}()
	<-entered
	if _, err := in.Recount(context.Background()); !errors.Is(err, ErrRecounting) {
		t.Fatalf("second recount: %v, want ErrRecounting", err)
	}
	in.Committed(18) // delivered during the scan, which will still see those records
	close(release)
	r := <-done
	if r.err != nil || r.n != 90-18 || in.Undelivered() != 72 {
		t.Fatalf("recount = %d (%v), undelivered %d; want 72", r.n, r.err, in.Undelivered())
	}
}

type hookEngine struct {
	*streamcore.Engine
	onList func()
}

func (h *hookEngine) ListShards(ctx context.Context, key streamcore.StreamKey, f streamcore.ShardFilter) ([]streamcore.Shard, error) {
	if h.onList != nil {
		h.onList()
	}
	return h.Engine.ListShards(ctx, key, f)
}

func appendAll(t *testing.T, in *Intake, records [][]byte) []streamcore.PutResult {
	t.Helper()
	res, err := in.Append(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("record %d: %v", i, r.Err)
		}
	}
	return res
}

// internalStream opens an in-memory engine with an ACTIVE stream of n shards.
func internalStream(t *testing.T, n int) (*streamcore.Engine, streamcore.StreamKey) {
	t.Helper()
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	key := streamcore.StreamKey{Account: "000000000000", Region: "sluice-firehose-internal", Name: "ds"}
	if err := eng.CreateStream(context.Background(), key, streamcore.CreateOptions{ShardCount: n, RetentionHours: 24,
		Quotas: streamcore.Quotas{Unlimited: true}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := eng.DescribeStream(context.Background(), key)
		if err == nil && d.Status == streamcore.StatusActive {
			return eng, key
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream never became ACTIVE: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
