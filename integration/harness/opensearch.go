package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// OpenSearchVersion is the OpenSearch release the harness runs (pinned in
// opensearch/pom.xml; 2.19 is the newest line that runs on Java 17).
const OpenSearchVersion = "2.19.6"

// openSearchHeap is the node's fixed heap (-Xms = -Xmx); the process settles at about
// 400 MiB resident when idle.
const openSearchHeap = "512m"

// openSearchFiles is the node's Maven project, its Java main and its logging config;
// see opensearch/README.md for how the node is put together.
//
//go:embed opensearch/pom.xml opensearch/src opensearch/config
var openSearchFiles embed.FS

// OpenSearchServer is a running single-node OpenSearch cluster on loopback, with no
// security plugin (plain HTTP, no authentication).
type OpenSearchServer struct {
	URL     string // http://127.0.0.1:PORT
	Version string // e.g. 2.19.6
	Log     string // the node's console log (removed at stop unless SLUICE_KEEP_TMP is set)

	home, node string // the node's home (config, data, logs) and its cached distribution

	mu     sync.Mutex // guards the process fields below
	cmd    *exec.Cmd  // nil while killed
	exited chan struct{}
	logf   *os.File
}

// OpenSearch returns the shared OpenSearch node, starting it on first use. It needs Java
// 17+ and Maven (the test is skipped without them); the first start fetches the jars
// (about 50 MB) into CacheDir(). New indices get 0 replicas, so the cluster stays green.
func OpenSearch(t testing.TB) *OpenSearchServer {
	t.Helper()
	RequireJava(t)
	return shared(t, "opensearch", func() (*OpenSearchServer, func() error, error) {
		return startOpenSearch(t)
	})
}

// Do sends one request to the node and returns the status and the whole response body.
// A body is sent as application/json, or as application/x-ndjson to a _bulk path. Safe
// for concurrent use.
func (o *OpenSearchServer) Do(ctx context.Context, method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		ct := "application/json"
		if strings.Contains(path, "/_bulk") {
			ct = "application/x-ndjson"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// openSearchModule is one module of the node: the directory name under modules/, the
// plugin class, the modules it extends, and the artifactIds of its jars (the module's own
// and its dependencies, from the module's pom on Maven Central). Every other jar of the
// Maven project goes on the server's classpath, the distribution's lib/.
type openSearchModule struct {
	name, classname string
	extends         string // comma-separated module names
	artifacts       []string
}

var openSearchModules = []openSearchModule{
	{"transport-netty4", "org.opensearch.transport.Netty4Plugin", "", []string{
		"transport-netty4-client", "netty-buffer", "netty-codec", "netty-codec-http", "netty-common",
		"netty-handler", "netty-resolver", "netty-transport", "netty-transport-native-unix-common"}},
	{"lang-painless", "org.opensearch.painless.PainlessPlugin", "", []string{
		"lang-painless", "opensearch-scripting-painless-spi", "antlr4-runtime",
		"asm", "asm-analysis", "asm-commons", "asm-tree", "asm-util"}},
	{"analysis-common", "org.opensearch.analysis.common.CommonAnalysisPlugin", "lang-painless", []string{
		"analysis-common"}},
	{"ingest-common", "org.opensearch.ingest.common.IngestCommonPlugin", "lang-painless", []string{
		"ingest-common", "opensearch-grok", "opensearch-dissect", "jcodings", "joni"}},
}

// artifactOf returns the artifactId of a jar named ARTIFACT-VERSION.jar (the version
// starts with a digit).
func artifactOf(jar string) string {
	base := strings.TrimSuffix(jar, ".jar")
	for i := 0; i+1 < len(base); i++ {
		if base[i] == '-' && base[i+1] >= '0' && base[i+1] <= '9' {
			return base[:i]
		}
	}
	return base
}

// openSearchNode returns a directory laid out like the distribution, cached under
// CacheDir() by the hash of the embedded files: lib/ (the server's jars), modules/NAME/
// (jars and plugin-descriptor.properties) and classes/ (the compiled SluiceOpenSearch).
func openSearchNode(t testing.TB) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(openSearchFiles, "opensearch", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := openSearchFiles.ReadFile(p)
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	for _, m := range openSearchModules {
		fmt.Fprintf(h, "%v\x00", m)
	}
	dir := filepath.Join(CacheDir(), "opensearch-node-"+hex.EncodeToString(h.Sum(nil)[:6]))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}

	// Lay the embedded project out on disk, fetch the jars, sort them, compile, publish.
	if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(CacheDir(), "opensearch-node-tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	sub, err := fs.Sub(openSearchFiles, "opensearch")
	if err != nil {
		return "", err
	}
	src := filepath.Join(tmp, "src")
	if err := os.CopyFS(src, sub); err != nil {
		return "", err
	}
	// MavenJars caches by the pom's content, so the path it reads it from does not matter.
	libs := MavenJars(t, src)
	if err := sortOpenSearchJars(libs, tmp); err != nil {
		return "", err
	}
	var srcs []string
	_ = filepath.WalkDir(filepath.Join(src, "src"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".java") {
			srcs = append(srcs, p)
		}
		return err
	})
	args := append([]string{"-encoding", "UTF-8", "-d", filepath.Join(tmp, "classes"),
		"-cp", filepath.Join(tmp, "lib", "*")}, srcs...)
	if out, err := exec.Command("javac", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("javac %s: %w\n%s", strings.Join(srcs, " "), err, out)
	}
	if err := os.RemoveAll(src); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// sortOpenSearchJars copies the jars in libs into dst/lib and dst/modules/NAME/, and
// writes each module's plugin-descriptor.properties (the jars on Maven carry none). A
// module jar missing from libs is an error: the pom and openSearchModules disagree.
func sortOpenSearchJars(libs, dst string) error {
	home := map[string]string{} // artifactId → directory under dst
	for _, m := range openSearchModules {
		for _, a := range m.artifacts {
			home[a] = filepath.Join("modules", m.name)
		}
		desc := fmt.Sprintf(`description=OpenSearch module %[1]s, from its jar on Maven Central
version=%[2]s
name=%[1]s
classname=%[3]s
java.version=17
opensearch.version=%[2]s
extended.plugins=%[4]s
has.native.controller=false
`, m.name, OpenSearchVersion, m.classname, m.extends)
		if err := os.MkdirAll(filepath.Join(dst, "modules", m.name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, "modules", m.name, "plugin-descriptor.properties"), []byte(desc), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dst, "lib"), 0o755); err != nil {
		return err
	}
	jars, err := filepath.Glob(filepath.Join(libs, "*.jar"))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, jar := range jars {
		a := artifactOf(filepath.Base(jar))
		sub, ok := home[a]
		if !ok {
			sub = "lib"
		}
		seen[a] = true
		if err := copyFile(jar, filepath.Join(dst, sub, filepath.Base(jar))); err != nil {
			return err
		}
	}
	for a, sub := range home {
		if !seen[a] {
			return fmt.Errorf("opensearch: no %s jar for %s among the Maven jars in %s", a, sub, libs)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	if err := os.Link(from, to); err == nil {
		return nil
	}
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func startOpenSearch(t testing.TB) (*OpenSearchServer, func() error, error) {
	node, err := openSearchNode(t)
	if err != nil {
		return nil, nil, err
	}
	home, cleanup, err := tempDir("opensearch")
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*OpenSearchServer, func() error, error) {
		cleanup()
		return nil, nil, err
	}
	httpPort, err := FreePort()
	if err != nil {
		return fail(err)
	}
	transportPort, err := FreePort()
	if err != nil {
		return fail(err)
	}
	for _, d := range []string{"config", "data", "logs", "plugins", "tmp"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			return fail(err)
		}
	}
	// The node reads its modules from HOME/modules and writes nothing there.
	if err := os.Symlink(filepath.Join(node, "modules"), filepath.Join(home, "modules")); err != nil {
		return fail(err)
	}
	yml := fmt.Sprintf(`cluster.name: sluice-test
node.name: sluice-opensearch
network.host: 127.0.0.1
http.port: %d
transport.port: %d
discovery.type: single-node
path.data: %s
path.logs: %s
# Test machines can have little free disk: never turn indices read-only for it.
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
`, httpPort, transportPort, filepath.Join(home, "data"), filepath.Join(home, "logs"))
	if err := os.WriteFile(filepath.Join(home, "config", "opensearch.yml"), []byte(yml), 0o644); err != nil {
		return fail(err)
	}
	logCfg, err := openSearchFiles.ReadFile("opensearch/config/log4j2.properties")
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "log4j2.properties"), logCfg, 0o644); err != nil {
		return fail(err)
	}

	logPath := filepath.Join(home, "logs", "console.log")
	s := &OpenSearchServer{URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), Version: OpenSearchVersion, Log: logPath,
		home: home, node: node}
	if err := s.launch(); err != nil {
		return fail(err)
	}
	stop := func() error {
		defer cleanup()
		s.halt(os.Interrupt)
		return nil
	}
	if err := waitOpenSearch(s, s.exitedChan(), 3*time.Minute); err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// launch starts the node's process (its console log appended to Log). The caller holds
// no lock; the process must not be running.
func (o *OpenSearchServer) launch() error {
	logf, err := os.OpenFile(o.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("java",
		"-Xms"+openSearchHeap, "-Xmx"+openSearchHeap,
		"-XX:+UseG1GC", "-XX:-OmitStackTraceInFastThrow",
		"-Djava.awt.headless=true", "-Dfile.encoding=UTF-8", "-Djna.nosys=true",
		"-Dlog4j2.disable.jmx=true", "-Dlog4j.shutdownHookEnabled=false",
		"-Dio.netty.allocator.numDirectArenas=0",
		"-Djava.io.tmpdir="+filepath.Join(o.home, "tmp"),
		"-cp", filepath.Join(o.node, "classes")+string(os.PathListSeparator)+filepath.Join(o.node, "lib", "*"),
		"io.sluice.opensearch.SluiceOpenSearch", o.home)
	cmd.Dir = o.home
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start opensearch: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	o.mu.Lock()
	o.cmd, o.exited, o.logf = cmd, exited, logf
	o.mu.Unlock()
	return nil
}

func (o *OpenSearchServer) exitedChan() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.exited
}

// halt sends sig to the running process (if any) and waits for it to exit: up to 30 s
// after os.Interrupt, then SIGKILL.
func (o *OpenSearchServer) halt(sig os.Signal) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cmd == nil {
		return
	}
	_ = o.cmd.Process.Signal(sig)
	select {
	case <-o.exited:
	case <-time.After(30 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.exited
	}
	o.logf.Close()
	o.cmd, o.exited, o.logf = nil, nil, nil
}

// Kill sends SIGKILL to the node (a crash: nothing is flushed) and waits for the process
// to be gone. The port stays reserved for Start; a killed node left by a failing test
// should be started again by its cleanup, since the node is shared by the test binary.
func (o *OpenSearchServer) Kill(t testing.TB) {
	t.Helper()
	o.halt(os.Kill)
}

// Running reports whether the node's process is running (not killed, not exited).
func (o *OpenSearchServer) Running() bool {
	ch := o.exitedChan()
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

// Start starts a node stopped by Kill again, on the same ports and data directory, and
// waits until the cluster is green (up to 3 minutes). It does nothing if the node runs.
func (o *OpenSearchServer) Start(t testing.TB) {
	t.Helper()
	if o.Running() {
		return
	}
	o.halt(os.Kill) // reap an exited process
	if err := o.launch(); err != nil {
		t.Fatal(err)
	}
	if err := waitOpenSearch(o, o.exitedChan(), 3*time.Minute); err != nil {
		t.Fatalf("restarting opensearch: %v", err)
	}
}

// waitOpenSearch waits until the node answers, then makes new indices replica-free (a
// cluster-level setting, not a node one) and waits for green.
func waitOpenSearch(s *OpenSearchServer, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		status, _, err := s.Do(ctx, http.MethodGet, "/_cluster/health", "")
		if err == nil && status == http.StatusOK {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("opensearch exited during start:\n%s", fileTail(s.Log, 40))
		case <-ctx.Done():
			return fmt.Errorf("opensearch not answering at %s after %s (last: %d %v):\n%s", s.URL, timeout, status, err, fileTail(s.Log, 40))
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, step := range []struct{ method, path, body string }{
		{http.MethodPut, "/_cluster/settings", `{"persistent":{"cluster.default_number_of_replicas":0}}`},
		{http.MethodGet, "/_cluster/health?wait_for_status=green&timeout=60s", ""},
	} {
		status, body, err := s.Do(ctx, step.method, step.path, step.body)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("opensearch %s %s: %d %v %s", step.method, step.path, status, err, body)
		}
	}
	return nil
}

// fileTail returns the last n lines of the file at path, for start-failure messages.
func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
