package sources

import (
	"sync"

	"github.com/sluice-io/sluice/streamcore"
)

// Tracker turns out-of-order deliveries into in-order checkpoints, record by record. Every
// batch read from a shard is registered (Track) in read order with, per source record, the
// number of records it turned into after processing; deliveries report each of those as it
// becomes durable at the destination (or the error output) with Ack.Done. Checkpoints then
// returns, per shard, the sequence number of the last source record of the longest fully
// delivered prefix — never past a record still in flight (which is what makes delivery at
// least once), and not held back by the rest of a read batch once its first records are done
// (so a crash repeats no more than what was in flight).
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
	t     *Tracker
	shard string
	seqs  []string // the source records' sequence numbers, in read order
	left  []int32  // per source record: its records not yet done
	next  int      // first source record not yet counted into the prefix
	// unplaced: records not tied to one source record (processing failures) not yet
	// done; while any is, no record of the batch counts as done
	unplaced int
	pending  int // every record not yet done
}

// Shard returns the shard of the records a is for.
func (a *Ack) Shard() string { return a.shard }

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{shards: map[string]*shardTrack{}} }

// Track registers a batch of shard: seqs are its source records' sequence numbers in read
// order and outputs[i] the number of records source record i turned into (0: done at once);
// unplaced counts the records that belong to the batch but to no single source record.
// Track takes ownership of outputs. len(outputs) must equal len(seqs).
func (t *Tracker) Track(shard string, seqs []string, outputs []int32, unplaced int) *Ack {
	a := &Ack{t: t, shard: shard, seqs: seqs, left: outputs, unplaced: unplaced, pending: unplaced}
	for _, n := range outputs {
		a.pending += int(n)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.shards[shard]
	if st == nil {
		st = &shardTrack{}
		t.shards[shard] = st
	}
	st.queue = append(st.queue, a)
	st.advance()
	return a
}

// Done marks one record of source record i (an index into Track's seqs) as delivered for
// each i in idx; a negative i stands for one of the batch's unplaced records.
func (a *Ack) Done(idx ...int32) {
	if a == nil || len(idx) == 0 {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for _, i := range idx {
		switch {
		case i < 0 && a.unplaced > 0:
			a.unplaced--
			a.pending--
		case i >= 0 && int(i) < len(a.left) && a.left[i] > 0:
			a.left[i]--
			a.pending--
		}
	}
	if st := a.t.shards[a.shard]; st != nil {
		st.advance()
	}
}

// DoneUnplaced marks n of the batch's unplaced records as delivered.
func (a *Ack) DoneUnplaced(n int) {
	if a == nil || n <= 0 {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	n = min(n, a.unplaced)
	a.unplaced -= n
	a.pending -= n
	if st := a.t.shards[a.shard]; st != nil {
		st.advance()
	}
}

// advance moves ready over the done prefix: whole batches, then the done head of the first
// batch with records still out.
func (st *shardTrack) advance() {
	i := 0
	for ; i < len(st.queue); i++ {
		a := st.queue[i]
		if a.unplaced > 0 {
			break
		}
		for a.next < len(a.left) && a.left[a.next] == 0 {
			a.next++
		}
		if a.next > 0 {
			st.ready = a.seqs[a.next-1]
		}
		if a.next < len(a.left) {
			break
		}
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
			n += a.pending
		}
	}
	return n
}
