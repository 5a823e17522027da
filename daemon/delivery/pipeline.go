// Package delivery runs Firehose delivery streams: for each one a pipeline reads its source
// (a streamcore stream), runs the processors, groups records in buffers (one per dynamic
// partition), and hands full buffers to the destination, retrying with backoff within the
// destination's retry duration and then writing the records to the error output. Source
// checkpoints advance only once the destination or the error output holds the records, so
// delivery is at-least-once and a restarted daemon replays from the checkpoint.
//
// The Manager owns every pipeline of a daemon, the persisted definitions of API-created
// delivery streams, and the DirectPut ingest path.
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
	"github.com/sluice-io/sluice/streamcore"
)

// Source is what a pipeline reads: *sources.StreamSource.
type Source interface {
	// Run sends batches until ctx ends (returns ctx.Err()) or the source fails.
	Run(ctx context.Context, out chan<- sources.Batch) error
	// Commit stores checkpoints durably.
	Commit(ctx context.Context, cps []streamcore.Checkpoint) error
}

// Failure is a record that goes to the error output instead of the destination.
type Failure struct {
	Type   string // error-output-type, e.g. sinks.ProcessingFailed
	Record sinks.FailureRecord
}

// ProcessFunc runs the processors over a source batch: records to deliver (with their
// PartitionKeys for dynamic partitioning) and records that failed. It is called from one
// goroutine at a time.
type ProcessFunc func(ctx context.Context, b sources.Batch) (out []sinks.Record, failed []Failure)

// ErrorWriter writes failure records under the error output prefix of errorType.
type ErrorWriter interface {
	WriteFailures(ctx context.Context, errorType string, oldestArrivalMs int64, recs []sinks.FailureRecord) error
}

// DeliveryFailedType is the error-output-type of records whose delivery to the destination
// failed for the whole retry duration.
const DeliveryFailedType = "delivery-failed"

// PipelineConfig wires one pipeline.
type PipelineConfig struct {
	Name        string
	Destination string // metric label, e.g. "s3"
	Source      Source
	Process     ProcessFunc // nil = records as read
	Sink        sinks.Sink
	Classify    sinks.Classifier // nil = sinks.Classify
	Errors      ErrorWriter
	// RetryDuration bounds retries of one batch before it goes to the error output.
	RetryDuration time.Duration
	// Unreachable reports errors meaning "the destination's server is down": those are
	// retried forever (records stay in the stream) instead of going to the error output.
	Unreachable   func(error) bool
	Hints         buffer.Hints
	Partitioned   bool
	MaxPartitions int
	Budget        *buffer.Budget
	Metrics       *Metrics
	Backoff       sinks.Backoff
	// FlushConcurrency is how many batches may be in flight at once (default 4).
	FlushConcurrency int
	// OnCommitted is told how many source bytes each successful checkpoint commit
	// covers (the DirectPut high-water accounting). Called from Run's goroutine.
	OnCommitted func(bytes int64)
	Logger      *slog.Logger
}

// Status is a pipeline's health as DescribeDeliveryStream reports it.
type Status struct {
	Failing   bool
	LastError string
	Since     time.Time
}

// Pipeline is one running delivery stream.
type Pipeline struct {
	cfg   PipelineConfig
	log   *slog.Logger
	hints chan buffer.Hints
	drain chan struct{}
	once  sync.Once

	mu     sync.Mutex
	status Status
}

type item struct {
	rec sinks.Record
	ack *sources.Ack
}

// NewPipeline returns a pipeline; Run starts it.
func NewPipeline(cfg PipelineConfig) *Pipeline {
	if cfg.Classify == nil {
		cfg.Classify = sinks.Classify
	}
	if cfg.Process == nil {
		cfg.Process = passThrough
	}
	if cfg.Budget == nil {
		cfg.Budget = buffer.NewBudget(0)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.FlushConcurrency <= 0 {
		cfg.FlushConcurrency = 4
	}
	if cfg.MaxPartitions <= 0 {
		cfg.MaxPartitions = buffer.MaxPartitions
	}
	if cfg.Destination == "" {
		cfg.Destination = "s3"
	}
	if cfg.Unreachable == nil {
		cfg.Unreachable = func(error) bool { return false }
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Pipeline{cfg: cfg, log: lg.With("component", "delivery", "delivery_stream", cfg.Name), hints: make(chan buffer.Hints, 1), drain: make(chan struct{})}
}

// Drain asks Run to stop reading, deliver what it buffered, commit and return. Cancel
// Run's context to give up waiting (undelivered records stay in the stream).
func (p *Pipeline) Drain() { p.once.Do(func() { close(p.drain) }) }

// SetHints changes the buffering hints at the next buffer boundary (UpdateDestination).
func (p *Pipeline) SetHints(h buffer.Hints) {
	select {
	case <-p.hints:
	default:
	}
	p.hints <- h
}

// Status returns the pipeline's current health.
func (p *Pipeline) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

func (p *Pipeline) setFailing(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.status = Status{}
		return
	}
	if !p.status.Failing {
		p.status.Since = time.Now()
	}
	p.status.Failing = true
	p.status.LastError = err.Error()
}

func passThrough(_ context.Context, b sources.Batch) ([]sinks.Record, []Failure) {
	out := make([]sinks.Record, len(b.Records))
	for i, r := range b.Records {
		out[i] = sinks.Record{Data: r.Data, ArrivalMs: r.ArrivalMs, SequenceNumber: r.SequenceNumber}
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

// Run runs the pipeline until ctx ends; it then returns nil after in-flight deliveries
// stopped (undelivered records are read again after a restart). It returns an error only
// when the source fails for good (e.g. the source stream was deleted).
func (p *Pipeline) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, name, dest := p.cfg.Metrics, p.cfg.Name, p.cfg.Destination
	m.PartitionsLimit.WithLabelValues(name).Set(float64(p.cfg.MaxPartitions))

	in := make(chan sources.Batch, 2)
	srcErr := make(chan error, 1)
	srcCtx, cancelSource := context.WithCancel(ctx)
	defer cancelSource()
	go func() { srcErr <- p.cfg.Source.Run(srcCtx, in) }()

	buf := buffer.New[item](p.cfg.Hints, p.cfg.MaxPartitions)
	tracker := sources.NewTracker()
	delivered := make(chan struct{}, 1)
	sem := make(chan struct{}, p.cfg.FlushConcurrency)
	var wg sync.WaitGroup

	var inflightMu sync.Mutex
	inflight := map[*buffer.Batch[item]]time.Time{}
	var inflightBytes int64

	signal := func() {
		select {
		case delivered <- struct{}{}:
		default:
		}
	}
	flush := func(bt *buffer.Batch[item]) {
		inflightMu.Lock()
		inflight[bt] = bt.Oldest
		inflightBytes += bt.Bytes
		inflightMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				p.deliver(ctx, bt)
				<-sem
			case <-ctx.Done(): // not delivered: read again after a restart
			}
			inflightMu.Lock()
			delete(inflight, bt)
			inflightBytes -= bt.Bytes
			inflightMu.Unlock()
			p.cfg.Budget.Release(bt.Bytes)
			signal()
		}()
	}
	writeFailures := func(fs []Failure, acks map[*sources.Ack]int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.writeErrors(ctx, fs) {
				for a, n := range acks {
					a.Done(n)
				}
			}
			signal()
		}()
	}
	// source bytes of read batches per shard, in read order, until their checkpoint is
	// committed (only touched from this goroutine)
	type readBatch struct {
		last  string
		bytes int64
	}
	unCommitted := map[string][]readBatch{}
	commit := func(ctx context.Context) {
		cps := tracker.Checkpoints()
		if len(cps) == 0 {
			return
		}
		if err := p.cfg.Source.Commit(ctx, cps); err != nil {
			if ctx.Err() == nil {
				p.log.Warn("committing checkpoints failed; will retry", "err", err)
			}
			return
		}
		tracker.Committed(cps)
		if p.cfg.OnCommitted == nil {
			return
		}
		var n int64
		for _, cp := range cps {
			q := unCommitted[cp.ShardID]
			i := slices.IndexFunc(q, func(b readBatch) bool { return b.last == cp.SequenceNumber })
			for _, b := range q[:i+1] {
				n += b.bytes
			}
			unCommitted[cp.ShardID] = q[i+1:]
		}
		if n > 0 {
			p.cfg.OnCommitted(n)
		}
	}
	updateGauges := func(now time.Time) {
		inflightMu.Lock()
		bytes := inflightBytes + buf.Bytes()
		oldest, ok := buf.Oldest()
		for _, o := range inflight {
			if !ok || o.Before(oldest) {
				oldest, ok = o, true
			}
		}
		inflightMu.Unlock()
		m.BufferBytes.WithLabelValues(name).Set(float64(bytes))
		fresh := 0.0
		if ok {
			fresh = now.Sub(oldest).Seconds()
		}
		m.DataFreshness.WithLabelValues(name, dest).Set(fresh)
		m.ActivePartitions.WithLabelValues(name).Set(float64(buf.Partitions()))
		paused := 0.0
		if p.cfg.Budget.Full() {
			paused = 1
		}
		m.DeliveryPaused.WithLabelValues(name).Set(paused)
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	gauges := time.NewTicker(time.Second)
	defer gauges.Stop()
	for {
		if d, ok := buf.NextDeadline(); ok {
			timer.Reset(max(time.Until(d), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case b := <-in:
			now := time.Now()
			if p.cfg.OnCommitted != nil && len(b.Records) > 0 {
				var n int64
				for _, r := range b.Records {
					n += int64(len(r.Data))
				}
				unCommitted[b.ShardID] = append(unCommitted[b.ShardID], readBatch{last: b.LastSequence(), bytes: n})
			}
			p.ingest(ctx, b, buf, tracker, flush, writeFailures, now)
			if p.cfg.Budget.Full() && buf.Bytes() > 0 {
				for _, bt := range buf.All() { // memory pressure: do not sit on buffered data
					flush(bt)
				}
			}
			if buf.Hints().Interval == 0 {
				for _, bt := range buf.Due(now) {
					flush(bt)
				}
			}
		case <-timer.C:
			for _, bt := range buf.Due(time.Now()) {
				flush(bt)
			}
		case <-delivered:
			commit(ctx)
		case h := <-p.hints:
			buf.SetHints(h)
		case now := <-gauges.C:
			updateGauges(now)
			commit(ctx) // batches that produced nothing to deliver move the checkpoint too
		case err := <-srcErr:
			srcErr = nil
			if ctx.Err() == nil && err != nil {
				p.log.Error("source stopped", "err", err)
				p.setFailing(err)
				// deliver what is buffered, then stop
				for _, bt := range buf.All() {
					flush(bt)
				}
				wg.Wait()
				commit(context.WithoutCancel(ctx))
				return err
			}
		case <-p.drain:
			cancelSource()
			for _, bt := range buf.All() {
				flush(bt)
			}
			wg.Wait()
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			commit(cctx)
			ccancel()
			return nil
		case <-ctx.Done():
			wg.Wait()
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			commit(cctx)
			ccancel()
			// what was buffered but not delivered is still in the stream
			for _, bt := range buf.All() {
				p.cfg.Budget.Release(bt.Bytes)
			}
			return nil
		}
	}
}

// ingest processes one source batch into the buffer.
func (p *Pipeline) ingest(ctx context.Context, b sources.Batch, buf *buffer.Buffer[item], tracker *sources.Tracker,
	flush func(*buffer.Batch[item]), writeFailures func([]Failure, map[*sources.Ack]int), now time.Time) {
	m, name := p.cfg.Metrics, p.cfg.Name
	var bytes int
	for _, r := range b.Records {
		bytes += len(r.Data)
	}
	m.KinesisReadBytes.WithLabelValues(name).Add(float64(bytes))
	m.KinesisReadRecords.WithLabelValues(name).Add(float64(len(b.Records)))
	m.KinesisBehind.WithLabelValues(name).Set(float64(b.MillisBehindLatest) / 1000)

	recs, failed := p.cfg.Process(ctx, b)
	ack := tracker.Track(b.ShardID, b.LastSequence(), len(recs)+len(failed))
	var refused []Failure
	exceeded := false
	for _, r := range recs {
		part := ""
		if p.cfg.Partitioned {
			part = partitionOf(r.PartitionKeys)
		}
		size := int64(len(r.Data))
		p.cfg.Budget.Charge(size)
		full, err := buf.Add(part, item{rec: r, ack: ack}, size, time.UnixMilli(r.ArrivalMs), now)
		if errors.Is(err, buffer.ErrPartitionLimit) {
			p.cfg.Budget.Release(size)
			exceeded = true
			refused = append(refused, Failure{Type: sinks.PartitioningFailed, Record: sinks.NewFailureRecord(r, 1,
				sinks.CodePartitionCountExceeded, "The number of active partitions exceeded the limit.", now.UnixMilli())})
			continue
		}
		if full != nil {
			flush(full)
		}
	}
	if exceeded {
		m.PartitionsExceeded.WithLabelValues(name).Set(1)
	} else if p.cfg.Partitioned {
		m.PartitionsExceeded.WithLabelValues(name).Set(0)
	}
	all := append(failed, refused...)
	if len(all) > 0 {
		writeFailures(all, map[*sources.Ack]int{ack: len(all)})
	}
}

// deliver sends one batch to the destination, falling back to the error output. It returns
// once the records are held by either (or ctx ended); then it acknowledges them.
func (p *Pipeline) deliver(ctx context.Context, bt *buffer.Batch[item]) {
	m, name, dest := p.cfg.Metrics, p.cfg.Name, p.cfg.Destination
	sb := sinks.Batch{Records: make([]sinks.Record, len(bt.Items)), OldestArrivalMs: bt.Oldest.UnixMilli()}
	for i, it := range bt.Items {
		sb.Records[i] = it.rec
	}
	if len(bt.Items) > 0 {
		sb.PartitionKeys = bt.Items[0].rec.PartitionKeys
	}
	r := sinks.Retrier{Classify: p.cfg.Classify, Backoff: p.cfg.Backoff,
		OnRetry: func(attempt int, err error, delay time.Duration) {
			m.DeliveryAttempts.WithLabelValues(name, dest, "retry").Inc()
			p.setFailing(err)
			p.log.Warn("delivery failed; retrying", "attempt", attempt, "delay", delay, "err", err)
		}}
	for {
		res := r.Do(ctx, p.cfg.RetryDuration, func(ctx context.Context) error { return p.cfg.Sink.WriteBatch(ctx, sb) })
		if res.Outcome == sinks.Delivered {
			m.DeliveryAttempts.WithLabelValues(name, dest, "success").Inc()
			m.DeliveryBytes.WithLabelValues(name, dest).Add(float64(bt.Bytes))
			m.DeliveryRecords.WithLabelValues(name, dest).Add(float64(len(bt.Items)))
			m.S3Objects.WithLabelValues(name, "data").Inc()
			p.setFailing(nil)
			ackItems(bt.Items)
			return
		}
		if ctx.Err() != nil {
			return // not acknowledged: replayed after restart
		}
		m.DeliveryAttempts.WithLabelValues(name, dest, "failure").Inc()
		p.setFailing(res.Err)
		if p.cfg.Unreachable(res.Err) {
			p.log.Warn("destination unreachable; waiting (records stay in the stream)", "err", res.Err)
			continue
		}
		code := sinks.ErrorCode(res.Err, "S3.Failure")
		msg := ""
		if res.Err != nil {
			msg = res.Err.Error()
		}
		fs := make([]Failure, len(sb.Records))
		for i, rec := range sb.Records {
			fs[i] = Failure{Type: DeliveryFailedType, Record: sinks.NewFailureRecord(rec, res.Attempts, code, msg, res.End.UnixMilli())}
		}
		p.log.Warn("delivery gave up; writing records to the error output", "records", len(fs), "attempts", res.Attempts, "err", res.Err)
		if p.writeErrors(ctx, fs) {
			ackItems(bt.Items)
		}
		return
	}
}

// writeErrors writes failures grouped by type, retrying forever (the stream pauses while the
// error output is unavailable). It reports whether all were written.
func (p *Pipeline) writeErrors(ctx context.Context, fs []Failure) bool {
	if p.cfg.Errors == nil {
		p.log.Error("no error output; dropping failed records", "records", len(fs))
		p.cfg.Metrics.DroppedRecords.WithLabelValues(p.cfg.Name, "no_error_output").Add(float64(len(fs)))
		return true
	}
	byType := map[string][]sinks.FailureRecord{}
	var order []string
	for _, f := range fs {
		if _, ok := byType[f.Type]; !ok {
			order = append(order, f.Type)
		}
		byType[f.Type] = append(byType[f.Type], f.Record)
	}
	r := sinks.Retrier{Backoff: p.cfg.Backoff, Classify: alwaysRetry, OnRetry: func(attempt int, err error, delay time.Duration) {
		p.setFailing(err)
		p.log.Warn("writing to the error output failed; retrying", "attempt", attempt, "delay", delay, "err", err)
	}}
	for _, typ := range order {
		recs := byType[typ]
		oldest := recs[0].ArrivalTimestamp
		for _, f := range recs {
			oldest = min(oldest, f.ArrivalTimestamp)
		}
		res := r.Do(ctx, sinks.Forever, func(ctx context.Context) error {
			return p.cfg.Errors.WriteFailures(ctx, typ, oldest, recs)
		})
		if res.Outcome != sinks.Delivered {
			return false
		}
		p.cfg.Metrics.S3Objects.WithLabelValues(p.cfg.Name, "error").Inc()
		for _, f := range recs {
			p.cfg.Metrics.FailedRecords.WithLabelValues(p.cfg.Name, f.ErrorCode).Inc()
		}
	}
	return true
}

func ackItems(items []item) {
	var last *sources.Ack
	n := 0
	for _, it := range items {
		if it.ack != last {
			last.Done(n)
			last, n = it.ack, 0
		}
		n++
	}
	last.Done(n)
}

// alwaysRetry classifies every error as retryable: the error output is the last resort.
func alwaysRetry(err error) sinks.Outcome {
	if err == nil {
		return sinks.Delivered
	}
	return sinks.Errored
}
