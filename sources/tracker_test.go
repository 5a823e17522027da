package sources

import (
	"fmt"
	"testing"
)

func seqList(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%03d", i))
	}
	return out
}

func checkpointOf(t *testing.T, tr *Tracker) string {
	t.Helper()
	cps := tr.Checkpoints()
	if len(cps) == 0 {
		return ""
	}
	tr.Committed(cps)
	return cps[0].SequenceNumber
}

// The checkpoint moves record by record inside a read batch: a batch whose first records
// are delivered while its rest waits in a later flush no longer holds them back.
func TestTrackerMovesInsideABatch(t *testing.T) {
	tr := NewTracker()
	a := tr.Track("s", seqList(0, 4), []int32{1, 2, 1, 1}, 0)
	a.Done(0)
	if got := checkpointOf(t, tr); got != "000" {
		t.Fatalf("after the first record: checkpoint %q, want 000", got)
	}
	a.Done(1, 2) // record 1 made two records; one of them is still out
	if got := checkpointOf(t, tr); got != "" {
		t.Fatalf("checkpoint moved to %q with a record of source record 001 still out", got)
	}
	a.Done(1)
	if got := checkpointOf(t, tr); got != "002" {
		t.Fatalf("checkpoint %q, want 002", got)
	}
	b := tr.Track("s", seqList(4, 6), []int32{0, 1}, 0) // 004 dropped by the processors
	a.Done(3)
	if got := checkpointOf(t, tr); got != "004" {
		t.Fatalf("checkpoint %q, want 004 (a dropped record counts as done)", got)
	}
	b.Done(0) // its record 0 has nothing to deliver: ignored
	if tr.Pending() != 1 {
		t.Fatalf("pending %d, want 1", tr.Pending())
	}
	b.Done(1)
	if got := checkpointOf(t, tr); got != "005" || tr.Pending() != 0 {
		t.Fatalf("checkpoint %q pending %d, want 005 and 0", got, tr.Pending())
	}
}

// Records that belong to no single source record (processing failures) hold the whole
// batch until they are written.
func TestTrackerUnplacedHoldTheBatch(t *testing.T) {
	tr := NewTracker()
	a := tr.Track("s", seqList(0, 3), []int32{1, 1, 1}, 2)
	b := tr.Track("s", seqList(3, 4), []int32{1}, 0)
	a.Done(0, 1, 2)
	b.Done(0)
	if got := checkpointOf(t, tr); got != "" {
		t.Fatalf("checkpoint %q with processing failures still being written", got)
	}
	a.DoneUnplaced(1)
	if got := checkpointOf(t, tr); got != "" {
		t.Fatalf("checkpoint %q with one processing failure still being written", got)
	}
	a.DoneUnplaced(1)
	if got := checkpointOf(t, tr); got != "003" {
		t.Fatalf("checkpoint %q, want 003", got)
	}
}

// Shards are independent.
func TestTrackerShardsIndependent(t *testing.T) {
	tr := NewTracker()
	a := tr.Track("s1", seqList(0, 2), []int32{1, 1}, 0)
	tr.Track("s2", seqList(0, 2), []int32{1, 1}, 0)
	a.Done(0, 1)
	cps := tr.Checkpoints()
	if len(cps) != 1 || cps[0].ShardID != "s1" || cps[0].SequenceNumber != "001" {
		t.Fatalf("checkpoints %+v, want only s1 at 001", cps)
	}
}

// A negative index in Done stands for one unplaced record (a record whose source record is
// not known).
func TestTrackerDoneNegativeIsUnplaced(t *testing.T) {
	tr := NewTracker()
	a := tr.Track("s", seqList(0, 2), []int32{1, 1}, 1)
	a.Done(0, 1)
	if got := checkpointOf(t, tr); got != "" {
		t.Fatalf("checkpoint %q with an unplaced record out", got)
	}
	a.Done(-1)
	if got := checkpointOf(t, tr); got != "001" || tr.Pending() != 0 {
		t.Fatalf("checkpoint %q pending %d, want 001 and 0", got, tr.Pending())
	}
}
