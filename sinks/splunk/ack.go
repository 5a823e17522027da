package splunk

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/sinks"
)

// maxAcksPerQuery bounds the ids of one ack query (more are asked in several).
const maxAcksPerQuery = 1000

// metrics are the destination's own (sinks.Kind.Collectors), labelled by delivery stream.
var metrics = struct {
	ackLatency   *prometheus.HistogramVec
	tokenRefused *prometheus.CounterVec
	ackTimeouts  *prometheus.CounterVec
}{
	ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_firehose_splunk_ack_latency_seconds",
		Help:    "Time from HEC accepting a post to its indexer acknowledgement (DeliveryToSplunk.DataAckLatency).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}, []string{"stream"}),
	tokenRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_firehose_splunk_token_refused_total",
		Help: "Posts HEC refused because of the token (disabled, invalid, missing), by error code: their records go to splunk-failed."},
		[]string{"stream", "error_code"}),
	ackTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_firehose_splunk_ack_timeouts_total",
		Help: "Posts not acknowledged within HECAcknowledgmentTimeoutInSeconds (sent again)."}, []string{"stream"}),
}

// waiter is a post awaiting its acknowledgement: done receives nil once HEC acknowledged
// it, or the error that ended the wait.
type waiter struct {
	id       int64
	sent     time.Time
	deadline time.Time
	done     chan error
}

// acker polls the acknowledgements of one channel: every AckPoll, one query (of at most
// maxAcksPerQuery ids each) asks for every id awaited; ids not acknowledged within
// AckTimeout of their post end with Splunk.AckTimeout.
type acker struct {
	s    *Sink
	c    *http.Client
	quit chan struct{}
	ctx  context.Context
	stp  context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	waiting map[int64]*waiter
}

func newAcker(s *Sink, c *http.Client) *acker {
	ctx, cancel := context.WithCancel(context.Background())
	a := &acker{s: s, c: c, quit: make(chan struct{}), ctx: ctx, stp: cancel, waiting: map[int64]*waiter{}}
	a.wg.Go(a.run)
	return a
}

// register awaits the acknowledgement of id, of a post HEC answered at sent.
func (a *acker) register(id int64, sent time.Time) *waiter {
	w := &waiter{id: id, sent: sent, deadline: sent.Add(a.s.cfg.AckTimeout), done: make(chan error, 1)}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.quit:
		w.done <- sinks.Retryable(CodeAckTimeout, errClosed)
		return w
	default:
	}
	a.waiting[id] = w
	return w
}

// forget stops awaiting w (its writer gave up).
func (a *acker) forget(w *waiter) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.waiting[w.id] == w {
		delete(a.waiting, w.id)
	}
}

// resolve ends the wait of id with err.
func (a *acker) resolve(id int64, err error) {
	a.mu.Lock()
	w := a.waiting[id]
	delete(a.waiting, id)
	a.mu.Unlock()
	if w != nil {
		w.done <- err
	}
}

// stop ends the poller; writes still awaiting end Errored (sent again).
func (a *acker) stop() {
	a.mu.Lock()
	select {
	case <-a.quit:
		a.mu.Unlock()
		return
	default:
	}
	close(a.quit)
	ws := a.waiting
	a.waiting = map[int64]*waiter{}
	a.mu.Unlock()
	a.stp()
	a.wg.Wait()
	for _, w := range ws {
		w.done <- sinks.Retryable(CodeAckTimeout, errClosed)
	}
}

var errClosed = errorString("the Splunk sink was closed before the acknowledgement came")

type errorString string

func (e errorString) Error() string { return string(e) }

func (a *acker) run() {
	t := time.NewTicker(a.s.cfg.AckPoll)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			return
		case <-t.C:
			a.poll()
		}
	}
}

// poll asks for every awaited id, then times out the ones past their deadline.
func (a *acker) poll() {
	a.mu.Lock()
	ids := make([]int64, 0, len(a.waiting))
	for id := range a.waiting {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	slices.Sort(ids)
	for len(ids) > 0 {
		n := min(len(ids), maxAcksPerQuery)
		a.query(ids[:n])
		ids = ids[n:]
	}
	now := time.Now()
	var late []int64
	a.mu.Lock()
	for id, w := range a.waiting {
		if now.After(w.deadline) {
			late = append(late, id)
		}
	}
	a.mu.Unlock()
	for _, id := range late {
		a.resolve(id, ackTimeout())
	}
	if len(late) > 0 {
		metrics.ackTimeouts.WithLabelValues(a.s.cfg.Stream).Add(float64(len(late)))
		a.s.log.Warn("HEC did not acknowledge posts within the acknowledgement timeout; they are sent again",
			"posts", len(late), "timeout", a.s.cfg.AckTimeout)
	}
}

// query asks HEC about ids and ends the waits it answers: acknowledged ones with nil, all
// of them with the error when HEC refuses the token or has acknowledgement off (retrying
// cannot help). Other failures are retried at the next poll.
func (a *acker) query(ids []int64) {
	body := make([]byte, 0, 10+8*len(ids))
	body = append(body, `{"acks":[`...)
	for i, id := range ids {
		if i > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendInt(body, id, 10)
	}
	body = append(body, "]}"...)
	ctx, cancel := context.WithTimeout(a.ctx, a.s.cfg.Timeout)
	defer cancel()
	resp, rep, raw, err := a.s.do(ctx, a.c, a.s.ackURL, body)
	if err != nil {
		if a.ctx.Err() == nil {
			a.s.log.Warn("querying HEC acknowledgements failed; asking again at the next poll", "err", err)
		}
		return
	}
	if resp.StatusCode != http.StatusOK {
		cerr := classify(resp, rep, raw)
		if sinks.Classify(cerr) == sinks.Rejected {
			a.s.refused(cerr)
			for _, id := range ids {
				a.resolve(id, cerr)
			}
			return
		}
		a.s.log.Warn("querying HEC acknowledgements failed; asking again at the next poll", "err", cerr)
		return
	}
	acked, perr := parseAcks(raw)
	if perr != nil {
		a.s.log.Warn("HEC's acknowledgement answer is not readable; asking again at the next poll", "err", perr)
		return
	}
	now := time.Now()
	lat := metrics.ackLatency.WithLabelValues(a.s.cfg.Stream)
	for _, id := range ids {
		if !acked[id] {
			continue
		}
		a.mu.Lock()
		w := a.waiting[id]
		a.mu.Unlock()
		if w != nil {
			lat.Observe(now.Sub(w.sent).Seconds())
		}
		a.resolve(id, nil)
	}
}
