package sinks

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff computes the delay before retry n (n = 0 for the first retry):
// min(Max, Base·2ⁿ) × U(1−Jitter, 1+Jitter). This is Firehose's HTTP-endpoint spacing (§9)
// with the defaults below. The zero value uses the defaults.
type Backoff struct {
	Base   time.Duration // default 1s
	Max    time.Duration // default 120s
	Jitter float64       // default 0.15; negative disables jitter
	// Rand returns a float in [0,1); nil uses math/rand/v2. Tests set it for determinism.
	Rand func() float64
}

// DefaultBackoff is Firehose's spacing: min(120 s, 2ⁿ s) × U(0.85, 1.15).
var DefaultBackoff = Backoff{Base: time.Second, Max: 120 * time.Second, Jitter: 0.15}

// Delay returns the wait before retry n (n ≥ 0). Safe for concurrent use if Rand is.
func (b Backoff) Delay(n int) time.Duration {
	base, maxD, j := b.Base, b.Max, b.Jitter
	if base <= 0 {
		base = DefaultBackoff.Base
	}
	if maxD <= 0 {
		maxD = DefaultBackoff.Max
	}
	if j == 0 {
		j = DefaultBackoff.Jitter
	}
	if j < 0 {
		j = 0
	}
	d := maxD
	if n < 62 {
		if v := base << uint(n); v > 0 && v < maxD && v>>uint(n) == base {
			d = v
		}
	}
	if j > 0 {
		r := b.Rand
		if r == nil {
			r = rand.Float64
		}
		d = time.Duration(float64(d) * (1 - j + 2*j*r()))
	}
	return d
}

// Forever, passed as the duration to Retry, retries until ctx ends (Firehose's S3 rule:
// keep retrying until the records expire).
const Forever time.Duration = -1

// Result reports how a Retry loop ended.
type Result struct {
	// Outcome is Delivered on success; Rejected when the classifier said Rejected or the retry
	// duration ran out (Exhausted); Errored only when ctx ended first (the caller should stop
	// without advancing checkpoints).
	Outcome   Outcome
	Attempts  int   // attempts made (Firehose attemptsMade)
	Err       error // last error (nil when Delivered)
	Exhausted bool  // the retry duration ended with the last attempt still failing
	// First is when the first attempt started; End when the last attempt ended.
	First, End time.Time
}

// Retrier runs an operation with classification and backoff. The zero value is usable:
// Classify, DefaultBackoff, real time.
type Retrier struct {
	Classify Classifier // nil → Classify
	Backoff  Backoff    // zero → DefaultBackoff
	// Now and Sleep replace the clock in tests. Sleep must return ctx.Err() if ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, if set, is called before each wait with the failed attempt number (1-based),
	// its error and the delay.
	OnRetry func(attempt int, err error, delay time.Duration)
}

// Retry runs fn with the zero Retrier. See Retrier.Do.
func Retry(ctx context.Context, duration time.Duration, fn func(ctx context.Context) error) Result {
	return Retrier{}.Do(ctx, duration, fn)
}

// Do calls fn until it succeeds, the classifier says Rejected, the retry duration (measured
// from the start of the first attempt) has elapsed, or ctx ends. duration 0 means a single
// attempt; Forever means no time limit. The last wait is shortened so a final attempt happens
// at the deadline. Blocks while waiting; safe for concurrent use.
func (r Retrier) Do(ctx context.Context, duration time.Duration, fn func(ctx context.Context) error) Result {
	classify := r.Classify
	if classify == nil {
		classify = Classify
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	res := Result{First: now()}
	deadline := res.First.Add(duration)
	for {
		if err := ctx.Err(); err != nil {
			if res.Err == nil {
				res.Err = err
			}
			res.Outcome = Errored
			res.End = now()
			return res
		}
		err := fn(ctx)
		res.Attempts++
		res.End = now()
		res.Err = err
		out := classify(err)
		if out == Delivered {
			res.Outcome, res.Err = Delivered, nil
			return res
		}
		if out == Rejected {
			res.Outcome = Rejected
			return res
		}
		if ctx.Err() != nil {
			res.Outcome = Errored
			return res
		}
		delay := r.Backoff.Delay(res.Attempts - 1)
		if duration >= 0 {
			remaining := deadline.Sub(res.End)
			if remaining <= 0 {
				res.Outcome, res.Exhausted = Rejected, true
				return res
			}
			delay = min(delay, remaining)
		}
		if r.OnRetry != nil {
			r.OnRetry(res.Attempts, err, delay)
		}
		if serr := sleep(ctx, delay); serr != nil {
			res.Outcome = Errored
			return res
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
