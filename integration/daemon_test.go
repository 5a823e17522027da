//go:build integration

package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
)

// The real binary starts on a config file, reports ready, serves metrics, and exits 0
// on SIGTERM.
func TestDaemonStartsAndStopsCleanly(t *testing.T) {
	s := harness.StartSluice(t, "streams:\n  - name: boot-check\n    shards: 2\n")
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.Endpoint + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(s.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("/metrics lacks Go runtime metrics:\n%.500s", body)
	}
	if err := s.Stop(30 * time.Second); err != nil {
		t.Fatalf("SIGTERM did not give a clean exit: %v\n%s", err, s.Log())
	}
	// Restart on the same data dir: the declared stream is still there, no error.
	s.Start()
	if err := s.Stop(30 * time.Second); err != nil {
		t.Fatalf("second run: %v\n%s", err, s.Log())
	}
}
