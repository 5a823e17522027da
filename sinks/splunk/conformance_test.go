package splunk

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/hec"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/sinktest"
)

// quiet is a logger that drops everything.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// conformance is the shared suite's harness over an HEC server with acknowledgement on:
// what the destination holds is the bodies of the posts HEC indexed (Raw), or each event
// indexed with a line break (Event, records wrapped).
func conformance(t *testing.T, typ string) sinktest.Harness {
	srv := hec.NewServer(hec.Options{})
	t.Cleanup(srv.Close)
	const token = "conformance-token"
	srv.AddToken(token, true)
	srv.SetAckDelay(30 * time.Millisecond)
	cfg := Config{Endpoint: srv.URL, Type: typ, Token: token, AckPoll: 20 * time.Millisecond, AckTimeout: 10 * time.Second, Logger: quiet}
	if typ == Event {
		cfg.Wrap = &Wrap{Sourcetype: "_json"}
	}
	h := sinktest.Harness{
		New:      func(testing.TB) sinks.Sink { return New(cfg) },
		Classify: sinks.Classify,
		Delivered: func(testing.TB) [][]byte {
			if typ == Raw {
				return srv.Bodies()
			}
			var out [][]byte
			for _, e := range srv.Events() {
				out = append(out, append(bytes.Clone(e.Event), '\n'))
			}
			return out
		},
		Break: func(testing.TB) { srv.SetBusy(time.Hour) },
		Fix:   func(testing.TB) { srv.SetBusy(0) },
		Unreachable: func(t testing.TB) sinks.Sink {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			c := cfg
			c.Endpoint = "http://" + addr
			return New(c)
		},
	}
	return h
}

func TestConformanceRaw(t *testing.T) {
	h := conformance(t, Raw)
	sinktest.Run(t, h)
	sinktest.RunDelivery(t, h)
}

// The event endpoint with wrapped records: the runner half (whose records are JSON lines,
// each indexed as one event).
func TestConformanceEventDelivery(t *testing.T) {
	sinktest.RunDelivery(t, conformance(t, Event))
}

// Writes are confirmed asynchronously: Write answers Pending, and the final Result comes
// once HEC acknowledged the post.
func TestWriteIsPendingUntilAcknowledged(t *testing.T) {
	srv := hec.NewServer(hec.Options{})
	defer srv.Close()
	srv.AddToken("tok", true)
	srv.SetAckDelay(200 * time.Millisecond)
	s := New(Config{Endpoint: srv.URL, Type: Raw, Token: "tok", AckPoll: 20 * time.Millisecond, AckTimeout: 5 * time.Second, Logger: quiet})
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	t0 := time.Now()
	res := s.Write(ctx, batchOf("a\n", "b\n"))
	if res.Pending == nil {
		t.Fatalf("Write = %+v; want Pending", res)
	}
	final := <-res.Pending
	if final.Err != nil || final.Records != nil {
		t.Fatalf("final Result = %+v", final)
	}
	if el := time.Since(t0); el < 200*time.Millisecond {
		t.Errorf("confirmed after %v, before HEC acknowledged (200 ms)", el)
	}
}
