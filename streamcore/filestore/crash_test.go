package filestore

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/streamcore"
)

// The crash test re-executes the test binary as a child that appends in a loop and
// prints every acknowledged append; the parent kills it with SIGKILL at a random moment,
// reopens the store and checks that every acknowledged record is there byte-exact, that
// every record present is one a writer sent (nothing invented or damaged), and that SeqIx
// has no gaps. Odd iterations use the interval sync policy. SLUICE_CRASH_SECONDS (default 10) sets how long the loop runs.

const (
	envCrashDir  = "SLUICE_FILESTORE_CRASH_DIR"
	envCrashIter = "SLUICE_FILESTORE_CRASH_ITER"
)

// crashLogs are the logs the children write, SLUICE_CRASH_SHARDS of them (default 2).
var crashLogs = func() []string {
	n, _ := strconv.Atoi(os.Getenv("SLUICE_CRASH_SHARDS"))
	n = max(n, 2)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("crash/shardId-%012d", i)
	}
	return ids
}()

// crashOptions: a CheckpointBytes under 16 frames, so no journal checkpoint skips a
// log's index checkpoint (loseUnsynced cuts segments back to them).
func crashOptions() Options {
	return Options{SegmentBytes: 96 << 10, IndexEveryRecords: 16, CheckpointBytes: 512, JournalBytes: 64 << 10, Logger: quiet}
}

// crashJournal: iterations 2 and 3 of every 4 run with the journal, and the parent
// then also drops what the segment files had not synced (a power cut), so the records
// acknowledged through the journal only come back from it.
func crashJournal(iter int) bool { return iter%4 >= 2 }

// crashRecord is the deterministic content of record j of append counter of writer tag.
func crashRecord(tag, counter, j int) streamcore.LogRecord {
	pk := fmt.Sprintf("%d-%d-%d", tag, counter, j)
	h := fnv.New64a()
	h.Write([]byte(pk))
	seed := h.Sum64()
	data := make([]byte, int(seed%1500))
	x := seed
	for i := range data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		data[i] = byte(x)
	}
	return streamcore.LogRecord{PartitionKey: pk, Data: data, Flags: uint8(seed & 1)}
}

// TestCrashChild is the child's body; it does nothing unless started by TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashRecovery")
	}
	iter, _ := strconv.Atoi(os.Getenv(envCrashIter))
	o := crashOptions()
	o.Journal = JournalOff
	if crashJournal(iter) {
		o.Journal = JournalOn
	}
	if iter%2 == 1 {
		// A process kill keeps the page cache, so even records acknowledged after the
		// write alone (before their fsync) must survive.
		o.Sync, o.SyncInterval = SyncInterval, 20*time.Millisecond
	}
	s, err := Open(dir, o)
	if err != nil {
		fmt.Printf("OPENERR %v\n", err)
		os.Exit(3)
	}
	fmt.Println("READY")
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs := map[string]streamcore.ShardLog{}
			for i, id := range crashLogs {
				if i%4 != g%4 && len(crashLogs) >= 4 {
					continue
				}
				l, err := s.OpenLog(bg, id)
				if err != nil {
					fmt.Printf("OPENERR %v\n", err)
					os.Exit(3)
				}
				logs[id] = l
			}
			tag := iter*16 + g
			for counter := 0; ; counter++ {
				id := crashLogs[(g+4*counter)%len(crashLogs)]
				if len(crashLogs) < 4 {
					id = crashLogs[g%len(crashLogs)]
				}
				l := logs[id]
				n := 1 + counter%4
				if counter%7 == 6 {
					n = 30 // ~22 KB: over inlineMaxBytes, so it goes through a commit round
				}
				recs := make([]streamcore.LogRecord, n)
				for j := range recs {
					recs[j] = crashRecord(tag, counter, j)
				}
				first, _, err := l.Append(bg, recs)
				if err != nil {
					fmt.Printf("APPENDERR %v\n", err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Printf("ACK %s %d %d %d %d\n", id, first, tag, counter, n)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}

type crashAck struct {
	first               uint64
	tag, counter, count int
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	budget := 10 * time.Second
	if v := os.Getenv("SLUICE_CRASH_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("SLUICE_CRASH_SECONDS: %v", err)
		}
		budget = time.Duration(n) * time.Second
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := map[string]map[uint64]string{} // log → SeqIx → partition key
	for _, id := range crashLogs {
		acked[id] = map[uint64]string{}
	}
	start := time.Now()
	iters, truncations, totalAcks := 0, 0, 0
	var replayed uint64
	for iter := 0; iters < 3 || time.Since(start) < budget; iter++ {
		iters++
		acks := runCrashChild(t, dir, iter, time.Duration(10+rng.IntN(250))*time.Millisecond)
		if crashJournal(iter) {
			loseUnsynced(t, dir)
		}
		for id, list := range acks {
			for _, a := range list {
				for j := 0; j < a.count; j++ {
					acked[id][a.first+uint64(j)] = crashRecord(a.tag, a.counter, j).PartitionKey
				}
				totalAcks++
			}
		}
		tr, rp := verifyCrashDir(t, dir, acked)
		truncations += tr
		replayed += rp
		if t.Failed() {
			t.Fatalf("iteration %d failed", iter)
		}
	}
	t.Logf("%d kill -9 iterations over %d logs in %v, %d acknowledged appends verified, %d torn tails truncated, %d records replayed from the journal",
		iters, len(crashLogs), time.Since(start).Round(time.Millisecond), totalAcks, truncations, replayed)
}

// runCrashChild starts a child on dir, lets it append for about d after it is ready,
// kills it with SIGKILL and returns what it acknowledged.
func runCrashChild(t *testing.T, dir string, iter int, d time.Duration) map[string][]crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashIter+"="+strconv.Itoa(iter))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := map[string][]crashAck{}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.OnceFunc(func() { close(ready) })
		defer once()
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) > 0 && f[0] == "READY":
				once()
			case len(f) > 0 && (f[0] == "OPENERR" || f[0] == "APPENDERR"):
				done <- fmt.Errorf("child: %s", sc.Text())
				return
			case len(f) == 6 && f[0] == "ACK":
				first, _ := strconv.ParseUint(f[2], 10, 64)
				tag, _ := strconv.Atoi(f[3])
				counter, _ := strconv.Atoi(f[4])
				n, _ := strconv.Atoi(f[5])
				acks[f[1]] = append(acks[f[1]], crashAck{first, tag, counter, n})
			}
		}
		done <- nil
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("crash child never became ready")
	}
	time.Sleep(d)
	_ = cmd.Process.Kill() // SIGKILL
	if err := <-done; err != nil {
		_ = cmd.Wait()
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return acks
}

// verifyCrashDir reopens the store and checks it against what was acknowledged.
func verifyCrashDir(t *testing.T, dir string, acked map[string]map[uint64]string) (int, uint64) {
	t.Helper()
	s, err := Open(dir, crashOptions())
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	rep := s.RecoveryReport()
	for _, id := range crashLogs {
		l, err := s.OpenLog(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		next := uint64(1)
		for {
			recs, err := l.Read(bg, next, 1000, 4<<20)
			if err != nil {
				t.Fatalf("%s: Read(%d): %v", id, next, err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				if r.SeqIx != next {
					t.Fatalf("%s: SeqIx %d where %d was expected", id, r.SeqIx, next)
				}
				var tag, counter, j int
				if _, err := fmt.Sscanf(r.PartitionKey, "%d-%d-%d", &tag, &counter, &j); err != nil {
					t.Fatalf("%s: record %d has a key no writer sent: %q", id, r.SeqIx, r.PartitionKey)
				}
				want := crashRecord(tag, counter, j)
				if string(r.Data) != string(want.Data) || r.Flags != want.Flags {
					t.Fatalf("%s: record %d (%s) is damaged", id, r.SeqIx, r.PartitionKey)
				}
				if seen[r.PartitionKey] {
					t.Fatalf("%s: record %s stored twice", id, r.PartitionKey)
				}
				seen[r.PartitionKey] = true
				if pk, ok := acked[id][r.SeqIx]; ok && pk != r.PartitionKey {
					t.Fatalf("%s: SeqIx %d acknowledged as %s, holds %s", id, r.SeqIx, pk, r.PartitionKey)
				}
				next++
			}
		}
		for seq, pk := range acked[id] {
			if seq >= next {
				t.Fatalf("%s: acknowledged record %d (%s) lost; log ends at %d", id, seq, pk, next-1)
			}
		}
	}
	return len(rep.Truncations), rep.Replayed
}
