//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// The real Kinesis Client Library (3.5.1, with the AWS SDK for Java 2.41 it is built with)
// and Kinesis Producer Library (1.1.1) against the sluice binary as their only endpoint:
// Kinesis, the DynamoDB lease tables and CloudWatch metrics all served by Sluice. The
// programs are in integration/kcl (Consume: a KCL application as its documentation sets one
// up; Produce: the KPL with its defaults).

// kclClasspath returns the classpath of the programs compiled against the jars of the Maven
// project in pomDir ("kcl": KCL 3 and the KPL; "kcl2": the KCL 2.x line). The jars are
// fetched once (cached); the programs are compiled for each test (into its temp dir, which
// goes with the test).
func kclClasspath(t *testing.T, pomDir ...string) string {
	t.Helper()
	harness.RequireJava(t)
	dir := "kcl"
	if len(pomDir) > 0 {
		dir = pomDir[0]
	}
	return harness.CompileJava(t, filepath.Join("kcl", "src"), harness.MavenJars(t, dir))
}

// javaProc is a Java program running in the background, its output in a file.
type javaProc struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

func startJava(t *testing.T, cp string, jvm []string, main string, args ...string) *javaProc {
	t.Helper()
	out := filepath.Join(t.TempDir(), "java.log")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	full := append(append(append([]string{}, jvm...), "-cp", cp, main), args...)
	cmd := exec.Command("java", full...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &javaProc{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil
		if t.Failed() {
			b, _ := os.ReadFile(out)
			t.Logf("%s %v output (last 6 KiB):\n%s", main, args, tailText(b, 6<<10))
		}
	})
	return p
}

// wait waits up to d for the program to exit and fails the test unless it printed PASS.
func (p *javaProc) wait(t *testing.T, what string, d time.Duration) string {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		b, _ := os.ReadFile(p.out)
		if err != nil || !strings.Contains(string(b), "\nPASS") {
			t.Fatalf("%s failed: %v\n%s", what, err, tailText(b, 8000))
		}
		return string(b)
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		b, _ := os.ReadFile(p.out)
		t.Fatalf("%s did not finish within %s\n%s", what, d, tailText(b, 8000))
	}
	return ""
}

func tailText(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// processed reads a Consume output file: data value → times processed, and the sequence
// numbers per shard in processing order.
func processed(t *testing.T, path string) (map[string]int, map[string][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return map[string]int{}, map[string][]string{}
		}
		t.Fatal(err)
	}
	defer f.Close()
	counts, seqs := map[string]int{}, map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 4)
		if len(parts) != 4 {
			continue // a line cut by a kill
		}
		counts[parts[3]]++
		seqs[parts[0]] = append(seqs[parts[0]], parts[1]+"."+parts[2])
	}
	return counts, seqs
}

// trustStore writes a PKCS#12 trust store holding the certificate at certFile for Java.
func trustStore(t *testing.T, certFile string) string {
	t.Helper()
	ts := filepath.Join(t.TempDir(), "trust.p12")
	out, err := exec.Command("keytool", "-importcert", "-noprompt", "-alias", "sluice", "-file", certFile,
		"-keystore", ts, "-storetype", "PKCS12", "-storepass", "changeit").CombinedOutput()
	if err != nil {
		t.Fatalf("keytool: %v\n%s", err, out)
	}
	return ts
}

// tlsKinesis is kinesisClient for an https endpoint whose certificate is certFile.
func tlsKinesis(t *testing.T, endpoint, certFile string) *kinesis.Client {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return kinesis.New(kinesis.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
}

func putNumbered(t *testing.T, c *kinesis.Client, stream, prefix string, from, to int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < to; i += 500 {
		var entries []types.PutRecordsRequestEntry
		for j := i; j < min(i+500, to); j++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(fmt.Sprintf("%s-%d", prefix, j)), PartitionKey: aws.String(fmt.Sprint("pk", j))})
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
	}
}

func createStream(t *testing.T, c *kinesis.Client, name string, shards int32) {
	t.Helper()
	if _, err := c.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, c, name)
}

// checkAll fails unless every "<prefix>-<i>" for i < n was processed at least once; it
// returns how many were processed more than once (allowed: at-least-once).
func checkAll(t *testing.T, counts map[string]int, prefix string, n int) int {
	t.Helper()
	missing, dups := 0, 0
	for i := range n {
		switch c := counts[fmt.Sprintf("%s-%d", prefix, i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d records never processed", missing, n)
	}
	return dups
}

var javaQuiet = []string{"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Xmx512m"}

// TestKCLPolling: a KCL application reading a 4-shard stream by polling, Sluice the only
// endpoint; it processes every record; a second run of the same application resumes from
// its checkpoints (leases in Sluice's DynamoDB tables) and sees only the new records.
func TestKCLPolling(t *testing.T) {
	cp := kclClasspath(t)
	sl := harness.StartSluice(t, "")
	c := kinesisClient(sl.Endpoint)
	createStream(t, c, "kcl-poll", 4)
	putNumbered(t, c, "kcl-poll", "a", 0, 2000)
	out := filepath.Join(t.TempDir(), "processed.txt")
	p := startJava(t, cp, javaQuiet, "io.sluice.kcl.Consume", sl.Endpoint, "kcl-poll", "app-poll", "polling", "2000", "240", out, "w1")
	p.wait(t, "KCL polling run 1", 5*time.Minute)
	counts, _ := processed(t, out)
	dups := checkAll(t, counts, "a", 2000)
	t.Logf("run 1: 2000 of 2000 processed, %d twice", dups)

	// The application starts again (resuming after its checkpoints) and Sluice is killed
	// (-9) and restarted under it mid-run: it carries on from its checkpoints, and every
	// record of both halves is processed.
	putNumbered(t, c, "kcl-poll", "b", 0, 500)
	out2 := filepath.Join(t.TempDir(), "processed2.txt")
	p = startJava(t, cp, javaQuiet, "io.sluice.kcl.Consume", sl.Endpoint, "kcl-poll", "app-poll", "polling", "1000", "300", out2, "w1")
	harness.Eventually(t, 3*time.Minute, func() error {
		if counts, _ := processed(t, out2); len(counts) < 100 {
			return fmt.Errorf("%d records processed by the second run", len(counts))
		}
		return nil
	})
	sl.Kill()
	time.Sleep(2 * time.Second)
	sl.Start()
	putNumbered(t, c, "kcl-poll", "b", 500, 1000)
	p.wait(t, "KCL polling across a Sluice restart", 6*time.Minute)
	counts2, _ := processed(t, out2)
	dups = checkAll(t, counts2, "b", 1000)
	again := 0
	for k := range counts2 {
		if strings.HasPrefix(k, "a-") {
			again++
		}
	}
	if again > 0 {
		t.Fatalf("the second run processed %d records of the first again: checkpoints were not kept", again)
	}
	t.Logf("run 2 across a kill -9 and restart of Sluice: 1000 of 1000 processed, %d twice", dups)
}

// TestKCLFanOutTLS: enhanced fan-out (RegisterStreamConsumer, SubscribeToShard) over TLS
// with the SDK's default Netty client (HTTP/2 without ALPN), the KPL producing over TLS
// with aggregation and its default metrics; KCL de-aggregates every record.
func TestKCLFanOutTLS(t *testing.T) {
	cp := kclClasspath(t)
	sl := harness.StartSluiceTLS(t, "")
	c := tlsKinesis(t, sl.Endpoint, sl.CertFile)
	createStream(t, c, "kcl-efo", 4)
	const n = 20000
	kpl := startJava(t, cp, javaQuiet, "io.sluice.kcl.Produce", "127.0.0.1", fmt.Sprint(sl.Port), "kcl-efo", fmt.Sprint(n), "k")
	kpl.wait(t, "KPL", 4*time.Minute)
	out := filepath.Join(t.TempDir(), "processed.txt")
	jvm := append([]string{"-Djavax.net.ssl.trustStore=" + trustStore(t, sl.CertFile), "-Djavax.net.ssl.trustStorePassword=changeit"}, javaQuiet...)
	p := startJava(t, cp, jvm, "io.sluice.kcl.Consume", sl.Endpoint, "kcl-efo", "app-efo", "fanout", fmt.Sprint(n), "240", out, "w1")
	log := p.wait(t, "KCL enhanced fan-out", 5*time.Minute)
	counts, _ := processed(t, out)
	dups := checkAll(t, counts, "k", n)
	t.Logf("KPL → KCL fan-out over TLS: %d of %d, %d twice", n, n, dups)
	if strings.Contains(log, "UnknownHostException") {
		t.Fatalf("KCL was routed away from the endpoint override:\n%s", tailText([]byte(log), 4000))
	}
	// the KPL's and KCL's default metrics went to Sluice's CloudWatch and show on /metrics
	scrape := func() string {
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}).Get(sl.Endpoint + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := scrape()
	for _, ns := range []string{`namespace="KinesisProducerLibrary"`, `namespace="app-efo"`} {
		if !strings.Contains(m, "sluice_client_metric{") || !strings.Contains(m, ns) {
			t.Errorf("/metrics has no client metric with %s", ns)
		}
	}
	cons, err := c.ListStreamConsumers(context.Background(), &kinesis.ListStreamConsumersInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/kcl-efo")})
	if err != nil || len(cons.Consumers) != 1 || aws.ToString(cons.Consumers[0].ConsumerName) != "app-efo" {
		t.Fatalf("stream consumers: %+v %v, want the KCL application registered", cons, err)
	}
}

// TestKCLTwoWorkersFailover: two workers of one KCL application share a 4-shard stream
// (each holds leases); one is killed (-9) and the other takes its leases over after the
// failover time and processes everything written afterwards; a shard is split while it
// runs and the children are picked up after the parent's end.
func TestKCLTwoWorkersFailover(t *testing.T) {
	cp := kclClasspath(t)
	sl := harness.StartSluice(t, "")
	c := kinesisClient(sl.Endpoint)
	createStream(t, c, "kcl-two", 4)
	putNumbered(t, c, "kcl-two", "a", 0, 2000)
	dir := t.TempDir()
	out1, out2 := filepath.Join(dir, "w1.txt"), filepath.Join(dir, "w2.txt")
	// KCL 3's default assignment balances worker CPU, the same figure for two workers on
	// one host, so a worker whose JVM starts late may never get a lease: count leases.
	jvm := append([]string{"-Dkcl.leaseCountBased=true"}, javaQuiet...)
	w1 := startJava(t, cp, jvm, "io.sluice.kcl.Consume", sl.Endpoint, "kcl-two", "app-two", "polling", "2000", "420", out1, "w1", "b-")
	// Worker 2 starts once worker 1 has set the lease table up: two KCL 3 workers starting
	// together both add the table's LeaseOwnerToLeaseKeyIndex; the loser's UpdateTable
	// fails (as on DynamoDB) and KCL 3.5.1 then never publishes that worker's metrics, so
	// it gets no lease.
	waitLeaseIndex(t, sl.Endpoint, "app-two")
	w2 := startJava(t, cp, jvm, "io.sluice.kcl.Consume", sl.Endpoint, "kcl-two", "app-two", "polling", "1000000", "420", out2, "w2", "b-")

	// both workers hold leases: between them every record of phase a, each some shards.
	// A few records a second keep every shard busy, so a lease taken over after phase a
	// was read shows up in its new holder's output too.
	trickle, lastTrickle := 0, time.Time{}
	harness.Eventually(t, 4*time.Minute, func() error {
		if time.Since(lastTrickle) >= time.Second {
			putNumbered(t, c, "kcl-two", "p", trickle, trickle+16)
			trickle, lastTrickle = trickle+16, time.Now()
		}
		c1, s1 := processed(t, out1)
		c2, s2 := processed(t, out2)
		if len(s1) == 0 || len(s2) == 0 {
			return fmt.Errorf("shards held: w1 %d, w2 %d", len(s1), len(s2))
		}
		for i := range 2000 {
			k := fmt.Sprintf("a-%d", i)
			if c1[k]+c2[k] == 0 {
				return fmt.Errorf("%s not processed yet", k)
			}
		}
		return nil
	})
	_, s1 := processed(t, out1)
	_, s2 := processed(t, out2)
	t.Logf("balanced: w1 holds %d shards, w2 %d", len(s1), len(s2))

	_ = w2.cmd.Process.Kill() // a crash: its leases expire, w1 takes them
	// a split while w1 runs: the parent ends, the children are picked up
	shards, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("kcl-two")})
	if err != nil {
		t.Fatal(err)
	}
	s0 := shards.Shards[0]
	if _, err := c.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: aws.String("kcl-two"), ShardToSplit: s0.ShardId,
		NewStartingHashKey: aws.String("42535295865117307932921825928971026432")}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, c, "kcl-two")
	putNumbered(t, c, "kcl-two", "b", 0, 2000)
	w1.wait(t, "KCL worker 1 after the failover", 7*time.Minute)
	c1, seqs := processed(t, out1)
	checkAll(t, c1, "b", 2000)
	children := 0
	for shard := range seqs {
		if shard > "shardId-000000000003" {
			children++
		}
	}
	if children != 2 {
		t.Fatalf("worker 1 processed %d child shards of the split, want 2 (shards: %v)", children, len(seqs))
	}
}

// TestKCL2Polling: the 2.x line of the KCL (2.7.2) reading by polling with Sluice as its
// only endpoint, every record processed.
func TestKCL2Polling(t *testing.T) {
	cp := kclClasspath(t, "kcl2")
	sl := harness.StartSluice(t, "")
	c := kinesisClient(sl.Endpoint)
	createStream(t, c, "kcl2-poll", 2)
	putNumbered(t, c, "kcl2-poll", "a", 0, 1000)
	out := filepath.Join(t.TempDir(), "processed.txt")
	p := startJava(t, cp, javaQuiet, "io.sluice.kcl.Consume", sl.Endpoint, "kcl2-poll", "app-kcl2", "polling", "1000", "240", out, "w1")
	p.wait(t, "KCL 2.x polling", 5*time.Minute)
	counts, _ := processed(t, out)
	dups := checkAll(t, counts, "a", 1000)
	t.Logf("KCL 2.7.2: 1000 of 1000 processed, %d twice", dups)
}

// waitLeaseIndex waits until the KCL application's lease table has its
// LeaseOwnerToLeaseKeyIndex ACTIVE (KCL 3 adds it at start), in Sluice's DynamoDB.
func waitLeaseIndex(t *testing.T, endpoint, table string) {
	t.Helper()
	ddb := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", "")})
	harness.Eventually(t, 3*time.Minute, func() error {
		out, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return err
		}
		for _, g := range out.Table.GlobalSecondaryIndexes {
			if aws.ToString(g.IndexName) == "LeaseOwnerToLeaseKeyIndex" && g.IndexStatus == ddbtypes.IndexStatusActive {
				return nil
			}
		}
		return fmt.Errorf("table %s has no active LeaseOwnerToLeaseKeyIndex yet", table)
	})
}
