package buffer

import (
	"context"
	"sync"
)

// DefaultBudget is the memory budget shared by all pipelines when none is configured.
const DefaultBudget int64 = 256 << 20

// Budget is the memory budget shared by every delivery pipeline of a daemon. Pipelines
// Charge the bytes they hold (buffered and in flight to the destination) and Release them
// once delivered. When the budget is used up, Wait blocks: pipelines stop reading from
// their source (the data stays safe in the stream) until deliveries free memory.
//
// A Budget is safe for concurrent use. A single Charge may take the usage above the limit
// (one read batch of overshoot), so a pipeline always makes progress.
type Budget struct {
	mu    sync.Mutex
	max   int64
	used  int64
	freed chan struct{} // closed (and replaced) whenever usage drops
}

// NewBudget returns a budget of max bytes (<= 0 takes DefaultBudget).
func NewBudget(max int64) *Budget {
	if max <= 0 {
		max = DefaultBudget
	}
	return &Budget{max: max, freed: make(chan struct{})}
}

// Max is the budget's limit in bytes.
func (b *Budget) Max() int64 { return b.max }

// Used is the number of bytes currently charged.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Full reports whether the budget is used up.
func (b *Budget) Full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used >= b.max
}

// Charge adds n bytes to the usage.
func (b *Budget) Charge(n int64) {
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// Release gives n bytes back and wakes the waiters.
func (b *Budget) Release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.used = 0
	}
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// Wait blocks until the budget has room or ctx is done.
func (b *Budget) Wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		if b.used < b.max {
			b.mu.Unlock()
			return nil
		}
		ch := b.freed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Freed returns a channel closed the next time usage drops.
func (b *Budget) Freed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.freed
}
