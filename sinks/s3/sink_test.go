package s3

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/sinktest"
)

// fakeS3 answers PutObject like S3 would, or with a fixed error.
type fakeS3 struct {
	mu      sync.Mutex
	status  int
	code    string
	objects map[string][]byte
	headers map[string]http.Header
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != 0 {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+f.code+`</Code><Message>fake</Message><RequestId>1</RequestId></Error>`)
		return
	}
	if r.Method != http.MethodPut {
		w.WriteHeader(http.StatusNotImplemented)
		return
	}
	f.objects[r.URL.Path] = body
	f.headers[r.URL.Path] = r.Header.Clone()
	w.Header().Set("ETag", `"abc"`)
}

func newTestSink(t testing.TB, endpoint string, cfg Config) *Sink {
	t.Helper()
	s := newUnconnectedSink(t, endpoint, cfg)
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newUnconnectedSink(t testing.TB, endpoint string, cfg Config) *Sink {
	t.Helper()
	c := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials:      credentials.NewStaticCredentialsProvider("AK", "SK", ""),
		RetryMaxAttempts: 1,
	})
	cfg.Bucket, cfg.DeliveryStreamName = "bkt", "orders"
	s, err := New(cfg, WithClient(c))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSinkWritesObject(t *testing.T) {
	fs := &fakeS3{objects: map[string][]byte{}, headers: map[string]http.Header{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s := newTestSink(t, srv.URL, Config{Prefix: "p/", CompressionFormat: HadoopSnappy})
	b := sinks.Batch{Records: []record.Record{{Data: []byte("one"), ArrivalMs: t0.UnixMilli() + 5}, {Data: []byte("two\n"), ArrivalMs: t0.UnixMilli()}}}
	key, err := s.Put(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "p/2026/07/13/14/orders-1-2026-07-13-14-05-09-") || !strings.HasSuffix(key, ".snappy") {
		t.Errorf("key %q", key)
	}
	body, ok := fs.objects["/bkt/"+key]
	if !ok {
		t.Fatalf("object not stored; have %v", fs.objects)
	}
	got, err := decodeFormat(HadoopSnappy, body)
	if err != nil || string(got) != "onetwo\n" {
		t.Errorf("content %q, %v", got, err)
	}
	h := fs.headers["/bkt/"+key]
	if h.Get("Content-Type") != "application/octet-stream" || h.Get("Content-Encoding") != "hadoop-snappy" {
		t.Errorf("headers %v", h)
	}
	// empty batch: no object
	if k, err := s.Put(context.Background(), sinks.Batch{}); k != "" || err != nil || len(fs.objects) != 1 {
		t.Errorf("empty batch wrote %q %v", k, err)
	}
}

func TestSinkClassifiesS3Errors(t *testing.T) {
	cases := []struct {
		status int
		code   string
	}{
		{404, "NoSuchBucket"}, {403, "AccessDenied"}, {503, "SlowDown"}, {500, "InternalError"},
	}
	for _, c := range cases {
		fs := &fakeS3{status: c.status, code: c.code}
		srv := httptest.NewServer(fs)
		s := newTestSink(t, srv.URL, Config{CompressionFormat: GZIP})
		err := s.Write(context.Background(), sinks.Batch{Records: []record.Record{{Data: []byte("x")}}}).Err
		srv.Close()
		if err == nil {
			t.Errorf("%s: no error", c.code)
			continue
		}
		if Classify(err) != sinks.Errored || Code(err) != "S3."+c.code {
			t.Errorf("%s: classified %v code %q (%v)", c.code, Classify(err), Code(err), err)
		}
	}
}

func TestSinkConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newTestSink(t, "http://"+addr, Config{})
	err = s.Write(context.Background(), sinks.Batch{Records: []record.Record{{Data: []byte("x")}}}).Err
	if Classify(err) != sinks.Errored || Code(err) != "S3.ConnectionFailed" {
		t.Fatalf("classified %v code %q: %v", Classify(err), Code(err), err)
	}
}

func TestSinkErrorObjects(t *testing.T) {
	fs := &fakeS3{objects: map[string][]byte{}, headers: map[string]http.Header{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s := newTestSink(t, srv.URL, Config{Prefix: "p/", CompressionFormat: GZIP})
	recs := []record.FailureRecord{{AttemptsMade: 1, ArrivalTimestamp: t0.UnixMilli(), ErrorCode: "c", RawData: []byte("r")}}
	key, err := s.WriteErrors(context.Background(), record.ProcessingFailed, recs)
	if err != nil || !strings.HasPrefix(key, "p/processing-failed/2026/07/13/14/orders-1-") || !strings.HasSuffix(key, ".gz") {
		t.Fatalf("key %q %v", key, err)
	}
	got, err := decodeFormat(GZIP, fs.objects["/bkt/"+key])
	if err != nil || !bytes.Equal(got, record.AppendNDJSON(nil, recs)) {
		t.Fatalf("content %q %v", got, err)
	}
}

func TestConfigLogValueRedactsSecret(t *testing.T) {
	c := Config{AccessKeyID: "AK", SecretAccessKey: "very-secret"}
	if s := c.LogValue().String(); strings.Contains(s, "very-secret") || !strings.Contains(s, "REDACTED") {
		t.Errorf("log value %s", s)
	}
	if s := c.SecretAccessKey.String(); s != "REDACTED" {
		t.Errorf("String() = %q", s)
	}
}

func TestSinkConformance(t *testing.T) {
	for _, f := range []CompressionFormat{GZIP, Snappy} {
		t.Run(string(f), func(t *testing.T) {
			fs := &fakeS3{objects: map[string][]byte{}, headers: map[string]http.Header{}}
			srv := httptest.NewServer(fs)
			defer srv.Close()
			h := sinktest.Harness{
				New: func(t testing.TB) sinks.Sink {
					return newUnconnectedSink(t, srv.URL, Config{Prefix: "c/", CompressionFormat: f})
				},
				Unreachable: func(t testing.TB) sinks.Sink {
					return newUnconnectedSink(t, "http://"+closedAddr(t), Config{Prefix: "c/", CompressionFormat: f})
				},
				Classify: Classify,
				Delivered: func(t testing.TB) [][]byte {
					fs.mu.Lock()
					defer fs.mu.Unlock()
					var out [][]byte
					for k, b := range fs.objects {
						d, err := decodeFormat(f, b)
						if err != nil {
							t.Fatalf("%s: %v", k, err)
						}
						out = append(out, d)
					}
					return out
				},
				Break: func(testing.TB) { fs.mu.Lock(); fs.status, fs.code = 503, "ServiceUnavailable"; fs.mu.Unlock() },
				Fix:   func(testing.TB) { fs.mu.Lock(); fs.status = 0; fs.mu.Unlock() },
			}
			sinktest.Run(t, h)
			sinktest.RunDelivery(t, h)
		})
	}
}

func TestSinkCanceledContext(t *testing.T) {
	fs := &fakeS3{objects: map[string][]byte{}, headers: map[string]http.Header{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s := newTestSink(t, srv.URL, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Write(ctx, sinks.Batch{Records: []record.Record{{Data: []byte("x")}}}).Err
	if err == nil || Classify(err) != sinks.Errored || Code(err) != "S3.Canceled" {
		t.Fatalf("err %v code %q", err, Code(err))
	}
}

// Without keys, the AWS chain must not ask the EC2 instance metadata service (Sluice is
// self-hosted; the address is not ours) unless instance_metadata turns it on.
func TestNoInstanceMetadataUnlessAsked(t *testing.T) {
	var probes atomic.Int32
	imdsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer imdsSrv.Close()
	fs := &fakeS3{objects: map[string][]byte{}, headers: map[string]http.Header{}}
	s3srv := httptest.NewServer(fs)
	defer s3srv.Close()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_EC2_METADATA_DISABLED", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imdsSrv.URL)
	for _, asked := range []bool{false, true} {
		probes.Store(0)
		s, err := New(Config{Bucket: "bkt", DeliveryStreamName: "orders", Endpoint: s3srv.URL, PathStyle: true, InstanceMetadata: asked})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, sinks.Batch{Records: []record.Record{{Data: []byte("x")}}}).Err; err == nil {
			t.Errorf("instance_metadata=%v: a write without credentials succeeded", asked)
		}
		cancel()
		if n := probes.Load(); asked != (n > 0) {
			t.Errorf("instance_metadata=%v: the metadata service got %d requests", asked, n)
		}
	}
}
