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
// once with -Daws.cborEnabled=false (JSON).
func TestKinesisJavaSDK(t *testing.T) {
	harness.RequireJava(t)
	libs := harness.MavenJars(t, "java")
	cp := harness.CompileJava(t, filepath.Join("java", "src"), libs)

	sl := harness.StartSluice(t, "")
	for _, codec := range []struct{ name, cbor string }{{"cbor", "true"}, {"json", "false"}} {
		t.Run(codec.name, func(t *testing.T) {
			jvm := []string{
				"-Daws.cborEnabled=" + codec.cbor,
				"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
			}
			out, err := harness.RunJava(cp, 4*time.Minute, jvm, "io.sluice.check.SluiceCheck",
				sl.Endpoint, "java-sdk-"+codec.name)
			if err != nil || !strings.Contains(out, "\nPASS") {
				t.Fatalf("Java SDK check (%s) failed: %v\n%s", codec.name, err, out)
			}
			t.Logf("Java SDK check (%s):\n%s", codec.name, out)
		})
	}
}
