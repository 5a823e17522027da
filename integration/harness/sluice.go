package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// SluiceBinary builds ./cmd/sluice once per test binary and returns its path.
func SluiceBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "sluice-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/sluice")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sluice: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Sluice is a `sluice serve` child process.
type Sluice struct {
	Endpoint   string // http://127.0.0.1:PORT (https:// with TLS)
	Port       int
	CertFile   string // with TLS (StartSluiceTLS): the certificate to trust
	DataDir    string
	ConfigPath string
	LogPath    string

	t    testing.TB
	bin  string
	cmd  *exec.Cmd
	done chan error
	logf *os.File
}

// StartSluice writes a config file — a `server` section with a free port and a temp
// data dir, `log` at debug level, then extraYAML (other top-level sections such as
// `streams:` or `delivery_streams:`) — starts `sluice serve -config` on it and waits for
// /readyz. The process is stopped with SIGTERM when the test ends.
func StartSluice(t testing.TB, extraYAML string) *Sluice {
	t.Helper()
	return StartSluiceServer(t, "", extraYAML)
}

// StartSluiceServer is StartSluice with more keys of the `server` section: serverYAML
// holds them as lines indented by two spaces ("  write_timeout: 2s\n").
func StartSluiceServer(t testing.TB, serverYAML, extraYAML string) *Sluice {
	t.Helper()
	return StartSluiceIn(t, "", serverYAML, extraYAML)
}

// StartSluiceIn is StartSluiceServer with the data dir at dataDir (a temp dir if "").
func StartSluiceIn(t testing.TB, dataDir, serverYAML, extraYAML string) *Sluice {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	scheme := "http"
	if strings.Contains(serverYAML, "\n  tls:") || strings.HasPrefix(serverYAML, "  tls:") {
		scheme = "https"
	}
	s := &Sluice{
		Endpoint:   fmt.Sprintf("%s://127.0.0.1:%d", scheme, port),
		Port:       port,
		DataDir:    dataDir,
		ConfigPath: filepath.Join(dir, "sluice.yaml"),
		LogPath:    filepath.Join(dir, "sluice.log"),
		t:          t,
		bin:        SluiceBinary(t),
	}
	cfg := fmt.Sprintf("server:\n  listen: 127.0.0.1:%d\n  data_dir: %s\n%slog:\n  level: debug\n  format: text\n%s\n", port, s.DataDir, serverYAML, extraYAML)
	if err := os.WriteFile(s.ConfigPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		if s.Running() {
			if err := s.Stop(30 * time.Second); err != nil {
				t.Errorf("stopping sluice: %v", err)
			}
		}
		if t.Failed() {
			if b, err := os.ReadFile(s.LogPath); err == nil {
				t.Logf("sluice log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})
	return s
}

// Start (re)starts the process on the same config and data dir and waits for /readyz.
func (s *Sluice) Start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "serve", "-config", s.ConfigPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start sluice: %v", err)
	}
	s.cmd, s.logf, s.done = cmd, logf, make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()
	if err := WaitHTTP(s.Endpoint+"/readyz", 200, 60*time.Second); err != nil {
		b, _ := os.ReadFile(s.LogPath)
		s.t.Fatalf("sluice not ready: %v\n%s", err, tail(b, 4096))
	}
}

// Running reports whether the process has not exited yet.
func (s *Sluice) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to exit; it returns an
// error unless the exit was clean (status 0).
func (s *Sluice) Stop(timeout time.Duration) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-s.done:
		s.done <- err
		s.logf.Close()
		return err
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("sluice did not exit within %s of SIGTERM", timeout)
	}
}

// Kill sends SIGKILL (a crash) and waits for the process to be gone.
func (s *Sluice) Kill() {
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
	s.logf.Close()
}

// RSS returns the resident memory of the process (VmRSS), in bytes (0 if unknown).
func (s *Sluice) RSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Signal sends sig to the process.
func (s *Sluice) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Log returns what the process has logged so far.
func (s *Sluice) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
