package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

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
	if res.Outcome != Delivered || res.Attempts != 3 || res.Err != nil {
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
	if res.Outcome != Rejected || !res.Exhausted {
		t.Fatalf("outcome %v exhausted %v, want rejected+exhausted", res.Outcome, res.Exhausted)
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
	if res.Attempts != 1 || res.Outcome != Rejected || !res.Exhausted {
		t.Fatalf("got %+v", res)
	}
}

func TestRetryPermanentStopsAtOnce(t *testing.T) {
	c := &fakeClock{now: time.Unix(0, 0)}
	res := newRetrier(c).Do(context.Background(), Forever, func(context.Context) error {
		return Permanent("X.Bad", errors.New("no"))
	})
	if res.Attempts != 1 || res.Outcome != Rejected || res.Exhausted || ErrorCode(res.Err, "") != "X.Bad" {
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
		return Retryable("S3.NoSuchBucket", errors.New("gone"))
	})
	if res.Outcome != Errored || res.Attempts != 50 || res.Exhausted {
		t.Fatalf("got outcome %v attempts %d", res.Outcome, res.Attempts)
	}
	// 50 attempts with capped 120s waits: far beyond any finite duration
	if c.now.Sub(time.Unix(0, 0)) < 40*120*time.Second {
		t.Errorf("only %v elapsed", c.now.Sub(time.Unix(0, 0)))
	}
}

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

func TestFailureRecordJSON(t *testing.T) {
	r := Record{Data: []byte("hello\n"), ArrivalMs: 1700000000123, SequenceNumber: "49", SubSequence: 2}
	f := NewFailureRecord(r, 3, "DynamicPartitioning.MetadataExtractionFailed", `bad "json" <x>`, 1700000000999)
	got := string(AppendNDJSON(nil, []FailureRecord{f}))
	want := `{"attemptsMade":3,"arrivalTimestamp":1700000000123,"errorCode":"DynamicPartitioning.MetadataExtractionFailed","errorMessage":"bad \"json\" \u003cx\u003e","attemptEndingTimestamp":1700000000999,"rawData":"aGVsbG8K"}` + "\n"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// optional members and the format-conversion naming
	sub := 4
	f.LastErrorNames = true
	f.SequenceNumber = "49"
	f.SubSequenceNumber = &sub
	f.DataCatalogTable = &DataCatalogTable{DatabaseName: "db", TableName: "t"}
	f.EventID = "49.4"
	var m map[string]any
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	for _, k := range []string{"lastErrorCode", "lastErrorMessage", "sequenceNumber", "subSequenceNumber", "dataCatalogTable", "EventId"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s in %s", k, b)
		}
	}
	if _, ok := m["errorCode"]; ok {
		t.Errorf("errorCode present with LastErrorNames: %s", b)
	}
}

func TestWriteNDJSONMatchesAppend(t *testing.T) {
	recs := []FailureRecord{{AttemptsMade: 1, RawData: []byte{0, 1, 2}}, {AttemptsMade: 2, ErrorCode: "c"}}
	var buf bytes.Buffer
	if err := WriteNDJSON(&buf, recs); err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(AppendNDJSON(nil, recs)) {
		t.Fatalf("WriteNDJSON %q != AppendNDJSON %q", buf.String(), AppendNDJSON(nil, recs))
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 2 {
		t.Fatalf("want 2 lines: %q", buf.String())
	}
}

func TestBatchOldest(t *testing.T) {
	b := Batch{Records: []Record{{ArrivalMs: 5}, {ArrivalMs: 3}, {ArrivalMs: 9}}}
	if b.Oldest() != 3 {
		t.Errorf("Oldest = %d", b.Oldest())
	}
	b.OldestArrivalMs = 1
	if b.Oldest() != 1 {
		t.Errorf("explicit Oldest = %d", b.Oldest())
	}
}

func TestInvalidArgumentIs(t *testing.T) {
	err := errors.Join(InvalidArgument("Prefix %q bad", "x"))
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatal("not ErrInvalidArgument")
	}
}
