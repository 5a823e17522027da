package firehose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/delivery"
	"github.com/sluice-io/sluice/sinks"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/sinks/catalog"
	"github.com/sluice-io/sluice/sources"
	"github.com/sluice-io/sluice/sources/directput"
	"github.com/sluice-io/sluice/sources/processors"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// InternalRegion is the streamcore region of the internal streams that hold DirectPut
// records: StreamKey{Account, InternalRegion, <delivery stream name>}.
const InternalRegion = "sluice-firehose-internal"

// Engine is the part of *streamcore.Engine the manager uses.
type Engine interface {
	sources.Engine
	CreateStream(ctx context.Context, key streamcore.StreamKey, o streamcore.CreateOptions) error
	DeleteStream(ctx context.Context, key streamcore.StreamKey, enforceConsumerDeletion bool) error
	DescribeStream(ctx context.Context, key streamcore.StreamKey) (streamcore.StreamDescription, error)
	PutRecords(ctx context.Context, key streamcore.StreamKey, entries []streamcore.PutEntry) ([]streamcore.PutResult, error)
}

// Limits are the Direct PUT quotas of a delivery stream (zero fields are unlimited).
type Limits = directput.Limits

// Options configure a Manager.
type Options struct {
	Engine  Engine
	DataDir string // "" = definitions are not persisted
	Account string // default 000000000000
	Region  string // default us-east-1
	// Budget is the memory shared by every pipeline's buffers (nil = buffer.DefaultBudget).
	Budget *buffer.Budget
	// DefaultS3 reaches S3 for API-created delivery streams.
	DefaultS3 S3Conn
	// NewDestination builds destinations (nil = NewDestination: the registered kind builds it).
	NewDestination DestinationFactory
	// DirectPutShards is the shard count of each internal DirectPut stream (default 2).
	DirectPutShards int
	// MaxDeliveryStreams bounds the number of delivery streams (default 5000).
	MaxDeliveryStreams int
	Logger             *slog.Logger
	Registerer         prometheus.Registerer
	// WALHighWater is, per DirectPut delivery stream, how many accepted bytes may wait
	// undelivered (not checkpointed) before Put answers "Slow down." (0 = no mark).
	WALHighWater int64
	// Throttle are the Direct PUT quotas per delivery stream (zero = unlimited).
	Throttle Limits
	// Backoff spaces delivery retries (zero = retry.DefaultBackoff).
	Backoff retry.Backoff
	// LambdaFunctions maps the LambdaArn of a Lambda processor to the URL of the HTTP
	// function that takes the Firehose Lambda event (firehose.lambda_functions).
	LambdaFunctions map[string]string
	// OpenSearchDomains maps an OpenSearch DomainARN to its cluster's URL
	// (firehose.opensearch_domains).
	OpenSearchDomains map[string]string
	// AllowInsecure lets destinations use plain http:// off this machine
	// (firehose.allow_insecure_endpoints).
	AllowInsecure bool
	// Catalog is the local table catalog of record format conversion (firehose.catalog;
	// nil = empty).
	Catalog *catalog.Catalog
	// SwitchTimeout bounds how long a configuration change (UpdateDestination, reload)
	// waits for the old pipeline to deliver its buffers; what is not delivered by then is
	// read again by the new one (default 30s).
	SwitchTimeout time.Duration
	Now           func() time.Time
}

// Manager runs every delivery stream of a daemon. Safe for concurrent use.
//
// Locking: the data path (Put) and the reads (Describe, List) take no lock; they read the
// copy-on-write map of streams and each stream's atomics. mu serialises the changes to
// the map and to the streams' states, and the saves of the definitions; it is never held
// across slow work (waiting for an internal stream, counting a backlog, draining a
// pipeline). That work runs under the op lock of the one stream it concerns.
type Manager struct {
	opts    Options
	log     *slog.Logger
	store   *defStore
	metrics *Metrics
	budget  *buffer.Budget

	// streams is the delivery streams by name, replaced whole (copy on write) under mu.
	streams atomic.Pointer[map[string]*stream]
	mu      sync.Mutex
	closed  bool            // guarded by mu: Close began; Create and Delete are refused
	ctx     context.Context // parent of every pipeline; Close cancels it
	cancel  context.CancelFunc

	// bg counts every goroutine the manager starts (pipelines, Delete's teardown,
	// recounts), so Close returns only once they have all ended; spawn starts them and
	// refuses once Close waits (bgClosed, guarded by bgMu).
	bg       sync.WaitGroup
	bgMu     sync.Mutex
	bgClosed bool
}

// errClosing is the cause of the refusals of a closing manager.
var errClosing = errors.New("firehose: the manager is closing")

func closing() *Error {
	return &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down.", Err: errClosing}
}

// spawn runs f on a goroutine Close waits for. Once Close waits it runs nothing and
// returns false.
func (m *Manager) spawn(f func()) bool {
	m.bgMu.Lock()
	defer m.bgMu.Unlock()
	if m.bgClosed {
		return false
	}
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		f()
	}()
	return true
}

// Snapshot is a consistent copy of one delivery stream for Describe.
type Snapshot struct {
	Def    Definition
	Status string
	Health delivery.Status
}

// NewManager returns a manager; Start loads and runs the delivery streams.
func NewManager(opts Options) (*Manager, error) {
	if opts.Engine == nil {
		return nil, errors.New("delivery: Options.Engine is required")
	}
	if opts.SwitchTimeout <= 0 {
		opts.SwitchTimeout = 30 * time.Second
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Budget == nil {
		opts.Budget = buffer.NewBudget(0)
	}
	if opts.DirectPutShards <= 0 {
		opts.DirectPutShards = 2
	}
	if opts.MaxDeliveryStreams <= 0 {
		opts.MaxDeliveryStreams = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	metrics := NewMetrics(opts.Registerer)
	if opts.NewDestination == nil {
		opts.NewDestination = func(def *Definition, conn S3Conn) (*Built, error) {
			return newDestination(def, conn, lg, metrics)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		opts: opts, log: lg.With("component", "firehose"), store: newDefStore(opts.DataDir),
		metrics: metrics, budget: opts.Budget, ctx: ctx, cancel: cancel,
	}
	m.streams.Store(&map[string]*stream{})
	return m, nil
}

// Metrics returns the manager's metrics (the API layer counts requests on them).
func (m *Manager) Metrics() *Metrics { return m.metrics }

// Account and Region are the namespace of the delivery streams.
func (m *Manager) Account() string { return m.opts.Account }
func (m *Manager) Region() string  { return m.opts.Region }

// ARN of a delivery stream.
func (m *Manager) ARN(name string) string {
	return "arn:aws:firehose:" + m.opts.Region + ":" + m.opts.Account + ":deliverystream/" + name
}

// Start loads the persisted definitions, reconciles them with the config-declared ones
// (declared side by side; a config entry replaces the stored entry of the same name but
// keeps its creation time and checkpoints), and starts every pipeline.
func (m *Manager) Start(ctx context.Context, declared []*Definition) error {
	stored, err := m.store.load()
	if err != nil {
		return err
	}
	byName := map[string]*Definition{}
	for _, d := range stored {
		byName[d.Name] = d
	}
	inFile := map[string]bool{}
	for _, d := range declared {
		inFile[d.Name] = true
		if old := byName[d.Name]; old != nil {
			d.Created, d.Group = old.Created, old.Group
			d.Tags, d.Encryption = old.Tags, old.Encryption
			if d.Source != nil && old.Source != nil {
				d.Source.DeliveryStartTimestamp = old.Source.DeliveryStartTimestamp
			}
			if old.Origin == OriginConfig {
				d.VersionID = old.VersionID
				if !sameDestination(old, d) {
					d.VersionID++
					d.LastUpdate = m.opts.Now()
				}
			}
		}
		if d.Created.IsZero() {
			now := m.opts.Now()
			d.Created = now
			d.Group = fmt.Sprintf("firehose/%s/%d", d.Name, now.UnixNano())
			if d.Source != nil {
				d.Source.DeliveryStartTimestamp = now
			}
		}
		byName[d.Name] = d
	}
	for name, d := range byName {
		if d.Origin == OriginConfig && !inFile[name] {
			m.log.Info("delivery stream no longer in the config; deleting it", "delivery_stream", name)
			delete(byName, name)
			if d.Type == TypeDirectPut {
				m.dropInternal(ctx, name)
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		check := func() error {
			if m.lookup(n) != nil {
				return m.alreadyExists(n)
			}
			return nil
		}
		if err := m.add(ctx, byName[n], check, nil); err != nil {
			errs = append(errs, fmt.Errorf("delivery stream %s: %w", n, err))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.saveLocked(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func sameDestination(a, b *Definition) bool {
	if jsonOf(a.Dest) != jsonOf(b.Dest) || a.RetryDuration != b.RetryDuration {
		return false
	}
	// persisted definitions carry no connection (it may hold a secret): compare it only
	// when both sides have one
	return a.Conn == nil || b.Conn == nil || *a.Conn == *b.Conn
}

// Close stops every pipeline: each delivers what it buffered (within ctx's deadline), commits
// its checkpoints and stops; records not delivered by then stay in their streams. Then it
// waits for every goroutine the manager started: pipelines started meanwhile (they stop
// at once), Deletes in progress (they finish), recounts (they stop). Create and Delete
// are refused from the start of Close on.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	var all []*pipeline
	for _, s := range m.snapshot() {
		if p := s.pipe.Load(); p != nil {
			all = append(all, p)
			p.run.Drain()
		}
	}
	var err error
wait:
	for _, p := range all {
		select {
		case <-p.done:
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		}
	}
	m.cancel()
	m.bgMu.Lock()
	m.bgClosed = true
	m.bgMu.Unlock()
	m.bg.Wait()
	return err
}

// Apply reconciles the running config-declared delivery streams with declared (SIGHUP):
// new ones start, changed ones restart with the new destination (VersionId bumped),
// removed ones stop, and one left without a pipeline by an earlier failed change starts
// again. When a changed one does not start and its previous pipeline cannot be started
// again either, the error says both (see Update). API-created streams are left alone.
func (m *Manager) Apply(ctx context.Context, declared []*Definition) error {
	var errs []error
	want := map[string]*Definition{}
	for _, d := range declared {
		want[d.Name] = d
	}
	var stop []*stream
	for name, s := range m.snapshot() {
		if s.state.Load().def.Origin == OriginConfig && want[name] == nil {
			stop = append(stop, s)
		}
	}
	for _, s := range stop {
		s.op.Lock() // one at a time elsewhere, so holding several cannot deadlock
	}
	m.mu.Lock()
	m.removeLocked(stop...)
	m.mu.Unlock()
	for _, s := range stop {
		m.log.Info("delivery stream no longer in the config; deleting it", "delivery_stream", s.name)
		s.stop(m.opts.SwitchTimeout)
		if s.state.Load().def.Type == TypeDirectPut {
			m.dropInternal(ctx, s.name)
		}
		s.op.Unlock()
		m.metrics.forget(s.name)
	}
	for _, d := range declared {
		if err := m.applyOne(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("delivery stream %s: %w", d.Name, err))
		}
	}
	m.mu.Lock()
	if err := m.saveLocked(); err != nil {
		errs = append(errs, err)
	}
	m.mu.Unlock()
	return errors.Join(errs...)
}

// applyOne starts the config-declared d, or restarts its running stream when the
// destination changed.
func (m *Manager) applyOne(ctx context.Context, d *Definition) error {
	s := m.lookup(d.Name)
	if s == nil {
		check := func() error {
			if m.lookup(d.Name) != nil {
				return errors.New("created through the API meanwhile; the config entry is ignored")
			}
			now := m.opts.Now()
			d.Created, d.Group = now, fmt.Sprintf("firehose/%s/%d", d.Name, now.UnixNano())
			if d.Source != nil {
				d.Source.DeliveryStartTimestamp = now
			}
			return nil
		}
		return m.add(ctx, d, check, nil)
	}
	if s.state.Load().def.Origin != OriginConfig {
		return errors.New("already created through the API; the config entry is ignored")
	}
	s.op.Lock()
	defer s.op.Unlock()
	cur := s.state.Load()
	if m.lookup(d.Name) != s || cur.status == StatusDeleting {
		return errors.New("being deleted through the API; the config entry applies from the next reload")
	}
	same := sameDestination(cur.def, d)
	if same && cur.fault == "" {
		return nil // a stream left without a pipeline is started again even so
	}
	d.Created, d.Group, d.Tags, d.Encryption = cur.def.Created, cur.def.Group, cur.def.Tags, cur.def.Encryption
	if d.Source != nil && cur.def.Source != nil {
		d.Source.DeliveryStartTimestamp = cur.def.Source.DeliveryStartTimestamp
	}
	d.VersionID, d.LastUpdate = cur.def.VersionID, cur.def.LastUpdate
	if !same {
		d.VersionID++
		d.LastUpdate = m.opts.Now()
	}
	if _, err := m.newDestination(d); err != nil {
		return err
	}
	s.stop(m.opts.SwitchTimeout)
	if err := m.startLocked(ctx, d); err != nil {
		return m.restore(ctx, s, err)
	}
	m.mu.Lock()
	m.publishLocked(s, d)
	m.mu.Unlock()
	return nil
}

// Create validates def, creates its internal stream (DirectPut), persists it and starts
// its pipeline. def.Name, Type, S3 and Source must be set; the rest is filled in. The
// name is taken first (a concurrent Create of it gets ResourceInUseException, and it
// counts against MaxDeliveryStreams); the slow part (waiting for the internal stream)
// holds no lock other calls wait for, and Describe shows the stream CREATING meanwhile.
func (m *Manager) Create(ctx context.Context, def *Definition) error {
	check := func() error {
		if m.closed {
			return closing()
		}
		if m.lookup(def.Name) != nil {
			return m.alreadyExists(def.Name)
		}
		if len(m.snapshot()) >= m.opts.MaxDeliveryStreams {
			return &Error{Type: ErrTypeLimitExceeded, Msg: fmt.Sprintf("You have already consumed your firehose quota of %d hoses. Firehose names: %s", m.opts.MaxDeliveryStreams, "…")}
		}
		now := m.opts.Now()
		def.ARN = m.ARN(def.Name)
		def.Origin = OriginAPI
		def.VersionID = 1
		def.DestinationID = firstDestID
		def.Created = now
		def.Group = fmt.Sprintf("firehose/%s/%d", def.Name, now.UnixNano())
		if def.Source != nil {
			def.Source.DeliveryStartTimestamp = now
		}
		if def.RetryDuration == 0 {
			def.RetryDuration = 300
			if rs := def.Dest.Config.Settings().RetrySeconds; rs != nil {
				def.RetryDuration = *rs
			}
		}
		return nil
	}
	prepare := func() error {
		if _, err := m.newDestination(def); err != nil {
			return err
		}
		if def.Source != nil {
			if _, err := m.opts.Engine.DescribeStream(ctx, m.sourceKey(def)); err != nil {
				return invalidArg("Kinesis stream %s does not exist or is not accessible.", def.Source.KinesisStreamARN)
			}
		}
		return nil
	}
	if err := m.add(ctx, def, check, prepare); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.saveLocked(); err != nil {
		return internal(err)
	}
	return nil
}

func (m *Manager) connOf(def *Definition) S3Conn {
	if def.Conn != nil {
		return *def.Conn
	}
	return m.opts.DefaultS3
}

// sourceKey parses the KinesisStreamARN of a KinesisStreamAsSource definition.
func (m *Manager) sourceKey(def *Definition) streamcore.StreamKey {
	return ParseStreamARN(def.Source.KinesisStreamARN, m.opts.Account, m.opts.Region)
}

// ParseStreamARN parses arn:aws:kinesis:<region>:<account>:stream/<name>; a bare name uses
// the defaults.
func ParseStreamARN(arn, account, region string) streamcore.StreamKey {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && strings.HasPrefix(parts[5], "stream/") {
		return streamcore.StreamKey{Account: parts[4], Region: parts[3], Name: strings.TrimPrefix(parts[5], "stream/")}
	}
	return streamcore.StreamKey{Account: account, Region: region, Name: arn}
}

// newDestination builds def's destination with the manager's connection defaults and
// Lambda mapping (def.Lambdas is set here, for every path that builds a chain of def).
func (m *Manager) newDestination(def *Definition) (*Built, error) {
	def.Lambdas = m.opts.LambdaFunctions
	def.Domains, def.AllowInsecure = m.opts.OpenSearchDomains, m.opts.AllowInsecure
	def.Catalog = m.opts.Catalog
	return m.opts.NewDestination(def, m.connOf(def))
}

// startLocked builds and starts the pipeline of def and registers it.
func (m *Manager) startLocked(ctx context.Context, def *Definition) error {
	dest, err := m.newDestination(def)
	if err != nil {
		return err
	}
	chain, err := buildChain(def, func(st processors.StageStats) { // per processor
		m.metrics.ProcessingDuration.WithLabelValues(def.Name, st.Processor).Observe(st.Duration.Seconds())
		m.metrics.ProcessingRecords.WithLabelValues(def.Name, st.Processor, "ok").Add(float64(st.Out))
		if st.Failed > 0 {
			m.metrics.ProcessingRecords.WithLabelValues(def.Name, st.Processor, "failed").Add(float64(st.Failed))
		}
	})
	if err != nil {
		return err
	}
	e := m.lookup(def.Name) // the caller holds its op: it stays in the map
	s := &pipeline{done: make(chan struct{})}
	// read batches of a quarter buffer: a checkpoint moves once every record of a read batch
	// is held, so their size adds to what a crash makes the runner deliver again
	st := def.Dest.Config.Settings()
	src := sources.Options{Group: def.Group, Logger: m.log, MaxBytes: min(max(st.SizeMiB<<18, 64<<10), sources.DefaultMaxBytes)}
	if def.Type == TypeKinesisSrc {
		src.Stream = m.sourceKey(def)
		src.Start = streamcore.Position{Type: streamcore.AtTimestamp, Timestamp: def.Source.DeliveryStartTimestamp}
	} else {
		key := m.internalKey(def.Name)
		shards, err := m.ensureInternal(ctx, key)
		if err != nil {
			return internal(err)
		}
		src.Stream = key
		src.Start = streamcore.Position{Type: streamcore.TrimHorizon}
		if err := m.ensureIntake(ctx, e, def, shards); err != nil {
			return err
		}
	}
	var onCommitted func(int64)
	if in := e.intake.Load(); in != nil {
		walGauge := m.metrics.WALBytes.WithLabelValues(def.Name)
		onCommitted = func(n int64) { walGauge.Set(float64(in.Committed(n))) }
		if m.opts.WALHighWater > 0 {
			src.OnExpired = func(string, int64) {
				// the expired bytes will never be delivered (committed): count again what waits
				m.spawn(func() { m.recount(in, def.Name) })
			}
		}
	}
	budget := m.budget
	src.Gate = budget.Wait
	process := func(ctx context.Context, b sources.Batch) ([]record.Record, []delivery.Failure) {
		in := make([]record.Record, len(b.Records))
		for i, r := range b.Records {
			in[i] = record.Record{Data: r.Data, ArrivalMs: r.ArrivalMs, SequenceNumber: r.SequenceNumber}
		}
		var out []record.Record
		var failed []processors.Failure
		if chain.Empty() {
			out = in
		} else {
			t0 := time.Now()
			out, failed = chain.ProcessContext(ctx, in)
			m.metrics.ProcessingDuration.WithLabelValues(def.Name, "chain").Observe(time.Since(t0).Seconds())
			m.metrics.ProcessingRecords.WithLabelValues(def.Name, "chain", "ok").Add(float64(len(out)))
			if len(failed) > 0 {
				m.metrics.ProcessingRecords.WithLabelValues(def.Name, "chain", "failed").Add(float64(len(failed)))
			}
		}
		var fs []delivery.Failure
		if len(failed) > 0 {
			now := time.Now().UnixMilli()
			fs = make([]delivery.Failure, len(failed))
			for i, f := range failed {
				fs[i] = delivery.Failure{Type: f.ErrorOutputType, Record: f.FailureRecord(1, now)}
			}
		}
		if dest.CheckPartition != nil && st.Partitioned {
			kept := out[:0:0]
			for _, r := range out {
				if err := dest.CheckPartition(r.PartitionKeys, r.ArrivalMs); err != nil {
					fs = append(fs, delivery.Failure{Type: record.PartitioningFailed, Record: record.NewFailureRecord(r, 1,
						record.CodeMetadataExtractionFailed, err.Error(), time.Now().UnixMilli())})
					continue
				}
				kept = append(kept, r)
			}
			out = kept
		}
		if dest.Convert != nil { // record format conversion: after the processors, before buffering (§5.6)
			kept := out[:0:0]
			now := time.Now()
			var ok, bad, okBytes, badBytes int
			for _, r := range out {
				n := len(r.Data)
				cr, fr := dest.Convert(r, now)
				if fr != nil {
					fs = append(fs, delivery.Failure{Type: record.FormatConversionFailed, Record: *fr})
					bad, badBytes = bad+1, badBytes+n
					continue
				}
				ok, okBytes = ok+1, okBytes+n
				kept = append(kept, cr)
			}
			out = kept
			m.metrics.countConversion(def.Name, ok, okBytes, bad, badBytes)
		}
		return out, fs
	}
	s.run = delivery.New(delivery.Config{
		Name: def.Name, Destination: sinks.MetricLabel(def.Dest.Kind),
		Source:  sources.NewStreamSource(m.opts.Engine, src),
		Process: process, Sink: dest.Sink, Errors: dest.Errors, FailedType: dest.FailedType, FailureFields: dest.FailureFields, Backup: dest.Backup,
		RetryDuration: time.Duration(def.RetryDuration) * time.Second, RetryClock: dest.RetryClock,
		Hints:       buffer.Hints{Size: int64(st.SizeMiB) << 20, Interval: time.Duration(st.IntervalSec) * time.Second},
		Partitioned: st.Partitioned,
		Budget:      budget, Metrics: m.metrics.Metrics, Backoff: m.opts.Backoff, Logger: m.log,
		OnCommitted: onCommitted,
	})
	pctx, cancel := context.WithCancel(m.ctx)
	s.cancel = cancel
	if !m.spawn(func() {
		defer close(s.done)
		if err := s.run.Run(pctx); err != nil {
			m.log.Error("delivery stream stopped", "delivery_stream", def.Name, "err", err)
		}
	}) {
		cancel()
		return closing()
	}
	e.pipe.Store(s)
	return nil
}

// dropInternal deletes the internal stream of a removed DirectPut delivery stream (its
// undelivered records are discarded, as DeleteDeliveryStream does).
func (m *Manager) dropInternal(ctx context.Context, name string) {
	key := m.internalKey(name)
	if err := m.opts.Engine.DeleteStream(ctx, key, true); err != nil && !errors.Is(err, streamcore.ErrNotFound) {
		m.log.Warn("deleting internal stream failed", "delivery_stream", name, "err", err)
	}
}

// internalKey is the internal stream of the DirectPut delivery stream name.
func (m *Manager) internalKey(name string) streamcore.StreamKey {
	return streamcore.StreamKey{Account: m.opts.Account, Region: InternalRegion, Name: name}
}

// ensureInternal creates (or finds) the internal stream of a DirectPut delivery stream,
// waits until it is ACTIVE and returns its shards.
func (m *Manager) ensureInternal(ctx context.Context, key streamcore.StreamKey) ([]streamcore.Shard, error) {
	n := m.opts.DirectPutShards
	deadline := time.Now().Add(30 * time.Second)
	create := true
	for {
		if create {
			err := m.opts.Engine.CreateStream(ctx, key, streamcore.CreateOptions{
				ShardCount: n, RetentionHours: 24, Quotas: streamcore.Quotas{Unlimited: true},
			})
			if err != nil && !errors.Is(err, streamcore.ErrInUse) {
				return nil, fmt.Errorf("creating internal stream: %w", err)
			}
		}
		d, err := m.opts.Engine.DescribeStream(ctx, key)
		if err == nil && d.Status == streamcore.StatusActive {
			return d.Shards, nil
		}
		// a previous incarnation may still be DELETING: create again once it is gone
		create = errors.Is(err, streamcore.ErrNotFound)
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %s", d.Status)
			}
			return nil, fmt.Errorf("internal stream not active: %w", err)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ensureIntake gives the DirectPut delivery stream s (of def) its intake, the first time
// with the bytes still undelivered from before a restart counted, and routes its appends
// over shards (the internal stream's). The intake outlives pipeline restarts. Called with
// s.op held.
func (m *Manager) ensureIntake(ctx context.Context, s *stream, def *Definition, shards []streamcore.Shard) error {
	in := s.intake.Load()
	if in == nil {
		in = directput.New(directput.Options{Engine: m.opts.Engine, Stream: m.internalKey(def.Name), Group: def.Group,
			Limits: m.opts.Throttle, HighWater: m.opts.WALHighWater, Now: m.opts.Now})
		if m.opts.WALHighWater > 0 {
			// records accepted before a restart and not yet delivered count from the
			// start; no Put reaches the intake before it is stored below
			n, err := in.CountBacklog(ctx)
			if err != nil {
				return internal(fmt.Errorf("counting undelivered records: %w", err))
			}
			m.metrics.WALBytes.WithLabelValues(def.Name).Set(float64(n))
			if n > 0 {
				m.log.Info("undelivered records from before the restart", "delivery_stream", def.Name, "bytes", n)
			}
		}
		s.intake.Store(in)
		if l := m.opts.Throttle; l.Enabled() {
			m.metrics.LimitRecords.WithLabelValues(def.Name).Set(float64(l.Records))
			m.metrics.LimitRequests.WithLabelValues(def.Name).Set(float64(l.Requests))
			m.metrics.LimitBytes.WithLabelValues(def.Name).Set(float64(l.Bytes))
		}
	}
	in.Route(shards)
	return nil
}

// recount counts again what in still has to deliver (after records expired unread) and
// shows it on the WAL gauge. It blocks for the scan.
func (m *Manager) recount(in *directput.Intake, name string) {
	n, err := in.Recount(m.ctx)
	switch {
	case err == nil:
		m.metrics.WALBytes.WithLabelValues(name).Set(float64(n))
	case errors.Is(err, directput.ErrRecounting) || m.ctx.Err() != nil:
	default:
		m.log.Warn("recounting undelivered records failed", "delivery_stream", name, "err", err)
	}
}

func (m *Manager) saveLocked() error {
	all := m.snapshot()
	defs := make([]*Definition, 0, len(all))
	for _, s := range all {
		if st := s.state.Load(); st.status != StatusCreating {
			defs = append(defs, st.def)
		}
	}
	return m.store.save(defs)
}

// Describe returns a snapshot of the delivery stream. It takes no lock.
func (m *Manager) Describe(name string) (Snapshot, error) {
	s := m.lookup(name)
	if s == nil {
		return Snapshot{}, m.notFound(name)
	}
	st := s.state.Load()
	snap := Snapshot{Def: *cloneDef(st.def), Status: st.status}
	if st.fault != "" {
		snap.Health = delivery.Status{Failing: true, LastError: st.fault, Since: st.faultSince}
	} else if p := s.pipe.Load(); p != nil {
		snap.Health = p.run.Status()
	}
	return snap, nil
}

// List returns the names of the delivery streams of type typ ("" = all), in byte order.
// It takes no lock.
func (m *Manager) List(typ string) []string {
	var out []string
	for n, s := range m.snapshot() {
		if typ == "" || s.state.Load().def.Type == typ {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Delete stops the pipeline (unflushed data is discarded), removes the internal stream
// and the definition, in the background: the stream shows DELETING until it is gone.
// Close waits for that; once Close began, Delete is refused.
func (m *Manager) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.lookup(name)
	if s == nil {
		return m.notFound(name)
	}
	st := s.state.Load()
	switch st.status {
	case StatusDeleting:
		return nil
	case StatusCreating:
		return m.notActive(name)
	}
	if m.closed {
		return closing()
	}
	s.state.Store(&streamState{def: st.def, status: StatusDeleting})
	// not refused: Close sets m.closed, under m.mu, before spawn refuses
	m.spawn(func() { m.teardown(s) })
	return nil
}

// teardown stops the pipeline of the DELETING stream s, deletes its internal stream and
// removes it.
func (m *Manager) teardown(s *stream) {
	s.op.Lock()
	defer s.op.Unlock()
	if p := s.pipe.Swap(nil); p != nil {
		p.cancel()
		<-p.done
	}
	if s.state.Load().def.Type == TypeDirectPut {
		if err := m.opts.Engine.DeleteStream(context.Background(), m.internalKey(s.name), true); err != nil && !errors.Is(err, streamcore.ErrNotFound) {
			m.log.Warn("deleting internal stream failed", "delivery_stream", s.name, "err", err)
		}
	}
	m.mu.Lock()
	if m.lookup(s.name) == s {
		m.removeLocked(s)
		if err := m.saveLocked(); err != nil {
			m.log.Error("saving delivery streams failed", "err", err)
		}
	}
	m.mu.Unlock()
	m.metrics.forget(s.name)
}

// Update applies fn to a copy of the definition under the version check, persists it,
// bumps VersionId and restarts the pipeline with the new destination. Undelivered records
// are read again from the checkpoint by the new pipeline. When the new pipeline does not
// start, the old one is started again and the error returned; when that fails too, the
// stream stays without a pipeline, Describe shows it failing, and the error (a
// RestoreError inside an InternalFailure) says both. The switch holds only the
// stream's op (concurrent Updates of the stream queue; the second one then fails the
// version check): Put, Describe and the other streams go on meanwhile.
func (m *Manager) Update(ctx context.Context, name, currentVersion, destinationID string, fn func(d *Definition) error) error {
	s := m.lookup(name)
	if s == nil {
		return m.notFound(name)
	}
	s.op.Lock()
	defer s.op.Unlock()
	if m.lookup(name) != s {
		return m.notFound(name) // deleted meanwhile
	}
	cur := s.state.Load()
	if cur.status != StatusActive {
		return m.notActive(name)
	}
	if currentVersion != cur.def.VersionString() {
		return &Error{Type: ErrTypeConcurrentModif, Msg: fmt.Sprintf("Cannot update firehose: %s since the current version id: %s and specified version id: %s do not match",
			name, cur.def.VersionString(), currentVersion)}
	}
	if destinationID != cur.def.DestinationID {
		return invalidArg("Destination Id %s not found for firehose %s.", destinationID, name)
	}
	nd := cloneDef(cur.def)
	if err := fn(nd); err != nil {
		return err
	}
	if _, err := m.newDestination(nd); err != nil {
		return err
	}
	if _, err := buildChain(nd, nil); err != nil {
		return err
	}
	nd.VersionID++
	nd.LastUpdate = m.opts.Now()
	// stop the old pipeline, start the new one
	s.stop(m.opts.SwitchTimeout) // switch at a buffer boundary: deliver what is buffered first
	if err := m.startLocked(ctx, nd); err != nil {
		return m.restore(ctx, s, err) // put the old one back
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(s, nd)
	if err := m.saveLocked(); err != nil {
		return internal(err)
	}
	return nil
}

// Mutate changes bookkeeping fields (tags, encryption) of a delivery stream and persists
// them (not while it is CREATING).
func (m *Manager) Mutate(name string, fn func(d *Definition) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.lookup(name)
	if s == nil {
		return m.notFound(name)
	}
	cur := s.state.Load()
	if cur.status == StatusCreating {
		return m.notActive(name)
	}
	nd := cloneDef(cur.def)
	if err := fn(nd); err != nil {
		return err
	}
	next := *cur
	next.def = nd
	s.state.Store(&next)
	if err := m.saveLocked(); err != nil {
		return internal(err)
	}
	return nil
}
