// Package storetest is a conformance suite for streamcore.Store implementations: every
// store (the file store, the in-memory twin, later a Kafka store) must pass Run, and a
// store that keeps data across restarts must pass RunPersistent too.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

// Opener opens a fresh, empty store; it registers its own cleanup.
type Opener func(t *testing.T) streamcore.Store

// ReOpener opens the store kept in dir (creating it when empty). The suite closes what it
// opens.
type ReOpener func(t *testing.T, dir string) streamcore.Store

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s streamcore.Store)
	}{
		{"EmptyLog", testEmptyLog},
		{"AppendRead", testAppendRead},
		{"ConcurrentAppends", testConcurrentAppends},
		{"AppendMulti", testAppendMulti},
		{"ReadLimits", testReadLimits},
		{"ReadAcrossManyRecords", testReadMany},
		{"LargeRecords", testLargeRecords},
		{"SeekTime", testSeekTime},
		{"Notify", testNotify},
		{"TrimBefore", testTrimBefore},
		{"Logs", testLogs},
		{"MetaTx", testMetaTx},
		{"MetaTxAtomic", testMetaTxAtomic},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// RunPersistent runs Run on stores in fresh directories, then checks that logs and
// metadata survive Close and reopen.
func RunPersistent(t *testing.T, open ReOpener) {
	Run(t, func(t *testing.T) streamcore.Store {
		s := open(t, t.TempDir())
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
	t.Run("ReopenAfterTrim", func(t *testing.T) { testReopenAfterTrim(t, open) })
}

var ctx = context.Background()

// Rec builds a record whose content encodes i, so a test can check it byte-exact.
func Rec(i int, size int) streamcore.LogRecord {
	data := make([]byte, size)
	for j := range data {
		data[j] = byte(i*31 + j*7)
	}
	return streamcore.LogRecord{PartitionKey: fmt.Sprintf("pk-%d", i), Data: data, Flags: uint8(i % 2)}
}

// SameRecord reports whether got carries want's key, data and flags.
func SameRecord(got, want streamcore.LogRecord) bool {
	return got.PartitionKey == want.PartitionKey && bytes.Equal(got.Data, want.Data) && got.Flags == want.Flags
}

func openLog(t *testing.T, s streamcore.Store, id string) streamcore.ShardLog {
	t.Helper()
	l, err := s.OpenLog(ctx, id)
	if err != nil {
		t.Fatalf("OpenLog(%q): %v", id, err)
	}
	return l
}

func appendRecs(t *testing.T, l streamcore.ShardLog, recs ...streamcore.LogRecord) (uint64, int64) {
	t.Helper()
	first, ms, err := l.Append(ctx, recs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return first, ms
}

func readAll(t *testing.T, l streamcore.ShardLog, from uint64) []streamcore.LogRecord {
	t.Helper()
	var out []streamcore.LogRecord
	for {
		recs, err := l.Read(ctx, from, 1000, 1<<20)
		if err != nil {
			t.Fatalf("Read(%d): %v", from, err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		from = recs[len(recs)-1].SeqIx + 1
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func testEmptyLog(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/shardId-000000000000")
	if l.First() != 1 || l.Last() != 0 || l.LastArrivalMs() != 0 {
		t.Fatalf("empty log: First=%d Last=%d LastArrivalMs=%d, want 1, 0, 0", l.First(), l.Last(), l.LastArrivalMs())
	}
	recs, err := l.Read(ctx, 0, 10, 1<<20)
	if err != nil || len(recs) != 0 {
		t.Fatalf("Read on empty log = %d records, %v", len(recs), err)
	}
	if seq, err := l.SeekTime(ctx, 0); err != nil || seq != 1 {
		t.Fatalf("SeekTime on empty log = %d, %v; want 1", seq, err)
	}
	if d, err := l.TrimBefore(ctx, time.Now().Add(time.Hour).UnixMilli()); err != nil || d != 0 {
		t.Fatalf("TrimBefore on empty log = %d, %v", d, err)
	}
}

func testAppendRead(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/shardId-000000000000")
	before := time.Now().UnixMilli()
	first, ms := appendRecs(t, l, Rec(1, 10), Rec(2, 0), Rec(3, 100))
	if first != 1 {
		t.Fatalf("first SeqIx = %d, want 1", first)
	}
	if ms < before {
		t.Fatalf("arrival %d is before the call started (%d)", ms, before)
	}
	first2, ms2 := appendRecs(t, l, Rec(4, 5))
	if first2 != 4 || ms2 < ms {
		t.Fatalf("second append: first=%d ms=%d, want 4 and >= %d", first2, ms2, ms)
	}
	if l.First() != 1 || l.Last() != 4 || l.LastArrivalMs() != ms2 {
		t.Fatalf("First=%d Last=%d LastArrivalMs=%d, want 1, 4, %d", l.First(), l.Last(), l.LastArrivalMs(), ms2)
	}
	got := readAll(t, l, 1)
	if len(got) != 4 {
		t.Fatalf("read %d records, want 4", len(got))
	}
	for i, r := range got {
		if r.SeqIx != uint64(i+1) || !SameRecord(r, Rec(i+1, len(r.Data))) {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
	if got[0].ArrivalMs != ms || got[3].ArrivalMs != ms2 || got[1].ArrivalMs != ms {
		t.Fatalf("arrival times %d %d %d, want %d %d %d", got[0].ArrivalMs, got[1].ArrivalMs, got[3].ArrivalMs, ms, ms, ms2)
	}
	if len(got[1].Data) != 0 || len(got[2].Data) != 100 {
		t.Fatalf("data lengths %d %d", len(got[1].Data), len(got[2].Data))
	}
	// Read from the middle.
	mid, err := l.Read(ctx, 3, 10, 1<<20)
	if err != nil || len(mid) != 2 || mid[0].SeqIx != 3 {
		t.Fatalf("Read(3) = %d records, %v", len(mid), err)
	}
	// The caller owns what Read returns: scribbling on it changes nothing stored.
	for i := range mid[0].Data {
		mid[0].Data[i] = 0xff
	}
	again, _ := l.Read(ctx, 3, 1, 1<<20)
	if !SameRecord(again[0], Rec(3, 100)) {
		t.Fatal("modifying a returned record changed the stored one")
	}
}

func testConcurrentAppends(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/shardId-000000000001")
	const writers, perWriter = 8, 40
	type call struct {
		first uint64
		ms    int64
		ids   []int
	}
	var mu sync.Mutex
	var calls []call
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < perWriter; k++ {
				n := 1 + (w+k)%3
				var recs []streamcore.LogRecord
				var ids []int
				for j := 0; j < n; j++ {
					id := w*10000 + k*10 + j
					recs = append(recs, Rec(id, 50+id%200))
					ids = append(ids, id)
				}
				first, ms, err := l.Append(ctx, recs)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				calls = append(calls, call{first, ms, ids})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got := readAll(t, l, 1)
	total := 0
	for _, c := range calls {
		total += len(c.ids)
	}
	if len(got) != total || l.Last() != uint64(total) {
		t.Fatalf("read %d records, Last=%d, appended %d", len(got), l.Last(), total)
	}
	for i, r := range got {
		if r.SeqIx != uint64(i+1) {
			t.Fatalf("record %d has SeqIx %d", i, r.SeqIx)
		}
		if i > 0 && r.ArrivalMs < got[i-1].ArrivalMs {
			t.Fatalf("arrival went backwards at SeqIx %d", r.SeqIx)
		}
	}
	for _, c := range calls {
		for j, id := range c.ids {
			r := got[c.first-1+uint64(j)]
			if !SameRecord(r, Rec(id, 50+id%200)) || r.ArrivalMs != c.ms {
				t.Fatalf("Append returned first=%d ms=%d but SeqIx %d holds %q at %d", c.first, c.ms, r.SeqIx, r.PartitionKey, r.ArrivalMs)
			}
		}
	}
}

// testAppendMulti: a store that is a MultiAppender appends several logs in one call,
// concurrently with plain Appends, and reports each log's own first SeqIx; an op on a
// deleted log fails without affecting the others.
func testAppendMulti(t *testing.T, s streamcore.Store) {
	ma, ok := s.(streamcore.MultiAppender)
	if !ok {
		t.Skip("store is not a MultiAppender")
	}
	logs := []streamcore.ShardLog{openLog(t, s, "m/shardId-000000000000"), openLog(t, s, "m/shardId-000000000001"), openLog(t, s, "m/shardId-000000000002")}
	appendRecs(t, logs[1], Rec(900, 10)) // log 1 starts one record ahead
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // plain appends to log 0 interleave with the multi calls
		defer wg.Done()
		for k := 0; k < 20; k++ {
			if _, _, err := logs[0].Append(ctx, []streamcore.LogRecord{Rec(1000+k, 20)}); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
		}
	}()
	want := map[string]map[uint64]streamcore.LogRecord{} // log id → SeqIx → record
	ids := []string{"m/shardId-000000000000", "m/shardId-000000000001", "m/shardId-000000000002"}
	for _, id := range ids {
		want[id] = map[uint64]streamcore.LogRecord{}
	}
	for call := 0; call < 20; call++ {
		ops := make([]streamcore.AppendOp, len(logs))
		for i := range ops {
			for j := 0; j <= (call+i)%3; j++ {
				ops[i].Recs = append(ops[i].Recs, Rec(call*100+i*10+j, 30+j))
			}
			ops[i].Log = logs[i]
		}
		ma.AppendMulti(ctx, ops)
		for i, op := range ops {
			if op.Err != nil {
				t.Fatalf("call %d, log %d: %v", call, i, op.Err)
			}
			for j, r := range op.Recs {
				want[ids[i]][op.First+uint64(j)] = r
			}
		}
	}
	wg.Wait()
	for i, l := range logs {
		got := readAll(t, l, 1)
		for _, r := range got {
			if w, ok := want[ids[i]][r.SeqIx]; ok && !SameRecord(r, w) {
				t.Fatalf("log %d SeqIx %d holds %q, AppendMulti reported %q there", i, r.SeqIx, r.PartitionKey, w.PartitionKey)
			}
		}
		n := len(want[ids[i]])
		switch i {
		case 0:
			n += 20 // the plain appends
		case 1:
			n++ // the record appended first
		}
		if len(got) != n {
			t.Fatalf("log %d: read %d records, want %d", i, len(got), n)
		}
	}
	if err := s.DeleteLog(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	ops := []streamcore.AppendOp{{Log: logs[0], Recs: []streamcore.LogRecord{Rec(5000, 5)}}, {Log: logs[2], Recs: []streamcore.LogRecord{Rec(5001, 5)}}}
	ma.AppendMulti(ctx, ops)
	if ops[0].Err != nil || ops[1].Err == nil {
		t.Fatalf("append to a live and a deleted log: errors %v, %v; want nil and an error", ops[0].Err, ops[1].Err)
	}
	if r := readAll(t, logs[0], ops[0].First); len(r) != 1 || !SameRecord(r[0], Rec(5000, 5)) {
		t.Fatalf("live log's record not readable at %d: %v", ops[0].First, r)
	}
}

func testReadLimits(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/limits")
	for i := 1; i <= 10; i++ {
		appendRecs(t, l, Rec(i, 100))
	}
	check := func(from uint64, maxRecs, maxBytes int, wantFirst uint64, wantN int) {
		t.Helper()
		recs, err := l.Read(ctx, from, maxRecs, maxBytes)
		if err != nil {
			t.Fatalf("Read(%d, %d, %d): %v", from, maxRecs, maxBytes, err)
		}
		if len(recs) != wantN || (wantN > 0 && recs[0].SeqIx != wantFirst) {
			first := uint64(0)
			if len(recs) > 0 {
				first = recs[0].SeqIx
			}
			t.Fatalf("Read(%d, %d, %d) = %d records from %d, want %d from %d", from, maxRecs, maxBytes, len(recs), first, wantN, wantFirst)
		}
	}
	check(1, 3, 1<<20, 1, 3)    // record limit
	check(1, 100, 350, 1, 3)    // byte limit: 3×100 fit, the 4th would not
	check(1, 100, 300, 1, 3)    // exactly at the limit
	check(2, 100, 50, 2, 1)     // at least one record even when it is over maxBytes
	check(5, 100, 0, 5, 1)      // maxBytes 0 still returns one record
	check(0, 100, 1<<20, 1, 10) // from below First starts at First
	check(10, 100, 1<<20, 10, 1)
	check(11, 100, 1<<20, 0, 0) // past Last: nothing, no error
	check(1000, 100, 1<<20, 0, 0)
}

func testReadMany(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/many")
	const n = 3000
	for i := 1; i <= n; i += 100 {
		var recs []streamcore.LogRecord
		for j := i; j < i+100; j++ {
			recs = append(recs, Rec(j, j%300))
		}
		appendRecs(t, l, recs...)
	}
	// Sequential reads in small steps, as an iterator would.
	from, seen := uint64(1), 0
	for {
		recs, err := l.Read(ctx, from, 7, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			seen++
			if r.SeqIx != uint64(seen) || !SameRecord(r, Rec(seen, seen%300)) {
				t.Fatalf("record %d wrong: SeqIx %d key %q", seen, r.SeqIx, r.PartitionKey)
			}
		}
		from = recs[len(recs)-1].SeqIx + 1
	}
	if seen != n {
		t.Fatalf("read %d records, want %d", seen, n)
	}
	// Random access.
	for _, at := range []uint64{1, 2, 999, 1000, 1001, 2047, 2999, 3000} {
		recs, err := l.Read(ctx, at, 2, 1<<20)
		if err != nil || len(recs) == 0 || recs[0].SeqIx != at || !SameRecord(recs[0], Rec(int(at), int(at)%300)) {
			t.Fatalf("Read(%d) = %v, %v", at, recs, err)
		}
	}
}

func testSeekTime(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/seek")
	type group struct {
		first uint64
		ms    int64
	}
	var groups []group
	for g := 0; g < 5; g++ {
		if g > 0 {
			prev := groups[g-1].ms
			waitFor(t, "the clock to move", func() bool { return time.Now().UnixMilli() > prev+1 })
		}
		var recs []streamcore.LogRecord
		for j := 0; j < 20; j++ {
			recs = append(recs, Rec(g*100+j, 64))
		}
		first, ms := appendRecs(t, l, recs...)
		groups = append(groups, group{first, ms})
	}
	for i, g := range groups {
		if seq, err := l.SeekTime(ctx, g.ms); err != nil || seq != g.first {
			t.Fatalf("SeekTime(group %d at %d) = %d, %v; want %d", i, g.ms, seq, err, g.first)
		}
		if i > 0 && groups[i-1].ms+1 < g.ms {
			if seq, _ := l.SeekTime(ctx, g.ms-1); seq != g.first {
				t.Fatalf("SeekTime(just before group %d) = %d, want %d", i, seq, g.first)
			}
		}
	}
	if seq, _ := l.SeekTime(ctx, 0); seq != 1 {
		t.Fatalf("SeekTime(0) = %d, want 1", seq)
	}
	if seq, _ := l.SeekTime(ctx, groups[4].ms+1); seq != l.Last()+1 {
		t.Fatalf("SeekTime(after everything) = %d, want %d", seq, l.Last()+1)
	}
}

func testNotify(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/notify")
	ch := l.Notify()
	select {
	case <-ch:
		t.Fatal("Notify channel closed before anything was appended")
	default:
	}
	done := make(chan struct{})
	go func() {
		<-ch
		close(done)
	}()
	appendRecs(t, l, Rec(1, 10))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify channel not closed after an append")
	}
	if l.Last() != 1 {
		t.Fatalf("Last = %d after notification, want 1", l.Last())
	}
	ch2 := l.Notify()
	select {
	case <-ch2:
		t.Fatal("a fresh Notify channel is already closed")
	default:
	}
	appendRecs(t, l, Rec(2, 10))
	waitFor(t, "second notification", func() bool {
		select {
		case <-ch2:
			return true
		default:
			return false
		}
	})
}

func testTrimBefore(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/trim")
	var lastMs int64
	for i := 1; i <= 200; i++ {
		_, lastMs = appendRecs(t, l, Rec(i, 200))
	}
	if d, err := l.TrimBefore(ctx, 0); err != nil || d != 0 {
		t.Fatalf("TrimBefore(0) = %d, %v; want nothing dropped", d, err)
	}
	waitFor(t, "the clock to pass the last arrival", func() bool { return time.Now().UnixMilli() > lastMs+1 })
	// A cut in the future of every record: the store may drop any whole unit it keeps.
	dropped, err := l.TrimBefore(ctx, lastMs+1)
	if err != nil {
		t.Fatalf("TrimBefore: %v", err)
	}
	if dropped > 200 || l.First() != 1+dropped || l.Last() != 200 {
		t.Fatalf("dropped %d: First=%d Last=%d, want First=%d Last=200", dropped, l.First(), l.Last(), 1+dropped)
	}
	got := readAll(t, l, 0)
	if uint64(len(got)) != 200-dropped || (len(got) > 0 && got[0].SeqIx != 1+dropped) {
		t.Fatalf("after trimming %d, read %d records", dropped, len(got))
	}
	for _, r := range got {
		if !SameRecord(r, Rec(int(r.SeqIx), 200)) {
			t.Fatalf("record %d changed by trim", r.SeqIx)
		}
	}
	// Appends continue the numbering; a later cut never drops records at or after it.
	first, ms := appendRecs(t, l, Rec(201, 200))
	if first != 201 {
		t.Fatalf("append after trim got SeqIx %d, want 201", first)
	}
	if _, err := l.TrimBefore(ctx, ms); err != nil {
		t.Fatal(err)
	}
	recs, err := l.Read(ctx, 201, 1, 1<<20)
	if err != nil || len(recs) != 1 || !SameRecord(recs[0], Rec(201, 200)) {
		t.Fatalf("record arrived at the cut was dropped: %v, %v", recs, err)
	}
	if seq, _ := l.SeekTime(ctx, 0); seq != l.First() {
		t.Fatalf("SeekTime(0) after trim = %d, want First %d", seq, l.First())
	}
}

func testLogs(t *testing.T, s streamcore.Store) {
	a := openLog(t, s, "stream-a/shardId-000000000000")
	b := openLog(t, s, "stream-a/shardId-000000000001")
	appendRecs(t, a, Rec(1, 10), Rec(2, 10))
	appendRecs(t, b, Rec(3, 10))
	if a.Last() != 2 || b.Last() != 1 {
		t.Fatalf("logs are not independent: Last %d and %d", a.Last(), b.Last())
	}
	again := openLog(t, s, "stream-a/shardId-000000000000")
	if again.Last() != 2 {
		t.Fatalf("reopening an open log: Last=%d, want 2", again.Last())
	}
	appendRecs(t, again, Rec(4, 10))
	if a.Last() != 3 {
		t.Fatalf("OpenLog twice gave two different logs (Last %d, want 3)", a.Last())
	}
	if err := s.DeleteLog(ctx, "stream-a/shardId-000000000000"); err != nil {
		t.Fatalf("DeleteLog: %v", err)
	}
	fresh := openLog(t, s, "stream-a/shardId-000000000000")
	if fresh.Last() != 0 || fresh.First() != 1 {
		t.Fatalf("log recreated after DeleteLog has First=%d Last=%d, want 1, 0", fresh.First(), fresh.Last())
	}
	if recs := readAll(t, fresh, 0); len(recs) != 0 {
		t.Fatalf("deleted log still has %d records", len(recs))
	}
	if got := readAll(t, b, 0); len(got) != 1 || !SameRecord(got[0], Rec(3, 10)) {
		t.Fatal("deleting one log changed another")
	}
}

func testMetaTx(t *testing.T, s streamcore.Store) {
	err := s.Update(ctx, func(tx streamcore.MetaTx) error {
		if v := tx.Get("streams", "missing"); v != nil {
			return fmt.Errorf("Get on a missing bucket = %q", v)
		}
		for _, k := range []string{"b", "a", "c", "a/1"} {
			if err := tx.Put("streams", k, []byte("v-"+k)); err != nil {
				return err
			}
		}
		if got := tx.Get("streams", "a"); string(got) != "v-a" {
			return fmt.Errorf("read-your-writes: Get = %q", got)
		}
		return tx.Put("other", "x", []byte{0, 1, 2})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	err = s.View(ctx, func(tx streamcore.MetaTx) error {
		var keys []string
		if err := tx.ForEach("streams", func(k string, v []byte) error {
			if string(v) != "v-"+k {
				return fmt.Errorf("ForEach %q = %q", k, v)
			}
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		if fmt.Sprint(keys) != "[a a/1 b c]" {
			return fmt.Errorf("ForEach order %v, want byte order", keys)
		}
		if !bytes.Equal(tx.Get("other", "x"), []byte{0, 1, 2}) {
			return errors.New("value of bucket other lost")
		}
		if err := tx.ForEach("no-such-bucket", func(string, []byte) error { return errors.New("called") }); err != nil {
			return fmt.Errorf("ForEach on a missing bucket: %v", err)
		}
		stop := errors.New("stop")
		n := 0
		if err := tx.ForEach("streams", func(string, []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			return fmt.Errorf("ForEach did not stop on error: %v after %d calls", err, n)
		}
		if err := tx.Put("streams", "z", []byte("z")); err == nil {
			return errors.New("Put in a read-only transaction succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx streamcore.MetaTx) error {
		if err := tx.Delete("streams", "b"); err != nil {
			return err
		}
		return tx.Delete("no-such-bucket", "k")
	}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_ = s.View(ctx, func(tx streamcore.MetaTx) error {
		if tx.Get("streams", "b") != nil || tx.Get("streams", "a") == nil {
			t.Error("Delete removed the wrong key")
		}
		return nil
	})
	// A value passed to Put may be reused by the caller afterwards.
	buf := []byte("first")
	_ = s.Update(ctx, func(tx streamcore.MetaTx) error { return tx.Put("streams", "reuse", buf) })
	copy(buf, "XXXXX")
	_ = s.View(ctx, func(tx streamcore.MetaTx) error {
		if got := string(tx.Get("streams", "reuse")); got != "first" {
			t.Errorf("stored value changed with the caller's buffer: %q", got)
		}
		return nil
	})
}

func testMetaTxAtomic(t *testing.T, s streamcore.Store) {
	if err := s.Update(ctx, func(tx streamcore.MetaTx) error { return tx.Put("shards", "keep", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx streamcore.MetaTx) error {
		if err := tx.Put("shards", "half", []byte("1")); err != nil {
			return err
		}
		if err := tx.Put("lineage", "x", []byte("1")); err != nil {
			return err
		}
		if err := tx.Delete("shards", "keep"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	_ = s.View(ctx, func(tx streamcore.MetaTx) error {
		if tx.Get("shards", "half") != nil || tx.Get("lineage", "x") != nil {
			t.Error("a failed Update left writes behind")
		}
		if tx.Get("shards", "keep") == nil {
			t.Error("a failed Update's delete took effect")
		}
		return nil
	})
	// Concurrent read-modify-write transactions serialize.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				err := s.Update(ctx, func(tx streamcore.MetaTx) error {
					n := 0
					if v := tx.Get("counter", "n"); v != nil {
						fmt.Sscan(string(v), &n)
					}
					return tx.Put("counter", "n", []byte(fmt.Sprint(n+1)))
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	_ = s.View(ctx, func(tx streamcore.MetaTx) error {
		if got := string(tx.Get("counter", "n")); got != "80" {
			t.Errorf("counter = %s after 80 increments: transactions are not isolated", got)
		}
		return nil
	})
}

func testClose(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/close")
	appendRecs(t, l, Rec(1, 10))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.OpenLog(ctx, "s1/other"); err == nil {
		t.Error("OpenLog after Close succeeded")
	}
	if _, _, err := l.Append(ctx, []streamcore.LogRecord{Rec(2, 10)}); err == nil {
		t.Error("Append after Close succeeded")
	}
}

func testReopen(t *testing.T, open ReOpener) {
	dir := t.TempDir()
	s := open(t, dir)
	ids := []string{"st/shardId-000000000000", "st/shardId-000000000001"}
	want := map[string][]streamcore.LogRecord{}
	var lastMs int64
	for k := 0; k < 30; k++ {
		for n, id := range ids {
			l := openLog(t, s, id)
			var recs []streamcore.LogRecord
			for j := 0; j < 10; j++ {
				recs = append(recs, Rec(k*100+j+n*7, 300))
			}
			_, lastMs = appendRecs(t, l, recs...)
			want[id] = append(want[id], recs...)
		}
	}
	if err := s.Update(ctx, func(tx streamcore.MetaTx) error {
		return tx.Put("checkpoints", "g/shardId-000000000000", []byte("42"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, dir)
	defer s.Close()
	for _, id := range ids {
		l := openLog(t, s, id)
		if l.First() != 1 || l.Last() != uint64(len(want[id])) {
			t.Fatalf("%s after reopen: First=%d Last=%d, want 1, %d", id, l.First(), l.Last(), len(want[id]))
		}
		got := readAll(t, l, 1)
		if len(got) != len(want[id]) {
			t.Fatalf("%s: read %d records after reopen, want %d", id, len(got), len(want[id]))
		}
		for i := range got {
			if !SameRecord(got[i], want[id][i]) || got[i].SeqIx != uint64(i+1) {
				t.Fatalf("%s: record %d differs after reopen", id, i+1)
			}
		}
		first, ms := appendRecs(t, l, Rec(9999, 10))
		if first != l.Last() || first != uint64(len(want[id])+1) || ms < lastMs {
			t.Fatalf("%s: append after reopen got SeqIx %d at %d, want %d at >= %d", id, first, ms, len(want[id])+1, lastMs)
		}
	}
	if l := openLog(t, s, ids[1]); l.LastArrivalMs() < lastMs {
		t.Fatalf("LastArrivalMs went backwards over a reopen")
	}
	_ = s.View(ctx, func(tx streamcore.MetaTx) error {
		if got := string(tx.Get("checkpoints", "g/shardId-000000000000")); got != "42" {
			t.Errorf("metadata after reopen = %q, want 42", got)
		}
		return nil
	})
	// A deleted log stays deleted.
	if err := s.DeleteLog(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir)
	defer s2.Close()
	if l := openLog(t, s2, ids[0]); l.Last() != 0 {
		t.Fatalf("deleted log came back with Last=%d", l.Last())
	}
}

func testReopenAfterTrim(t *testing.T, open ReOpener) {
	dir := t.TempDir()
	s := open(t, dir)
	l := openLog(t, s, "st/trim")
	var lastMs int64
	for i := 1; i <= 300; i++ {
		_, lastMs = appendRecs(t, l, Rec(i, 500))
	}
	waitFor(t, "the clock to pass the last arrival", func() bool { return time.Now().UnixMilli() > lastMs+1 })
	dropped, err := l.TrimBefore(ctx, lastMs+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	l = openLog(t, s, "st/trim")
	if l.First() != 1+dropped || l.Last() != 300 {
		t.Fatalf("after trim (%d dropped) and reopen: First=%d Last=%d", dropped, l.First(), l.Last())
	}
	got := readAll(t, l, 0)
	if uint64(len(got)) != 300-dropped {
		t.Fatalf("read %d records, want %d", len(got), 300-dropped)
	}
}

func testLargeRecords(t *testing.T, s streamcore.Store) {
	l := openLog(t, s, "s1/large")
	big := []streamcore.LogRecord{Rec(1, 1<<20), Rec(2, 3<<20), Rec(3, 10), Rec(4, 1<<20)}
	big[2].PartitionKey = ""
	appendRecs(t, l, big...)
	recs, err := l.Read(ctx, 1, 10, 3<<20)
	if err != nil || len(recs) != 1 || !SameRecord(recs[0], big[0]) {
		t.Fatalf("Read with a 3 MiB budget = %d records, %v; want the first 1 MiB record alone", len(recs), err)
	}
	recs, err = l.Read(ctx, 2, 10, 1<<20)
	if err != nil || len(recs) != 1 || !SameRecord(recs[0], big[1]) {
		t.Fatalf("a 3 MiB record must come back alone even over maxBytes: %d records, %v", len(recs), err)
	}
	got := readAll(t, l, 1)
	if len(got) != 4 {
		t.Fatalf("read %d records, want 4", len(got))
	}
	for i := range got {
		if !SameRecord(got[i], big[i]) {
			t.Fatalf("record %d differs", i+1)
		}
	}
}
