package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

type permErr struct{}

func (permErr) Error() string   { return "no" }
func (permErr) Permanent() bool { return true }

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Rand: func() float64 { return 0.5 }} // no jitter effect at the midpoint
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 120, 120}
	for n, w := range want {
		if got := b.Delay(n); got != w*time.Second {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Second)
		}
	}
	if got := b.Delay(1000); got != 120*time.Second {
		t.Errorf("Delay(1000) = %v, want 120s", got)
	}
	lo := Backoff{Rand: func() float64 { return 0 }}.Delay(3)
	hi := Backoff{Rand: func() float64 { return 0.999999 }}.Delay(3)
	if lo != time.Duration(0.85*float64(8*time.Second)) || hi < 9199*time.Millisecond || hi > 9200*time.Millisecond {
		t.Errorf("jitter bounds for 8s: %v .. %v, want 6.8s .. 9.2s", lo, hi)
	}
}

// fakeClock drives Retrier without real sleeping.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	return nil
}

func newRetrier(c *fakeClock) Retrier {
	return Retrier{Now: c.Now, Sleep: c.Sleep, Backoff: Backoff{Jitter: -1}}
}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	c := &fakeClock{now: time.Unix(1000, 0)}
	calls := 0
	res := newRetrier(c).Do(context.Background(), time.Minute, func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("boom")
		}
		return nil
	})
	if res.Outcome != Succeeded || res.Attempts != 3 || res.Err != nil {
		t.Fatalf("got %+v", res)
	}
	if got := c.now.Sub(time.Unix(1000, 0)); got != 3*time.Second { // 1s + 2s
		t.Errorf("waited %v, want 3s", got)
	}
}

func TestRetryStopsAtDuration(t *testing.T) {
	c := &fakeClock{now: time.Unix(0, 0)}
	var delays []time.Duration
	r := newRetrier(c)
	r.OnRetry = func(_ int, _ error, d time.Duration) { delays = append(delays, d) }
	res := r.Do(context.Background(), 10*time.Second, func(context.Context) error { return errors.New("down") })
	if res.Outcome != GiveUp || !res.Exhausted {
		t.Fatalf("outcome %v exhausted %v, want give-up+exhausted", res.Outcome, res.Exhausted)
	}
	// attempts at 0, 1, 3, 7, 10 (last wait shortened to the deadline)
	if res.Attempts != 5 {
		t.Errorf("attempts = %d, want 5 (delays %v)", res.Attempts, delays)
	}
	if c.now.Sub(time.Unix(0, 0)) != 10*time.Second {
		t.Errorf("ended at %v, want 10s", c.now.Sub(time.Unix(0, 0)))
	}
}

func TestRetryZeroDurationSingleAttempt(t *testing.T) {
	c := &fakeClock{now: time.Unix(0, 0)}
	res := newRetrier(c).Do(context.Background(), 0, func(context.Context) error { return errors.New("x") })
	if res.Attempts != 1 || res.Outcome != GiveUp || !res.Exhausted {
		t.Fatalf("got %+v", res)
	}
}

func TestRetryPermanentStopsAtOnce(t *testing.T) {
	c := &fakeClock{now: time.Unix(0, 0)}
	res := newRetrier(c).Do(context.Background(), Forever, func(context.Context) error {
		return permErr{}
	})
	if res.Attempts != 1 || res.Outcome != GiveUp || res.Exhausted || !errors.Is(res.Err, permErr{}) {
		t.Fatalf("got %+v", res)
	}
}

func TestRetryForeverUntilCancel(t *testing.T) {
	c := &fakeClock{now: time.Unix(0, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	res := newRetrier(c).Do(ctx, Forever, func(context.Context) error {
		calls++
		if calls == 50 {
			cancel()
		}
		return errors.New("gone")
	})
	if res.Outcome != Again || res.Attempts != 50 || res.Exhausted {
		t.Fatalf("got outcome %v attempts %d", res.Outcome, res.Attempts)
	}
	// 50 attempts with capped 120s waits: far beyond any finite duration
	if c.now.Sub(time.Unix(0, 0)) < 40*120*time.Second {
		t.Errorf("only %v elapsed", c.now.Sub(time.Unix(0, 0)))
	}
}

func TestClassifyPermanenter(t *testing.T) {
	if Classify(nil) != Succeeded || Classify(errors.New("x")) != Again || Classify(context.Canceled) != Again {
		t.Fatal("plain errors must be transient")
	}
	if Classify(errors.Join(errors.New("wrap"), permErr{})) != GiveUp {
		t.Fatal("a Permanenter in the chain must give up")
	}
	if Always(permErr{}) != Again {
		t.Fatal("Always never gives up")
	}
}

func TestRetryMaxAttempts(t *testing.T) {
	c := &fakeClock{now: time.Unix(0, 0)}
	r := newRetrier(c)
	r.MaxAttempts = 3
	calls := 0
	res := r.Do(context.Background(), Forever, func(context.Context) error { calls++; return errors.New("x") })
	if calls != 3 || res.Attempts != 3 || res.Outcome != GiveUp || !res.Exhausted {
		t.Fatalf("calls %d, %+v", calls, res)
	}
}
