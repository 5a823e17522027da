package harness

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// server is one running external process the harness owns.
type server struct {
	name string
	stop func() error
}

var (
	mu      sync.Mutex
	running = map[string]*server{}
	started = map[string]any{} // name → the value handed to tests (e.g. *MinIOServer)
	failed  = map[string]error{}
)

// Main runs the tests and stops every server the harness started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// StopAll stops every server the harness started, in no particular order.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for name, s := range running {
		if err := s.stop(); err != nil {
			log.Printf("harness: stopping %s: %v", name, err)
		}
		delete(running, name)
		delete(started, name)
	}
}

// shared starts the named server once per test binary with start and returns its handle.
// A failed start is remembered so that later tests fail fast with the same error.
func shared[T any](t testing.TB, name string, start func() (T, func() error, error)) T {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if v, ok := started[name]; ok {
		return v.(T)
	}
	if err, ok := failed[name]; ok {
		t.Fatalf("harness: %s failed to start earlier: %v", name, err)
	}
	v, stop, err := start()
	if err != nil {
		failed[name] = err
		t.Fatalf("harness: start %s: %v", name, err)
	}
	running[name] = &server{name: name, stop: stop}
	started[name] = v
	return v
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CacheDir is where the harness keeps binaries it builds or downloads.
func CacheDir() string {
	if d := os.Getenv("SLUICE_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "sluice")
}

// tempDir makes a directory that outlives a single test (servers are shared) and is
// removed by the server's stop function unless SLUICE_KEEP_TMP is set.
func tempDir(prefix string) (string, func(), error) {
	d, err := os.MkdirTemp("", "sluice-"+prefix+"-")
	if err != nil {
		return "", nil, err
	}
	return d, func() {
		if os.Getenv("SLUICE_KEEP_TMP") == "" {
			os.RemoveAll(d)
		}
	}, nil
}

// waitClient polls readiness endpoints, https ones with the harness's self-signed
// certificates too (loopback only).
var waitClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// WaitHTTP polls url until it answers with want or the deadline passes.
func WaitHTTP(url string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := waitClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			last = fmt.Errorf("status %d", resp.StatusCode)
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not answering %d after %s: %v", url, want, timeout, last)
}

// Eventually polls cond until it returns nil or timeout passes, then fails the test with
// the last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
