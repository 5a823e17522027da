package config

import (
	"bytes"
	"reflect"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default()
	if c.Server.Listen != "127.0.0.1:4600" || c.Server.DataDir != "./sluice-data" {
		t.Fatalf("default listen/data_dir = %q %q", c.Server.Listen, c.Server.DataDir)
	}
	if c.Server.MaxRequestSize != 16*MiB || c.Server.ShutdownTimeout.D() != 30*time.Second {
		t.Fatalf("default sizes: %v %v", c.Server.MaxRequestSize, c.Server.ShutdownTimeout)
	}
	if c.Server.Region != "us-east-1" || c.Server.Account != "000000000000" || c.Limits.ShardLimit != 20000 {
		t.Fatalf("default region/account/limit: %+v %+v", c.Server, c.Limits)
	}
	if c.File != DefaultName {
		t.Fatalf("File = %q", c.File)
	}
}

func TestReferenceIsValid(t *testing.T) {
	c, err := Parse("reference.yaml", Reference())
	if err != nil {
		t.Fatalf("reference.yaml does not validate:\n%v", err)
	}
	if len(c.Streams) != 1 || c.Streams[0].Retention.D() != 24*time.Hour || c.Streams[0].MaxRecordSize != MiB {
		t.Fatalf("reference streams: %+v", c.Streams)
	}
}

func TestParseValid(t *testing.T) {
	src := `
server:
  listen: ":0"
  max_request_size: 32MiB
  shutdown_timeout: 5s
  sync: interval
  sync_interval: 50ms
auth:
  sigv4: true
  credentials:
    - access_key_id: AKID
      secret_access_key: s3cr3t
      actions: ["kinesis:Put*"]
      streams: ["orders-*"]
log: {level: debug, format: json}
streams:
  - name: orders-eu
    shards: 3
    retention: 48h
    max_record_size: 2MiB
    quotas: {unlimited: true, write_bytes_per_sec: 4MiB}
  - name: clicks
    on_demand: true
    region: eu-west-1
`
	c, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.MaxRequestSize != 32*MiB || c.Server.SyncInterval.D() != 50*time.Millisecond {
		t.Errorf("server: %+v", c.Server)
	}
	s := c.Streams[0]
	if s.Shards != 3 || s.Retention.D() != 48*time.Hour || s.MaxRecordSize != 2*MiB || !s.Quotas.Unlimited ||
		s.Quotas.WriteBytesPerSec != 4*MiB || s.Account != "000000000000" || s.Region != "us-east-1" {
		t.Errorf("stream 0: %+v", s)
	}
	if s := c.Streams[1]; !s.OnDemand || s.Shards != 0 || s.Region != "eu-west-1" || s.Retention.D() != 24*time.Hour {
		t.Errorf("stream 1: %+v", s)
	}
	cred := c.Auth.Lookup("AKID")
	if cred == nil || cred.SecretAccessKey.Reveal() != "s3cr3t" {
		t.Fatalf("credential: %+v", cred)
	}
	if !cred.Allows("kinesis:PutRecords", "orders-eu") || cred.Allows("kinesis:GetRecords", "orders-eu") || cred.Allows("kinesis:PutRecord", "clicks") {
		t.Errorf("Allows does not follow the patterns")
	}
}

func TestSecretIsRedacted(t *testing.T) {
	c, err := Parse("t.yaml", []byte("auth:\n  credentials:\n    - {access_key_id: AK, secret_access_key: topsecret}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "cred", c.Auth.Credentials[0].SecretAccessKey, "auth", c.Auth)
	out := buf.String() + c.Auth.Credentials[0].SecretAccessKey.String()
	if strings.Contains(out, "topsecret") {
		t.Fatalf("secret leaked: %s", out)
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]Size{"0": 0, "512KiB": 512 * KiB, "32MiB": 32 * MiB, "1GiB": GiB, "1048576": MiB, "2 MiB": 2 * MiB, "1MB": 1000000, "10B": 10} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "MiB", "12XB", "99999999999999TiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
	if s := (32 * MiB).String(); s != "32MiB" {
		t.Errorf("String = %s", s)
	}
}

// writeCert writes a self-signed certificate and key into dir.
func writeCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
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

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	if _, err := Parse("t.yaml", []byte("server:\n  tls:\n    cert: "+cert+"\n    key: "+key+"\n")); err != nil {
		t.Fatalf("readable pair rejected: %v", err)
	}
	missing := filepath.Join(dir, "nope.pem")
	_, err := Parse("t.yaml", []byte("server:\n  tls:\n    cert: "+missing+"\n    key: "+key+"\n"))
	want := "t.yaml:3:11: server.tls.cert: cannot read " + missing + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// TestProblems checks that each kind of bad input is reported with file, line, column
// and key, in the documented format.
func TestProblems(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"unknown top-level key", "servr:\n  listen: x\n",
			[]string{"t.yaml:1:1: servr: unknown key (allowed: server, auth, log, limits, streams, delivery_streams, firehose, http_endpoint_sources, cloudwatch)"}},
		{"unknown nested key", "server:\n  listen: :1\n  lisen: :2\n",
			[]string{"t.yaml:3:3: server.lisen: unknown key (allowed: listen, tls, data_dir, max_request_size, shutdown_timeout, request_memory, body_timeout, body_min_rate, write_timeout, region, account, sync, sync_interval, pprof, metrics_auth)"}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", []string{"t.yaml:3:3: log.level: duplicate key"}},
		{"wrong type int", "limits:\n  shard_limit: lots\n", []string{`t.yaml:2:16: limits.shard_limit: expected an integer, got "lots"`}},
		{"wrong type mapping", "server: [1, 2]\n", []string{"t.yaml:1:9: server: expected a mapping, got a list"}},
		{"wrong type bool", "auth:\n  sigv4: maybe\n", []string{`t.yaml:2:10: auth.sigv4: expected true or false, got "maybe"`}},
		{"bad size", "server:\n  max_request_size: 12 parsecs\n", []string{`t.yaml:2:21: server.max_request_size: "12 parsecs" is not a size (want e.g. 512KiB, 32MiB, 1GiB or a byte count)`}},
		{"size over limit", "server:\n  max_request_size: 2GiB\n", []string{"t.yaml:2:21: server.max_request_size: 2GiB is over the 1GiB limit (allowed 1MiB..1GiB)"}},
		{"lambda function mapping", "firehose:\n  lambda_functions:\n    nope: http://127.0.0.1:9001/\n    \"arn:aws:lambda:us-east-1:000000000000:function:f\": ftp://x\n", []string{
			`t.yaml:3:11: firehose.lambda_functions.nope: "nope" is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>])`,
			`t.yaml:4:57: firehose.lambda_functions.arn:aws:lambda:us-east-1:000000000000:function:f: "ftp://x" is not an http(s) URL (e.g. http://127.0.0.1:9001/invoke)`}},
		{"scale check too often", "limits:\n  on_demand_scale_check: 100ms\n", []string{"t.yaml:2:26: limits.on_demand_scale_check: 100ms is under the 1s minimum (allowed 1s..24h0m0s)"}},
		{"bad duration", "server:\n  shutdown_timeout: 3 days\n", []string{`t.yaml:2:21: server.shutdown_timeout: "3 days" is not a duration (want e.g. 500ms, 30s, 24h)`}},
		{"enum", "log:\n  format: xml\n", []string{`t.yaml:2:11: log.format: "xml" is not allowed (allowed: text, json)`}},
		{"duplicate stream names", "streams:\n  - name: a\n  - name: a\n",
			[]string{`t.yaml:3:11: streams[1].name: duplicate stream name "a" (also streams[0])`}},
		{"stream name missing", "streams:\n  - shards: 2\n", []string{"t.yaml:2:5: streams[0].name: is required"}},
		{"retention range", "streams:\n  - name: a\n    retention: 1h\n",
			[]string{"t.yaml:3:16: streams[0].retention: 1h0m0s is under the 24h0m0s minimum (allowed 24h0m0s..8760h0m0s)"}},
		{"record size range", "streams:\n  - name: a\n    max_record_size: 20MiB\n",
			[]string{"t.yaml:3:22: streams[0].max_record_size: 20MiB is over the 10MiB limit (allowed 1MiB..10MiB)"}},
		{"shards and on_demand", "streams:\n  - name: a\n    shards: 2\n    on_demand: true\n",
			[]string{"t.yaml:3:13: streams[0].shards: cannot be set together with on_demand: true (ON_DEMAND streams start with 4 shards)"}},
		{"shard total over limit", "limits:\n  shard_limit: 3\nstreams:\n  - {name: a, shards: 2}\n  - {name: b, shards: 2}\n",
			[]string{"t.yaml:4:3: streams: declared streams need 4 shards, over limits.shard_limit 3"}},
		{"tls half", "server:\n  tls:\n    cert: /x.pem\n", []string{"t.yaml:3:5: server.tls.key: is required when server.tls.cert is set"}},
		{"sigv4 without credentials", "auth:\n  sigv4: true\n", []string{"t.yaml:2:10: auth.sigv4: needs at least one entry in auth.credentials to verify signatures against"}},
		{"bad action", "auth:\n  credentials:\n    - {access_key_id: A, secret_access_key: B, actions: [\"kinesis Put\"]}\n",
			[]string{`t.yaml:3:58: auth.credentials[0].actions[0]: "kinesis Put" is not an action pattern (service:Operation with * or ? wildcards, e.g. kinesis:Put*, firehose:*, *)`}},
		{"delivery stream with a missing source stream", "streams:\n  - name: a\ndelivery_streams:\n  - name: d\n    source: {type: kinesis_stream, stream: b}\n    destination: {s3: {bucket: x}}\n",
			[]string{`t.yaml:5:44: delivery_streams[0].source.stream: stream "b" is not declared in streams`}},
		{"syntax error", "server:\n  listen: [\n", []string{"t.yaml:2:1: invalid YAML: did not find expected node content"}},
		{"two documents", "log: {}\n---\nlog: {}\n", []string{"t.yaml:2:1: only one YAML document is allowed (found a second one)"}},
		{"every problem at once",
			"server:\n  listen: nope\n  region: US\nlog:\n  level: loud\nstreams:\n  - name: \"bad name\"\n    shards: 0\n  - name: ok\n    colour: red\n",
			[]string{
				`t.yaml:2:11: server.listen: "nope" is not host:port (e.g. 127.0.0.1:4600, :4600)`,
				`t.yaml:3:11: server.region: "US" is not a region name (1..32 of a-z, 0-9, -; e.g. us-east-1)`,
				`t.yaml:5:10: log.level: "loud" is not allowed (allowed: debug, info, warn, error)`,
				`t.yaml:7:11: streams[0].name: "bad name" is not a stream name (1..128 of a-z, A-Z, 0-9, _ . -)`,
				`t.yaml:8:13: streams[0].shards: 0 is out of range (allowed 1..10000)`,
				`t.yaml:10:5: streams[1].colour: unknown key (allowed: name, account, region, shards, on_demand, retention, max_record_size, quotas, tags)`,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.src)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
			if ps := Problems(err); len(ps) != len(tc.want) {
				t.Fatalf("Problems() = %d, want %d", len(ps), len(tc.want))
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none.yaml")
	_, err := Load(p)
	var pr *Problem
	if !errors.As(err, &pr) || !strings.HasPrefix(err.Error(), p+": cannot read config") {
		t.Fatalf("got %v", err)
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	c, err := Parse("e.yaml", nil)
	if err != nil || c.Server.Listen != DefaultListen {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestAliasBomb(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		n := string(rune('b' + i))
		src += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	src = "streams:\n  - name: x\n    tags:\n      k: v\n" + "x: " + strings.ReplaceAll(src, "\n", " ") // invalid but must terminate
	if _, err := Parse("t.yaml", []byte(src)); err == nil {
		t.Fatal("accepted")
	}
}

// TestReferenceCoversEveryKey keeps reference.yaml complete: every yaml key of the
// Config structs must appear in it (set or commented out).
func TestReferenceCoversEveryKey(t *testing.T) {
	ref := string(Reference())
	var walk func(tp reflect.Type, path string)
	seen := map[reflect.Type]bool{}
	walk = func(tp reflect.Type, path string) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice || tp.Kind() == reflect.Map {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] {
			return
		}
		seen[tp] = true
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !strings.Contains(ref, " "+name+":") && !strings.Contains(ref, "\n"+name+":") && !strings.Contains(ref, "{"+name+":") {
				t.Errorf("reference.yaml does not document %s.%s", path, name)
			}
			walk(f.Type, path+"."+name)
		}
	}
	walk(reflect.TypeFor[Config](), "")
}
