//go:build integration

package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
)

// TestKinesisJavaSDK drives Sluice with the real AWS SDK for Java v2 (the client KCL is
// built on) set up as KCL sets it up: Netty over HTTP/2 with prior knowledge on a
// cleartext endpoint. The program in integration/java checks streams, ListShards
// filters and paging, PutRecords/PutRecord, GetRecords with byte-exact data and arrival
// timestamps, enhanced fan-out (SubscribeToShard event streams) and a split shard's end
// (ChildShards, no NextShardIterator). It runs once with CBOR (the SDK's default) and
// once with -Daws.cborEnabled=false (JSON), and once more with CBOR against a Sluice that
// verifies SigV4 signatures (the keys below are the ones SluiceCheck signs with).
const javaSigV4YAML = `auth:
  sigv4: true
  credentials:
    - access_key_id: AKIAIOSFODNN7EXAMPLE
      secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
`

func TestKinesisJavaSDK(t *testing.T) {
	harness.RequireJava(t)
	libs := harness.MavenJars(t, "java")
	cp := harness.CompileJava(t, filepath.Join("java", "src"), libs)

	open := harness.StartSluice(t, "")
	signed := harness.StartSluice(t, javaSigV4YAML)
	for _, tc := range []struct {
		name, cbor string
		sl         *harness.Sluice
		extra      []string
	}{
		{"cbor", "true", open, nil},
		{"json", "false", open, nil},
		{"cbor-sigv4", "true", signed, []string{"sigv4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jvm := []string{
				"-Daws.cborEnabled=" + tc.cbor,
				"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
			}
			args := append([]string{tc.sl.Endpoint, "java-sdk-" + tc.name}, tc.extra...)
			out, err := harness.RunJava(cp, 4*time.Minute, jvm, "io.sluice.check.SluiceCheck", args...)
			if err != nil || !strings.Contains(out, "\nPASS") {
				t.Fatalf("Java SDK check (%s) failed: %v\n%s", tc.name, err, out)
			}
			t.Logf("Java SDK check (%s):\n%s", tc.name, out)
		})
	}
}
