package streamcore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

func TestSplitMergeReadToEnd(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 2)
		put(t, e.eng, k, "a", "p0-1") // shard 0
		put(t, e.eng, k, "b", "p1-1") // shard 1
		must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "85070591730234615865843651857942052864"))
		put(t, e.eng, k, "a", "c2-1") // "a" hash is below the split point → shard 2
		must(t, e.eng.MergeShards(ctx, k, "shardId-000000000003", "shardId-000000000001"))
		put(t, e.eng, k, "b", "c4-1")

		d, err := e.eng.DescribeStream(ctx, k)
		must(t, err)
		if d.OpenShardCount != 2 || len(d.Shards) != 5 {
			t.Fatalf("shards %+v", d.Shards)
		}
		s4 := d.Shards[4]
		if s4.ParentShardID != "shardId-000000000003" || s4.AdjacentParentShardID != "shardId-000000000001" {
			t.Fatalf("merge child lineage %+v", s4)
		}
		for _, s := range d.Shards[2:] {
			for _, p := range d.Shards[:2] {
				if len(s.StartingSequence) != 56 || s.StartingSequence <= p.EndingSequence {
					t.Fatalf("child %s starts %s, not above parent %s end %s", s.ShardID, s.StartingSequence, p.ShardID, p.EndingSequence)
				}
			}
		}
		// Parent 0: its record, then ChildShards 2 and 3 and no NextShardIterator.
		got, last := drain(t, e.eng, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		if strings.Join(got, ",") != "p0-1" || last.NextShardIterator != "" || len(last.ChildShards) != 2 ||
			last.ChildShards[0].ShardID != "shardId-000000000002" || last.ChildShards[0].ParentShards[0] != "shardId-000000000000" {
			t.Fatalf("parent 0: %v %+v", got, last)
		}
		got, last = drain(t, e.eng, k, "shardId-000000000001", streamcore.Position{Type: streamcore.TrimHorizon})
		if strings.Join(got, ",") != "p1-1" || last.NextShardIterator != "" || len(last.ChildShards) != 1 ||
			strings.Join(last.ChildShards[0].ParentShards, ",") != "shardId-000000000003,shardId-000000000001" {
			t.Fatalf("parent 1: %v %+v", got, last)
		}
		got, last = drain(t, e.eng, k, "shardId-000000000002", streamcore.Position{Type: streamcore.TrimHorizon})
		if strings.Join(got, ",") != "c2-1" || last.NextShardIterator == "" {
			t.Fatalf("child 2 (open): %v %+v", got, last)
		}
		got, last = drain(t, e.eng, k, "shardId-000000000004", streamcore.Position{Type: streamcore.TrimHorizon})
		if strings.Join(got, ",") != "c4-1" {
			t.Fatalf("child 4: %v", got)
		}
		// LATEST on a closed shard: one GetRecords yields its ChildShards (KCL needs it).
		_, last = drain(t, e.eng, k, "shardId-000000000003", streamcore.Position{Type: streamcore.Latest})
		if last.NextShardIterator != "" || len(last.ChildShards) != 1 {
			t.Fatalf("closed LATEST: %+v", last)
		}
		wantErr(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "5"), streamcore.CodeInvalidArgument,
			"Shard shardId-000000000000 in stream s under account 000000000000 has already been merged or split, and thus is not eligible for merging or splitting.")
		_, err = e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.AfterSequenceNumber, SequenceNumber: d.Shards[0].EndingSequence})
		wantErr(t, err, streamcore.CodeInvalidArgument, "Invalid SequenceNumber for ShardIteratorType AFTER_SEQUENCE_NUMBER, SequenceNumber has reached max possible value for the shard.")
	})
}

func TestUpdateShardCountLineage(t *testing.T) {
	tests := []struct{ from, to, wantShards int }{
		{2, 4, 6}, {4, 2, 6}, {4, 3, 7}, {5, 3, 5 + 6 + 3}, {6, 3, 9},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d→%d", tc.from, tc.to), func(t *testing.T) {
			e := newEnv(t, "mem", nil)
			k := create(t, e.eng, "s", tc.from)
			for i := 0; i < 20; i++ {
				put(t, e.eng, k, fmt.Sprint("k", i), fmt.Sprint("old", i))
			}
			cur, err := e.eng.UpdateShardCount(ctx, k, tc.to)
			must(t, err)
			if cur != tc.from {
				t.Fatalf("current = %d", cur)
			}
			d, err := e.eng.DescribeStream(ctx, k)
			must(t, err)
			if d.OpenShardCount != tc.to || len(d.Shards) != tc.wantShards {
				t.Fatalf("open %d, total %d", d.OpenShardCount, len(d.Shards))
			}
			// KCL invariants: every new shard has 1-2 parents; a sole child has two.
			children := map[string][]streamcore.Shard{}
			for _, s := range d.Shards[tc.from:] {
				if s.ParentShardID == "" {
					t.Fatalf("%s has no parent", s.ShardID)
				}
				children[s.ParentShardID] = append(children[s.ParentShardID], s)
				if s.AdjacentParentShardID != "" {
					children[s.AdjacentParentShardID] = append(children[s.AdjacentParentShardID], s)
				}
			}
			for p, cs := range children {
				if len(cs) == 1 && cs[0].AdjacentParentShardID == "" {
					t.Fatalf("%s has a sole child %s with one parent", p, cs[0].ShardID)
				}
			}
			// Every old record is readable and every old shard ends with children.
			var got int
			for _, s := range d.Shards[:tc.from] {
				recs, last := drain(t, e.eng, k, s.ShardID, streamcore.Position{Type: streamcore.TrimHorizon})
				got += len(recs)
				if last.NextShardIterator != "" || len(last.ChildShards) == 0 {
					t.Fatalf("%s: no shard end: %+v", s.ShardID, last)
				}
			}
			if got != 20 {
				t.Fatalf("read %d old records", got)
			}
			// The open shards tile the space evenly.
			open, err := e.eng.ListShards(ctx, k, streamcore.ShardFilter{Type: "AT_LATEST"})
			must(t, err)
			even := streamcore.EvenRanges(tc.to)
			for i, s := range open {
				if s.HashKeyRange != even[i] {
					t.Fatalf("open shard %d range %v", i, s.HashKeyRange)
				}
			}
		})
	}
}

func TestUpdateShardCountDailyLimit(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := create(t, e.eng, "s", 1)
	n := 1
	for i := 0; i < 10; i++ {
		next := 2
		if n == 2 {
			next = 1
		}
		_, err := e.eng.UpdateShardCount(ctx, k, next)
		must(t, err)
		n = next
	}
	_, err := e.eng.UpdateShardCount(ctx, k, 2)
	wantErr(t, err, streamcore.CodeLimitExceeded, "UpdateShardCount cannot be called more than 10 times in a rolling 24 hour period for stream s under account 000000000000.")
	e.clk.Advance(24*time.Hour + time.Second)
	_, err = e.eng.UpdateShardCount(ctx, k, 2)
	must(t, err)
}

// Writers keep putting while shards split and merge: every acknowledged record is read
// back exactly once from the shard it was acknowledged in, and none lands in a shard
// after its end.
// writeAck is one record a writer of startWriters had acknowledged.
type writeAck struct{ shard, seq, pk, data string }

// writers put batches of 10 records with distinct keys and data from 4 goroutines until
// stopped, collecting what was acknowledged.
type writers struct {
	acks       chan writeAck
	halt, done chan struct{}
}

func startWriters(t *testing.T, eng *streamcore.Engine, k streamcore.StreamKey) *writers {
	w := &writers{acks: make(chan writeAck, 100000), halt: make(chan struct{}), done: make(chan struct{})}
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { w.done <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-w.halt:
					return
				default:
				}
				var es []streamcore.PutEntry
				for j := 0; j < 10; j++ {
					es = append(es, streamcore.PutEntry{PartitionKey: fmt.Sprint(g, "-", i, "-", j), Data: []byte(fmt.Sprint(g, "/", i, "/", j))})
				}
				res, err := eng.PutRecords(ctx, k, es)
				if err != nil {
					t.Error(err)
					return
				}
				for j, r := range res {
					if r.Err != nil {
						t.Error(r.Err)
						return
					}
					w.acks <- writeAck{r.ShardID, r.SequenceNumber, es[j].PartitionKey, string(es[j].Data)}
				}
			}
		}()
	}
	return w
}

func (w *writers) count() int { return len(w.acks) }

// wait blocks until n records were acknowledged (at most 20 s).
func (w *writers) wait(n int) {
	deadline := time.Now().Add(20 * time.Second)
	for len(w.acks) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// stop ends the writers and returns every acknowledged record.
func (w *writers) stop() []writeAck {
	close(w.halt)
	for g := 0; g < 4; g++ {
		<-w.done
	}
	close(w.acks)
	var out []writeAck
	for a := range w.acks {
		out = append(out, a)
	}
	return out
}

// A one-shard stream routes without hashing partition keys; once a split gives it two
// open shards, every record still lands in the shard whose range holds its key's hash,
// including the records of a put that met the split and was routed again.
func TestPutDuringSplitOfALoneShard(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 1)
		w := startWriters(t, e.eng, k)
		w.wait(300)
		must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "170141183460469231731687303715884105728"))
		w.wait(w.count() + 300)
		acks := w.stop()
		d, err := e.eng.DescribeStream(ctx, k)
		must(t, err)
		ranges := map[string]streamcore.HashKeyRange{}
		for _, s := range d.Shards {
			ranges[s.ShardID] = s.HashKeyRange
		}
		children := 0
		for _, a := range acks {
			if !ranges[a.shard].Contains(streamcore.PartitionHash(a.pk)) {
				t.Fatalf("key %s (hash %s) written to %s %+v", a.pk, streamcore.PartitionHash(a.pk), a.shard, ranges[a.shard])
			}
			if a.shard != "shardId-000000000000" {
				children++
			}
		}
		if children < 300 {
			t.Fatalf("%d records reached the children", children)
		}
	})
}

func TestPutDuringReshard(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 2)
		w := startWriters(t, e.eng, k)
		w.wait(300)
		must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "85070591730234615865843651857942052864"))
		w.wait(600)
		must(t, e.eng.MergeShards(ctx, k, "shardId-000000000002", "shardId-000000000003"))
		w.wait(900)
		_, err := e.eng.UpdateShardCount(ctx, k, 3)
		must(t, err)
		w.wait(1200)
		acks := w.stop()
		want := map[string]writeAck{}
		for _, a := range acks {
			want[a.data] = a
		}
		d, err := e.eng.DescribeStream(ctx, k)
		must(t, err)
		got := 0
		for _, s := range d.Shards {
			it, err := e.eng.GetShardIterator(ctx, k, s.ShardID, streamcore.Position{Type: streamcore.TrimHorizon})
			must(t, err)
			for it != "" {
				res, err := e.eng.GetRecords(ctx, it, 10000)
				must(t, err)
				for _, r := range res.Records {
					a, ok := want[string(r.Data)]
					if !ok || a.shard != s.ShardID || a.seq != r.SequenceNumber {
						t.Fatalf("record %q in %s %s, acknowledged as %+v", r.Data, s.ShardID, r.SequenceNumber, a)
					}
					if s.EndingSequence != "" && len(r.SequenceNumber) == 56 && r.SequenceNumber >= s.EndingSequence {
						t.Fatalf("record beyond the end of %s", s.ShardID)
					}
					delete(want, string(r.Data))
					got++
				}
				if len(res.Records) == 0 {
					break
				}
				it = res.NextShardIterator
			}
		}
		if len(want) != 0 {
			t.Fatalf("%d acknowledged records not read back (read %d)", len(want), got)
		}
	})
}
