package kinesisapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-io/sluice/streamcore"
)

type testEnv struct {
	srv *httptest.Server
	eng *streamcore.Engine
	h   *handler
}

// newEnv starts the handler on a real HTTP server speaking HTTP/1.1 and h2c.
func newEnv(t testing.TB, opts Options, engOpts ...func(*streamcore.Options)) *testEnv {
	t.Helper()
	eo := streamcore.Options{Store: streamcore.NewMemStore()}
	for _, f := range engOpts {
		f(&eo)
	}
	eng, err := streamcore.Open(context.Background(), eo)
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(eng, opts)
	mux := http.NewServeMux()
	mux.Handle("/v1/streams/", &ingest{h: h})
	mux.Handle("/", h)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		eng.Close(context.Background())
	})
	return &testEnv{srv: srv, eng: eng, h: h}
}

// h2cClient is an HTTP client speaking HTTP/2 with prior knowledge over plain TCP.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols), DialContext: (&net.Dialer{}).DialContext}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// sdk returns an aws-sdk-go-v2 Kinesis client for the env with the given keys.
func (e *testEnv) sdk(akid, secret string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(e.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       h2cClient(),
	})
}

// sdkRetrying is sdk with retries on throttling (GetRecords allows 5 calls/s per shard).
func (e *testEnv) sdkRetrying(akid, secret string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient:   h2cClient(),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 30
			o.MaxBackoff = 250 * time.Millisecond
			o.RateLimiter = ratelimit.None
		}),
	})
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// postRaw POSTs body to url with the headers of hdrs set in order (a later map wins), and
// returns the response (body closed) and the body read.
func postRaw(t *testing.T, url, body string, hdrs ...map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for _, hdr := range hdrs {
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
