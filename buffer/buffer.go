// Package buffer groups records of a delivery pipeline into batches that are flushed on
// size or on interval, whichever comes first (firehose.md §4), with one batch per dynamic
// partition, and accounts their memory against a budget shared by every pipeline.
//
// A Buffer is driven by its owner with explicit instants (no clock inside), so its
// behaviour is deterministic and tests run with a fake clock:
//
//	ready, err := b.Add(partition, item, size, arrival, now) // batches that crossed the size
//	due := b.Due(now)                                          // batches whose interval elapsed
//	wake := b.NextDeadline()                                   // when Due will next return something
//
// Sizes are the uncompressed, post-processing bytes of each record; the record that makes
// a batch cross the size limit is included in that batch.
package buffer

import (
	"errors"
	"sort"
	"time"
)

// Defaults of Sluice (firehose.md §4): 32 MiB or 60 s.
const (
	DefaultSize     int64         = 32 << 20
	DefaultInterval time.Duration = 60 * time.Second
	// MaxPartitions is the number of active dynamic partitions per delivery stream.
	MaxPartitions = 500
)

// ErrPartitionLimit is returned by Add when a new partition would exceed the active
// partition limit; the caller routes the record to `partitioning-failed`.
var ErrPartitionLimit = errors.New("buffer: active partition limit exceeded")

// Hints are the flush triggers. A zero Size takes DefaultSize. Interval 0 means "flush as
// soon as possible": every non-empty batch is due at once.
type Hints struct {
	Size     int64
	Interval time.Duration
}

// WithDefaults returns h with a zero Size replaced by DefaultSize.
func (h Hints) WithDefaults() Hints {
	if h.Size <= 0 {
		h.Size = DefaultSize
	}
	if h.Interval < 0 {
		h.Interval = 0
	}
	return h
}

// Batch is a group of records flushed together into one object.
type Batch[T any] struct {
	Partition string
	Items     []T
	Bytes     int64
	// Oldest is the earliest arrival time of the batch's records; object keys use it.
	Oldest time.Time
	// Started is when the first record entered the batch; the interval counts from it.
	Started time.Time
}

// Buffer holds the open batches of one pipeline. It is not safe for concurrent use; the
// pipeline owns it from one goroutine.
type Buffer[T any] struct {
	hints         Hints
	maxPartitions int
	open          map[string]*Batch[T]
	bytes         int64
}

// New returns an empty buffer. maxPartitions <= 0 takes MaxPartitions.
func New[T any](h Hints, maxPartitions int) *Buffer[T] {
	if maxPartitions <= 0 {
		maxPartitions = MaxPartitions
	}
	return &Buffer[T]{hints: h.WithDefaults(), maxPartitions: maxPartitions, open: map[string]*Batch[T]{}}
}

// Hints returns the buffer's effective hints.
func (b *Buffer[T]) Hints() Hints { return b.hints }

// SetHints changes the triggers (UpdateDestination); open batches keep their records and
// are judged by the new triggers from now on.
func (b *Buffer[T]) SetHints(h Hints) { b.hints = h.WithDefaults() }

// Add appends item (size bytes, arrived at arrival) to the batch of partition. It returns
// the batch if it reached the size trigger (the batch is then removed from the buffer),
// or ErrPartitionLimit if partition is new and the partition limit is reached.
func (b *Buffer[T]) Add(partition string, item T, size int64, arrival, now time.Time) (*Batch[T], error) {
	bt, ok := b.open[partition]
	if !ok {
		if len(b.open) >= b.maxPartitions {
			return nil, ErrPartitionLimit
		}
		bt = &Batch[T]{Partition: partition, Oldest: arrival, Started: now}
		b.open[partition] = bt
	}
	bt.Items = append(bt.Items, item)
	bt.Bytes += size
	b.bytes += size
	if arrival.Before(bt.Oldest) {
		bt.Oldest = arrival
	}
	if bt.Bytes >= b.hints.Size {
		b.remove(bt)
		return bt, nil
	}
	return nil, nil
}

// Due removes and returns every batch whose interval has elapsed at now, oldest first.
func (b *Buffer[T]) Due(now time.Time) []*Batch[T] {
	var out []*Batch[T]
	for _, bt := range b.open {
		if !now.Before(bt.Started.Add(b.hints.Interval)) {
			out = append(out, bt)
		}
	}
	for _, bt := range out {
		b.remove(bt)
	}
	sortBatches(out)
	return out
}

// All removes and returns every open batch (shutdown, memory pressure, forced flush).
func (b *Buffer[T]) All() []*Batch[T] {
	out := make([]*Batch[T], 0, len(b.open))
	for _, bt := range b.open {
		out = append(out, bt)
	}
	for _, bt := range out {
		b.remove(bt)
	}
	sortBatches(out)
	return out
}

// NextDeadline is the earliest instant at which Due returns a batch; ok is false when the
// buffer is empty.
func (b *Buffer[T]) NextDeadline() (t time.Time, ok bool) {
	for _, bt := range b.open {
		d := bt.Started.Add(b.hints.Interval)
		if !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	return t, ok
}

// Bytes is the total size of the records held in open batches.
func (b *Buffer[T]) Bytes() int64 { return b.bytes }

// Partitions is the number of open (non-empty) batches.
func (b *Buffer[T]) Partitions() int { return len(b.open) }

func (b *Buffer[T]) remove(bt *Batch[T]) {
	delete(b.open, bt.Partition)
	b.bytes -= bt.Bytes
}

func sortBatches[T any](bs []*Batch[T]) {
	sort.Slice(bs, func(i, j int) bool {
		if !bs[i].Started.Equal(bs[j].Started) {
			return bs[i].Started.Before(bs[j].Started)
		}
		return bs[i].Partition < bs[j].Partition
	})
}

// Oldest is the earliest arrival among the open batches; ok is false when empty.
func (b *Buffer[T]) Oldest() (t time.Time, ok bool) {
	for _, bt := range b.open {
		if !ok || bt.Oldest.Before(t) {
			t, ok = bt.Oldest, true
		}
	}
	return t, ok
}
