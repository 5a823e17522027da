package opensearch

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sinks"
)

// A cluster that goes away and comes back on the same address: writes meanwhile are
// Unavailable, and the same client writes again as soon as it is back.
func TestWriteRecoversAfterOutage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv := httptest.NewUnstartedServer(&fakeCluster{t: t})
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	s := New(Config{Endpoint: "http://" + addr, Index: "i"})
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	srv.Close()
	for range 3 {
		if err := s.Write(ctx, batchOf(`{}`)).Err; !sinks.Held(err) {
			t.Fatalf("Write to a stopped cluster = %v; want Unavailable", err)
		}
	}
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv2 := &http.Server{Handler: &fakeCluster{t: t}}
	go srv2.Serve(l2)
	defer srv2.Close()
	start := time.Now()
	for {
		err := s.Write(ctx, batchOf(`{}`)).Err
		if err == nil {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("still failing %v after the cluster came back: %v", time.Since(start), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("writing again %v after the cluster came back", time.Since(start).Round(time.Millisecond))
}
