package buffer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 7, 13, 14, 5, 9, 0, time.UTC)

func TestFlushOnSizeIncludesCrossingRecord(t *testing.T) {
	b := New[int](Hints{Size: 100, Interval: time.Minute}, 0)
	for i := 0; i < 3; i++ {
		got, err := b.Add("", i, 30, t0, t0)
		if err != nil || got != nil {
			t.Fatalf("record %d: flushed too early (%v, %v)", i, got, err)
		}
	}
	got, err := b.Add("", 3, 30, t0, t0) // 120 >= 100
	if err != nil || got == nil {
		t.Fatalf("crossing record did not flush: %v", err)
	}
	if len(got.Items) != 4 || got.Bytes != 120 {
		t.Fatalf("batch = %d items / %d bytes, want 4 / 120", len(got.Items), got.Bytes)
	}
	if b.Bytes() != 0 || b.Partitions() != 0 {
		t.Fatalf("buffer not empty after flush: %d bytes, %d partitions", b.Bytes(), b.Partitions())
	}
}

func TestFlushOnIntervalWithFakeClock(t *testing.T) {
	b := New[string](Hints{Size: 1 << 20, Interval: 60 * time.Second}, 0)
	now := t0
	b.Add("", "a", 1, now.Add(-5*time.Second), now)
	now = now.Add(30 * time.Second)
	b.Add("", "b", 1, now, now)
	if d, ok := b.NextDeadline(); !ok || !d.Equal(t0.Add(60*time.Second)) {
		t.Fatalf("deadline = %v %v, want %v", d, ok, t0.Add(60*time.Second))
	}
	if due := b.Due(t0.Add(59 * time.Second)); len(due) != 0 {
		t.Fatalf("due before interval: %d batches", len(due))
	}
	due := b.Due(t0.Add(60 * time.Second))
	if len(due) != 1 || len(due[0].Items) != 2 {
		t.Fatalf("due at interval = %v", due)
	}
	if !due[0].Oldest.Equal(t0.Add(-5 * time.Second)) {
		t.Fatalf("oldest = %v, want earliest arrival", due[0].Oldest)
	}
	if _, ok := b.NextDeadline(); ok {
		t.Fatal("deadline reported on an empty buffer")
	}
}

func TestIntervalZeroFlushesAtOnce(t *testing.T) {
	b := New[int](Hints{Interval: 0}, 0)
	if b.Hints().Size != DefaultSize {
		t.Fatalf("default size = %d", b.Hints().Size)
	}
	b.Add("p", 1, 10, t0, t0)
	if due := b.Due(t0); len(due) != 1 {
		t.Fatalf("interval 0: %d batches due, want 1", len(due))
	}
}

func TestOneBatchPerPartitionAndLimit(t *testing.T) {
	b := New[int](Hints{Size: 1000, Interval: time.Minute}, 3)
	for i := 0; i < 3; i++ {
		if _, err := b.Add(fmt.Sprintf("p%d", i), i, 10, t0, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Add("p0", 9, 10, t0, t0); err != nil {
		t.Fatalf("existing partition refused: %v", err)
	}
	if _, err := b.Add("p3", 3, 10, t0, t0); !errors.Is(err, ErrPartitionLimit) {
		t.Fatalf("4th partition: err = %v, want ErrPartitionLimit", err)
	}
	all := b.All()
	if len(all) != 3 || all[0].Partition != "p0" || len(all[0].Items) != 2 {
		t.Fatalf("All() = %+v", all)
	}
	// once flushed, partitions free up again
	if _, err := b.Add("p3", 3, 10, t0, t0); err != nil {
		t.Fatalf("partition after flush: %v", err)
	}
}

func TestBudgetBlocksUntilReleased(t *testing.T) {
	bg := NewBudget(100)
	bg.Charge(60)
	if err := bg.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	bg.Charge(60) // overshoot allowed
	if !bg.Full() {
		t.Fatal("budget should be full")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bg.Wait(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned while full: %v", err)
	default:
	}
	bg.Release(60)
	if err := <-done; err != nil {
		t.Fatalf("Wait after release: %v", err)
	}
	bg.Charge(60)
	go func() { done <- bg.Wait(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on cancelled ctx = %v", err)
	}
}
