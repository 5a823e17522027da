package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"golang.org/x/net/http2"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/daemon/sdnotify"
	"github.com/sluice-io/sluice/streamcore"
)

// testConfig parses a config on a free loopback port with a temp data dir.
func testConfig(t *testing.T, dataDir, extra string) *config.Config {
	t.Helper()
	src := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  data_dir: %s\n  shutdown_timeout: 10s\nlimits:\n  create_delay: 0s\n%s", dataDir, extra)
	cfg, err := config.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// started runs d in the background and waits for /readyz.
type started struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, d *Daemon) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-s.done })
	waitFor(t, 10*time.Second, func() bool { return get(d.URL()+"/readyz") == 200 })
	return s
}

func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var lastGetErr error

func get(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		lastGetErr = err
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func kinesisClient(url string, hc *http.Client) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   hc,
	})
}

func TestServeHealthMetricsKinesis(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), "streams:\n  - {name: orders, shards: 2}\n")
	d, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, d)

	if c := get(d.URL() + "/healthz"); c != 200 {
		t.Fatalf("/healthz = %d %v", c, lastGetErr)
	}
	resp, err := http.Get(d.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"go_goroutines", "process_open_fds", "sluice_ready 1", `sluice_build_info{version="dev"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// The declared stream is ACTIVE and writable through the AWS SDK, over HTTP/1.1 and h2c.
	h2c := &http.Client{Transport: &http.Transport{Protocols: unencryptedH2()}}
	for name, hc := range map[string]*http.Client{"http1": http.DefaultClient, "h2c": h2c} {
		kc := kinesisClient(d.URL(), hc)
		out, err := kc.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
		if err != nil {
			t.Fatalf("%s: DescribeStreamSummary: %v", name, err)
		}
		if st := out.StreamDescriptionSummary.StreamStatus; st != "ACTIVE" || *out.StreamDescriptionSummary.OpenShardCount != 2 {
			t.Fatalf("%s: status %s, shards %d", name, st, *out.StreamDescriptionSummary.OpenShardCount)
		}
		if _, err := kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
			t.Fatalf("%s: PutRecord: %v", name, err)
		}
	}
	// NDJSON ingest and the Firehose API share the port.
	resp, err = http.Post(d.URL()+"/v1/streams/orders/records", "application/x-ndjson", strings.NewReader("{\"a\":1}\n{\"a\":2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"FailedRecordCount":0`) {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	fc := firehose.New(firehose.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	if _, err := fc.ListDeliveryStreams(context.Background(), &firehose.ListDeliveryStreamsInput{}); err != nil {
		t.Fatalf("Firehose ListDeliveryStreams: %v", err)
	}

	// h2c really is HTTP/2.
	resp, err = h2c.Get(d.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("h2c request served as %s", resp.Proto)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if get(d.URL()+"/healthz") != 0 {
		t.Fatal("still serving after stop")
	}
}

func unencryptedH2() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}

// A restart on the same data dir keeps the stream and its records, and re-declaring
// it is not an error.
func TestRestartKeepsStreams(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "keep"}
	for round := 0; round < 2; round++ {
		d, err := New(testConfig(t, dir, "streams:\n  - {name: keep, shards: 1}\n"), testLogger(t))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		s := start(t, d)
		if round == 0 {
			if _, err := d.Engine().PutRecords(ctx, key, []streamcore.PutEntry{{PartitionKey: "a", Data: []byte("hello")}}); err != nil {
				t.Fatal(err)
			}
		} else {
			streams, err := d.Engine().ListStreams(ctx, key.Account, key.Region)
			if err != nil || len(streams) != 1 {
				t.Fatalf("streams after restart: %v %v", streams, err)
			}
			it, err := d.Engine().GetShardIterator(ctx, key, "shardId-000000000000", streamcore.Position{Type: streamcore.TrimHorizon})
			if err != nil {
				t.Fatal(err)
			}
			res, err := d.Engine().GetRecords(ctx, it, 10)
			if err != nil || len(res.Records) != 1 || string(res.Records[0].Data) != "hello" {
				t.Fatalf("records after restart: %+v %v", res.Records, err)
			}
		}
		if err := s.stop(t); err != nil {
			t.Fatal(err)
		}
	}
}

// A restart applies the file's quotas to a stream that exists (only the file sets them),
// while settings the API owns (here the shard count) stay as stored.
func TestRestartAppliesDeclaredQuotas(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "q"}
	entries := make([]streamcore.PutEntry, 50)
	for i := range entries {
		entries[i] = streamcore.PutEntry{PartitionKey: "a", Data: []byte("x")}
	}
	throttled := func(d *Daemon) int {
		res, err := d.Engine().PutRecords(ctx, key, entries)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range res {
			if r.Err != nil {
				n++
			}
		}
		return n
	}
	for round, streams := range []string{
		"streams:\n  - {name: q, shards: 1, quotas: {write_records_per_sec: 10}}\n",
		"streams:\n  - {name: q, shards: 2, quotas: {unlimited: true}}\n",
	} {
		d, err := New(testConfig(t, dir, streams), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, d)
		desc, err := d.Engine().DescribeStream(ctx, key)
		if err != nil || desc.OpenShardCount != 1 {
			t.Fatalf("round %d: %+v %v", round, desc, err)
		}
		if n := throttled(d); round == 0 && n != 40 || round == 1 && n != 0 {
			t.Fatalf("round %d: %d of 50 records throttled", round, n)
		}
		if err := s.stop(t); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPortInUseFailsCleanly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cfg := testConfig(t, dir, "")
	cfg.Server.Listen = ln.Addr().String()
	if _, err := New(cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "server.listen") {
		t.Fatalf("New on a busy port: %v", err)
	}
	// The store was closed again: a second daemon can open the same data dir.
	cfg.Server.Listen = "127.0.0.1:0"
	d, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("store left locked: %v", err)
	}
	start(t, d).stop(t)
}

// fakeFirehose records what the daemon asks of the Firehose side.
type fakeFirehose struct {
	applied atomic.Int32
	closed  atomic.Bool
	last    atomic.Value // []config.DeliveryStream
	block   chan struct{}
	entered chan struct{}
}

func (f *fakeFirehose) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.block != nil {
		close(f.entered)
		<-f.block
	}
	w.Write([]byte(`{"from":"firehose","target":"` + r.Header.Get("X-Amz-Target") + `"}`))
}
func (f *fakeFirehose) Apply(ctx context.Context, ds []config.DeliveryStream) error {
	f.last.Store(ds)
	f.applied.Add(1)
	return nil
}
func (f *fakeFirehose) Close(ctx context.Context) error { f.closed.Store(true); return nil }

func TestFirehoseRoutingAndInFlightRequestFinishes(t *testing.T) {
	fh := &fakeFirehose{block: make(chan struct{}), entered: make(chan struct{})}
	d, err := New(testConfig(t, t.TempDir(), ""), testLogger(t), WithFirehose(func(ctx context.Context, deps FirehoseDeps) (Firehose, error) {
		if deps.Engine == nil || deps.Registerer == nil || deps.Config == nil {
			t.Error("incomplete FirehoseDeps")
		}
		return fh, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, d)

	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", d.URL()+"/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "Firehose_20150804.ListDeliveryStreams")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{body: string(b)}
	}()
	select {
	case <-fh.entered:
	case r := <-res:
		t.Fatalf("request did not reach the Firehose handler: %+v", r)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop(t) }()
	// Stopping: /readyz goes 503 at once; new connections are refused soon after.
	waitFor(t, 5*time.Second, func() bool { return !d.isReady() })
	close(fh.block)
	r := <-res
	if r.err != nil || !strings.Contains(r.body, `"target":"Firehose_20150804.ListDeliveryStreams"`) {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if !fh.closed.Load() {
		t.Fatal("firehose not closed on stop")
	}
}

func TestReadyzWhileStopping(t *testing.T) {
	d, err := New(testConfig(t, t.TempDir(), ""), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, d)
	d.stopping.Store(true)
	if c := get(d.URL() + "/readyz"); c != 503 {
		t.Fatalf("/readyz while stopping = %d", c)
	}
	d.stopping.Store(false)
	s.stop(t)
}

// Signal tests send real signals to this process; Run has them routed to itself.
func TestSIGTERMStopsCleanlyAndNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d, err := New(testConfig(t, t.TempDir(), ""), testLogger(t), WithNotifier(sdnotify.New(sock)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	if msg := readDatagram(t, conn); !strings.HasPrefix(msg, "READY=1\n") {
		t.Fatalf("first notification %q", msg)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if msg := readDatagram(t, conn); msg != "STOPPING=1" {
		t.Fatalf("stop notification %q", msg)
	}
}

func readDatagram(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1024)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestSIGHUPReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	write := func(level, streams string) {
		src := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  data_dir: %s\nlimits:\n  create_delay: 0s\nlog:\n  level: %s\nstreams:\n%s", filepath.Join(dir, "data"), level, streams)
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("info", "  - {name: first}\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log, lv := NewLogger(cfg.Log, &logs)
	fh := &fakeFirehose{}
	d, err := New(cfg, log, WithLevelVar(lv), WithFirehose(func(context.Context, FirehoseDeps) (Firehose, error) { return fh, nil }))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, d)

	// An invalid file is reported and changes nothing.
	os.WriteFile(path, []byte("server:\n  listen: [\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "keeping the running one") })

	write("debug", "  - {name: first}\n  - {name: second, shards: 2}\n")
	src, _ := os.ReadFile(path)
	os.WriteFile(path, append(src, []byte("delivery_streams:\n  - {name: ds, destination: {s3: {bucket: b}}}\n")...), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool { return lv.Level() == slog.LevelDebug })
	waitFor(t, 10*time.Second, func() bool {
		_, err := d.Engine().DescribeStream(context.Background(), streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "second"})
		return err == nil
	})
	waitFor(t, 10*time.Second, func() bool { return fh.applied.Load() == 1 })
	if ds := fh.last.Load().([]config.DeliveryStream); len(ds) != 1 || ds[0].Name != "ds" {
		t.Fatalf("Apply got %+v", ds)
	}

	// A declared stream's quotas change live.
	src, _ = os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(src), "{name: first}", "{name: first, quotas: {unlimited: true}}", 1)), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool {
		desc, err := d.Engine().DescribeStream(context.Background(), streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "first"})
		return err == nil && desc.Quotas.Unlimited
	})

	// A change that needs a restart is logged as such.
	src, _ = os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(src), "server:\n", "server:\n  max_request_size: 32MiB\n", 1)+"firehose:\n  buffer_budget: 64MiB\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool {
		l := logs.String()
		return strings.Contains(l, "need a restart") && strings.Contains(l, "server.max_request_size") && strings.Contains(l, "firehose.buffer_budget")
	})
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTLSServesH2(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	path := filepath.Join(dir, "sluice.yaml")
	src := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  data_dir: %s\n  tls: {cert: %s, key: %s}\n", filepath.Join(dir, "data"), cert, key)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.URL(), "https://") {
		t.Fatalf("URL %s", d.URL())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	var resp *http.Response
	waitFor(t, 10*time.Second, func() bool {
		resp, err = hc.Get(d.URL() + "/readyz")
		return err == nil && resp.StatusCode == 200
	})
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("TLS served %s, want HTTP/2 via ALPN", resp.Proto)
	}
	first := resp.TLS.PeerCertificates[0].SerialNumber.Int64()

	// HTTP/2 with prior knowledge over TLS, without ALPN (the AWS SDK for Java's Netty client,
	// as KCL uses it, sends the preface right after the handshake)
	noALPN := &http2.Transport{DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, network, addr)
	}}
	r2, err := (&http.Client{Transport: noALPN}).Get(d.URL() + "/readyz")
	if err != nil {
		t.Fatalf("HTTP/2 prior knowledge over TLS without ALPN: %v", err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 || r2.ProtoMajor != 2 {
		t.Fatalf("HTTP/2 prior knowledge over TLS without ALPN: %d %s", r2.StatusCode, r2.Proto)
	}
	// and HTTP/1.1 without ALPN still works
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	r1, err := h1.Get(d.URL() + "/readyz")
	if err != nil || r1.StatusCode != 200 || r1.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1 over TLS: %v %v", r1, err)
	}
	r1.Body.Close()

	// SIGHUP re-reads the certificate files (same paths, new contents).
	writeCertSerial(t, dir, first+1)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool {
		c, err := tls.Dial("tcp", d.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return false
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64() == first+1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func writeCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	return writeCertSerial(t, dir, 1)
}

func writeCertSerial(t *testing.T, dir string, serial int64) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

func TestCheckSinks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	src := fmt.Sprintf("delivery_streams:\n  - {name: up, destination: {s3: {bucket: b, endpoint: 'http://%s'}}}\n  - {name: down, destination: {s3: {bucket: b, endpoint: 'http://%s'}}}\n  - {name: aws, destination: {s3: {bucket: b}}}\nfirehose:\n  s3: {endpoint: 'http://%s'}\n  lambda_functions: {'arn:aws:lambda:us-east-1:000000000000:function:f': 'http://%s/'}\n", ln.Addr(), deadAddr, deadAddr, deadAddr)
	cfg, err := config.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res := CheckSinks(context.Background(), cfg, 2*time.Second)
	if len(res) != 4 {
		t.Fatalf("checks: %+v", res)
	}
	if res[0].Name != "up" || res[0].Err != nil {
		t.Errorf("reachable endpoint: %+v", res[0])
	}
	if res[1].Name != "down" || res[1].Err == nil || res[1].Path != "delivery_streams[1]" {
		t.Errorf("unreachable endpoint: %+v", res[1])
	}
	if res[2].Path != "firehose.s3" || res[2].Err == nil {
		t.Errorf("the default S3 endpoint of API-created delivery streams: %+v", res[2])
	}
	if res[3].Path != "firehose.lambda_functions" || res[3].Name != "arn:aws:lambda:us-east-1:000000000000:function:f" || res[3].Err == nil {
		t.Errorf("an unreachable Lambda function: %+v", res[3])
	}
	var ne net.Error
	_ = errors.As(res[1].Err, &ne)
}

func TestDialAddr(t *testing.T) {
	for in, want := range map[string]string{"http://minio:9000": "minio:9000", "https://s3.amazonaws.com": "s3.amazonaws.com:443", "db:5432": "db:5432", "postgres://u@h/db": "h:5432"} {
		if got, err := dialAddr(in); err != nil || got != want {
			t.Errorf("dialAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"minio", "ftp://x", "http://"} {
		if _, err := dialAddr(in); err == nil {
			t.Errorf("dialAddr(%q) accepted", in)
		}
	}
}

// ctxFirehose serves requests that last until their context is cancelled, like a
// SubscribeToShard stream.
type ctxFirehose struct {
	fakeFirehose
	entered chan struct{}
}

func (f *ctxFirehose) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(200)
	w.(http.Flusher).Flush()
	close(f.entered)
	<-r.Context().Done()
}

// A request that would stream forever does not hold the stop beyond shutdown_timeout:
// it is cancelled after the grace period and the daemon still stops cleanly.
func TestLongRequestIsCancelledOnStop(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), "")
	cfg.Server.ShutdownTimeout = config.Duration(3 * time.Second)
	fh := &ctxFirehose{entered: make(chan struct{})}
	d, err := New(cfg, testLogger(t), WithFirehose(func(context.Context, FirehoseDeps) (Firehose, error) { return fh, nil }))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, d)
	go func() {
		req, _ := http.NewRequest("POST", d.URL()+"/", nil)
		req.Header.Set("X-Amz-Target", "Firehose_20150804.Stream")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-fh.entered
	// Without the cancellation the request would hold Shutdown forever and stop would
	// fail after 30s.
	if err := s.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !fh.closed.Load() {
		t.Fatal("firehose not closed")
	}
}

// With auth.sigv4 on, /metrics (which names every stream) asks for HTTP Basic credentials
// of an auth.credentials entry; metrics_auth: false opens it again.
func TestMetricsNeedCredentialsWithSigV4(t *testing.T) {
	auth := "auth:\n  sigv4: true\n  credentials:\n    - {access_key_id: OPS, secret_access_key: ops-secret}\n"
	for _, c := range []struct {
		name, extra string
		open        bool
	}{
		{"sigv4 on", auth, false},
		{"sigv4 on, metrics_auth false", auth, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir(), "streams:\n  - {name: secret-orders, shards: 1}\n"+c.extra)
			if c.open {
				cfg.Server.MetricsAuth = new(false)
			}
			d, err := New(cfg, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			start(t, d)
			code := func(user, pass string) int {
				req, _ := http.NewRequest(http.MethodGet, d.URL()+"/metrics", nil)
				if user != "" {
					req.SetBasicAuth(user, pass)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := code("", ""); (got == 200) != c.open {
				t.Errorf("/metrics without credentials = %d", got)
			}
			if got := code("OPS", "wrong"); (got == 200) != c.open {
				t.Errorf("/metrics with a wrong secret = %d", got)
			}
			if got := code("OPS", "ops-secret"); got != 200 {
				t.Errorf("/metrics with the credentials = %d", got)
			}
		})
	}
}
