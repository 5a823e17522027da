package sources

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

func openEngine(t *testing.T) *streamcore.Engine {
	t.Helper()
	e, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func put(t *testing.T, e *streamcore.Engine, key streamcore.StreamKey, pk string, data ...string) {
	t.Helper()
	entries := make([]streamcore.PutEntry, len(data))
	for i, d := range data {
		entries[i] = streamcore.PutEntry{PartitionKey: pk, Data: []byte(d)}
	}
	res, err := e.PutRecords(context.Background(), key, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

// collect reads batches until n records arrived or the deadline passes.
func collect(t *testing.T, out <-chan Batch, n int) []Batch {
	t.Helper()
	var got []Batch
	count := 0
	deadline := time.After(5 * time.Second)
	for count < n {
		select {
		case b := <-out:
			got = append(got, b)
			count += len(b.Records)
		case <-deadline:
			t.Fatalf("got %d of %d records", count, n)
		}
	}
	return got
}

func TestStreamSourceFollowsSplitParentsFirst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := openEngine(t)
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "s"}
	if err := e.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e, key)
	put(t, e, key, "a", "p1", "p2", "p3")
	// split the only shard in the middle of the hash space
	if err := e.SplitShard(ctx, key, "shardId-000000000000", "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e, key)
	var kids []string
	for i := 0; i < 20; i++ {
		put(t, e, key, fmt.Sprintf("k%d", i), fmt.Sprintf("c%d", i))
	}
	shards, _ := e.ListShards(ctx, key, streamcore.ShardFilter{})
	for _, sh := range shards {
		if sh.ParentShardID != "" {
			kids = append(kids, sh.ShardID)
		}
	}
	if len(kids) != 2 {
		t.Fatalf("expected 2 children, shards = %+v", shards)
	}

	src := NewStreamSource(e, Options{Stream: key, Group: "g", MaxRecords: 2})
	out := make(chan Batch, 100)
	go src.Run(ctx, out)
	got := collect(t, out, 23)

	seenChild := false
	parentRecs := 0
	for _, b := range got {
		if b.ShardID == "shardId-000000000000" {
			if seenChild {
				t.Fatalf("parent record read after a child record")
			}
			parentRecs += len(b.Records)
		} else {
			seenChild = true
		}
	}
	if parentRecs != 3 {
		t.Fatalf("parent records = %d, want 3", parentRecs)
	}
}

func TestStreamSourceResumesAfterCheckpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := openEngine(t)
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "r"}
	if err := e.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e, key)
	put(t, e, key, "a", "r1", "r2", "r3", "r4")

	src := NewStreamSource(e, Options{Stream: key, Group: "g"})
	out := make(chan Batch, 10)
	rctx, rcancel := context.WithCancel(ctx)
	go src.Run(rctx, out)
	got := collect(t, out, 4)
	// pretend only the first two were delivered
	tr := NewTracker()
	seqs := func(b Batch, from, to int) []string {
		var out []string
		for _, r := range b.Records[from:to] {
			out = append(out, r.SequenceNumber)
		}
		return out
	}
	a1 := tr.Track(got[0].ShardID, seqs(got[0], 0, 2), []int32{1, 1}, 0)
	a2 := tr.Track(got[0].ShardID, seqs(got[0], 2, 4), []int32{1, 1}, 0)
	a2.Done(0, 1) // out of order: must not move the checkpoint yet
	if cps := tr.Checkpoints(); len(cps) != 0 {
		t.Fatalf("checkpoint moved past undelivered records: %+v", cps)
	}
	a1.Done(1)
	if cps := tr.Checkpoints(); len(cps) != 0 {
		t.Fatalf("checkpoint moved with the first record pending: %+v", cps)
	}
	a1.Done(0)
	cps := tr.Checkpoints()
	if len(cps) != 1 || cps[0].SequenceNumber != got[0].Records[3].SequenceNumber {
		t.Fatalf("checkpoints = %+v", cps)
	}
	// commit only up to r2 to simulate a crash before the rest was delivered
	if err := src.Commit(ctx, []streamcore.Checkpoint{{ShardID: got[0].ShardID, SequenceNumber: got[0].Records[1].SequenceNumber}}); err != nil {
		t.Fatal(err)
	}
	rcancel()

	out2 := make(chan Batch, 10)
	go NewStreamSource(e, Options{Stream: key, Group: "g"}).Run(ctx, out2)
	again := collect(t, out2, 2)
	if string(again[0].Records[0].Data) != "r3" {
		t.Fatalf("replay started at %q, want r3", again[0].Records[0].Data)
	}
}

func waitActive(t *testing.T, e *streamcore.Engine, key streamcore.StreamKey) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d, err := e.DescribeStream(context.Background(), key)
		if err == nil && d.Status == streamcore.StatusActive {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("stream never became ACTIVE")
}
