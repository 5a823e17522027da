package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Pinned versions of the Parquet readers the integration tests judge Sluice's files with
// (from PyPI: readers nobody here wrote).
const (
	PyArrowVersion = "25.0.1"
	DuckDBVersion  = "1.5.6"
	// PytzVersion: DuckDB needs pytz to hand TIMESTAMP WITH TIME ZONE values to Python.
	PytzVersion = "2026.4"
)

var (
	pyOnce sync.Once
	pyPath string
	pyErr  error
)

// ParquetPython returns the python of a virtual environment with pyarrow and duckdb (and
// pytz) at their pinned versions. The environment is made once under CacheDir() with
// `python3 -m venv` and pip, then reused (also by later runs).
func ParquetPython(t testing.TB) string {
	t.Helper()
	pyOnce.Do(func() { pyPath, pyErr = parquetVenv() })
	if pyErr != nil {
		t.Fatalf("harness: Python with pyarrow and duckdb: %v", pyErr)
	}
	return pyPath
}

// PrepareParquetPython makes the environment ahead of the tests (.ci/run's prepare step).
func PrepareParquetPython() (string, error) {
	pyOnce.Do(func() { pyPath, pyErr = parquetVenv() })
	return pyPath, pyErr
}

func parquetVenv() (string, error) {
	dir := filepath.Join(CacheDir(), "venv-pyarrow"+PyArrowVersion+"-duckdb"+DuckDBVersion+"-pytz"+PytzVersion)
	py := filepath.Join(dir, "bin", "python")
	if _, err := os.Stat(filepath.Join(dir, ".ready")); err == nil {
		return py, nil
	}
	if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
		return "", err
	}
	// build beside the final place, then rename: a half-made environment is never used
	tmp, err := os.MkdirTemp(CacheDir(), "venv-tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	run := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %v: %w\n%s", name, args, err, out.String())
		}
		return nil
	}
	if err := run("python3", "-m", "venv", tmp); err != nil {
		return "", fmt.Errorf("python3 -m venv (on Debian: apt-get install python3-venv): %w", err)
	}
	if err := run(filepath.Join(tmp, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
		"pyarrow=="+PyArrowVersion, "duckdb=="+DuckDBVersion, "pytz=="+PytzVersion); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".ready"), nil, 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	// a venv records its own path in its scripts and pyvenv.cfg: make it again in place
	// (cheap: the packages stay) so bin/python runs from the final directory
	if err := run("python3", "-m", "venv", dir); err != nil {
		return "", err
	}
	return py, nil
}

// RunPython runs script (Python source) with the ParquetPython interpreter and args, and
// returns its standard output. A non-zero exit fails the test with its standard error.
func RunPython(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	py := ParquetPython(t)
	f := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, append([]string{f}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("python %s: %v\n%s", filepath.Base(f), err, errb.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("python %s: still running after 2m", filepath.Base(f))
	}
	return out.Bytes()
}
