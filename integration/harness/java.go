package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireJava skips the test unless java, javac and mvn are on PATH.
func RequireJava(t testing.TB) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"java", "javac", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Skipf("Java SDK check needs a JDK and Maven; not on PATH: %s", strings.Join(missing, ", "))
	}
}

var (
	mavenMu   sync.Mutex
	mavenLibs = map[string]string{} // pom path → jar dir
)

// MavenJars returns a directory holding the runtime dependency jars of the Maven project
// in pomDir. They are fetched once with `mvn dependency:copy-dependencies` into
// CacheDir()/java-lib-<hash of pom.xml> and reused by later runs.
func MavenJars(t testing.TB, pomDir string) string {
	t.Helper()
	mavenMu.Lock()
	defer mavenMu.Unlock()
	pom := filepath.Join(pomDir, "pom.xml")
	if dir, ok := mavenLibs[pom]; ok {
		return dir
	}
	b, err := os.ReadFile(pom)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	dir := filepath.Join(CacheDir(), "java-lib-"+hex.EncodeToString(sum[:6]))
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err != nil {
		if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
			t.Fatal(err)
		}
		tmp, err := os.MkdirTemp(CacheDir(), "java-lib-tmp-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "-f", pom,
			"dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory="+tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("fetching Java dependencies with Maven: %v\n%s", err, out)
		}
		if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			t.Fatal(err)
		}
	}
	mavenLibs[pom] = dir
	return dir
}

// CompileJava compiles every .java file under srcDir against the jars in libDir into a
// fresh temporary directory and returns the classpath to run it with.
func CompileJava(t testing.TB, srcDir, libDir string) string {
	t.Helper()
	var srcs []string
	err := filepath.WalkDir(srcDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".java") {
			srcs = append(srcs, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) == 0 {
		t.Fatalf("no Java sources under %s", srcDir)
	}
	sort.Strings(srcs)
	classes := t.TempDir()
	cp := filepath.Join(libDir, "*")
	args := append([]string{"-encoding", "UTF-8", "-d", classes, "-cp", cp}, srcs...)
	if out, err := exec.Command("javac", args...).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return classes + string(os.PathListSeparator) + cp
}

// RunJava runs `java <jvmArgs> -cp classpath mainClass args...` with a timeout and
// returns its combined output and error.
func RunJava(classpath string, timeout time.Duration, jvmArgs []string, mainClass string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append(append([]string{}, jvmArgs...), "-cp", classpath, mainClass)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "java", full...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("java %s timed out after %s", mainClass, timeout)
	}
	return string(out), err
}
