package streamcore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/filestore"
)

// clock is the wall clock plus an offset tests can move forward.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// env is one engine over one store, reopenable on the same data.
type env struct {
	t     *testing.T
	kind  string
	dir   string
	clk   *clock
	store streamcore.Store
	eng   *streamcore.Engine
	opts  streamcore.Options
	reg   *prometheus.Registry
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// metric sums the samples of a metric family in the env's registry.
func (e *env) metric(name string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	must(e.t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

var storeKinds = []string{"mem", "file"}

func newEnv(t *testing.T, kind string, tweak func(o *streamcore.Options)) *env {
	t.Helper()
	e := &env{t: t, kind: kind, dir: t.TempDir(), clk: &clock{}}
	e.reg = prometheus.NewRegistry()
	e.opts = streamcore.Options{DataDir: e.dir, Now: e.clk.Now, RetentionCheck: time.Hour, Registerer: e.reg, Logger: quiet}
	if tweak != nil {
		tweak(&e.opts)
	}
	e.open()
	t.Cleanup(func() { e.close(true) })
	return e
}

func (e *env) open() {
	e.t.Helper()
	if e.store == nil {
		switch e.kind {
		case "mem":
			e.store = streamcore.NewMemStoreClock(e.clk.Now)
		case "file":
			fs, err := filestore.Open(e.dir+"/store", filestore.Options{Now: e.clk.Now, SegmentBytes: 64 << 10, Logger: quiet})
			if err != nil {
				e.t.Fatalf("filestore.Open: %v", err)
			}
			e.store = fs
		}
	}
	o := e.opts
	o.Store = e.store
	eng, err := streamcore.Open(context.Background(), o)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.eng = eng
}

// close stops the engine; closeStore also closes a file store (the mem store survives
// as the "disk").
func (e *env) close(closeStore bool) {
	if e.eng != nil {
		e.eng.Close(context.Background())
		e.eng = nil
	}
	if closeStore && e.store != nil && e.kind == "file" {
		e.store.Close()
		e.store = nil
	}
}

func (e *env) reopen() {
	e.close(true)
	e.open()
}

var ctx = context.Background()

func key(name string) streamcore.StreamKey {
	return streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: name}
}

func forStores(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, k := range storeKinds {
		t.Run(k, func(t *testing.T) { fn(t, k) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, code streamcore.Code, msg string) {
	t.Helper()
	var e *streamcore.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want %s %q", err, code, msg)
	}
	if e.Code != code || e.Msg != msg {
		t.Fatalf("err = %s %q\nwant  %s %q", e.Code, e.Msg, code, msg)
	}
}

func put(t *testing.T, eng *streamcore.Engine, k streamcore.StreamKey, pk string, data string) streamcore.PutResult {
	t.Helper()
	res, err := eng.PutRecords(ctx, k, []streamcore.PutEntry{{PartitionKey: pk, Data: []byte(data)}})
	must(t, err)
	if res[0].Err != nil {
		t.Fatalf("put: %v", res[0].Err)
	}
	return res[0]
}

// drain reads a shard with GetRecords from pos until its end (closed shard) or until
// the shard has nothing more (open shard). It returns the data and the final result.
func drain(t *testing.T, eng *streamcore.Engine, k streamcore.StreamKey, shard string, pos streamcore.Position) ([]string, streamcore.GetResult) {
	t.Helper()
	it, err := eng.GetShardIterator(ctx, k, shard, pos)
	must(t, err)
	var got []string
	for i := 0; i < 100; i++ {
		res, err := eng.GetRecords(ctx, it, 3)
		must(t, err)
		for _, r := range res.Records {
			got = append(got, string(r.Data))
		}
		if res.NextShardIterator == "" || len(res.Records) == 0 {
			return got, res
		}
		it = res.NextShardIterator
	}
	t.Fatal("drain did not finish")
	return nil, streamcore.GetResult{}
}

func unlimited(o *streamcore.CreateOptions) { o.Quotas.Unlimited = true }

func create(t *testing.T, eng *streamcore.Engine, name string, shards int) streamcore.StreamKey {
	t.Helper()
	k := key(name)
	must(t, eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: shards, Quotas: streamcore.Quotas{Unlimited: true}}))
	return k
}

func TestRoutingVectors(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 3)
		for _, tc := range []struct{ pk, shard string }{{"a", "shardId-000000000000"}, {"b", "shardId-000000000001"}, {"e", "shardId-000000000002"}} {
			if got := put(t, e.eng, k, tc.pk, "x").ShardID; got != tc.shard {
				t.Errorf("%q → %s, want %s", tc.pk, got, tc.shard)
			}
		}
		res, err := e.eng.PutRecords(ctx, k, []streamcore.PutEntry{{PartitionKey: "zz", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("x")}})
		must(t, err)
		if res[0].ShardID != "shardId-000000000002" {
			t.Errorf("max hash key → %s", res[0].ShardID)
		}
	})
}

func TestWriteReadOrderAndSequenceNumbers(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 1)
		var seqs []string
		for i := 0; i < 10; i++ {
			seqs = append(seqs, put(t, e.eng, k, "pk", fmt.Sprint(i)).SequenceNumber)
		}
		for i := 1; i < len(seqs); i++ {
			if len(seqs[i]) != 56 || seqs[i] <= seqs[i-1] {
				t.Fatalf("sequence numbers not increasing: %s then %s", seqs[i-1], seqs[i])
			}
		}
		got, last := drain(t, e.eng, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		if strings.Join(got, ",") != "0,1,2,3,4,5,6,7,8,9" {
			t.Fatalf("read %v", got)
		}
		if last.NextShardIterator == "" || last.ChildShards != nil {
			t.Fatalf("open shard must keep a NextShardIterator and no ChildShards: %+v", last)
		}
		// AT / AFTER a stored number; LATEST sees only later records.
		at, _ := drain(t, e.eng, k, "0", streamcore.Position{Type: streamcore.AtSequenceNumber, SequenceNumber: seqs[7]})
		after, _ := drain(t, e.eng, k, "shard-0", streamcore.Position{Type: streamcore.AfterSequenceNumber, SequenceNumber: seqs[7]})
		if strings.Join(at, ",") != "7,8,9" || strings.Join(after, ",") != "8,9" {
			t.Fatalf("AT → %v, AFTER → %v", at, after)
		}
		it, err := e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.Latest})
		must(t, err)
		put(t, e.eng, k, "pk", "new")
		res, err := e.eng.GetRecords(ctx, it, 0)
		must(t, err)
		if len(res.Records) != 1 || string(res.Records[0].Data) != "new" || res.Records[0].SequenceNumber <= seqs[9] {
			t.Fatalf("LATEST read %+v", res.Records)
		}
	})
}

func TestIteratorExpiry(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := create(t, e.eng, "s", 1)
	it, err := e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
	must(t, err)
	if _, err := e.eng.GetRecords(ctx, it, 1); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(301 * time.Second)
	_, err = e.eng.GetRecords(ctx, it, 1)
	var se *streamcore.Error
	if !errors.As(err, &se) || se.Code != streamcore.CodeExpiredIterator ||
		!strings.HasPrefix(se.Msg, "Iterator expired. The iterator was created at time ") ||
		!strings.HasSuffix(se.Msg, "which is further in the future than the tolerated delay of 300000 milliseconds.") ||
		!strings.Contains(se.Msg, " UTC ") {
		t.Fatalf("err = %v", err)
	}
}

func TestThrottling(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := key("q")
	must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: 1}))
	var es []streamcore.PutEntry
	for i := 0; i < 500; i++ {
		es = append(es, streamcore.PutEntry{PartitionKey: "p", Data: []byte("x")})
	}
	var ok, throttled int
	for i := 0; i < 3; i++ {
		res, err := e.eng.PutRecords(ctx, k, es)
		must(t, err)
		for _, r := range res {
			if r.Err == nil {
				ok++
				continue
			}
			throttled++
			wantErr(t, r.Err, streamcore.CodeThroughputExceeded, "Rate exceeded for shard shardId-000000000000 in stream q under account 000000000000.")
			if r.SequenceNumber != "" || r.ShardID != "" {
				t.Fatal("failed entry carries a sequence number")
			}
		}
	}
	// 1000-record bucket; the test may take a moment, allow for refill.
	if ok < 1000 || ok > 1100 || throttled == 0 {
		t.Fatalf("ok %d throttled %d", ok, throttled)
	}
	// GetRecords: 5 calls per second per shard.
	it, err := e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
	must(t, err)
	var rejected error
	for i := 0; i < 20 && rejected == nil; i++ {
		_, rejected = e.eng.GetRecords(ctx, it, 1)
	}
	wantErr(t, rejected, streamcore.CodeThroughputExceeded, "Rate exceeded for Shard - 000000000000/q/shardId-000000000000")
}

func TestRetention(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 2)
		big := strings.Repeat("x", 1000)
		var tenth string // a consumer's checkpoint after 10 records
		for i := 0; i < 300; i++ {
			r := put(t, e.eng, k, "a", big) // shard 0
			if i == 9 {
				tenth = r.SequenceNumber
			}
		}
		must(t, e.eng.SplitShard(ctx, k, "shardId-000000000001", "200000000000000000000000000000000000000"))
		e.clk.Advance(25 * time.Hour)
		put(t, e.eng, k, "a", "fresh")
		// A reader from that checkpoint is told what it lost, expired (not trimmed yet) or
		// trimmed.
		lost := func() int64 {
			r, err := e.eng.OpenReader(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.AfterSequenceNumber, SequenceNumber: tenth})
			must(t, err)
			b, err := r.Read(ctx, 1000, 1<<20)
			must(t, err)
			if len(b.Records) != 1 || string(b.Records[0].Data) != "fresh" {
				t.Fatalf("reader after the checkpoint got %d records", len(b.Records))
			}
			return b.Skipped
		}
		if n := lost(); n != 290 {
			t.Fatalf("expired records passed over: %d, want 290", n)
		}
		defer func() {
			if n := lost(); n != 290 {
				t.Fatalf("trimmed records passed over: %d, want 290", n)
			}
		}()
		got, _ := drain(t, e.eng, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		if strings.Join(got, ",") != "fresh" {
			t.Fatalf("read %d records past retention", len(got))
		}
		must(t, e.eng.EnforceRetention(ctx))
		if n := e.metric("sluice_kinesis_retention_trimmed_records_total"); n < 100 {
			t.Fatalf("trimmed %v records, want most of 300", n)
		}
		// Closed shard 1 expired at close+24h: gone from listings and reads.
		shards, err := e.eng.ListShards(ctx, k, streamcore.ShardFilter{})
		must(t, err)
		for _, s := range shards {
			if s.ShardID == "shardId-000000000001" {
				t.Fatal("expired closed shard still listed")
			}
		}
		_, err = e.eng.GetShardIterator(ctx, k, "shardId-000000000001", streamcore.Position{Type: streamcore.TrimHorizon})
		wantErr(t, err, streamcore.CodeResourceNotFound, "Shard shardId-000000000001 in stream s under account 000000000000 does not exist")
		// Records were really dropped from the log: a reader from the start lands late.
		r, err := e.eng.OpenReader(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		must(t, err)
		b, err := r.Read(ctx, 1000, 1<<20)
		must(t, err)
		if len(b.Records) != 1 {
			t.Fatalf("reader got %d records", len(b.Records))
		}
	})
}

// Stored-only settings (UpdateAccountSettings, UpdateStreamWarmThroughput) survive a
// restart; a stream's warm throughput goes with the stream.
func TestStoredSettingsPersist(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := key("s")
		must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: 1, WarmMiBps: 10}))
		must(t, e.eng.SetWarmThroughput(ctx, k, 25))
		must(t, e.eng.SetAccountSetting(ctx, "000000000000", "commitment", "ENABLED"))
		if _, ok, err := e.eng.AccountSetting(ctx, "111122223333", "commitment"); ok || err != nil {
			t.Fatalf("another account's setting: ok=%v err=%v", ok, err)
		}
		e.reopen()
		v, ok, err := e.eng.AccountSetting(ctx, "000000000000", "commitment")
		if v != "ENABLED" || !ok || err != nil {
			t.Fatalf("account setting after restart: %q %v %v", v, ok, err)
		}
		d, err := e.eng.DescribeStream(ctx, k)
		must(t, err)
		if d.WarmMiBps != 25 {
			t.Fatalf("warm throughput after restart: %d", d.WarmMiBps)
		}
		must(t, e.eng.DeleteStream(ctx, k, false))
		must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: 1}))
		d, err = e.eng.DescribeStream(ctx, k)
		must(t, err)
		if d.WarmMiBps != 0 {
			t.Fatalf("a re-created stream inherited warm throughput %d", d.WarmMiBps)
		}
	})
}

func TestRestartPersistence(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 2)
		for i := 0; i < 5; i++ {
			put(t, e.eng, k, "a", fmt.Sprint("r", i))
		}
		must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "85070591730234615865843651857942052864"))
		_, err := e.eng.RegisterConsumer(ctx, k, "app")
		must(t, err)
		must(t, e.eng.AddTags(ctx, k.ARN(), map[string]string{"team": "data"}))
		it, err := e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		must(t, err)
		seq := put(t, e.eng, k, "a", "after-split").SequenceNumber
		must(t, e.eng.CommitCheckpoints(ctx, k, "app", []streamcore.Checkpoint{{ShardID: "shardId-000000000002", SequenceNumber: seq}}))

		e.reopen()

		res, err := e.eng.GetRecords(ctx, it, 100) // iterator from before the restart
		must(t, err)
		if len(res.Records) != 5 || string(res.Records[4].Data) != "r4" || res.NextShardIterator != "" || len(res.ChildShards) != 2 {
			t.Fatalf("after restart: %+v", res)
		}
		d, err := e.eng.DescribeStream(ctx, k)
		must(t, err)
		if len(d.Shards) != 4 || d.OpenShardCount != 3 || d.ConsumerCount != 1 {
			t.Fatalf("describe after restart: %+v", d)
		}
		cps, err := e.eng.Checkpoints(ctx, k, "app")
		must(t, err)
		if cps["shardId-000000000002"] != seq {
			t.Fatalf("checkpoints %v", cps)
		}
		tags, err := e.eng.ListTags(ctx, k.ARN())
		must(t, err)
		if tags["team"] != "data" {
			t.Fatalf("tags %v", tags)
		}
		next := put(t, e.eng, k, "a", "after-restart").SequenceNumber
		if next <= seq {
			t.Fatalf("sequence went back after restart: %s then %s", seq, next)
		}
	})
}

func TestReaderWaitWakesOnPut(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 1)
		r, err := e.eng.OpenReader(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.Latest})
		must(t, err)
		woke := make(chan error, 1)
		go func() { woke <- r.Wait(ctx) }()
		select {
		case err := <-woke:
			t.Fatalf("Wait returned before any put: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		seq := put(t, e.eng, k, "p", "hello").SequenceNumber
		select {
		case err := <-woke:
			must(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Wait did not wake")
		}
		b, err := r.Read(ctx, 10, 1<<20)
		must(t, err)
		if len(b.Records) != 1 || b.Continuation != seq {
			t.Fatalf("batch %+v", b)
		}
		// Closing the shard wakes a waiter and the reader reports the end.
		go func() { woke <- r.Wait(ctx) }()
		must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "12345678901234567890"))
		select {
		case err := <-woke:
			must(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Wait did not wake on shard close")
		}
		b, err = r.Read(ctx, 10, 1<<20)
		must(t, err)
		if !b.End || len(b.ChildShards) != 2 {
			t.Fatalf("end batch %+v", b)
		}
		cctx, cancel := context.WithCancel(ctx)
		r2, err := e.eng.OpenReader(ctx, k, "shardId-000000000001", streamcore.Position{Type: streamcore.Latest})
		must(t, err)
		cancel()
		if err := r2.Wait(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait on cancelled ctx = %v", err)
		}
	})
}

func TestEncryptionAtRest(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		k := create(t, e.eng, "s", 1)
		put(t, e.eng, k, "p", "plain")
		must(t, e.eng.StartEncryption(ctx, k, streamcore.DefaultKeyID))
		put(t, e.eng, k, "p", "secret-payload")
		e.reopen()
		it, err := e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		must(t, err)
		res, err := e.eng.GetRecords(ctx, it, 10)
		must(t, err)
		if len(res.Records) != 2 || res.Records[0].Encrypted || !res.Records[1].Encrypted || string(res.Records[1].Data) != "secret-payload" {
			t.Fatalf("records %+v", res.Records)
		}
		d, _ := e.eng.DescribeStream(ctx, k)
		if d.EncryptionType != "KMS" || d.KeyID != streamcore.DefaultKeyID {
			t.Fatalf("describe %+v", d)
		}
	})
}

func TestConsumersAndTags(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := create(t, e.eng, "s", 1)
	c, err := e.eng.RegisterConsumer(ctx, k, "app")
	must(t, err)
	if !strings.HasPrefix(c.ARN, "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/app:") || c.Status != "ACTIVE" {
		t.Fatalf("consumer %+v", c)
	}
	gk, gc, err := e.eng.ConsumerByARN(ctx, c.ARN)
	must(t, err)
	if gk != k || gc.Name != "app" {
		t.Fatalf("by ARN: %v %+v", gk, gc)
	}
	_, err = e.eng.RegisterConsumer(ctx, k, "app")
	wantErr(t, err, streamcore.CodeResourceInUse, "Consumer app already exists for stream s under account 000000000000.")
	for i := 1; i < 20; i++ {
		_, err := e.eng.RegisterConsumer(ctx, k, fmt.Sprint("c", i))
		must(t, err)
	}
	_, err = e.eng.RegisterConsumer(ctx, k, "one-too-many")
	wantErr(t, err, streamcore.CodeLimitExceeded, "Consumer limit of 20 reached for stream s under account 000000000000.")
	wantErr(t, e.eng.DeleteStream(ctx, k, false), streamcore.CodeResourceInUse, "Stream s under account 000000000000 has registered consumers; set EnforceConsumerDeletion to delete it.")
	must(t, e.eng.AddTags(ctx, c.ARN, map[string]string{"k": "v"}))
	tags, err := e.eng.ListTags(ctx, c.ARN)
	must(t, err)
	if tags["k"] != "v" {
		t.Fatalf("consumer tags %v", tags)
	}
	many := map[string]string{}
	for i := 0; i < 51; i++ {
		many[fmt.Sprint("t", i)] = "v"
	}
	wantErr(t, e.eng.AddTags(ctx, k.ARN(), many), streamcore.CodeInvalidArgument, "Failed to add tags to stream s under account 000000000000 because a given stream cannot have more than 50 tags associated with it.")
	must(t, e.eng.PutResourcePolicy(ctx, k.ARN(), `{"Version":"2012-10-17"}`))
	p, err := e.eng.GetResourcePolicy(ctx, k.ARN())
	must(t, err)
	if p != `{"Version":"2012-10-17"}` {
		t.Fatalf("policy %q", p)
	}
	must(t, e.eng.DeleteStream(ctx, k, true))
	_, err = e.eng.DescribeStream(ctx, k)
	wantErr(t, err, streamcore.CodeResourceNotFound, "Stream s under account 000000000000 not found.")
	_, _, err = e.eng.ConsumerByARN(ctx, c.ARN)
	wantErr(t, err, streamcore.CodeResourceNotFound, "Consumer "+c.ARN+" not found.")
}

func TestStateDelays(t *testing.T) {
	e := newEnv(t, "mem", func(o *streamcore.Options) {
		o.CreateDelay = 30 * time.Millisecond
		o.UpdateDelay = 30 * time.Millisecond
	})
	k := key("s")
	must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: 1}))
	_, err := e.eng.PutRecords(ctx, k, []streamcore.PutEntry{{PartitionKey: "a", Data: []byte("x")}})
	wantErr(t, err, streamcore.CodeResourceNotFound, "Stream s under account 000000000000 not found.")
	waitStatus(t, e.eng, k, streamcore.StatusActive)
	must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "12345678901234567890"))
	wantErr(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "12345678901234567891"), streamcore.CodeResourceInUse,
		"Stream s under account 000000000000 not ACTIVE, instead in state UPDATING")
	put(t, e.eng, k, "a", "during-update") // writes continue while UPDATING
	waitStatus(t, e.eng, k, streamcore.StatusActive)
	d, _ := e.eng.DescribeStream(ctx, k)
	if len(d.Shards) != 3 {
		t.Fatalf("split did not land: %+v", d.Shards)
	}
}

func waitStatus(t *testing.T, eng *streamcore.Engine, k streamcore.StreamKey, st streamcore.StreamStatus) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d, err := eng.DescribeStream(ctx, k)
		if err == nil && d.Status == st {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("stream never reached %s", st)
}

func TestReadByteDebt(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := key("d")
	must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: 1,
		Quotas: streamcore.Quotas{WriteBytesPerSec: 100 << 20, ReadBytesPerSec: 1 << 20, ReadCallsPerSec: 100}}))
	chunk := strings.Repeat("x", 1<<20-100)
	for i := 0; i < 3; i++ {
		put(t, e.eng, k, "p", chunk)
	}
	it, err := e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
	must(t, err)
	res, err := e.eng.GetRecords(ctx, it, 0)
	must(t, err)
	if len(res.Records) != 3 {
		t.Fatalf("got %d records", len(res.Records))
	}
	// ~3 MiB owed at 1 MiB/s: the next call fails although call tokens remain.
	_, err = e.eng.GetRecords(ctx, res.NextShardIterator, 0)
	wantErr(t, err, streamcore.CodeThroughputExceeded, "Rate exceeded for Shard - 000000000000/d/shardId-000000000000")
	e.clk.Advance(4 * time.Second)
	if _, err := e.eng.GetRecords(ctx, res.NextShardIterator, 0); err != nil {
		t.Fatalf("after the debt drained: %v", err)
	}
	if n := e.metric("sluice_kinesis_read_provisioned_throughput_exceeded_total"); n != 1 {
		t.Fatalf("read throttle metric = %v", n)
	}
}

func TestOnDemandNotThrottledAndLimits(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := key("od")
	must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{Mode: streamcore.ModeOnDemand, ShardCount: 9}))
	d, err := e.eng.DescribeStream(ctx, k)
	must(t, err)
	if len(d.Shards) != 4 || d.Mode != streamcore.ModeOnDemand {
		t.Fatalf("on-demand stream %+v", d)
	}
	var es []streamcore.PutEntry
	for i := 0; i < 500; i++ {
		es = append(es, streamcore.PutEntry{PartitionKey: "same", Data: []byte("x")})
	}
	for i := 0; i < 4; i++ {
		res, err := e.eng.PutRecords(ctx, k, es)
		must(t, err)
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("on-demand throttled: %v", r.Err)
			}
		}
	}
	wantErr(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "5"), streamcore.CodeValidation,
		"SplitShard is not supported for stream od under account 000000000000 in ON_DEMAND capacity mode.")
	lim, err := e.eng.DescribeLimits(ctx, "000000000000", "us-east-1")
	must(t, err)
	if lim != (streamcore.Limits{ShardLimit: 20000, OpenShardCount: 4, OnDemandStreamCount: 1, OnDemandStreamCountLimit: 50}) {
		t.Fatalf("limits %+v", lim)
	}
	must(t, e.eng.UpdateStreamMode(ctx, k, streamcore.ModeProvisioned))
	must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "5"))
}

// An ON_DEMAND stream grows with its traffic: a shard that took more than a provisioned
// shard's write capacity since the last check is split in two (bytes or records), with
// lineage, and reads continue from the parent into the children. Quiet shards, quiet
// passes and PROVISIONED streams are left alone, and the account shard limit holds.
func TestOnDemandScalesHotShards(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, func(o *streamcore.Options) { o.ShardLimit, o.OnDemandMaxShards = 10, 100 })
		k := key("od")
		must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{Mode: streamcore.ModeOnDemand}))
		prov := create(t, e.eng, "prov", 1)
		openShards := func(k streamcore.StreamKey) []streamcore.Shard {
			d, err := e.eng.DescribeStream(ctx, k)
			must(t, err)
			if d.Status != streamcore.StatusActive {
				t.Fatalf("status %s", d.Status)
			}
			var open []streamcore.Shard
			for _, s := range d.Shards {
				if s.Open() {
					open = append(open, s)
				}
			}
			return open
		}
		// 4 MiB into shard 0 (hash key 0), and the same into the PROVISIONED stream: well
		// over 1 MiB/s even when the puts themselves take a while (the clock is the wall
		// clock moved forward).
		big := bytes.Repeat([]byte("x"), 1024)
		var es []streamcore.PutEntry
		for i := 0; i < 500; i++ {
			es = append(es, streamcore.PutEntry{PartitionKey: fmt.Sprint("k", i), ExplicitHashKey: "0", Data: big})
		}
		for _, sk := range []streamcore.StreamKey{k, prov} {
			for i := 0; i < 8; i++ {
				res, err := e.eng.PutRecords(ctx, sk, es)
				must(t, err)
				if res[0].Err != nil {
					t.Fatal(res[0].Err)
				}
			}
		}
		put(t, e.eng, k, "quiet", "one record") // shard 1..3 stay quiet
		e.clk.Advance(time.Second)
		must(t, e.eng.ScaleOnDemand(ctx))
		open := openShards(k)
		if len(open) != 5 {
			t.Fatalf("after a hot second: %d open shards, want 5: %+v", len(open), open)
		}
		lo, hi := open[3], open[4] // children come last, lower half first
		if lo.ShardID != "shardId-000000000004" || lo.ParentShardID != "shardId-000000000000" || hi.ParentShardID != "shardId-000000000000" ||
			lo.HashKeyRange.Start.String() != "0" || hi.HashKeyRange.End.String() != "85070591730234615865843651857942052863" ||
			lo.HashKeyRange.End.Add(1) != hi.HashKeyRange.Start || hi.HashKeyRange.Start.String() != "42535295865117307932921825928971026432" {
			t.Fatalf("children %+v %+v", lo, hi)
		}
		if n := len(openShards(prov)); n != 1 {
			t.Fatalf("PROVISIONED stream resharded itself: %d open shards", n)
		}
		// The parent holds the 4,000 records, then points at its children.
		it, err := e.eng.GetShardIterator(ctx, k, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
		must(t, err)
		n := 0
		for it != "" {
			res, err := e.eng.GetRecords(ctx, it, 10000)
			must(t, err)
			n += len(res.Records)
			if res.NextShardIterator == "" && len(res.ChildShards) != 2 {
				t.Fatalf("parent's last GetRecords: %+v", res)
			}
			it = res.NextShardIterator
		}
		if n != 4000 {
			t.Fatalf("parent holds %d records, want 4000", n)
		}
		res, err := e.eng.PutRecords(ctx, k, es[:1])
		must(t, err)
		if res[0].Err != nil || res[0].ShardID != "shardId-000000000004" {
			t.Fatalf("hash key 0 after the split: %+v", res[0])
		}

		// A quiet pass changes nothing.
		e.clk.Advance(time.Second)
		must(t, e.eng.ScaleOnDemand(ctx))
		if n := len(openShards(k)); n != 5 {
			t.Fatalf("quiet pass: %d open shards", n)
		}

		// Records per second count too: 4,000 small records each into shards 4 and 2 split
		// both (6 → 8 open shards of the account's 10).
		putSmall(t, e.eng, k, 4000, "1", "170141183460469231731687303715884105728") // shards 4 and 2
		e.clk.Advance(time.Second)
		must(t, e.eng.ScaleOnDemand(ctx))
		if n := len(openShards(k)); n != 7 {
			t.Fatalf("after a second of 4,000 records/s on two shards: %d open shards, want 7", n)
		}
		// Three hot shards with room for two more in the account: two splits.
		var starts []string
		for _, s := range openShards(k)[:3] {
			starts = append(starts, s.HashKeyRange.Start.String())
		}
		putSmall(t, e.eng, k, 4000, starts...)
		e.clk.Advance(time.Second)
		must(t, e.eng.ScaleOnDemand(ctx))
		if n := len(openShards(k)); n != 9 {
			t.Fatalf("at the account shard limit: %d open shards, want 9", n)
		}
	})
}

// putSmall puts n one-byte records at each of hashKeys, 500 per PutRecords call.
func putSmall(t *testing.T, eng *streamcore.Engine, k streamcore.StreamKey, n int, hashKeys ...string) {
	t.Helper()
	var es []streamcore.PutEntry
	for _, hk := range hashKeys {
		for i := 0; i < n; i++ {
			es = append(es, streamcore.PutEntry{PartitionKey: "k", ExplicitHashKey: hk, Data: []byte("s")})
		}
	}
	for i := 0; i < len(es); i += 500 {
		_, err := eng.PutRecords(ctx, k, es[i:min(i+500, len(es))])
		must(t, err)
	}
}

// Options.OnDemandMaxShards caps automatic scaling per stream, and scaling happens in
// place: the stream does not pass through UPDATING (however long UpdateDelay is).
func TestOnDemandScalingCap(t *testing.T) {
	e := newEnv(t, "mem", func(o *streamcore.Options) { o.OnDemandMaxShards, o.UpdateDelay = 5, time.Hour })
	k := key("od")
	must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{Mode: streamcore.ModeOnDemand}))
	putSmall(t, e.eng, k, 4000, "0", "170141183460469231731687303715884105728") // shards 0 and 2
	e.clk.Advance(time.Second)
	must(t, e.eng.ScaleOnDemand(ctx))
	d, err := e.eng.DescribeStream(ctx, k)
	must(t, err)
	if d.OpenShardCount != 5 || d.Status != streamcore.StatusActive {
		t.Fatalf("two hot shards under a cap of 5: %d open shards (want 5), status %s", d.OpenShardCount, d.Status)
	}
}

func TestListShardsFilters(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := create(t, e.eng, "s", 2)
	e.clk.Advance(2 * time.Second)
	must(t, e.eng.SplitShard(ctx, k, "shardId-000000000000", "5000000000"))
	ids := func(f streamcore.ShardFilter) string {
		t.Helper()
		ss, err := e.eng.ListShards(ctx, k, f)
		must(t, err)
		var out []string
		for _, s := range ss {
			out = append(out, strings.TrimPrefix(s.ShardID, "shardId-00000000000"))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		f    streamcore.ShardFilter
		want string
	}{
		{streamcore.ShardFilter{}, "0,1,2,3"},
		{streamcore.ShardFilter{Type: "AT_LATEST"}, "1,2,3"},
		{streamcore.ShardFilter{Type: "AT_TRIM_HORIZON"}, "0,1"},
		{streamcore.ShardFilter{Type: "AFTER_SHARD_ID", ShardID: "shardId-000000000001"}, "2,3"},
		{streamcore.ShardFilter{Type: "AT_TIMESTAMP", Timestamp: e.clk.Now().Add(-time.Second)}, "0,1"},
		{streamcore.ShardFilter{Type: "FROM_TIMESTAMP", Timestamp: e.clk.Now().Add(-time.Second)}, "0,1,2,3"},
	}
	for _, tc := range tests {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("%+v → %s, want %s", tc.f, got, tc.want)
		}
	}
}

func TestCheckpointsAtomic(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := create(t, e.eng, "s", 2)
	s0 := put(t, e.eng, k, "a", "x").SequenceNumber
	s1 := put(t, e.eng, k, "b", "y").SequenceNumber
	must(t, e.eng.CommitCheckpoints(ctx, k, "g", []streamcore.Checkpoint{{ShardID: "shardId-000000000000", SequenceNumber: s0}}))
	// One bad entry: nothing of the batch is stored.
	err := e.eng.CommitCheckpoints(ctx, k, "g", []streamcore.Checkpoint{
		{ShardID: "shardId-000000000001", SequenceNumber: s1},
		{ShardID: "shardId-000000000000", SequenceNumber: s1},
	})
	if streamcore.CodeOf(err) != streamcore.CodeInvalidArgument {
		t.Fatalf("err = %v", err)
	}
	cps, err := e.eng.Checkpoints(ctx, k, "g")
	must(t, err)
	if len(cps) != 1 || cps["shardId-000000000000"] != s0 {
		t.Fatalf("checkpoints %v", cps)
	}
	other, err := e.eng.Checkpoints(ctx, k, "other")
	must(t, err)
	if len(other) != 0 {
		t.Fatalf("other group sees %v", other)
	}
}

func TestSequenceNumberForOrdering(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := create(t, e.eng, "s", 1)
	prev := put(t, e.eng, k, "a", "x").SequenceNumber
	res, err := e.eng.PutRecord(ctx, k, streamcore.PutEntry{PartitionKey: "a", Data: []byte("y"), SequenceNumberForOrdering: prev})
	must(t, err)
	if res.SequenceNumber <= prev {
		t.Fatalf("%s not after %s", res.SequenceNumber, prev)
	}
	// any number that decodes and is not from the future, of this stream or not (the last
	// two were recorded against AWS), as AWS accepts
	for _, ok := range []string{"49670424472753470606260425006290465772635966423668097042", "49590338271490256608559692538361571095921575989136588898"} {
		if _, err := e.eng.PutRecord(ctx, k, streamcore.PutEntry{PartitionKey: "a", Data: []byte("y"), SequenceNumberForOrdering: ok}); err != nil {
			t.Errorf("SequenceNumberForOrdering %s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"12345", "99999999999999999999999999999999999999999999999999999999"} {
		_, err = e.eng.PutRecord(ctx, k, streamcore.PutEntry{PartitionKey: "a", Data: []byte("y"), SequenceNumberForOrdering: bad})
		wantErr(t, err, streamcore.CodeInvalidArgument, "ExclusiveMinimumSequenceNumber "+bad+" used in PutRecord on stream s under account 000000000000 is invalid.")
	}
}

// A record of the maximum Data size plus its partition key is larger than the 1 MiB write
// tank, yet valid: a full tank admits it, and the shard then pays it back in time.
func TestMaxSizeRecordFitsAFullWriteTank(t *testing.T) {
	e := newEnv(t, "mem", nil)
	k := key("big")
	must(t, e.eng.CreateStream(ctx, k, streamcore.CreateOptions{ShardCount: 1}))
	data := strings.Repeat("x", 1<<20)
	res, err := e.eng.PutRecord(ctx, k, streamcore.PutEntry{PartitionKey: "big-0", Data: []byte(data)})
	if err != nil || res.SequenceNumber == "" {
		t.Fatalf("1 MiB record + key on a fresh shard: %v", err)
	}
	// The tank is now empty (in debt by the key's bytes): a 256 KiB record waits for the
	// refill (a quarter of a second at 1 MiB/s).
	_, err = e.eng.PutRecord(ctx, k, streamcore.PutEntry{PartitionKey: "big-1", Data: []byte(data[:256<<10])})
	wantErr(t, err, streamcore.CodeThroughputExceeded, "Rate exceeded for shard shardId-000000000000 in stream big under account 000000000000.")
	e.clk.Advance(1100 * time.Millisecond)
	if _, err := e.eng.PutRecord(ctx, k, streamcore.PutEntry{PartitionKey: "big-1", Data: []byte(data)}); err != nil {
		t.Fatalf("after the tank refilled: %v", err)
	}
}
