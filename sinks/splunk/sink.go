package splunk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// MaxPostBytes bounds the body of one post (AWS's 5 MiB); larger batches are split, each
// post waiting for its own acknowledgement. A single record larger than that goes alone.
const MaxPostBytes = 5 << 20

// maxReplyBytes bounds what is read of an HEC answer.
const maxReplyBytes = 64 << 10

// Config is what a Sink needs.
type Config struct {
	Endpoint string    // HECEndpoint: a base URL, or a collector path used as it is
	Type     string    // Raw or Event
	Token    s3.Secret // HECToken: sent as `Authorization: Splunk <token>`, never logged
	// AckTimeout bounds the wait for a post's acknowledgement (HECAcknowledgmentTimeout).
	AckTimeout time.Duration
	// AcceptNoAck takes a 200 answer without ackId as delivered (else Splunk.DisabledAck).
	AcceptNoAck bool
	// AckPoll is the acknowledgement polling interval (0: DefaultAckPoll).
	AckPoll time.Duration
	// Wrap, when set, wraps records that are not HEC event objects (see Wrap).
	Wrap *Wrap
	// MaxPostBytes bounds a post body (0: MaxPostBytes).
	MaxPostBytes int
	// Timeout bounds one request (0: 3 minutes).
	Timeout   time.Duration
	Transport http.RoundTripper // nil: a clone of http.DefaultTransport
	Stream    string            // the delivery stream: the metrics' label
	Logger    *slog.Logger
}

// Sink posts batches to HEC. It is safe for concurrent use. Its posts share one
// connection pool and one channel (X-Splunk-Request-Channel), whose acknowledgements one
// poller asks for, all at once, every AckPoll.
type Sink struct {
	cfg                        Config
	log                        *slog.Logger
	postURL, ackURL, healthURL string
	channel                    string

	mu     sync.Mutex
	client *http.Client
	acks   *acker
}

// New returns the sink of cfg. It does no I/O.
func New(cfg Config) *Sink {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	if cfg.MaxPostBytes <= 0 {
		cfg.MaxPostBytes = MaxPostBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Minute
	}
	if cfg.AckPoll <= 0 {
		cfg.AckPoll = DefaultAckPoll
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout * time.Second
	}
	if cfg.Type == "" {
		cfg.Type = Event
	}
	s := &Sink{cfg: cfg, channel: uuid.NewString()}
	s.postURL, s.ackURL, s.healthURL = collectorURLs(cfg.Endpoint, cfg.Type, cfg.Wrap)
	s.log = lg.With("component", "splunk", "endpoint", redact(s.postURL), "channel", s.channel)
	return s
}

// collectorURLs returns the URLs of posts, ack queries and the health check: HECEndpoint
// plus /services/collector/event (Event) or /services/collector/raw (Raw), unless it is a
// collector path already (then posts go to it as it is). Raw posts carry the Wrap's
// metadata as query parameters.
func collectorURLs(endpoint, typ string, w *Wrap) (post, ack, health string) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint, endpoint, endpoint
	}
	base := *u
	base.RawQuery, base.Fragment = "", ""
	p := strings.TrimRight(u.Path, "/")
	if i := strings.Index(p, "/services/collector"); i >= 0 {
		base.Path = p[:i]
	} else {
		base.Path = p
		pu := base
		pu.Path = p + "/services/collector/event"
		if typ == Raw {
			pu.Path = p + "/services/collector/raw"
		}
		u = &pu
	}
	if typ == Raw && w != nil {
		q := u.Query()
		for k, v := range map[string]string{"host": w.Host, "source": w.Source, "sourcetype": w.Sourcetype, "index": w.Index} {
			if v != "" {
				q.Set(k, v)
			}
		}
		cp := *u
		cp.RawQuery = q.Encode()
		u = &cp
	}
	a, h := base, base
	a.Path += "/services/collector/ack"
	h.Path += "/services/collector/health"
	return u.String(), a.String(), h.String()
}

// Connect builds the client and checks that HEC answers its health endpoint. An HEC that
// cannot be reached, or that says it is unhealthy, is sinks.Unavailable (the runner
// retries Connect; records wait in the source).
func (s *Sink) Connect(ctx context.Context) error {
	s.mu.Lock()
	c := s.client
	if c == nil {
		tr := s.cfg.Transport
		if tr == nil {
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConnsPerHost = 64
			tr = t
		}
		c = &http.Client{Transport: tr, Timeout: s.cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.healthURL, nil)
	if err != nil {
		return sinks.Permanent(CodeInvalidEndpoint, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return sinks.Unavailable(transportCode(err), scrubbed(err, s.cfg.Token))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return sinks.Unavailable(CodeServerError, fmt.Errorf("the HEC health check answered HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = c
		s.acks = newAcker(s, c)
	}
	return nil
}

// Probe implements sinks.Prober: the health endpoint answers (as Connect asks).
func (s *Sink) Probe(ctx context.Context) error { return s.Connect(ctx) }

// Close stops the acknowledgement poller (writes awaiting acknowledgement end Errored:
// they are sent again) and releases the connections.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	c, a := s.client, s.acks
	s.client, s.acks = nil, nil
	s.mu.Unlock()
	if a != nil {
		a.stop()
	}
	if c != nil {
		c.CloseIdleConnections()
	}
	return nil
}

func (s *Sink) conn() (*http.Client, *acker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, nil, sinks.NotConnected(CodeConnectionClosed, nil)
	}
	return s.client, s.acks, nil
}

// post is one request of a batch: records [from, to).
type post struct {
	from, to int
	body     []byte
	err      error     // the outcome once known (nil: delivered)
	wait     *waiter   // awaiting its acknowledgement
	sent     time.Time // when HEC answered it
}

// Write sends the batch in posts of at most MaxPostBytes and answers record by record
// (the records of a post share its fate). Posts HEC accepted with an ackId are confirmed
// asynchronously: Write then answers Pending, and the final Result follows once every post
// is acknowledged, timed out (Splunk.AckTimeout, Errored: sent again) or refused.
func (s *Sink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	c, acks, err := s.conn()
	if err != nil {
		return sinks.Failed(err)
	}
	posts := s.split(b)
	var down error // HEC failed as a whole: the rest is not sent
	pending := false
	for i := range posts {
		p := &posts[i]
		if down != nil {
			p.err = down
			continue
		}
		id, err := s.send(ctx, c, p.body)
		p.sent, p.body = time.Now(), nil // the body is not needed again: a resend rebuilds it
		switch {
		case err != nil:
			p.err = err
			if sinks.Classify(err) == sinks.Rejected {
				s.refused(err)
			}
			if sinks.Held(err) || sinks.Alerting(err) || errors.Is(err, context.Canceled) {
				down = err
			}
		case id >= 0:
			p.wait = acks.register(id, p.sent)
			pending = true
		}
	}
	if !pending {
		return s.result(b, posts)
	}
	ch := make(chan sinks.Result, 1)
	go func() {
		for i := range posts {
			p := &posts[i]
			if p.wait == nil {
				continue
			}
			select {
			case p.err = <-p.wait.done:
			case <-ctx.Done():
				acks.forget(p.wait)
				p.err = sinks.Retryable(CodeAckTimeout, ctx.Err())
			}
		}
		ch <- s.result(b, posts)
	}()
	return sinks.Result{Pending: ch}
}

// result is the Result of a batch whose posts all ended.
func (s *Sink) result(b sinks.Batch, posts []post) sinks.Result {
	failed, errored := 0, 0
	var first error
	for _, p := range posts {
		if p.err != nil {
			failed += p.to - p.from
			if sinks.Classify(p.err) == sinks.Errored {
				errored += p.to - p.from
				if first == nil {
					first = p.err
				}
			}
		}
	}
	switch {
	case failed == 0:
		return sinks.Done()
	case errored == len(b.Records):
		return sinks.Failed(first)
	}
	res := sinks.Result{Records: make([]sinks.RecordResult, len(b.Records))}
	for _, p := range posts {
		for i := p.from; i < p.to; i++ {
			rr := &res.Records[i]
			if p.err == nil {
				rr.Outcome = sinks.Delivered
				continue
			}
			rr.Outcome, rr.Err = sinks.Classify(p.err), p.err
			if rr.Outcome == sinks.Rejected {
				rr.Fields = failureFields(b.Records[i])
			}
		}
	}
	return res
}

// failureFields are the destination's member of a record's failure record (§8): EventId,
// `<sequence>.<subsequence>`.
func failureFields(r record.Record) []record.Field {
	return []record.Field{{Key: "EventId", Value: r.SequenceNumber + "." + strconv.Itoa(r.SubSequence)}}
}

// split builds the posts of b: record bodies (wrapped when configured) concatenated, at
// most MaxPostBytes each.
func (s *Sink) split(b sinks.Batch) []post {
	var posts []post
	var cur []byte
	from := 0
	limit := s.cfg.MaxPostBytes
	rest := b.Bytes() // bytes of the records not yet placed: the size of the last post
	for i, r := range b.Records {
		rest -= len(r.Data)
		data := r.Data
		if s.cfg.Wrap != nil && s.cfg.Type == Event && !isEventObject(data) {
			data = wrapEvent(nil, data, r.ArrivalMs, s.cfg.Wrap)
		}
		if len(cur) > 0 && len(cur)+len(data) > limit {
			posts = append(posts, post{from: from, to: i, body: cur})
			cur, from = nil, i
		}
		if cur == nil {
			cur = make([]byte, 0, max(len(data), min(limit, len(data)+rest)))
		}
		cur = append(cur, data...)
	}
	if len(b.Records) > 0 {
		posts = append(posts, post{from: from, to: len(b.Records), body: cur})
	}
	return posts
}

// isEventObject reports whether data is a JSON object with an `event` member (an HEC event
// already).
func isEventObject(data []byte) bool {
	d := bytes.TrimSpace(data)
	if len(d) == 0 || d[0] != '{' {
		return false
	}
	var probe struct {
		Event json.RawMessage `json:"event"`
	}
	return json.Unmarshal(d, &probe) == nil && len(probe.Event) > 0
}

// wrapEvent appends the HEC event object of a record that is not one (see Wrap).
func wrapEvent(dst, data []byte, arrivalMs int64, w *Wrap) []byte {
	dst = append(dst, `{"time":`...)
	dst = strconv.AppendInt(dst, arrivalMs/1000, 10)
	dst = append(dst, '.')
	ms := arrivalMs % 1000
	if ms < 0 {
		ms = -ms
	}
	dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	dst = append(dst, `,"event":`...)
	d := bytes.TrimSpace(data)
	if len(d) > 0 && json.Valid(d) {
		dst = append(dst, d...)
	} else {
		q, _ := json.Marshal(string(bytes.TrimRight(data, "\r\n"))) // a string: cannot fail
		dst = append(dst, q...)
	}
	for _, kv := range [][2]string{{"host", w.Host}, {"source", w.Source}, {"sourcetype", w.Sourcetype}, {"index", w.Index}} {
		if kv[1] != "" {
			q, _ := json.Marshal(kv[1])
			dst = append(dst, `,"`...)
			dst = append(dst, kv[0]...)
			dst = append(dst, `":`...)
			dst = append(dst, q...)
		}
	}
	return append(dst, '}')
}

// send posts one body and returns its ackId (-1 when HEC accepted it without one and that
// is accepted), or the classified error.
func (s *Sink) send(ctx context.Context, c *http.Client, body []byte) (int64, error) {
	resp, rep, raw, err := s.do(ctx, c, s.postURL, body)
	if err != nil {
		return -1, err
	}
	if resp.StatusCode == http.StatusOK && rep.Code != nil && *rep.Code == 0 {
		if rep.AckID != nil {
			return *rep.AckID, nil
		}
		if s.cfg.AcceptNoAck {
			return -1, nil
		}
		return -1, hecErr(CodeDisabledAck, sinks.Rejected, false,
			"HEC accepted the post without an ackId: indexer acknowledgement is off for this token. Turn it on in Splunk, "+
				"or set splunk.require_ack: false. The data may have been indexed; it is backed up in S3.")
	}
	return -1, classify(resp, rep, raw)
}

// do makes one HEC request with the destination's headers and reads its reply (bounded).
// Transport failures come back classified.
func (s *Sink) do(ctx context.Context, c *http.Client, u string, body []byte) (*http.Response, hecReply, []byte, error) {
	var rep hecReply
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, rep, nil, sinks.Permanent(CodeInvalidEndpoint, err)
	}
	req.Header.Set("Authorization", "Splunk "+string(s.cfg.Token))
	req.Header.Set("X-Splunk-Request-Channel", s.channel)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, rep, nil, sinks.Retryable(CodeConnectionClosed, ctx.Err())
		}
		return nil, rep, nil, sinks.Unavailable(transportCode(err), scrubbed(err, s.cfg.Token))
	}
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // keep the connection reusable
	resp.Body.Close()
	if rerr != nil {
		return nil, rep, nil, sinks.Retryable(CodeConnectionClosed, scrubbed(rerr, s.cfg.Token))
	}
	rep, _ = parseReply(raw)
	return resp, rep, raw, nil
}

// refused reports posts HEC refused for good: loudly (an error log and a metric) when it
// refused the token, which needs an operator.
func (s *Sink) refused(err error) {
	code := sinks.ErrorCode(err, CodeInvalidDataFormat)
	if sinks.Alerting(err) {
		metrics.tokenRefused.WithLabelValues(s.cfg.Stream, code).Inc()
		s.log.Error("HEC refused the token: records go to the S3 backup (splunk-failed) until it is fixed", "error_code", code, "err", err)
		return
	}
	s.log.Warn("HEC refused a post for good; its records go to the S3 backup (splunk-failed)", "error_code", code, "err", err)
}
