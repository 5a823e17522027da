//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
)

// A SIGTERM that arrives while the daemon is still recovering its storage stops it
// cleanly once recovery is done (exit 0, "stopping" logged) instead of killing it.
func TestSigtermDuringRecoveryStopsCleanly(t *testing.T) {
	s := harness.StartSluice(t, "streams:\n  - name: fill\n    shards: 4\n    quotas:\n      unlimited: true\n")
	// ~200 MiB in 4 logs, then no index files: the next start rebuilds every index by
	// scanning the segments, which takes long enough to signal the process meanwhile.
	body := rawPutRecordsBody("fill", 500, 1024)
	for i := 0; i < 400; i++ {
		resp, err := http.DefaultClient.Do(rawPutRecordsRequest(context.Background(), s.Endpoint, body))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(out, []byte(`{"FailedRecordCount":0`)) {
			t.Fatalf("filling: status %d %.200s", resp.StatusCode, out)
		}
	}
	if err := s.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	idx, _ := filepath.Glob(filepath.Join(s.DataDir, "*", "*", "*.idx"))
	if more, _ := filepath.Glob(filepath.Join(s.DataDir, "*", "*", "*", "*.idx")); len(more) > 0 {
		idx = append(idx, more...)
	}
	if len(idx) == 0 {
		t.Fatalf("no index files under %s to remove", s.DataDir)
	}
	for _, p := range idx {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}

	logf, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(harness.SluiceBinary(t), "serve", "-config", s.ConfigPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Signal as soon as the process has a segment file open: recovery is running.
	deadline := time.Now().Add(30 * time.Second)
	for !holdsSegment(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the daemon never opened a segment file")
		}
		time.Sleep(200 * time.Microsecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no exit within 60 s of SIGTERM")
	}
	log := s.Log()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("SIGTERM during recovery: %v (want a clean exit 0)", err) // the harness prints the log
	}
	if err != nil {
		t.Fatal(err)
	}
	last := log[strings.LastIndex(log, "storage recovered"):]
	if !strings.Contains(last, "stopping") || !strings.Contains(last, "stopped") {
		t.Fatal("no graceful stop after recovery in the log") // the harness prints the log
	}
	t.Logf("recovery: %s", strings.SplitN(last, "\n", 2)[0])
}

// holdsSegment reports whether process pid has a .seg file open.
func holdsSegment(pid int) bool {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasSuffix(target, ".seg") {
			return true
		}
	}
	return false
}
