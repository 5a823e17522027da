package firehose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	s3sink "github.com/sluice-io/sluice/sinks/s3"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// fakeSink is an in-memory destination for the control plane's tests.
type fakeSink struct {
	mu      sync.Mutex
	batches []sinks.Batch
	fail    error // returned by WriteBatch while set
	calls   int
	errs    map[string][]record.FailureRecord
	errFail error
}

func (f *fakeSink) Connect(context.Context) error { return nil }
func (f *fakeSink) Close(context.Context) error   { return nil }
func (f *fakeSink) Write(_ context.Context, b sinks.Batch) sinks.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return sinks.Failed(f.fail)
	}
	f.batches = append(f.batches, b)
	return sinks.Done()
}
func (f *fakeSink) WriteFailures(_ context.Context, typ string, recs []record.FailureRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errFail != nil {
		return f.errFail
	}
	if f.errs == nil {
		f.errs = map[string][]record.FailureRecord{}
	}
	f.errs[typ] = append(f.errs[typ], recs...)
	return nil
}
func (f *fakeSink) set(fail, errFail error) {
	f.mu.Lock()
	f.fail, f.errFail = fail, errFail
	f.mu.Unlock()
}
func (f *fakeSink) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.batches {
		for _, r := range b.Records {
			out = append(out, string(r.Data))
		}
	}
	return out
}
func (f *fakeSink) failed(typ string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errs[typ])
}

type harness struct {
	eng  *streamcore.Engine
	mgr  *Manager
	sink *fakeSink
	dir  string
}

func newHarness(t *testing.T, store streamcore.Store, dir string, sink *fakeSink) *harness {
	t.Helper()
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := NewManager(Options{
		Engine: eng, DataDir: dir, DirectPutShards: 2,
		Backoff: retry.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, Jitter: -1},
		NewDestination: func(def *Definition, _ S3Conn) (*Built, error) {
			return &Built{Sink: sink, Errors: sink}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	h := &harness{eng: eng, mgr: mgr, sink: sink, dir: dir}
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) stop() {
	closeSoon(h.mgr)
	h.eng.Close(context.Background())
}

func s3def(name string, sizeMiB, intervalSec, retrySec int) *Definition {
	return &Definition{Name: name, Type: TypeDirectPut, RetryDuration: retrySec, Dest: Destination{Kind: "s3", Config: &s3sink.API{
		BucketARN: "arn:aws:s3:::b", BufferingHints: &sinks.BufferingHints{SizeInMBs: &sizeMiB, IntervalInSeconds: &intervalSec}}}}
}

// s3Prefix is the Prefix of an S3 destination ("" when unset).
func s3Prefix(d Definition) string {
	if p := d.Dest.Config.(*s3sink.API).Prefix; p != nil {
		return *p
	}
	return ""
}

func putN(t *testing.T, m *Manager, name string, from, n int) {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = []byte(fmt.Sprintf("rec-%05d", from+i))
	}
	res, _, err := m.Put(context.Background(), name, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.ErrorCode != "" || len(r.RecordID) != 56 {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDirectPutDeliversEveryRecordAndCommits(t *testing.T) {
	sink := &fakeSink{}
	h := newHarness(t, streamcore.NewMemStore(), t.TempDir(), sink)
	if err := h.mgr.Create(context.Background(), s3def("orders", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	putN(t, h.mgr, "orders", 0, 300)
	putN(t, h.mgr, "orders", 300, 200)
	waitFor(t, "500 records delivered", func() bool { return len(sink.delivered()) >= 500 })
	got := sink.delivered()
	sort.Strings(got)
	for i, g := range got {
		if want := fmt.Sprintf("rec-%05d", i); g != want {
			t.Fatalf("record %d = %q, want %q (lost or duplicated)", i, g, want)
		}
	}
	// checkpoints reach the last record of each shard that got data
	key := streamcore.StreamKey{Account: "000000000000", Region: InternalRegion, Name: "orders"}
	snap, _ := h.mgr.Describe("orders")
	waitFor(t, "checkpoints", func() bool {
		cps, _ := h.eng.Checkpoints(context.Background(), key, snap.Def.Group)
		return len(cps) == 2
	})
}

func TestFailingDestinationGoesToErrorOutputAfterRetryDuration(t *testing.T) {
	sink := &fakeSink{}
	sink.set(sinks.Retryable("S3.AccessDenied", errors.New("access denied")), nil)
	h := newHarness(t, streamcore.NewMemStore(), t.TempDir(), sink)
	if err := h.mgr.Create(context.Background(), s3def("bad", 1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	h.mgr.Update(context.Background(), "bad", "1", firstDestID, func(d *Definition) error { d.RetryDuration = 1; return nil })
	putN(t, h.mgr, "bad", 0, 10)
	waitFor(t, "records in the error output", func() bool { return sink.failed(record.DeliveryFailed) >= 10 })
	sink.mu.Lock()
	f := sink.errs[record.DeliveryFailed][0]
	calls := sink.calls
	sink.mu.Unlock()
	if f.ErrorCode != "S3.AccessDenied" || f.AttemptsMade < 2 || calls < 2 {
		t.Fatalf("failure record = %+v after %d calls; want code S3.AccessDenied and retries", f, calls)
	}
	if len(sink.delivered()) != 0 {
		t.Fatal("records delivered by a failing sink")
	}
}

func TestUnreachableDestinationWaitsThenDelivers(t *testing.T) {
	sink := &fakeSink{}
	sink.set(sinks.Unavailable("S3.ConnectionFailed", errors.New("connection refused")), nil)
	h := newHarness(t, streamcore.NewMemStore(), t.TempDir(), sink)
	if err := h.mgr.Create(context.Background(), s3def("down", 1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	putN(t, h.mgr, "down", 0, 5)
	waitFor(t, "a few failed attempts", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.calls > 5 })
	if sink.failed(record.DeliveryFailed) != 0 {
		t.Fatal("records diverted to the error output while S3 is unreachable")
	}
	if snap, _ := h.mgr.Describe("down"); !snap.Health.Failing {
		t.Fatal("status does not show the failing destination")
	}
	sink.set(nil, nil)
	waitFor(t, "delivery after S3 came back", func() bool { return len(sink.delivered()) == 5 })
}

func TestRestartReplaysUndeliveredRecords(t *testing.T) {
	store := streamcore.NewMemStore()
	dir := t.TempDir()
	sink := &fakeSink{}
	// destination down and error output down: nothing can be acknowledged
	sink.set(sinks.Unavailable("S3.ConnectionFailed", errors.New("refused")), nil)
	h := newHarness(t, store, dir, sink)
	if err := h.mgr.Create(context.Background(), s3def("replay", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	putN(t, h.mgr, "replay", 0, 50)
	waitFor(t, "attempts", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.calls > 0 })
	closeSoon(h.mgr) // shutdown cannot deliver; the engine keeps the store

	sink2 := &fakeSink{}
	mgr2, err := NewManager(Options{Engine: h.eng, DataDir: dir, NewDestination: func(def *Definition, _ S3Conn) (*Built, error) {
		return &Built{Sink: sink2, Errors: sink2}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr2.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer closeSoon(mgr2)
	if names := mgr2.List(""); len(names) != 1 || names[0] != "replay" {
		t.Fatalf("API-created stream not restored: %v", names)
	}
	waitFor(t, "replayed records", func() bool { return len(sink2.delivered()) >= 50 })
}

func TestBudgetPausesReadingWithoutLosingRecords(t *testing.T) {
	sink := &fakeSink{}
	sink.set(sinks.Unavailable("S3.ConnectionFailed", errors.New("refused")), nil)
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	budget := buffer.NewBudget(1000)
	mgr, _ := NewManager(Options{Engine: eng, Budget: budget, DirectPutShards: 1,
		Backoff: retry.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond, Jitter: -1},
		NewDestination: func(def *Definition, _ S3Conn) (*Built, error) {
			return &Built{Sink: sink, Errors: sink}, nil
		}})
	mgr.Start(context.Background(), nil)
	defer closeSoon(mgr)
	if err := mgr.Create(context.Background(), s3def("p", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	// 9000 bytes of records: far over the 1000-byte budget; producers are still accepted
	for i := 0; i < 100; i++ {
		putN(t, mgr, "p", i*10, 10)
	}
	waitFor(t, "budget to fill", func() bool { return budget.Full() })
	// intake continues while reading is paused
	putN(t, mgr, "p", 1000, 100)
	sink.set(nil, nil)
	waitFor(t, "all 1100 records", func() bool { return len(sink.delivered()) >= 1100 })
	waitFor(t, "budget released", func() bool { return budget.Used() == 0 })
}

// closeSoon shuts a manager down, giving stuck deliveries a moment only.
func closeSoon(m *Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	m.Close(ctx)
}

func TestConfigStreamsStartApplyAndSurviveRestart(t *testing.T) {
	parse := func(y string) []*Definition {
		t.Helper()
		c, err := config.Parse("t.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return FromConfig(c)
	}
	v1 := parse("delivery_streams:\n  - name: a\n    destination:\n      s3: {bucket: b, prefix: x/}\n")
	store, dir, sink := streamcore.NewMemStore(), t.TempDir(), &fakeSink{}
	h := newHarness(t, store, dir, sink)
	if err := h.mgr.Apply(context.Background(), v1); err != nil {
		t.Fatal(err)
	}
	if err := h.mgr.Create(context.Background(), s3def("api", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	snap, err := h.mgr.Describe("a")
	if err != nil || snap.Def.VersionID != 1 || snap.Def.Origin != OriginConfig || s3Prefix(snap.Def) != "x/" {
		t.Fatalf("a = %+v %v", snap.Def, err)
	}
	group := snap.Def.Group

	v2 := parse("delivery_streams:\n  - name: a\n    destination:\n      s3: {bucket: b, prefix: y/}\n  - name: c\n    destination:\n      s3: {bucket: b}\n")
	if err := h.mgr.Apply(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	snap, _ = h.mgr.Describe("a")
	if snap.Def.VersionID != 2 || s3Prefix(snap.Def) != "y/" || snap.Def.Group != group {
		t.Fatalf("after reload a = version %d prefix %q group kept %v", snap.Def.VersionID, s3Prefix(snap.Def), snap.Def.Group == group)
	}
	if got := h.mgr.List(""); len(got) != 3 {
		t.Fatalf("streams after reload = %v", got)
	}
	if err := h.mgr.Apply(context.Background(), parse("delivery_streams:\n  - name: c\n    destination:\n      s3: {bucket: b}\n")); err != nil {
		t.Fatal(err)
	}
	if got := h.mgr.List(""); len(got) != 2 || got[0] != "api" || got[1] != "c" {
		t.Fatalf("streams after removing a from the config = %v", got)
	}
	closeSoon(h.mgr)

	// restart: the API-created stream is restored, config ones come from the file
	mgr2, _ := NewManager(Options{Engine: h.eng, DataDir: dir, NewDestination: func(*Definition, S3Conn) (*Built, error) {
		return &Built{Sink: sink, Errors: sink}, nil
	}})
	if err := mgr2.Start(context.Background(), parse("delivery_streams:\n  - name: c\n    destination:\n      s3: {bucket: b}\n")); err != nil {
		t.Fatal(err)
	}
	defer closeSoon(mgr2)
	if got := mgr2.List(""); len(got) != 2 {
		t.Fatalf("after restart = %v", got)
	}
	if s, _ := mgr2.Describe("c"); s.Def.VersionID != 1 {
		t.Fatalf("unchanged config stream got version %d after restart", s.Def.VersionID)
	}
}

func TestDeleteThenRecreateStartsEmpty(t *testing.T) {
	sink := &fakeSink{}
	h := newHarness(t, streamcore.NewMemStore(), t.TempDir(), sink)
	ctx := context.Background()
	sink.set(sinks.Unavailable("S3.ConnectionFailed", errors.New("down")), nil)
	if err := h.mgr.Create(ctx, s3def("re", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	putN(t, h.mgr, "re", 0, 5)
	if err := h.mgr.Delete(ctx, "re"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.mgr.Put(ctx, "re", [][]byte{[]byte("x")}); TypeOf(err) != ErrTypeResourceNotFound {
		t.Fatalf("put while deleting: %v", err)
	}
	waitFor(t, "delete to finish", func() bool { return len(h.mgr.List("")) == 0 })
	sink.set(nil, nil)
	if err := h.mgr.Create(ctx, s3def("re", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	putN(t, h.mgr, "re", 100, 1)
	waitFor(t, "the new record", func() bool { return len(sink.delivered()) >= 1 })
	if got := sink.delivered(); len(got) != 1 || got[0] != "rec-00100" {
		t.Fatalf("recreated stream delivered %v; the deleted stream's records must be gone", got)
	}
}

// A restart with unchanged definitions must not rewrite the definitions file: on a full
// disk the temp file it would create cannot be written and the daemon would not start.
func TestStartWithUnchangedDefinitionsWritesNothing(t *testing.T) {
	dir := t.TempDir()
	store := streamcore.NewMemStore()
	h := newHarness(t, store, dir, &fakeSink{})
	if err := h.mgr.Create(context.Background(), s3def("keep", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	closeSoon(h.mgr)
	path := filepath.Join(dir, defsFile)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mgr2, err := NewManager(Options{Engine: h.eng, DataDir: dir, NewDestination: func(*Definition, S3Conn) (*Built, error) {
		return &Built{Sink: &fakeSink{}, Errors: &fakeSink{}}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr2.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer closeSoon(mgr2)
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("Start rewrote %s with unchanged definitions (inode or mtime changed)", defsFile)
	}
	if names := mgr2.List(""); len(names) != 1 || names[0] != "keep" {
		t.Fatalf("definitions not restored: %v", names)
	}
}

// With no definitions saved and none to save, a save creates nothing (not even the
// firehose/ folder): a first start on a full disk does not fail on it.
func TestSaveOfNoDefinitionsWritesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := newDefStore(dir).save(nil); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("saving no definitions created %v", entries)
	}
}
