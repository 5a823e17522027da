package firehose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// gatedEngine is an engine whose CreateStream, DescribeStream and DeleteStream of a held
// stream wait until the test releases it, as a slow engine (or a long wait for ACTIVE)
// would.
type gatedEngine struct {
	*streamcore.Engine
	mu      sync.Mutex
	gates   map[string]chan struct{} // stream name → closed on release
	entered chan string              // a held call started waiting
}

func newGatedEngine(t *testing.T) *gatedEngine {
	t.Helper()
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	return &gatedEngine{Engine: eng, gates: map[string]chan struct{}{}, entered: make(chan string, 64)}
}

// hold makes the calls on stream name wait; release lets them (and later ones) through.
func (g *gatedEngine) hold(t *testing.T, name string) (release func()) {
	gate := make(chan struct{})
	g.mu.Lock()
	g.gates[name] = gate
	g.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			g.mu.Lock()
			delete(g.gates, name)
			g.mu.Unlock()
			close(gate)
		})
	}
	t.Cleanup(release)
	return release
}

func (g *gatedEngine) wait(ctx context.Context, key streamcore.StreamKey) error {
	g.mu.Lock()
	gate := g.gates[key.Name]
	g.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case g.entered <- key.Name:
	default:
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitEntered waits until a held call on name is waiting.
func (g *gatedEngine) waitEntered(t *testing.T, name string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-g.entered:
			if n == name {
				return
			}
		case <-deadline:
			t.Fatalf("no call on %s reached the engine", name)
		}
	}
}

func (g *gatedEngine) CreateStream(ctx context.Context, key streamcore.StreamKey, o streamcore.CreateOptions) error {
	if err := g.wait(ctx, key); err != nil {
		return err
	}
	return g.Engine.CreateStream(ctx, key, o)
}

func (g *gatedEngine) DescribeStream(ctx context.Context, key streamcore.StreamKey) (streamcore.StreamDescription, error) {
	if err := g.wait(ctx, key); err != nil {
		return streamcore.StreamDescription{}, err
	}
	return g.Engine.DescribeStream(ctx, key)
}

func (g *gatedEngine) DeleteStream(ctx context.Context, key streamcore.StreamKey, enforce bool) error {
	if err := g.wait(ctx, key); err != nil {
		return err
	}
	return g.Engine.DeleteStream(ctx, key, enforce)
}

// within runs f and fails the test if it does not return in time: a call that should not
// wait for the held work.
func within(t *testing.T, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s is blocked by the held control-plane call", what)
	}
}

// putOK puts n records and reports any that failed.
func putOK(m *Manager, name string, from, n int) error {
	res, _, err := m.Put(context.Background(), name, recs(from, n))
	if err != nil {
		return err
	}
	for i, r := range res {
		if r.ErrorCode != "" {
			return fmt.Errorf("record %d: %+v", i, r)
		}
	}
	return nil
}

func wantType(err error, typ string) error {
	if TypeOf(err) != typ {
		return fmt.Errorf("got %v, want %s", err, typ)
	}
	return nil
}

// A Create stuck in its slow part (the internal stream does not come up) holds no lock
// that Put, Describe, List or the other streams' control plane wait for; its name is
// taken meanwhile (a second Create is refused, the stream-count limit counts it) and the
// stream shows CREATING. The same holds for an Update stuck in its slow part.
func TestSlowCreateAndUpdateDoNotBlockOthers(t *testing.T) {
	eng := newGatedEngine(t)
	sink := &fakeSink{}
	mgr := newManagerOn(t, eng, sink, Options{MaxDeliveryStreams: 2, SwitchTimeout: time.Second})
	ctx := context.Background()
	if err := mgr.Create(ctx, s3def("a", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	release := eng.hold(t, "b")
	created := make(chan error, 1)
	go func() { created <- mgr.Create(ctx, s3def("b", 1, 0, 60)) }()
	eng.waitEntered(t, "b")

	within(t, "Put to a", func() error { return putOK(mgr, "a", 0, 10) })
	within(t, "Describe of a", func() error {
		snap, err := mgr.Describe("a")
		if err == nil && snap.Status != StatusActive {
			err = fmt.Errorf("status %s", snap.Status)
		}
		return err
	})
	within(t, "Describe of b", func() error {
		snap, err := mgr.Describe("b")
		if err == nil && snap.Status != StatusCreating {
			err = fmt.Errorf("status %s, want CREATING", snap.Status)
		}
		return err
	})
	within(t, "List", func() error {
		if got := mgr.List(""); !slices.Equal(got, []string{"a", "b"}) {
			return fmt.Errorf("List = %v", got)
		}
		return nil
	})
	within(t, "a second Create of b", func() error {
		return wantType(mgr.Create(ctx, s3def("b", 1, 0, 60)), ErrTypeResourceInUse)
	})
	within(t, "a Create over the limit", func() error {
		return wantType(mgr.Create(ctx, s3def("c", 1, 0, 60)), ErrTypeLimitExceeded)
	})
	within(t, "Put to b", func() error {
		_, _, err := mgr.Put(ctx, "b", recs(0, 1))
		return wantType(err, ErrTypeResourceNotFound)
	})
	within(t, "Delete of b", func() error { return wantType(mgr.Delete(ctx, "b"), ErrTypeResourceInUse) })
	within(t, "Update of a", func() error {
		return mgr.Update(ctx, "a", "1", firstDestID, func(d *Definition) error { d.RetryDuration = 30; return nil })
	})

	release()
	select {
	case err := <-created:
		if err != nil {
			t.Fatalf("Create of b: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Create of b did not finish once released")
	}
	if snap, err := mgr.Describe("b"); err != nil || snap.Status != StatusActive {
		t.Fatalf("b after its Create: %+v %v", snap.Status, err)
	}
	if err := putOK(mgr, "b", 100, 5); err != nil {
		t.Fatal(err)
	}

	// an Update of a stuck in its slow part: Put to a and Describe of a go on
	release = eng.hold(t, "a")
	updated := make(chan error, 1)
	go func() {
		updated <- mgr.Update(ctx, "a", "2", firstDestID, func(d *Definition) error { d.RetryDuration = 40; return nil })
	}()
	eng.waitEntered(t, "a")
	within(t, "Put to a during its Update", func() error { return putOK(mgr, "a", 200, 10) })
	within(t, "Describe of a during its Update", func() error {
		snap, err := mgr.Describe("a")
		if err == nil && (snap.Status != StatusActive || snap.Def.VersionID != 2) {
			err = fmt.Errorf("status %s version %d, want ACTIVE 2 until the switch is done", snap.Status, snap.Def.VersionID)
		}
		return err
	})
	within(t, "a concurrent Update of a", func() error {
		done := make(chan error, 1)
		go func() {
			done <- mgr.Update(ctx, "a", "2", firstDestID, func(d *Definition) error { return nil })
		}()
		release() // the first one finishes; this one then sees version 3
		return wantType(<-done, ErrTypeConcurrentModif)
	})
	if err := <-updated; err != nil {
		t.Fatalf("Update of a: %v", err)
	}
	waitFor(t, "every record delivered", func() bool { return len(sink.delivered()) >= 10+5+10 })
}

// Concurrent Creates of one name: exactly one wins, the others get ResourceInUseException.
func TestConcurrentCreatesOfOneName(t *testing.T) {
	eng := newGatedEngine(t)
	mgr := newManagerOn(t, eng, &fakeSink{}, Options{})
	release := eng.hold(t, "x")
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() { errs <- mgr.Create(context.Background(), s3def("x", 1, 0, 60)) }()
	}
	eng.waitEntered(t, "x")
	time.AfterFunc(50*time.Millisecond, release)
	won := 0
	for i := 0; i < 8; i++ {
		err := <-errs
		switch {
		case err == nil:
			won++
		case TypeOf(err) != ErrTypeResourceInUse:
			t.Fatalf("Create: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d Creates succeeded, want 1", won)
	}
	var e *Error
	if err := mgr.Create(context.Background(), s3def("x", 1, 0, 60)); !errors.As(err, &e) || e.Type != ErrTypeResourceInUse {
		t.Fatalf("Create after: %v", err)
	}
}

// Close waits for the teardown a Delete started in the background: when Close returns,
// the internal stream, the definition and the metrics of the deleted stream are gone and
// the teardown goroutine has ended; a Delete after Close began is refused.
func TestCloseWaitsForDelete(t *testing.T) {
	eng := newGatedEngine(t)
	dir := t.TempDir()
	mgr := newManagerOn(t, eng, &fakeSink{}, Options{DataDir: dir})
	ctx := context.Background()
	for _, n := range []string{"gone", "kept"} {
		if err := mgr.Create(ctx, s3def(n, 1, 0, 60)); err != nil {
			t.Fatal(err)
		}
		putN(t, mgr, n, 0, 5)
	}
	release := eng.hold(t, "gone") // the teardown's DeleteStream waits
	if err := mgr.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	eng.waitEntered(t, "gone")
	closed := make(chan error, 1)
	go func() { closed <- mgr.Close(ctx) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a Delete was still deleting the internal stream", err)
	case <-time.After(100 * time.Millisecond):
	}
	waitFor(t, "Close to begin", func() bool {
		mgr.mu.Lock()
		defer mgr.mu.Unlock()
		return mgr.closed
	})
	if err := mgr.Delete(ctx, "kept"); TypeOf(err) != ErrTypeServiceUnavailable {
		t.Fatalf("Delete during Close: %v, want ServiceUnavailableException", err)
	}
	release()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the Delete finished")
	}

	if _, err := eng.Engine.DescribeStream(ctx, mgr.internalKey("gone")); !errors.Is(err, streamcore.ErrNotFound) {
		t.Fatalf("internal stream of the deleted delivery stream: %v, want not found", err)
	}
	if got := mgr.List(""); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("List after Close = %v", got)
	}
	defs, err := newDefStore(dir).load()
	if err != nil || len(defs) != 1 || defs[0].Name != "kept" {
		t.Fatalf("persisted after Close: %v %v, want only kept", defs, err)
	}
	if n := series(mgr.metrics.IncomingRecords); n != 1 {
		t.Fatalf("%d incoming_records series after Close, want only kept's", n)
	}
	if mgr.spawn(func() {}) {
		t.Fatal("a closed manager still starts goroutines")
	}
}

// Delete right before Close, repeatedly: no race (go test -race), and the deletion is
// complete when Close returns.
func TestDeleteThenCloseCompletes(t *testing.T) {
	for i := 0; i < 20; i++ {
		dir := t.TempDir()
		h := newHarness(t, streamcore.NewMemStore(), dir, &fakeSink{})
		if err := h.mgr.Create(context.Background(), s3def("d", 1, 0, 60)); err != nil {
			t.Fatal(err)
		}
		putN(t, h.mgr, "d", 0, 3)
		if err := h.mgr.Delete(context.Background(), "d"); err != nil {
			t.Fatal(err)
		}
		if err := h.mgr.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if defs, err := newDefStore(dir).load(); err != nil || len(defs) != 0 {
			t.Fatalf("round %d: persisted after Delete and Close: %v %v", i, defs, err)
		}
		h.stop()
	}
}

// series counts the series a collector has.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 1000)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// flakyFactory builds destinations over sink, and fails every build once broken (after
// letting pass more through).
type flakyFactory struct {
	sink   *fakeSink
	mu     sync.Mutex
	broken bool
	pass   int
	builds int
}

func (f *flakyFactory) build(*Definition, S3Conn) (*Built, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds++
	if f.broken {
		if f.pass == 0 {
			return nil, fmt.Errorf("destination unavailable (build %d)", f.builds)
		}
		f.pass--
	}
	return &Built{Sink: f.sink, Errors: f.sink}, nil
}

// breakAfter makes every build after the next pass ones fail; fix ends that.
func (f *flakyFactory) breakAfter(pass int) {
	f.mu.Lock()
	f.broken, f.pass = true, pass
	f.mu.Unlock()
}
func (f *flakyFactory) fix() { f.mu.Lock(); f.broken = false; f.mu.Unlock() }

func newFlakyManager(t *testing.T, opts Options) (*Manager, *flakyFactory) {
	t.Helper()
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	f := &flakyFactory{sink: &fakeSink{}}
	opts.Engine, opts.NewDestination = eng, f.build
	opts.Backoff = retry.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond, Jitter: -1}
	opts.SwitchTimeout = time.Second
	mgr, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSoon(mgr) })
	return mgr, f
}

// checkLeftWithoutPipeline checks what a failed switch with a failed restore leaves: the
// error names both failures, the stream stays at its version and Describe shows it failing.
func checkLeftWithoutPipeline(t *testing.T, mgr *Manager, name string, err error, version int) {
	t.Helper()
	var re *RestoreError
	if !errors.As(err, &re) || TypeOf(err) != ErrTypeInternal ||
		!strings.Contains(err.Error(), "starting the new pipeline failed: ") ||
		!strings.Contains(err.Error(), "restarting the previous one failed too: ") {
		t.Fatalf("error %v: want an InternalFailure naming the update failure and the restore failure", err)
	}
	snap, derr := mgr.Describe(name)
	if derr != nil || snap.Status != StatusActive || snap.Def.VersionID != version {
		t.Fatalf("after the failed restore: %s version %d (%v), want ACTIVE at version %d", snap.Status, snap.Def.VersionID, derr, version)
	}
	if !snap.Health.Failing || !strings.Contains(snap.Health.LastError, "no pipeline is running: ") ||
		!strings.Contains(snap.Health.LastError, re.Restore.Error()) {
		t.Fatalf("Describe health %+v: want failing with the restore failure", snap.Health)
	}
	if mgr.lookup(name).pipe.Load() != nil {
		t.Fatal("a pipeline runs")
	}
}

// UpdateDestination whose new pipeline does not start, and whose old one does not start
// again either, leaves the stream in the map without a pipeline, failing in Describe,
// with an error that says both; records are still accepted, and the next successful
// Update starts a pipeline that delivers them.
func TestUpdateWithFailedRestoreIsVisible(t *testing.T) {
	mgr, f := newFlakyManager(t, Options{})
	ctx := context.Background()
	if err := mgr.Create(ctx, s3def("u", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	putN(t, mgr, "u", 0, 5)
	waitFor(t, "the first records", func() bool { return len(f.sink.delivered()) == 5 })
	f.breakAfter(1) // the Update's own check builds fine; its pipeline and the restore do not
	err := mgr.Update(ctx, "u", "1", firstDestID, func(d *Definition) error { d.RetryDuration = 30; return nil })
	checkLeftWithoutPipeline(t, mgr, "u", err, 1)
	if got := mgr.List(""); !slices.Equal(got, []string{"u"}) {
		t.Fatalf("List = %v", got)
	}
	putN(t, mgr, "u", 5, 5) // accepted: they wait in the stream

	f.fix()
	if err := mgr.Update(ctx, "u", "1", firstDestID, func(d *Definition) error { d.RetryDuration = 30; return nil }); err != nil {
		t.Fatalf("Update once the destination builds: %v", err)
	}
	snap, _ := mgr.Describe("u")
	if snap.Health.Failing || snap.Def.VersionID != 2 || snap.Def.RetryDuration != 30 {
		t.Fatalf("after the second Update: health %+v version %d retry %d", snap.Health, snap.Def.VersionID, snap.Def.RetryDuration)
	}
	waitFor(t, "the records put while no pipeline ran", func() bool { return len(f.sink.delivered()) >= 10 })
}

// The same through a reload: the error says both failures, the stream is failing in
// Describe, and the next reload starts it again, even with an unchanged config.
func TestApplyWithFailedRestoreIsVisible(t *testing.T) {
	parse := func(prefix string) []*Definition {
		t.Helper()
		c, err := config.Parse("t.yaml", []byte("delivery_streams:\n  - name: c\n    buffer: {size: 1MiB, interval: 0s}\n    destination:\n      s3: {bucket: b, prefix: "+prefix+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return FromConfig(c)
	}
	mgr, f := newFlakyManager(t, Options{})
	ctx := context.Background()
	if err := mgr.Apply(ctx, parse("x/")); err != nil {
		t.Fatal(err)
	}
	f.breakAfter(1)
	err := mgr.Apply(ctx, parse("y/"))
	if err == nil || !strings.HasPrefix(err.Error(), "delivery stream c: ") {
		t.Fatalf("Apply: %v", err)
	}
	checkLeftWithoutPipeline(t, mgr, "c", err, 1)

	f.fix()
	if err := mgr.Apply(ctx, parse("x/")); err != nil { // what runs, unchanged: started again
		t.Fatalf("reload with the unchanged config: %v", err)
	}
	snap, _ := mgr.Describe("c")
	if snap.Health.Failing || snap.Def.VersionID != 1 || mgr.lookup("c").pipe.Load() == nil {
		t.Fatalf("after the reload: health %+v version %d", snap.Health, snap.Def.VersionID)
	}
	putN(t, mgr, "c", 0, 3)
	waitFor(t, "delivery after the reload", func() bool { return len(f.sink.delivered()) >= 3 })
}
