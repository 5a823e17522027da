package sources

import (
	"sync"

	"github.com/sluice-io/sluice/streamcore"
)

// Tracker turns out-of-order deliveries into in-order checkpoints. Every batch read from a
// shard is registered (Track) in read order with the number of records it produced after
// processing; deliveries call Ack.Done as records become durable at the destination (or the
// error output). Checkpoints then returns, per shard, the last sequence number of the
// longest prefix of fully delivered batches — never past a record still in flight, which is
// what makes delivery at-least-once.
//
// A Tracker is safe for concurrent use.
type Tracker struct {
	mu     sync.Mutex
	shards map[string]*shardTrack
}

type shardTrack struct {
	queue     []*Ack
	committed string // last sequence handed out by Checkpoints
	ready     string // last sequence of the delivered prefix
}

// Ack is the delivery handle of one read batch.
type Ack struct {
	t       *Tracker
	shard   string
	last    string
	pending int
}

// Shard returns the shard of the records a is for.
func (a *Ack) Shard() string { return a.shard }

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{shards: map[string]*shardTrack{}} }

// Track registers a batch of shard whose last source record has sequence lastSeq and that
// turned into n records to deliver. n == 0 counts as delivered at once.
func (t *Tracker) Track(shard, lastSeq string, n int) *Ack {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.shards[shard]
	if st == nil {
		st = &shardTrack{}
		t.shards[shard] = st
	}
	a := &Ack{t: t, shard: shard, last: lastSeq, pending: n}
	st.queue = append(st.queue, a)
	st.advance()
	return a
}

// Done marks n records of the batch as delivered.
func (a *Ack) Done(n int) {
	if a == nil || n == 0 {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	a.pending -= n
	if st := a.t.shards[a.shard]; st != nil {
		st.advance()
	}
}

func (st *shardTrack) advance() {
	i := 0
	for i < len(st.queue) && st.queue[i].pending <= 0 {
		st.ready = st.queue[i].last
		i++
	}
	if i > 0 {
		st.queue = append(st.queue[:0], st.queue[i:]...)
	}
}

// Checkpoints returns the checkpoints that moved since the last call, one per shard.
func (t *Tracker) Checkpoints() []streamcore.Checkpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []streamcore.Checkpoint
	for id, st := range t.shards {
		if st.ready != "" && st.ready != st.committed {
			out = append(out, streamcore.Checkpoint{ShardID: id, SequenceNumber: st.ready})
		}
	}
	return out
}

// Committed records that cps were stored, so Checkpoints stops returning them. If a
// commit failed, do not call it: the same checkpoints are offered again.
func (t *Tracker) Committed(cps []streamcore.Checkpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, cp := range cps {
		if st := t.shards[cp.ShardID]; st != nil {
			st.committed = cp.SequenceNumber
		}
	}
}

// Pending is the number of records registered but not yet delivered.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, st := range t.shards {
		for _, a := range st.queue {
			if a.pending > 0 {
				n += a.pending
			}
		}
	}
	return n
}
