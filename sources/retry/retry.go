// Package retry is Sluice's one retry helper: exponential backoff with jitter (Firehose's
// spacing) and a loop that retries an operation within a duration, asking a classifier
// after each failure whether another attempt can help. Every retry loop of the delivery
// path uses it: the runner's error output and Connect, the Lambda processor, sinks.
package retry

import (
	"context"
	"errors"
	"fmt"
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

// Outcome is how one attempt (or a whole Do loop) ended.
type Outcome int

const (
	// Succeeded: the operation worked.
	Succeeded Outcome = iota
	// Again: a transient failure; another attempt may succeed.
	Again
	// GiveUp: a permanent failure; retrying cannot help.
	GiveUp
)

func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "succeeded"
	case Again:
		return "again"
	case GiveUp:
		return "give-up"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Classifier maps an attempt's error to an Outcome.
type Classifier func(err error) Outcome

// Permanenter is implemented by errors that know whether retrying can help.
type Permanenter interface{ Permanent() bool }

// Classify is the default classifier: nil → Succeeded; an error in the chain implementing
// Permanenter with Permanent() true → GiveUp; everything else, context cancellation
// included → Again (an unknown failure must not lose data).
func Classify(err error) Outcome {
	if err == nil {
		return Succeeded
	}
	var p Permanenter
	if errors.As(err, &p) && p.Permanent() {
		return GiveUp
	}
	return Again
}

// Always treats every error as transient (a last-resort output that must not give up).
func Always(err error) Outcome {
	if err == nil {
		return Succeeded
	}
	return Again
}

// Forever, passed as the duration to Retry, retries until ctx ends (Firehose's S3 rule:
// keep retrying until the records expire).
const Forever time.Duration = -1

// Result reports how a Retry loop ended.
type Result struct {
	// Outcome is Succeeded on success; GiveUp when the classifier said GiveUp or the retry
	// duration ran out (Exhausted); Again only when ctx ended first (the caller should stop
	// without advancing checkpoints).
	Outcome   Outcome
	Attempts  int   // attempts made (Firehose attemptsMade)
	Err       error // last error (nil when Succeeded)
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
	// MaxAttempts, if positive, ends the loop after that many attempts (Exhausted), like
	// the end of the duration does.
	MaxAttempts int
	// OnRetry, if set, is called before each wait with the failed attempt number (1-based),
	// its error and the delay.
	OnRetry func(attempt int, err error, delay time.Duration)
}

// Do runs fn with the zero Retrier. See Retrier.Do.
func Do(ctx context.Context, duration time.Duration, fn func(ctx context.Context) error) Result {
	return Retrier{}.Do(ctx, duration, fn)
}

// Do calls fn until it succeeds, the classifier says GiveUp, the retry duration (measured
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
			res.Outcome = Again
			res.End = now()
			return res
		}
		err := fn(ctx)
		res.Attempts++
		res.End = now()
		res.Err = err
		out := classify(err)
		if out == Succeeded {
			res.Outcome, res.Err = Succeeded, nil
			return res
		}
		if out == GiveUp {
			res.Outcome = GiveUp
			return res
		}
		if ctx.Err() != nil {
			res.Outcome = Again
			return res
		}
		if r.MaxAttempts > 0 && res.Attempts >= r.MaxAttempts {
			res.Outcome, res.Exhausted = GiveUp, true
			return res
		}
		delay := r.Backoff.Delay(res.Attempts - 1)
		if duration >= 0 {
			remaining := deadline.Sub(res.End)
			if remaining <= 0 {
				res.Outcome, res.Exhausted = GiveUp, true
				return res
			}
			delay = min(delay, remaining)
		}
		if r.OnRetry != nil {
			r.OnRetry(res.Attempts, err, delay)
		}
		if serr := sleep(ctx, delay); serr != nil {
			res.Outcome = Again
			return res
		}
	}
}

// Sleep waits d or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d) }

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
