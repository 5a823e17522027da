package daemon

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
)

// Requests over TLS keep their r.TLS (aws:SecureTransport reads it) whichever way the
// protocol was chosen: ALPN h2, ALPN http/1.1, or HTTP/2 prior knowledge without ALPN.
func TestTLSStateKeptForEveryProtocol(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	srv := &http.Server{Protocols: &protos, TLSConfig: cfg, ConnContext: connContext,
		Handler: withTLSState(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || !r.TLS.HandshakeComplete {
				w.Write([]byte("plain " + r.Proto))
				return
			}
			w.Write([]byte("tls " + r.Proto))
		}))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tlsListener{tls.NewListener(ln, cfg)})
	defer srv.Close()
	url := "https://" + ln.Addr().String() + "/"
	insecure := &tls.Config{InsecureSkipVerify: true}
	clients := map[string]*http.Client{
		"tls HTTP/2.0": {Transport: &http.Transport{TLSClientConfig: insecure, ForceAttemptHTTP2: true}},
		"tls HTTP/1.1": {Transport: &http.Transport{TLSClientConfig: insecure, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}},
		"tls HTTP/2.0 ": {Transport: &http2.Transport{DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&tls.Dialer{Config: insecure}).DialContext(ctx, network, addr) // no ALPN
		}}},
	}
	for want, c := range clients {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := string(b) + map[bool]string{true: " ", false: ""}[want[len(want)-1] == ' ']; got != want {
			t.Errorf("server saw %q, want %q", got, want)
		}
	}
}
