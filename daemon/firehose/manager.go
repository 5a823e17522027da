package firehose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-io/sluice/delivery"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/buffer"
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
	// NewDestination builds destinations (nil = NewS3Destination).
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
	// SwitchTimeout bounds how long a configuration change (UpdateDestination, reload)
	// waits for the old pipeline to deliver its buffers; what is not delivered by then is
	// read again by the new one (default 30s).
	SwitchTimeout time.Duration
	Now           func() time.Time
}

// Manager runs every delivery stream of a daemon. Safe for concurrent use.
type Manager struct {
	opts    Options
	log     *slog.Logger
	store   *defStore
	metrics *Metrics
	budget  *buffer.Budget

	mu      sync.Mutex
	streams map[string]*stream
	intakes map[string]*directput.Intake // DirectPut intake by delivery stream name
	ctx     context.Context
	cancel  context.CancelFunc
	closed  bool
}

type stream struct {
	def      *Definition
	status   string
	run      *delivery.Runner
	cancel   context.CancelFunc
	done     chan struct{}
	internal streamcore.StreamKey // DirectPut only
}

// stop drains the pipeline (delivering its buffers) for up to timeout, then cancels it,
// and waits until it has stopped.
func (s *stream) stop(timeout time.Duration) {
	if s.run != nil {
		s.run.Drain()
	}
	select {
	case <-s.done:
	case <-time.After(timeout):
	}
	s.cancel()
	<-s.done
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
		opts.NewDestination = func(def *Definition, conn S3Conn) (*Destination, error) {
			return newS3Destination(def, conn, lg, metrics)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		opts: opts, log: lg.With("component", "firehose"), store: newDefStore(opts.DataDir),
		metrics: metrics, budget: opts.Budget,
		streams: map[string]*stream{}, intakes: map[string]*directput.Intake{}, ctx: ctx, cancel: cancel,
	}, nil
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
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		d := byName[n]
		if err := m.startLocked(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("delivery stream %s: %w", n, err))
		}
	}
	if err := m.saveLocked(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func sameDestination(a, b *Definition) bool {
	if jsonOf(a.S3) != jsonOf(b.S3) || a.RetryDuration != b.RetryDuration {
		return false
	}
	// persisted definitions carry no connection (it may hold a secret): compare it only
	// when both sides have one
	return a.Conn == nil || b.Conn == nil || *a.Conn == *b.Conn
}

// Close stops every pipeline: each delivers what it buffered (within ctx's deadline), commits
// its checkpoints and stops; records not delivered by then stay in their streams.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	var all []*stream
	for _, s := range m.streams {
		all = append(all, s)
		if s.run != nil {
			s.run.Drain()
		}
	}
	m.mu.Unlock()
	defer m.cancel()
	for _, s := range all {
		select {
		case <-s.done:
		case <-ctx.Done():
			m.cancel()
			for _, s := range all {
				<-s.done
			}
			return ctx.Err()
		}
	}
	return nil
}

// Apply reconciles the running config-declared delivery streams with declared (SIGHUP):
// new ones start, changed ones restart with the new destination (VersionId bumped),
// removed ones stop. API-created streams are left alone.
func (m *Manager) Apply(ctx context.Context, declared []*Definition) error {
	var errs []error
	want := map[string]*Definition{}
	for _, d := range declared {
		want[d.Name] = d
	}
	m.mu.Lock()
	var stop []*stream
	for name, s := range m.streams {
		if s.def.Origin == OriginConfig && want[name] == nil {
			stop = append(stop, s)
			delete(m.streams, name)
			delete(m.intakes, name)
		}
	}
	m.mu.Unlock()
	for _, s := range stop {
		m.log.Info("delivery stream no longer in the config; deleting it", "delivery_stream", s.def.Name)
		s.stop(m.opts.SwitchTimeout)
		if s.internal.Name != "" {
			m.dropInternal(ctx, s.def.Name)
		}
		m.metrics.forget(s.def.Name)
	}
	for _, d := range declared {
		m.mu.Lock()
		cur := m.streams[d.Name]
		if cur == nil {
			now := m.opts.Now()
			d.Created, d.Group = now, fmt.Sprintf("firehose/%s/%d", d.Name, now.UnixNano())
			if d.Source != nil {
				d.Source.DeliveryStartTimestamp = now
			}
			if err := m.startLocked(ctx, d); err != nil {
				errs = append(errs, fmt.Errorf("delivery stream %s: %w", d.Name, err))
			}
			m.mu.Unlock()
			continue
		}
		if cur.def.Origin != OriginConfig {
			m.mu.Unlock()
			errs = append(errs, fmt.Errorf("delivery stream %s: already created through the API; the config entry is ignored", d.Name))
			continue
		}
		if sameDestination(cur.def, d) {
			m.mu.Unlock()
			continue
		}
		d.Created, d.Group, d.Tags, d.Encryption = cur.def.Created, cur.def.Group, cur.def.Tags, cur.def.Encryption
		if d.Source != nil && cur.def.Source != nil {
			d.Source.DeliveryStartTimestamp = cur.def.Source.DeliveryStartTimestamp
		}
		d.VersionID = cur.def.VersionID + 1
		d.LastUpdate = m.opts.Now()
		if _, err := m.newDestination(d); err != nil {
			m.mu.Unlock()
			errs = append(errs, fmt.Errorf("delivery stream %s: %w", d.Name, err))
			continue
		}
		m.mu.Unlock()
		cur.stop(m.opts.SwitchTimeout)
		m.mu.Lock()
		if err := m.startLocked(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("delivery stream %s: %w", d.Name, err))
			_ = m.startLocked(ctx, cur.def)
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	if err := m.saveLocked(); err != nil {
		errs = append(errs, err)
	}
	m.mu.Unlock()
	return errors.Join(errs...)
}

// Create validates def, creates its internal stream (DirectPut), persists it and starts
// its pipeline. def.Name, Type, S3 and Source must be set; the rest is filled in.
func (m *Manager) Create(ctx context.Context, def *Definition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down."}
	}
	if _, ok := m.streams[def.Name]; ok {
		return m.alreadyExists(def.Name)
	}
	if len(m.streams) >= m.opts.MaxDeliveryStreams {
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
		if def.S3.DynamicPartitioningConfiguration != nil && def.S3.DynamicPartitioningConfiguration.RetryOptions != nil &&
			def.S3.DynamicPartitioningConfiguration.RetryOptions.DurationInSeconds != nil {
			def.RetryDuration = *def.S3.DynamicPartitioningConfiguration.RetryOptions.DurationInSeconds
		}
	}
	if _, err := m.newDestination(def); err != nil {
		return err
	}
	if def.Source != nil {
		if _, err := m.opts.Engine.DescribeStream(ctx, m.sourceKey(def)); err != nil {
			return invalidArg("Kinesis stream %s does not exist or is not accessible.", def.Source.KinesisStreamARN)
		}
	}
	if err := m.startLocked(ctx, def); err != nil {
		delete(m.streams, def.Name)
		return err
	}
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
func (m *Manager) newDestination(def *Definition) (*Destination, error) {
	def.Lambdas = m.opts.LambdaFunctions
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
	s := &stream{def: def, status: StatusActive, done: make(chan struct{})}
	src := sources.Options{Group: def.Group, Logger: m.log}
	if def.Type == TypeKinesisSrc {
		src.Stream = m.sourceKey(def)
		src.Start = streamcore.Position{Type: streamcore.AtTimestamp, Timestamp: def.Source.DeliveryStartTimestamp}
	} else {
		s.internal = m.internalKey(def.Name)
		shards, err := m.ensureInternal(ctx, s.internal)
		if err != nil {
			return internal(err)
		}
		src.Stream = s.internal
		src.Start = streamcore.Position{Type: streamcore.TrimHorizon}
		if err := m.ensureIntake(ctx, def, shards); err != nil {
			return err
		}
	}
	var onCommitted func(int64)
	if in := m.intakes[def.Name]; in != nil {
		walGauge := m.metrics.WALBytes.WithLabelValues(def.Name)
		onCommitted = func(n int64) { walGauge.Set(float64(in.Committed(n))) }
		if m.opts.WALHighWater > 0 {
			src.OnExpired = func(string, int64) {
				// the expired bytes will never be delivered (committed): count again what waits
				go m.recount(in, def.Name)
			}
		}
	}
	budget := m.budget
	src.Gate = budget.Wait
	size, interval := def.S3.Hints()
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
		if dest.CheckPartition != nil && def.S3.Partitioned() {
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
		return out, fs
	}
	s.run = delivery.New(delivery.Config{
		Name: def.Name, Destination: dest.Type,
		Source:  sources.NewStreamSource(m.opts.Engine, src),
		Process: process, Sink: dest.Sink, Errors: dest.Errors, FailedType: dest.FailedType,
		RetryDuration: time.Duration(def.RetryDuration) * time.Second,
		Hints:         buffer.Hints{Size: int64(size) << 20, Interval: time.Duration(interval) * time.Second},
		Partitioned:   def.S3.Partitioned(),
		Budget:        budget, Metrics: m.metrics.Metrics, Backoff: m.opts.Backoff, Logger: m.log,
		OnCommitted: onCommitted,
	})
	pctx, cancel := context.WithCancel(m.ctx)
	s.cancel = cancel
	m.streams[def.Name] = s
	go func() {
		defer close(s.done)
		if err := s.run.Run(pctx); err != nil {
			m.log.Error("delivery stream stopped", "delivery_stream", def.Name, "err", err)
		}
	}()
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

// ensureIntake gives the DirectPut delivery stream def its intake, the first time with
// the bytes still undelivered from before a restart counted, and routes its appends over
// shards (the internal stream's). The intake outlives pipeline restarts.
func (m *Manager) ensureIntake(ctx context.Context, def *Definition, shards []streamcore.Shard) error {
	in := m.intakes[def.Name]
	if in == nil {
		in = directput.New(directput.Options{Engine: m.opts.Engine, Stream: m.internalKey(def.Name), Group: def.Group,
			Limits: m.opts.Throttle, HighWater: m.opts.WALHighWater, Now: m.opts.Now})
		if m.opts.WALHighWater > 0 {
			// records accepted before a restart and not yet delivered count from the
			// start; no Put reaches this stream before m.mu is released
			n, err := in.CountBacklog(ctx)
			if err != nil {
				return internal(fmt.Errorf("counting undelivered records: %w", err))
			}
			m.metrics.WALBytes.WithLabelValues(def.Name).Set(float64(n))
			if n > 0 {
				m.log.Info("undelivered records from before the restart", "delivery_stream", def.Name, "bytes", n)
			}
		}
		m.intakes[def.Name] = in
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
	defs := make([]*Definition, 0, len(m.streams))
	for _, s := range m.streams {
		defs = append(defs, s.def)
	}
	return m.store.save(defs)
}

// get returns the stream or a ResourceNotFoundException.
func (m *Manager) get(name string) (*stream, error) {
	s, ok := m.streams[name]
	if !ok {
		return nil, m.notFound(name)
	}
	return s, nil
}

// Describe returns a snapshot of the delivery stream.
func (m *Manager) Describe(name string) (Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(name)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Def: *cloneDef(s.def), Status: s.status}
	if s.run != nil {
		snap.Health = s.run.Status()
	}
	return snap, nil
}

// List returns the names of the delivery streams of type typ ("" = all), in byte order.
func (m *Manager) List(typ string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n, s := range m.streams {
		if typ == "" || s.def.Type == typ {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Delete stops the pipeline (unflushed data is discarded), removes the internal stream
// and the definition. The stream shows DELETING until it is gone.
func (m *Manager) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	s, err := m.get(name)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if s.status == StatusDeleting {
		m.mu.Unlock()
		return nil
	}
	s.status = StatusDeleting
	m.mu.Unlock()
	go func() {
		s.cancel()
		<-s.done
		if s.internal.Name != "" {
			if err := m.opts.Engine.DeleteStream(context.Background(), s.internal, true); err != nil && !errors.Is(err, streamcore.ErrNotFound) {
				m.log.Warn("deleting internal stream failed", "delivery_stream", name, "err", err)
			}
		}
		m.mu.Lock()
		if m.streams[name] == s {
			delete(m.streams, name)
			delete(m.intakes, name)
			if err := m.saveLocked(); err != nil {
				m.log.Error("saving delivery streams failed", "err", err)
			}
		}
		m.mu.Unlock()
		m.metrics.forget(name)
	}()
	return nil
}

// PutResult is the outcome of one record of Put.
type PutResult struct {
	RecordID     string
	ErrorCode    string
	ErrorMessage string
}

// Put appends records to a DirectPut delivery stream. They are durable when Put returns
// (group commit); failed records carry an error code. encrypted reports SSE. With no
// records it only runs the checks (exists, not DELETING, DirectPut).
func (m *Manager) Put(ctx context.Context, name string, records [][]byte) (res []PutResult, encrypted bool, err error) {
	m.mu.Lock()
	s, err := m.get(name)
	if err == nil && s.status == StatusDeleting {
		err = m.notFound(name)
	}
	if err != nil {
		m.mu.Unlock()
		return nil, false, err
	}
	if s.def.Type == TypeKinesisSrc {
		m.mu.Unlock()
		return nil, false, invalidArg("This operation is not permitted on KinesisStreamAsSource delivery stream type.")
	}
	enc := s.def.Encryption.Enabled
	in := m.intakes[name]
	m.mu.Unlock()
	if len(records) == 0 {
		return nil, enc, nil // checks only
	}

	m.metrics.IncomingPutRequests.WithLabelValues(name).Inc()
	if in == nil {
		return nil, false, &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down."}
	}
	admitted, err := in.Admit(records)
	if err != nil { // the request quota refused the request
		m.metrics.ThrottledRecords.WithLabelValues(name).Add(float64(len(records)))
		return nil, false, &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down."}
	}
	if admitted < len(records) {
		m.metrics.ThrottledRecords.WithLabelValues(name).Add(float64(len(records) - admitted))
	}
	res = make([]PutResult, len(records))
	for i := admitted; i < len(records); i++ {
		res[i] = PutResult{ErrorCode: ErrTypeServiceUnavailable, ErrorMessage: "Slow down."}
	}
	if admitted == 0 {
		return res, enc, nil
	}
	records = records[:admitted]
	out, err := in.Append(ctx, records)
	if err != nil {
		return nil, false, &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down.", Err: err}
	}
	okBytes, okRecs := 0, 0
	for i, r := range out {
		if r.Err != nil {
			code := ErrTypeInternal
			msg := "An internal error occurred."
			if errors.Is(r.Err, streamcore.ErrThroughputExceeded) {
				code, msg = ErrTypeServiceUnavailable, "Slow down."
				m.metrics.ThrottledRecords.WithLabelValues(name).Inc()
			}
			res[i] = PutResult{ErrorCode: code, ErrorMessage: msg}
			continue
		}
		res[i] = PutResult{RecordID: r.SequenceNumber}
		okRecs++
		okBytes += len(records[i])
	}
	m.metrics.IncomingRecords.WithLabelValues(name).Add(float64(okRecs))
	m.metrics.IncomingBytes.WithLabelValues(name).Add(float64(okBytes))
	return res, enc, nil
}

// Update applies fn to a copy of the definition under the version check, persists it,
// bumps VersionId and restarts the pipeline with the new destination. Undelivered records
// are read again from the checkpoint by the new pipeline.
func (m *Manager) Update(ctx context.Context, name, currentVersion, destinationID string, fn func(d *Definition) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(name)
	if err != nil {
		return err
	}
	if s.status != StatusActive {
		return &Error{Type: ErrTypeResourceInUse, Msg: fmt.Sprintf("Firehose %s is not in the ACTIVE state.", name)}
	}
	if currentVersion != s.def.VersionString() {
		return &Error{Type: ErrTypeConcurrentModif, Msg: fmt.Sprintf("Cannot update firehose: %s since the current version id: %s and specified version id: %s do not match",
			name, s.def.VersionString(), currentVersion)}
	}
	if destinationID != s.def.DestinationID {
		return invalidArg("Destination Id %s not found for firehose %s.", destinationID, name)
	}
	nd := cloneDef(s.def)
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
	m.mu.Unlock()
	s.stop(m.opts.SwitchTimeout) // switch at a buffer boundary: deliver what is buffered first
	m.mu.Lock()
	if err := m.startLocked(ctx, nd); err != nil {
		// put the old one back
		_ = m.startLocked(ctx, s.def)
		return err
	}
	if err := m.saveLocked(); err != nil {
		return internal(err)
	}
	return nil
}

// Mutate changes bookkeeping fields (tags, encryption) of an ACTIVE delivery stream and
// persists them.
func (m *Manager) Mutate(name string, fn func(d *Definition) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(name)
	if err != nil {
		return err
	}
	nd := cloneDef(s.def)
	if err := fn(nd); err != nil {
		return err
	}
	s.def = nd
	if err := m.saveLocked(); err != nil {
		return internal(err)
	}
	return nil
}
