package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/daemon/kinesisapi"
	"github.com/sluice-io/sluice/streamcore"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"1KiB": 1024, "512B": 512, "2MiB": 2 << 20, "100": 100, "1KB": 1024} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize(lots) succeeded")
	}
}

func TestPutThenGetAgainstSluice(t *testing.T) {
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	srv := httptest.NewServer(kinesisapi.New(eng, kinesisapi.Options{}))
	defer srv.Close()

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"put", "-endpoint", srv.URL, "-stream", "b", "-create", "4", "-records", "2300",
		"-size", "100B", "-batch", "500", "-concurrency", "3", "-progress=false"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("put exit %d: %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "records   2300 in") || !strings.Contains(out.String(), "(0 failed)") || !strings.Contains(out.String(), "p99") {
		t.Fatalf("put summary:\n%s", out.String())
	}
	out.Reset()
	code = run(context.Background(), []string{"get", "-endpoint", srv.URL, "-stream", "b", "-progress=false"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("get exit %d: %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "records   2300 in") {
		t.Fatalf("get summary:\n%s", out.String())
	}
	// Bad flags exit 2 with usage.
	errOut.Reset()
	if code := run(context.Background(), []string{"put", "-batch", "600"}, &out, &errOut); code != 2 {
		t.Fatalf("bad -batch exit %d", code)
	}
	if code := run(context.Background(), []string{"fly"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: sluice bench") {
		t.Fatalf("bad mode: %d %s", code, errOut.String())
	}
	_ = http.StatusOK
}
