package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
)

// errDraining ends a wait once Drain was called.
var errDraining = errors.New("delivery: draining")

// draining reports whether Drain was called.
func (r *Runner) draining() bool {
	select {
	case <-r.drain:
		return true
	default:
		return false
	}
}

// wait sleeps d, or until ctx ends or Drain is called: once draining, a failed write, connect
// or error-output write is not tried again — what it held stays in the source, and Run
// returns promptly instead of waiting out the shutdown timeout.
func (r *Runner) wait(ctx context.Context, d time.Duration) error { return r.waitOr(ctx, d, nil) }

// waitOr is wait that also ends (with nil) when woken is closed.
func (r *Runner) waitOr(ctx context.Context, d time.Duration, woken <-chan struct{}) error {
	if r.draining() {
		return errDraining
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.drain:
		return errDraining
	case <-woken:
		return nil
	case <-t.C:
		return nil
	}
}

// waker lets goroutines wait for an event that may happen many times: waitCh returns a
// channel closed at the next wake.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

func (w *waker) waitCh() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// ensureConnected returns once the sink is connected (Connect is retried with backoff,
// one caller at a time), or ctx.Err().
func (r *Runner) ensureConnected(ctx context.Context) error {
	select {
	case r.connMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.connMu }()
	if r.connected {
		return nil
	}
	res := retry.Retrier{Backoff: r.cfg.Backoff, Classify: retry.Always, Sleep: r.wait,
		OnRetry: func(attempt int, err error, delay time.Duration) {
			r.setFailing(err)
			r.log.Error("connecting the destination failed; retrying (records wait in the source)", "attempt", attempt, "delay", delay, "err", err)
		}}.Do(ctx, retry.Forever, r.cfg.Sink.Connect)
	if res.Outcome != retry.Succeeded {
		return res.Err
	}
	if res.Attempts > 1 {
		r.setFailing(nil)
		r.log.Info("destination connected", "attempts", res.Attempts)
	}
	r.connected = true
	return nil
}

// disconnected makes the next ensureConnected call Connect again. It does not wait: when
// another delivery holds the connection lock, that one is connecting already or will see
// the next write fail the same way.
func (r *Runner) disconnected() {
	select {
	case r.connMu <- struct{}{}:
		r.connected = false
		<-r.connMu
	default:
	}
}

// loadPositions reads what an ExactlyOnce sink already holds (retried until ctx ends).
func (r *Runner) loadPositions(ctx context.Context) error {
	var ps []sinks.Position
	res := retry.Retrier{Backoff: r.cfg.Backoff, Classify: retry.Always, Sleep: r.wait,
		OnRetry: func(attempt int, err error, delay time.Duration) {
			r.setFailing(err)
			r.log.Error("reading the destination's stored positions failed; retrying", "attempt", attempt, "delay", delay, "err", err)
		}}.Do(ctx, retry.Forever, func(ctx context.Context) (err error) {
		ps, err = r.eo.Positions(ctx)
		return err
	})
	if res.Outcome != retry.Succeeded {
		return res.Err
	}
	r.skip = map[string]sinks.Position{}
	for _, p := range ps {
		r.skip[p.ShardID] = p
	}
	return nil
}

// deliver writes one batch until every record is held by the destination or the error
// output (then it acknowledges them), or ctx ends (then what is not acknowledged is read
// again after a restart).
//
// Batches take flush slots in the order they were flushed (turn: closed by the batch
// before), and signal their own turn (acquired) once they hold one: the oldest records go
// first, so checkpoints — which move over the longest done prefix — follow the deliveries
// closely (after an outage the backlog goes out oldest first, not in a random order). With
// one slot (exactly-once) this is also "one batch at a time, in source order".
func (r *Runner) deliver(ctx context.Context, bt *buffer.Batch[item], f *flight, turn <-chan struct{}, acquired func()) {
	m, name, dest := r.cfg.Metrics, r.cfg.Name, r.cfg.Destination
	defer acquired() // idempotent: also when ctx ends first
	if turn != nil {
		select {
		case <-turn:
		case <-ctx.Done():
			return // not acknowledged: replayed after restart
		}
	}
	if r.admit(ctx, f) != nil {
		return
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	acquired()
	holding := true
	defer func() {
		if holding {
			<-r.sem
		}
	}()
	pending := bt.Items
	// The retry clock: with FromFirstAttempt, the time since the first attempt started;
	// with FromFirstFailure, only the time spent waiting between attempts (not the
	// attempts' own). Either is reset while the destination is down.
	var clock time.Time
	var waited time.Duration
	spent := func(now time.Time) time.Duration {
		if r.cfg.RetryClock == FromFirstFailure {
			return waited
		}
		return now.Sub(clock)
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		if r.ensureConnected(ctx) != nil {
			return
		}
		started := time.Now()
		if clock.IsZero() {
			clock = started
		}
		sb := r.batchOf(bt, pending, attempt)
		res := r.cfg.Sink.Write(ctx, sb)
		if res.Pending != nil {
			// accepted, confirmation later: free the slot meanwhile (not for an
			// exactly-once sink, whose batches must stay in order)
			if r.eo == nil {
				<-r.sem
				holding = false
				r.await(f, true)
			}
			select {
			case res = <-res.Pending:
			case <-ctx.Done():
				return
			}
			if !holding {
				r.await(f, false)
			}
			if !holding {
				select {
				case r.sem <- struct{}{}:
					holding = true
				case <-ctx.Done():
					return
				}
			}
		}
		if ctx.Err() != nil {
			return // not acknowledged: replayed after restart
		}
		now := time.Now()
		var (
			done, again, refused []item
			rejected             []Failure
			lastErr              error
			alert                error // a rejection that needs an operator (sinks.Error.Alert)
			wait                 time.Duration
			held, redo           bool
		)
		var dropped []item // dropped for dropReason (sinks.Dropped), not written anywhere
		var dropReason string
		if res.Records == nil && res.Err == nil {
			done = pending // the common case: the whole batch is held (no per-record copy)
		} else {
			for i, it := range pending {
				out, err, fields := outcomeOf(res, i)
				switch out {
				case sinks.Delivered:
					done = append(done, it)
				case sinks.Rejected:
					if reason := sinks.DropReason(err); reason != "" {
						dropped, dropReason = append(dropped, it), reason
						continue
					}
					refused = append(refused, it)
					rejected = append(rejected, r.failure(it, attempt, err, fields, now))
					if sinks.Alerting(err) {
						alert = err
					}
				default:
					again = append(again, it)
					lastErr = err
					wait = max(wait, sinks.WaitHint(err))
					held = held || sinks.Held(err)
					redo = redo || errors.Is(err, sinks.ErrNotConnected)
				}
			}
		}
		if len(done) > 0 {
			r.recovered.wake() // the destination takes writes: retries waiting out a backoff go now
		}
		if len(done) > 0 && r.backup(ctx, bt, done) {
			n := 0
			for _, it := range done {
				n += len(it.rec.Data)
			}
			m.DeliveryAttempts.WithLabelValues(name, dest, "success").Inc()
			m.DeliveryBytes.WithLabelValues(name, dest).Add(float64(n))
			m.DeliveryRecords.WithLabelValues(name, dest).Add(float64(len(done)))
			ackItems(done)
		}
		if len(dropped) > 0 {
			// dropped without the error output or the backup (an HTTP endpoint's 413, §9)
			m.DeliveryAttempts.WithLabelValues(name, dest, "rejected").Inc()
			m.DroppedRecords.WithLabelValues(name, dropReason).Add(float64(len(dropped)))
			r.log.Warn("the destination refused records for good; they are dropped", "records", len(dropped), "reason", dropReason)
			ackItems(dropped)
		}
		if len(rejected) > 0 {
			m.DeliveryAttempts.WithLabelValues(name, dest, "rejected").Inc()
			r.log.Warn("the destination rejected records; writing them to the error output", "records", len(rejected), "err", rejected[0].Record.ErrorMessage)
			// the "all" backup holds every incoming record, refused ones too (§7)
			if r.writeErrors(ctx, rejected) && r.backup(ctx, bt, refused) {
				ackItems(refused)
			}
		}
		pending = again
		if len(pending) == 0 {
			r.setFailing(alert) // nil clears; an alert stays shown until a write succeeds
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.setFailing(lastErr)
		if redo {
			r.disconnected()
		}
		if held {
			clock, waited = now, 0 // the destination is down: wait for it, the records stay in the source
		} else if spent(now) >= r.cfg.RetryDuration {
			m.DeliveryAttempts.WithLabelValues(name, dest, "failure").Inc()
			fs := make([]Failure, len(pending))
			for i, it := range pending {
				fs[i] = r.failure(it, attempt, lastErr, nil, now)
			}
			r.log.Warn("delivery gave up; writing records to the error output", "records", len(fs), "attempts", attempt, "err", lastErr)
			if r.writeErrors(ctx, fs) && r.backup(ctx, bt, pending) {
				ackItems(pending)
			}
			return
		}
		m.DeliveryAttempts.WithLabelValues(name, dest, "retry").Inc()
		delay := r.cfg.Backoff.Delay(attempt - 1)
		if !held {
			delay = min(delay, r.cfg.RetryDuration-spent(now))
		}
		delay = max(delay, wait)
		if r.draining() {
			r.log.Warn("stopping with records the destination did not take; they stay in the source stream", "records", len(pending), "err", lastErr)
			return
		}
		r.log.Warn("delivery failed; retrying", "attempt", attempt, "records", len(pending), "delay", delay, "err", lastErr)
		var woken <-chan struct{}
		stopProbe := func() {}
		if wait == 0 { // a pause the destination asked for is kept
			woken = r.recovered.waitCh()
			stopProbe = r.probeWhile(ctx, delay)
		}
		slept := time.Now()
		err := r.waitOr(ctx, delay, woken)
		stopProbe()
		if err != nil {
			return
		}
		waited += time.Since(slept)
	}
}

// batchOf is the sink batch of the pending items of bt.
func (r *Runner) batchOf(bt *buffer.Batch[item], pending []item, attempt int) sinks.Batch {
	sb := sinks.Batch{Records: make([]record.Record, len(pending)), OldestArrivalMs: bt.Oldest.UnixMilli(), Attempt: attempt}
	for i, it := range pending {
		sb.Records[i] = it.rec
	}
	if len(pending) > 0 {
		sb.PartitionKeys = pending[0].rec.PartitionKeys
	}
	if r.eo != nil {
		last := map[string]int{}
		for _, it := range pending {
			shard := it.ack.Shard()
			p := sinks.Position{ShardID: shard, SequenceNumber: it.rec.SequenceNumber, SubSequence: it.rec.SubSequence}
			if i, ok := last[shard]; !ok {
				last[shard] = len(sb.Positions)
				sb.Positions = append(sb.Positions, p)
			} else if after(it.rec, sb.Positions[i]) {
				sb.Positions[i] = p
			}
		}
	}
	return sb
}

// outcomeOf reads the outcome of record i from a Result.
func outcomeOf(res sinks.Result, i int) (sinks.Outcome, error, []record.Field) {
	if res.Records == nil {
		return sinks.Classify(res.Err), res.Err, nil
	}
	if i >= len(res.Records) {
		// a sink that answers for fewer records than it got: the rest are not known to be
		// delivered, so they are tried again
		return sinks.Errored, errors.New("the destination did not report this record's outcome"), nil
	}
	rr := res.Records[i]
	if rr.Outcome == sinks.Delivered {
		return sinks.Delivered, nil, nil
	}
	err := rr.Err
	if err == nil {
		err = errors.New("the destination did not say why")
	}
	return rr.Outcome, err, rr.Fields
}

// failure is the failure record of an item that could not be delivered.
func (r *Runner) failure(it item, attempts int, err error, fields []record.Field, now time.Time) Failure {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	fr := record.NewFailureRecord(it.rec, attempts, sinks.ErrorCode(err, r.cfg.DefaultCode), msg, now.UnixMilli())
	if fields == nil && r.cfg.FailureFields != nil {
		fields = r.cfg.FailureFields(it.rec)
	}
	fr.Extra = fields
	return Failure{Type: r.cfg.FailedType, Record: fr}
}

// backup writes the delivered items to the AllData backup (retried until it succeeds or
// ctx ends). It reports whether they may be acknowledged.
func (r *Runner) backup(ctx context.Context, bt *buffer.Batch[item], done []item) bool {
	if r.cfg.Backup == nil {
		return true
	}
	sb := r.batchOf(bt, done, 1)
	sb.Positions = nil
	res := retry.Retrier{Backoff: r.cfg.Backoff, Classify: retry.Always, Sleep: r.wait, OnRetry: func(attempt int, err error, delay time.Duration) {
		r.setFailing(err)
		r.log.Warn("writing the S3 backup failed; retrying", "attempt", attempt, "delay", delay, "err", err)
	}}.Do(ctx, retry.Forever, func(ctx context.Context) error {
		if err := r.cfg.Backup.Write(ctx, sb).Err; err != nil {
			return err
		}
		return nil
	})
	if res.Outcome == retry.Succeeded {
		r.cfg.Metrics.BackupRecords.WithLabelValues(r.cfg.Name).Add(float64(len(done)))
	}
	return res.Outcome == retry.Succeeded
}

// writeErrors writes failures grouped by type, retrying until they are written (the stream
// pauses while the error output is unavailable) or ctx ends. It reports whether all were
// written.
func (r *Runner) writeErrors(ctx context.Context, fs []Failure) bool {
	m, name := r.cfg.Metrics, r.cfg.Name
	if r.cfg.Errors == nil {
		r.log.Error("no error output; dropping failed records", "records", len(fs))
		m.DroppedRecords.WithLabelValues(name, "no_error_output").Add(float64(len(fs)))
		return true
	}
	byType := map[string][]record.FailureRecord{}
	var order []string
	for _, f := range fs {
		if _, ok := byType[f.Type]; !ok {
			order = append(order, f.Type)
		}
		byType[f.Type] = append(byType[f.Type], f.Record)
	}
	rt := retry.Retrier{Backoff: r.cfg.Backoff, Classify: retry.Always, Sleep: r.wait, OnRetry: func(attempt int, err error, delay time.Duration) {
		r.setFailing(err)
		r.log.Warn("writing to the error output failed; retrying", "attempt", attempt, "delay", delay, "err", err)
	}}
	for _, typ := range order {
		recs := byType[typ]
		res := rt.Do(ctx, retry.Forever, func(ctx context.Context) error { return r.cfg.Errors.WriteFailures(ctx, typ, recs) })
		if res.Outcome != retry.Succeeded {
			return false
		}
		for _, f := range recs {
			m.FailedRecords.WithLabelValues(name, f.ErrorCode).Inc()
		}
	}
	return true
}

// ackItems acknowledges delivered items, one Done call per run of items of one read batch.
func ackItems(items []item) {
	var (
		last *sources.Ack
		idx  []int32
	)
	for _, it := range items {
		if it.ack != last {
			last.Done(idx...)
			last, idx = it.ack, idx[:0]
		}
		idx = append(idx, it.idx)
	}
	last.Done(idx...)
}

// probeEvery spaces the probes of a sinks.Prober during a backoff; backoffs shorter than
// twice this are simply waited out.
var probeEvery = 2 * time.Second

// probeWhile probes the sink (sinks.Prober) every probeEvery during a backoff of d and wakes
// the waiting retries at the first success. The returned func stops it.
func (r *Runner) probeWhile(ctx context.Context, d time.Duration) (stop func()) {
	p, ok := r.cfg.Sink.(sinks.Prober)
	if !ok || d < 2*probeEvery {
		return func() {}
	}
	pctx, cancel := context.WithTimeout(ctx, d)
	go func() {
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				cctx, ccancel := context.WithTimeout(pctx, probeEvery)
				err := p.Probe(cctx)
				ccancel()
				if err == nil && pctx.Err() == nil {
					r.log.Info("the destination answers again; retrying now")
					r.recovered.wake()
					return
				}
			}
		}
	}()
	return cancel
}
