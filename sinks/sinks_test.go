package sinks

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sources/record"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want Outcome
	}{
		{nil, Delivered},
		{errors.New("x"), Errored},
		{context.Canceled, Errored},
		{Retryable("a", nil), Errored},
		{Permanent("b", nil), Rejected},
		{errors.Join(errors.New("wrap"), Permanent("b", nil)), Rejected},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestBatchOldest(t *testing.T) {
	b := Batch{Records: []record.Record{{ArrivalMs: 5}, {ArrivalMs: 3}, {ArrivalMs: 9}}}
	if b.Oldest() != 3 {
		t.Errorf("Oldest = %d", b.Oldest())
	}
	b.OldestArrivalMs = 1
	if b.Oldest() != 1 {
		t.Errorf("explicit Oldest = %d", b.Oldest())
	}
}

func TestErrorHints(t *testing.T) {
	if !Held(Unavailable("S3.ConnectionFailed", errors.New("refused"))) || Held(Retryable("x", nil)) {
		t.Fatal("Held must tell Unavailable from Retryable")
	}
	if d := WaitHint(fmt.Errorf("wrapped: %w", RetryAfter(3*time.Second, "HEC.Busy", nil))); d != 3*time.Second {
		t.Fatalf("WaitHint = %v", d)
	}
	err := NotConnected("OS.Down", errors.New("dial"))
	if !errors.Is(err, ErrNotConnected) || Classify(err) != Errored || ErrorCode(err, "") != "OS.Down" {
		t.Fatalf("NotConnected: %v", err)
	}
}
