//go:build integration

package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
)

// awsCLI runs the AWS CLI against endpoint with static keys and returns its JSON output.
type awsCLI struct {
	t        *testing.T
	endpoint string
	env      []string
	v2       bool
}

func newAWSCLI(t *testing.T, endpoint, akid, secret string) *awsCLI {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"HOME="+home,
		"AWS_ACCESS_KEY_ID="+akid,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+home+"/config",
		"AWS_SHARED_CREDENTIALS_FILE="+home+"/credentials",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
	ver, _ := exec.Command("aws", "--version").CombinedOutput()
	return &awsCLI{t: t, endpoint: endpoint, env: env, v2: strings.HasPrefix(string(ver), "aws-cli/2")}
}

// run executes `aws kinesis <args>`; it returns stdout, stderr and whether it succeeded.
func (a *awsCLI) run(args ...string) ([]byte, string, bool) {
	a.t.Helper()
	full := append([]string{"--endpoint-url", a.endpoint, "--output", "json", "kinesis"}, args...)
	if a.v2 && (args[0] == "put-record" || args[0] == "put-records") {
		full = append(full, "--cli-binary-format", "raw-in-base64-out")
	}
	cmd := exec.Command("aws", full...)
	cmd.Env = a.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.String(), err == nil
}

func (a *awsCLI) ok(v any, args ...string) {
	a.t.Helper()
	out, stderr, ok := a.run(args...)
	if !ok {
		a.t.Fatalf("aws kinesis %s failed: %s", strings.Join(args, " "), stderr)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			a.t.Fatalf("aws kinesis %s: %v in %q", args[0], err, out)
		}
	}
}

type cliShard struct {
	ShardId             string
	ParentShardId       string
	SequenceNumberRange struct{ StartingSequenceNumber, EndingSequenceNumber string }
	HashKeyRange        struct{ StartingHashKey, EndingHashKey string }
}

type cliDescribe struct {
	StreamDescription struct {
		StreamName, StreamStatus, StreamARN string
		Shards                              []cliShard
	}
}

func TestKinesisAWSCLI(t *testing.T) {
	s := harness.StartSluice(t, "auth:\n  sigv4: true\n  credentials:\n    - {access_key_id: AKIDCLI, secret_access_key: cli-secret}\n")
	cli := newAWSCLI(t, s.Endpoint, "AKIDCLI", "cli-secret")

	cli.ok(nil, "create-stream", "--stream-name", "cli", "--shard-count", "2")
	var d cliDescribe
	waitActive := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			cli.ok(&d, "describe-stream", "--stream-name", "cli")
			if d.StreamDescription.StreamStatus == "ACTIVE" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream not ACTIVE: %+v", d.StreamDescription)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitActive()
	if len(d.StreamDescription.Shards) != 2 || d.StreamDescription.StreamARN != "arn:aws:kinesis:us-east-1:000000000000:stream/cli" {
		t.Fatalf("describe-stream: %+v", d.StreamDescription)
	}

	// "a" hashes into the lower half: shard 0 (reference §3.1).
	var put struct{ ShardId, SequenceNumber string }
	cli.ok(&put, "put-record", "--stream-name", "cli", "--partition-key", "a", "--data", "hello from the cli")
	if put.ShardId != "shardId-000000000000" || len(put.SequenceNumber) != 56 {
		t.Fatalf("put-record: %+v", put)
	}
	var it struct{ ShardIterator string }
	cli.ok(&it, "get-shard-iterator", "--stream-name", "cli", "--shard-id", "shardId-000000000000", "--shard-iterator-type", "TRIM_HORIZON")
	var gr struct {
		Records []struct {
			Data, PartitionKey, SequenceNumber string
			ApproximateArrivalTimestamp        cliTime
		}
		NextShardIterator string
	}
	cli.ok(&gr, "get-records", "--shard-iterator", it.ShardIterator)
	if len(gr.Records) != 1 || gr.NextShardIterator == "" {
		t.Fatalf("get-records: %+v", gr)
	}
	data, err := base64.StdEncoding.DecodeString(gr.Records[0].Data)
	if err != nil || string(data) != "hello from the cli" || gr.Records[0].SequenceNumber != put.SequenceNumber || gr.Records[0].PartitionKey != "a" {
		t.Fatalf("record: %+v (%q)", gr.Records[0], data)
	}
	if at := time.Time(gr.Records[0].ApproximateArrivalTimestamp); time.Since(at) > time.Minute || time.Until(at) > time.Minute {
		t.Fatalf("arrival timestamp %v", at)
	}

	cli.ok(nil, "split-shard", "--stream-name", "cli", "--shard-to-split", "shardId-000000000000", "--new-starting-hash-key", "85070591730234615865843651857942052864")
	waitActive()
	sh := d.StreamDescription.Shards
	if len(sh) != 4 || sh[0].SequenceNumberRange.EndingSequenceNumber == "" || sh[2].ParentShardId != "shardId-000000000000" ||
		sh[3].HashKeyRange.StartingHashKey != "85070591730234615865843651857942052864" {
		t.Fatalf("after split-shard: %+v", sh)
	}
	// After the split, "a" goes to the lower child.
	cli.ok(&put, "put-record", "--stream-name", "cli", "--partition-key", "a", "--data", "after split")
	if put.ShardId != "shardId-000000000002" {
		t.Fatalf("put after split went to %s", put.ShardId)
	}
	// Errors come back as the CLI expects them.
	if _, stderr, ok := cli.run("describe-stream", "--stream-name", "missing"); ok || !strings.Contains(stderr, "ResourceNotFoundException") || !strings.Contains(stderr, "Stream missing under account 000000000000 not found.") {
		t.Fatalf("missing stream: ok=%v %s", ok, stderr)
	}
	// A wrong secret is refused by SigV4 verification.
	bad := newAWSCLI(t, s.Endpoint, "AKIDCLI", "not-the-secret")
	if _, stderr, ok := bad.run("list-streams"); ok || !strings.Contains(stderr, "InvalidSignatureException") {
		t.Fatalf("bad secret: ok=%v %s", ok, stderr)
	}
}

// cliTime reads a timestamp as the AWS CLI prints it: epoch seconds (v1) or ISO 8601 (v2).
type cliTime time.Time

func (c *cliTime) UnmarshalJSON(b []byte) error {
	var secs float64
	if err := json.Unmarshal(b, &secs); err == nil {
		*c = cliTime(time.UnixMilli(int64(secs * 1000)))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, err)
	}
	*c = cliTime(t)
	return nil
}
