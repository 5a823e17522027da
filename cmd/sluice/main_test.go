package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("server:\n  listen: nope\n  colour: red\nstreams:\n  - {name: a}\n  - {name: a}\n"), 0o600)
	code, out, errOut := runCLI("validate", p)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := []string{
		p + `:2:11: server.listen: "nope" is not host:port`,
		p + ":3:3: server.colour: unknown key",
		p + `:6:12: streams[1].name: duplicate stream name "a" (also streams[0])`,
		"3 problem(s) found",
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestValidateOK(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ok.yaml")
	os.WriteFile(p, []byte("streams:\n  - {name: a}\n"), 0o600)
	// Flags may follow the file.
	code, out, errOut := runCLI("validate", p, "-check-sinks")
	if code != 0 || !strings.Contains(out, "OK (1 streams, 0 delivery streams)") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestValidatePrintReference(t *testing.T) {
	code, out, _ := runCLI("validate", "-print-reference")
	if code != 0 || !strings.Contains(out, "max_request_size: 16MiB") || !strings.Contains(out, "shard_limit: 20000") {
		t.Fatalf("exit %d\n%.300s", code, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	version = "v9.9.9-test"
	code, out, _ := runCLI("version")
	if code != 0 || !strings.HasPrefix(out, "sluice v9.9.9-test ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, e := runCLI("frobnicate"); code != 2 || !strings.Contains(e, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, e)
	}
	if code, _, e := runCLI("serve", "-config", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || !strings.Contains(e, "cannot read config") {
		t.Fatalf("serve with missing config: %d %q", code, e)
	}
}

func TestValidateWarnsSmallConversionBuffers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "conv.yaml")
	os.WriteFile(p, []byte(`firehose:
  catalog:
    analytics.events: {columns: [{name: id, type: bigint}]}
delivery_streams:
  - name: events
    buffer: {size: 16MiB}
    destination:
      s3: {bucket: lake, data_format_conversion: {database: analytics, table: events}}
`), 0o600)
	code, out, errOut := runCLI("validate", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "warning: "+p+":6:20: delivery_streams[0].buffer.size: is 16MiB: with record format conversion AWS requires buffers of at least 64MiB") {
		t.Errorf("stdout lacks the warning:\n%s", out)
	}
}
