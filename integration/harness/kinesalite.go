package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// KinesaliteVersion is the npm version of kinesalite used for side-by-side comparisons.
const KinesaliteVersion = "3.3.3"

// KinesaliteServer is a running kinesalite (a Node.js Kinesis emulator) on loopback.
type KinesaliteServer struct {
	Endpoint string
}

// Kinesalite returns a shared kinesalite, installing it with npm into the cache dir on
// first use. It is only used by comparison benchmarks.
func Kinesalite(t testing.TB) *KinesaliteServer {
	return shared(t, "kinesalite", startKinesalite)
}

func startKinesalite() (*KinesaliteServer, func() error, error) {
	prefix := filepath.Join(CacheDir(), "kinesalite-"+KinesaliteVersion)
	script := filepath.Join(prefix, "node_modules", "kinesalite", "cli.js")
	if _, err := os.Stat(script); err != nil {
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return nil, nil, err
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, "kinesalite@"+KinesaliteVersion)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("npm install kinesalite: %w\n%s", err, out)
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	dir, cleanup, err := tempDir("kinesalite")
	if err != nil {
		return nil, nil, err
	}
	// Same durability class as Sluice would be unfair to ask of it; kinesalite keeps data
	// in LevelDB under --path. createStreamMs 0 makes streams ACTIVE at once.
	cmd := exec.Command("node", script, "--port", fmt.Sprint(port), "--path", dir, "--createStreamMs", "0",
		"--updateStreamMs", "0", "--shardLimit", "1000")
	logf, err := os.Create(filepath.Join(dir, "kinesalite.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() error {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		cleanup()
		return nil
	}
	if err := waitTCP(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second); err != nil {
		stop()
		return nil, nil, err
	}
	return &KinesaliteServer{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}, stop, nil
}
