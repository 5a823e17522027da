package awsproto

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// limitsServer serves one endpoint whose operation echoes a reply of replySize bytes.
func limitsServer(t *testing.T, lim *Limits, replySize int) *httptest.Server {
	t.Helper()
	e := &Endpoint{TargetPrefix: "Test_1.", Known: func(string) bool { return true }, Verifier: &Verifier{Service: "test"},
		Limits: lim}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := e.Begin(w, r)
		if !ok {
			return
		}
		defer c.Release()
		c.Reply(w, []byte(strings.Repeat("x", replySize)))
	}))
	srv.Config.WriteTimeout = lim.WriteTimeoutOrDefault()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

const signedHeaders = "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Test_1.Op\r\n" +
	"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/test/aws4_request, SignedHeaders=host, Signature=00\r\n" +
	"X-Amz-Date: 20261207T120000Z\r\n"

// slowClient sends headers announcing 16 MiB and then only prefix of the body.
func slowClient(t *testing.T, addr string, prefix string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s", signedHeaders, 16<<20, prefix)
	return c
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A declared Content-Length reserves nothing: 50 clients announcing 16 MiB each and
// sending a few bytes hold a first buffer each, not 800 MiB.
func TestBodyMemoryFollowsBytesReceived(t *testing.T) {
	lim := &Limits{Memory: 1 << 30}
	srv := limitsServer(t, lim, 2)
	for range 50 {
		slowClient(t, srv.Listener.Addr().String(), `{"a":`)
	}
	waitUntil(t, "50 bodies being read", 5*time.Second, func() bool { return lim.InUse() >= 50*bodyChunk })
	time.Sleep(50 * time.Millisecond)
	if got := lim.InUse(); got > 50*bodyChunk {
		t.Fatalf("50 stalled bodies of 5 bytes hold %d bytes; want at most %d", got, 50*bodyChunk)
	}
}

// Over the memory bound a request is refused with 503 "Slow down.", not read.
func TestBodyMemoryBoundAnswersSlowDown(t *testing.T) {
	lim := &Limits{Memory: 4 * bodyChunk}
	srv := limitsServer(t, lim, 2)
	for range 4 {
		slowClient(t, srv.Listener.Addr().String(), "{")
	}
	waitUntil(t, "the bound to be used up", 5*time.Second, func() bool { return lim.InUse() == 4*bodyChunk })
	resp, err := http.Post(srv.URL, "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "ServiceUnavailableException") || !strings.Contains(string(b), "Slow down.") {
		t.Fatalf("over the bound: %d %s", resp.StatusCode, b)
	}
}

// A body that trickles in below the minimum rate is cut off after the grace period, and
// its memory is given back.
func TestSlowBodyIsCutOff(t *testing.T) {
	lim := &Limits{BodyGrace: 300 * time.Millisecond, MinRate: 256 << 10}
	srv := limitsServer(t, lim, 2)
	c := slowClient(t, srv.Listener.Addr().String(), "{")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 50 ms: far below 256 KiB/s
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow body answered %d", resp.StatusCode)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("cut off after %v; want about grace + 256 KiB at the minimum rate (~1.3 s)", el)
	}
	waitUntil(t, "its memory given back", 5*time.Second, func() bool { return lim.InUse() == 0 })
}

// A fast body of several MiB is read whole, whatever the minimum rate.
func TestFastLargeBodyIsRead(t *testing.T) {
	lim := &Limits{Memory: 64 << 20, BodyGrace: 200 * time.Millisecond}
	var got int
	e := &Endpoint{TargetPrefix: "Test_1.", Known: func(string) bool { return true }, Verifier: &Verifier{Service: "test"}, Limits: lim}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := e.Begin(w, r)
		if !ok {
			return
		}
		got = len(c.Body)
		c.Release()
		c.Reply(w, nil)
	}))
	defer srv.Close()
	body := `{"a":"` + strings.Repeat("y", 5<<20) + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Test_1.Op")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/test/aws4_request, SignedHeaders=host, Signature=00")
	req.Header.Set("X-Amz-Date", "20261207T120000Z")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || got != len(body) {
		t.Fatalf("status %d, body %d of %d bytes", resp.StatusCode, got, len(body))
	}
	if lim.InUse() != 0 {
		t.Fatalf("%d bytes still charged after the request", lim.InUse())
	}
}

// A client that never reads its reply is cut off after the write timeout, and the reply's
// memory is given back.
func TestNeverReadingClientIsCutOff(t *testing.T) {
	lim := &Limits{Memory: 1 << 30, WriteTimeout: 500 * time.Millisecond}
	srv := limitsServer(t, lim, 32<<20) // far more than the socket buffers hold
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\n%sContent-Length: 2\r\n\r\n{}", signedHeaders)
	waitUntil(t, "the reply being written", 5*time.Second, func() bool { return lim.InUse() >= 32<<20 })
	waitUntil(t, "the reply's memory given back after the write timeout", 10*time.Second, func() bool { return lim.InUse() == 0 })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("reading what was sent: %v", err)
	}
	if n >= 32<<20 {
		t.Fatalf("got the whole reply (%d bytes); want it cut off", n)
	}
}
