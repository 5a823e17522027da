package delivery

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// Source is what a runner reads: *sources.StreamSource.
type Source interface {
	// Run sends batches until ctx ends (returns ctx.Err()) or the source fails.
	Run(ctx context.Context, out chan<- sources.Batch) error
	// Commit stores checkpoints durably.
	Commit(ctx context.Context, cps []streamcore.Checkpoint) error
}

// Failure is a record that goes to the error output instead of the destination.
type Failure struct {
	Type   string // error-output-type, e.g. record.ProcessingFailed
	Record record.FailureRecord
}

// ProcessFunc runs the processors over a source batch: records to deliver (with their
// PartitionKeys for dynamic partitioning) and records that failed. It is called from one
// goroutine at a time and must return soon after ctx ends (its result is then discarded).
type ProcessFunc func(ctx context.Context, b sources.Batch) (out []record.Record, failed []Failure)

// ErrorOutput writes failure records under the error output of errorType (sinks.ErrorOutput).
type ErrorOutput = sinks.ErrorOutput

// Config wires one runner.
type Config struct {
	Name string // the delivery stream
	// Destination is the destination's type, a metric label ("s3", "postgres", …).
	Destination string
	Source      Source
	Process     ProcessFunc // nil = records as read
	Sink        sinks.Sink
	// Errors is the error output (nil = failed records are dropped and counted).
	Errors ErrorOutput
	// FailedType is the error-output type of records the destination rejected or that
	// failed for the whole retry duration (default record.DeliveryFailed).
	FailedType string
	// FailureFields, when set, gives the destination's failure-record members of a record
	// whose failure carries none (a whole-batch failure, the end of the retry duration).
	FailureFields func(record.Record) []record.Field
	// DefaultCode is the errorCode of a failure whose error carries none (default
	// "<Destination>.Failure").
	DefaultCode string
	// Backup, when set, also receives every delivered batch (S3 backup mode AllData)
	// before the batch counts as delivered.
	Backup sinks.Sink
	// RetryDuration bounds the retries of a record before it goes to the error output,
	// measured as RetryClock says.
	RetryDuration time.Duration
	RetryClock    RetryClock
	Hints         buffer.Hints
	// Partitioned turns on one buffer per dynamic partition (record.PartitionKeys). An
	// ExactlyOnce sink always gets one buffer.
	Partitioned   bool
	MaxPartitions int
	Budget        *buffer.Budget
	Metrics       *Metrics
	Backoff       retry.Backoff
	// FlushConcurrency is how many batches may be written at once (default 4; an
	// ExactlyOnce sink always gets 1).
	FlushConcurrency int
	// OnCommitted is told how many source bytes each successful checkpoint commit
	// covers (the DirectPut high-water accounting). Called from Run's goroutine.
	OnCommitted func(bytes int64)
	Logger      *slog.Logger
}

// RetryClock says what counts against RetryDuration (firehose.md §10).
type RetryClock = sinks.RetryClock

// The retry clocks.
const (
	// FromFirstAttempt: the time since the first attempt started (S3, Redshift,
	// OpenSearch).
	FromFirstAttempt = sinks.FromFirstAttempt
	// FromFirstFailure: the time spent waiting after failures, not the attempts
	// themselves (Splunk, HTTP endpoint: in-flight and acknowledgement time excluded).
	FromFirstFailure = sinks.FromFirstFailure
)

// Status is a runner's health as DescribeDeliveryStream reports it.
type Status struct {
	Failing   bool
	LastError string
	Since     time.Time
}

// Runner delivers one delivery stream. Build it with New, start it with Run.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	eo    sinks.ExactlyOnce // nil unless the sink is one
	hints chan buffer.Hints
	drain chan struct{}
	once  sync.Once
	sem   chan struct{} // flush slots

	// recovered wakes the retries sleeping in a backoff once a write succeeds again: after
	// an outage the oldest batches go first instead of waiting out their backoff while newer
	// ones complete (checkpoints move only over the longest done prefix)
	recovered waker
	// settled wakes the batches waiting for room in the window (flights.order)
	settled waker

	connMu    chan struct{} // one Connect at a time
	connected bool          // guarded by connMu

	mu     sync.Mutex
	status Status

	// run state, set up by Run before its loop and read-only after (but buf, owned by
	// Run's goroutine)
	ctx       context.Context
	buf       *buffer.Buffer[item]
	tracker   *sources.Tracker
	wg        sync.WaitGroup
	delivered chan struct{}
	flights   flights
	// commitMu serializes checkpoint commits (Run's loop and settling deliveries)
	commitMu sync.Mutex
	// source bytes of read batches per shard, in read order, until their checkpoint is
	// committed (guarded by commitMu)
	unCommitted map[string][]readBatch
	// skip: per shard, the last position an ExactlyOnce sink holds (Run's goroutine only)
	skip map[string]sinks.Position
}

// item is one record in a buffer.
type item struct {
	rec record.Record
	ack *sources.Ack // its shard is the record's
	idx int32        // its source record in the read batch (ack), -1 if none is known
}

type readBatch struct {
	last  string
	bytes int64
}

// flights tracks the batches handed to deliver and not yet finished, for the gauges, and
// the window of flush slots.
type flights struct {
	mu    sync.Mutex
	since map[*buffer.Batch[item]]time.Time
	bytes int64
	// last is closed once the most recently flushed batch holds a flush slot: each batch
	// waits for the one before, so slots are taken in flush order
	last chan struct{}
	// order holds the flushed batches not yet settled, in flush order. A batch starts
	// only while fewer than FlushConcurrency batches ahead of it are unsettled (those
	// awaiting an asynchronous confirmation do not count), and a finished batch is settled
	// only once every batch flushed before it finished too and the checkpoint over them was
	// committed (settle): the batches delivered but not covered by a stored checkpoint —
	// what a crash would deliver again — are then never more than FlushConcurrency
	order []*flight
}

// flight is one flushed batch in the window.
type flight struct {
	done     bool // deliver returned
	awaiting bool // written, awaiting an asynchronous confirmation
}

// New returns a runner; Run starts it.
func New(cfg Config) *Runner {
	if cfg.Process == nil {
		cfg.Process = passThrough
	}
	if cfg.Budget == nil {
		cfg.Budget = buffer.NewBudget(0)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.FlushConcurrency <= 0 {
		cfg.FlushConcurrency = 4
	}
	if cfg.MaxPartitions <= 0 {
		cfg.MaxPartitions = buffer.MaxPartitions
	}
	if cfg.Destination == "" {
		cfg.Destination = "destination"
	}
	if cfg.FailedType == "" {
		cfg.FailedType = record.DeliveryFailed
	}
	if cfg.DefaultCode == "" {
		cfg.DefaultCode = strings.ToUpper(cfg.Destination[:1]) + cfg.Destination[1:] + ".Failure"
	}
	eo, _ := cfg.Sink.(sinks.ExactlyOnce)
	if eo != nil {
		// one batch at a time, in source order, from one buffer: a batch's positions then
		// cover every record before them
		cfg.FlushConcurrency = 1
		cfg.Partitioned = false
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Runner{cfg: cfg, eo: eo, log: lg.With("component", "delivery", "delivery_stream", cfg.Name, "destination", cfg.Destination),
		hints: make(chan buffer.Hints, 1), drain: make(chan struct{}), sem: make(chan struct{}, cfg.FlushConcurrency),
		connMu: make(chan struct{}, 1)}
}

// Drain asks Run to stop reading, deliver what it buffered, commit and return. Each batch
// gets the attempt in progress and, if it has made none since Drain, one more: what the
// destination (or the error output) does not take then stays in the stream, unacknowledged,
// and Run returns without waiting for it. Cancel Run's context to give up sooner.
func (r *Runner) Drain() { r.once.Do(func() { close(r.drain) }) }

// SetHints changes the buffering hints at the next buffer boundary.
func (r *Runner) SetHints(h buffer.Hints) {
	select {
	case <-r.hints:
	default:
	}
	r.hints <- h
}

// Status returns the runner's current health. Safe for concurrent use.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Runner) setFailing(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.status = Status{}
		return
	}
	if !r.status.Failing {
		r.status.Since = time.Now()
	}
	r.status.Failing = true
	r.status.LastError = err.Error()
}

func passThrough(_ context.Context, b sources.Batch) ([]record.Record, []Failure) {
	out := make([]record.Record, len(b.Records))
	for i, r := range b.Records {
		out[i] = record.Record{Data: r.Data, ArrivalMs: r.ArrivalMs, SequenceNumber: r.SequenceNumber}
	}
	return out, nil
}

// partitionOf is the buffer key of a record: its partition keys in a canonical order.
func partitionOf(keys map[string]string) string {
	if len(keys) == 0 {
		return ""
	}
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		sb.WriteString(k)
		sb.WriteByte(0)
		sb.WriteString(keys[k])
		sb.WriteByte(0)
	}
	return sb.String()
}

// Run connects the sink, then runs until ctx ends; it then returns nil after in-flight
// deliveries stopped (undelivered records are read again after a restart). It returns an
// error only when the source fails for good (e.g. the source stream was deleted). Run is
// called once.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Drain before the sink ever connected: nothing is buffered, stop at once.
	cctx, stopConnecting := context.WithCancel(ctx)
	go func() {
		select {
		case <-r.drain:
			stopConnecting()
		case <-cctx.Done():
		}
	}()
	err := r.ensureConnected(cctx)
	if err == nil && r.eo != nil {
		err = r.loadPositions(cctx)
	}
	stopConnecting()
	if err != nil {
		return nil // ctx ended or drained before anything was read
	}

	m, name, dest := r.cfg.Metrics, r.cfg.Name, r.cfg.Destination
	m.PartitionsLimit.WithLabelValues(name).Set(float64(r.cfg.MaxPartitions))
	in := make(chan sources.Batch, 2)
	srcErr := make(chan error, 1)
	srcCtx, cancelSource := context.WithCancel(ctx)
	defer cancelSource()
	go func() { srcErr <- r.cfg.Source.Run(srcCtx, in) }()

	r.ctx = ctx
	r.buf = buffer.New[item](r.cfg.Hints, r.cfg.MaxPartitions)
	r.tracker = sources.NewTracker()
	r.delivered = make(chan struct{}, 1)
	r.flights.since = map[*buffer.Batch[item]]time.Time{}
	r.unCommitted = map[string][]readBatch{}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	gauges := time.NewTicker(time.Second)
	defer gauges.Stop()
	for {
		if d, ok := r.buf.NextDeadline(); ok {
			timer.Reset(max(time.Until(d), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case b := <-in:
			now := time.Now()
			if r.cfg.OnCommitted != nil && len(b.Records) > 0 {
				var n int64
				for _, rec := range b.Records {
					n += int64(len(rec.Data))
				}
				r.commitMu.Lock()
				r.unCommitted[b.ShardID] = append(r.unCommitted[b.ShardID], readBatch{last: b.LastSequence(), bytes: n})
				r.commitMu.Unlock()
			}
			r.ingest(ctx, b, now)
			if r.cfg.Budget.Full() && r.buf.Bytes() > 0 {
				r.flushAll() // memory pressure: do not sit on buffered data
			}
			if r.buf.Hints().Interval == 0 {
				for _, bt := range r.buf.Due(now) {
					r.flush(bt)
				}
			}
		case <-timer.C:
			for _, bt := range r.buf.Due(time.Now()) {
				r.flush(bt)
			}
		case <-r.delivered:
			r.commit(ctx)
		case h := <-r.hints:
			r.buf.SetHints(h)
		case now := <-gauges.C:
			r.updateGauges(now, dest)
			r.commit(ctx) // batches that produced nothing to deliver move the checkpoint too
		case err := <-srcErr:
			srcErr = nil
			if ctx.Err() == nil && err != nil {
				r.log.Error("source stopped", "err", err)
				r.setFailing(err)
				r.flushAll() // deliver what is buffered, then stop
				r.wg.Wait()
				r.commit(context.WithoutCancel(ctx))
				return err
			}
		case <-r.drain:
			cancelSource()
			r.flushAll()
			r.wg.Wait()
			r.finalCommit(ctx)
			return nil
		case <-ctx.Done():
			r.wg.Wait()
			r.finalCommit(ctx)
			// what was buffered but not delivered is still in the stream
			for _, bt := range r.buf.All() {
				r.cfg.Budget.Release(bt.Bytes)
			}
			return nil
		}
	}
}

// flushAll hands every open batch to deliver.
func (r *Runner) flushAll() {
	for _, bt := range r.buf.All() {
		r.flush(bt)
	}
}

func (r *Runner) finalCommit(ctx context.Context) {
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer ccancel()
	r.commit(cctx)
}

func (r *Runner) signal() {
	select {
	case r.delivered <- struct{}{}:
	default:
	}
}

// commit stores the checkpoints that moved and tells OnCommitted how many source bytes
// they cover.
func (r *Runner) commit(ctx context.Context) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.commitLocked(ctx)
}

func (r *Runner) commitLocked(ctx context.Context) {
	cps := r.tracker.Checkpoints()
	if len(cps) == 0 {
		return
	}
	if err := r.cfg.Source.Commit(ctx, cps); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("committing checkpoints failed; will retry", "err", err)
		}
		return
	}
	r.tracker.Committed(cps)
	if r.cfg.OnCommitted == nil {
		return
	}
	var n int64
	for _, cp := range cps {
		// whole read batches only: one the checkpoint stops inside is counted once it is
		// passed
		q := r.unCommitted[cp.ShardID]
		i := 0
		for i < len(q) && streamcore.CompareSequenceNumbers(q[i].last, cp.SequenceNumber) <= 0 {
			n += q[i].bytes
			i++
		}
		r.unCommitted[cp.ShardID] = q[i:]
	}
	if n > 0 {
		r.cfg.OnCommitted(n)
	}
}

func (r *Runner) updateGauges(now time.Time, dest string) {
	m, name := r.cfg.Metrics, r.cfg.Name
	r.flights.mu.Lock()
	bytes := r.flights.bytes + r.buf.Bytes()
	oldest, ok := r.buf.Oldest()
	for _, o := range r.flights.since {
		if !ok || o.Before(oldest) {
			oldest, ok = o, true
		}
	}
	r.flights.mu.Unlock()
	m.BufferBytes.WithLabelValues(name).Set(float64(bytes))
	fresh := 0.0
	if ok {
		fresh = now.Sub(oldest).Seconds()
	}
	m.DataFreshness.WithLabelValues(name, dest).Set(fresh)
	m.ActivePartitions.WithLabelValues(name).Set(float64(r.buf.Partitions()))
	paused := 0.0
	if r.cfg.Budget.Full() {
		paused = 1
	}
	m.DeliveryPaused.WithLabelValues(name).Set(paused)
}

// ingest processes one source batch into the buffer.
func (r *Runner) ingest(ctx context.Context, b sources.Batch, now time.Time) {
	m, name := r.cfg.Metrics, r.cfg.Name
	var bytes int
	for _, rec := range b.Records {
		bytes += len(rec.Data)
	}
	m.KinesisReadBytes.WithLabelValues(name).Add(float64(bytes))
	m.KinesisReadRecords.WithLabelValues(name).Add(float64(len(b.Records)))
	m.KinesisBehind.WithLabelValues(name).Set(float64(b.MillisBehindLatest) / 1000)

	recs, failed := r.cfg.Process(ctx, b)
	if ctx.Err() != nil {
		return // stopping: the batch is read again after a restart, not half-processed now
	}
	ack, idx := r.track(b, recs, len(failed))
	if held, ok := r.skip[b.ShardID]; ok {
		kept, keptIdx := recs[:0:0], idx[:0:0]
		var skipped []int32
		for i, rec := range recs {
			if !after(rec, held) {
				skipped = append(skipped, idx[i]) // the exactly-once destination holds it already
				continue
			}
			kept, keptIdx = append(kept, rec), append(keptIdx, idx[i])
		}
		if len(skipped) > 0 {
			r.log.Debug("records the destination already holds are not written again", "shard", b.ShardID, "records", len(skipped))
			ack.Done(skipped...)
		}
		recs, idx = kept, keptIdx
	}
	var (
		refused    []Failure
		refusedIdx []int32
	)
	exceeded := false
	for i, rec := range recs {
		part := ""
		if r.cfg.Partitioned {
			part = partitionOf(rec.PartitionKeys)
		}
		size := int64(len(rec.Data))
		r.cfg.Budget.Charge(size)
		full, err := r.buf.Add(part, item{rec: rec, ack: ack, idx: idx[i]}, size, time.UnixMilli(rec.ArrivalMs), now)
		if errors.Is(err, buffer.ErrPartitionLimit) {
			r.cfg.Budget.Release(size)
			exceeded = true
			refusedIdx = append(refusedIdx, idx[i])
			refused = append(refused, Failure{Type: record.PartitioningFailed, Record: record.NewFailureRecord(rec, 1,
				record.CodePartitionCountExceeded, "The number of active partitions exceeded the limit.", now.UnixMilli())})
			continue
		}
		if full != nil {
			r.flush(full)
		}
	}
	if exceeded {
		m.PartitionsExceeded.WithLabelValues(name).Set(1)
	} else if r.cfg.Partitioned {
		m.PartitionsExceeded.WithLabelValues(name).Set(0)
	}
	if all := append(failed, refused...); len(all) > 0 {
		r.wg.Go(func() {
			if r.writeErrors(ctx, all) {
				ack.DoneUnplaced(len(failed))
				ack.Done(refusedIdx...)
			}
			r.signal()
		})
	}
}

// track registers the read batch b, which processing turned into recs and unplaced failed
// records, with the tracker. idx[i] is the index in b of the source record of recs[i] (-1
// when its sequence number is not one of b's: it then holds the batch like a failure).
func (r *Runner) track(b sources.Batch, recs []record.Record, unplaced int) (ack *sources.Ack, idx []int32) {
	seqs := make([]string, len(b.Records))
	for i, rec := range b.Records {
		seqs[i] = rec.SequenceNumber
	}
	outputs := make([]int32, len(seqs))
	idx = make([]int32, len(recs))
	var bySeq map[string]int32 // built only if processing reordered records
	j := 0
	for i, rec := range recs {
		for j < len(seqs) && seqs[j] != rec.SequenceNumber {
			j++
		}
		if j < len(seqs) {
			idx[i] = int32(j)
			outputs[j]++
			continue
		}
		if bySeq == nil {
			bySeq = make(map[string]int32, len(seqs))
			for k, s := range seqs {
				bySeq[s] = int32(k)
			}
		}
		k, ok := bySeq[rec.SequenceNumber]
		if !ok {
			idx[i] = -1
			unplaced++
			continue
		}
		idx[i] = k
		outputs[k]++
		j = int(k)
	}
	return r.tracker.Track(b.ShardID, seqs, outputs, unplaced), idx
}

// after reports whether rec comes after the position p of its shard.
func after(rec record.Record, p sinks.Position) bool {
	if c := streamcore.CompareSequenceNumbers(rec.SequenceNumber, p.SequenceNumber); c != 0 {
		return c > 0
	}
	return rec.SubSequence > p.SubSequence
}

// flush hands one batch to a delivery goroutine.
func (r *Runner) flush(bt *buffer.Batch[item]) {
	ctx := r.ctx
	r.flights.mu.Lock()
	r.flights.since[bt] = bt.Oldest
	r.flights.bytes += bt.Bytes
	prev, mine := r.flights.last, make(chan struct{})
	r.flights.last = mine
	f := &flight{}
	r.flights.order = append(r.flights.order, f)
	r.flights.mu.Unlock()
	r.wg.Go(func() {
		var once sync.Once
		r.deliver(ctx, bt, f, prev, func() { once.Do(func() { close(mine) }) })
		r.flights.mu.Lock()
		delete(r.flights.since, bt)
		r.flights.bytes -= bt.Bytes
		f.done = true
		r.flights.mu.Unlock()
		r.cfg.Budget.Release(bt.Bytes)
		r.settle(ctx)
		r.signal()
	})
}

// settle removes the finished batches at the head of the window, after committing the
// checkpoint over them (an ExactlyOnce sink holds its positions itself: no commit is
// waited for), and wakes the batches waiting for room. Every batch calls it once it
// finished, so the batch that completes the head settles the ones that finished before it.
func (r *Runner) settle(ctx context.Context) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.flights.mu.Lock()
	n := 0
	for n < len(r.flights.order) && r.flights.order[n].done {
		n++
	}
	r.flights.mu.Unlock()
	if n == 0 {
		return
	}
	if r.eo == nil {
		r.commitLocked(ctx) // a failed commit does not stop the window: it is tried again later
	}
	r.flights.mu.Lock()
	r.flights.order = slices.Delete(r.flights.order, 0, n)
	r.flights.mu.Unlock()
	r.settled.wake()
}

// admit waits until f may start: fewer than FlushConcurrency batches ahead of it are
// unsettled, not counting those awaiting an asynchronous confirmation.
func (r *Runner) admit(ctx context.Context, f *flight) error {
	for {
		r.flights.mu.Lock()
		ahead := 0
		for _, g := range r.flights.order {
			if g == f {
				break
			}
			if !g.awaiting {
				ahead++
			}
		}
		var woken <-chan struct{}
		if ahead >= r.cfg.FlushConcurrency {
			woken = r.settled.waitCh() // taken under the lock: no wake is missed
		}
		r.flights.mu.Unlock()
		if woken == nil {
			return nil
		}
		select {
		case <-woken:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// await marks f as awaiting an asynchronous confirmation (or no longer).
func (r *Runner) await(f *flight, awaiting bool) {
	r.flights.mu.Lock()
	f.awaiting = awaiting
	r.flights.mu.Unlock()
	if awaiting {
		r.settled.wake()
	}
}
