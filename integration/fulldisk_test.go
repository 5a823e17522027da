//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// The daemon on a small full filesystem (tmpfs): puts fail naming the full disk, reads go
// on, /readyz and /metrics say it, a CreateStream that fails leaves nothing (also after a
// restart), the daemon restarts on the full disk and serves reads, and freeing space
// lets writes resume. Needs root (mount); skipped otherwise.
func TestFullDisk(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16M", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { // runs after the daemon's stop (cleanups run last-in first-out)
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	// A declared stream and a declared DirectPut delivery stream (whose S3 is not there):
	// their start-up paths must not need to write either.
	s := harness.StartSluiceIn(t, filepath.Join(mnt, "data"), "",
		"firehose:\n  s3: {endpoint: 'http://127.0.0.1:1', region: us-east-1, access_key_id: x, secret_access_key: y}\n"+
			"streams:\n  - name: decl\n    shards: 1\n"+
			"delivery_streams:\n  - name: fh\n    destination:\n      type: s3\n      s3: {bucket: b}\n")
	ctx := context.Background()
	c := kinesisClient(s.Endpoint)

	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("keep"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, c, "keep")
	acked := 0
	for i := 0; i < 20; i++ {
		putOne(t, c, "keep", i, 1000)
		acked++
	}

	filler := filepath.Join(mnt, "filler")
	fillUp(t, filler)

	// Puts fail with a clear error (large records: a small one might still fit in the
	// last page of a segment).
	var putErr error
	for i := 0; i < 50 && putErr == nil; i++ {
		_, putErr = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("keep"),
			PartitionKey: aws.String(fmt.Sprint("full-", i)), Data: bytes.Repeat([]byte{'x'}, 64<<10)})
		if putErr == nil {
			acked++
		}
	}
	if putErr == nil {
		t.Fatal("50 puts of 64 KiB succeeded on a full 16 MiB disk")
	}
	if !strings.Contains(putErr.Error(), "no space left on device") {
		t.Fatalf("put on a full disk: %v, want an error naming the full disk", putErr)
	}
	t.Logf("put on the full disk: %v", putErr)

	if got := readStream(t, c, "keep"); got != acked {
		t.Fatalf("read %d records on the full disk, want the %d acknowledged", got, acked)
	}
	fhOut, err := firehoseClient(s.Endpoint).PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("fh"),
		Records: []fhtypes.Record{{Data: bytes.Repeat([]byte{'f'}, 64<<10)}, {Data: bytes.Repeat([]byte{'g'}, 64<<10)}}})
	if err != nil {
		t.Fatalf("Firehose PutRecordBatch on a full disk: %v", err)
	}
	if n := aws.ToInt32(fhOut.FailedPutCount); n != 2 || !strings.Contains(aws.ToString(fhOut.RequestResponses[0].ErrorMessage), "no space left on device") {
		t.Fatalf("Firehose PutRecordBatch on a full disk: %d failed, first %q/%q; want 2 naming the full disk", n,
			aws.ToString(fhOut.RequestResponses[0].ErrorCode), aws.ToString(fhOut.RequestResponses[0].ErrorMessage))
	}
	code, body := fetch(t, s.Endpoint+"/readyz")
	if code != 200 || !strings.Contains(body, "storage: full") {
		t.Fatalf("/readyz on a full disk: %d %q, want 200 naming the full disk", code, body)
	}
	t.Logf("/readyz: %q", body)
	_, metrics := fetch(t, s.Endpoint+"/metrics")
	for _, want := range []string{"sluice_storage_full 1", `sluice_storage_write_errors_total{reason="no_space"}`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
	if b, _ := os.ReadFile(s.LogPath); !bytes.Contains(b, []byte("no space left on device")) {
		t.Fatal("the log does not name the cause (no space left on device)")
	}

	logsBefore := logFolders(t, s.DataDir)
	// A CreateStream with many shards needs metadata pages bbolt does not have free.
	_, createErr := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("lost"), ShardCount: aws.Int32(100)})
	want := []string{"decl", "keep"}
	if createErr == nil {
		t.Log("CreateStream fit into free metadata pages on the full disk; it must then survive the restart")
		want = append(want, "lost")
	} else {
		t.Logf("CreateStream on the full disk: %v", createErr)
	}
	checkStreams(t, c, want...)

	// Restart on the full disk. A clean stop checkpoints the journal and removes it,
	// which frees what it held: the disk is filled again while the daemon is down, so
	// it opens on a disk with no space left.
	if err := s.Stop(30 * time.Second); err != nil {
		t.Fatalf("stop on a full disk: %v", err)
	}
	filler2 := filepath.Join(mnt, "filler2")
	fillUp(t, filler2)
	s.Start() // waits for /readyz 200
	if code, body := fetch(t, s.Endpoint+"/readyz"); code != 200 || !strings.Contains(body, "storage: full") {
		t.Fatalf("/readyz after a restart on the full disk, before any write: %d %q, want 200 naming the full disk", code, body)
	}
	c = kinesisClient(s.Endpoint)
	checkStreams(t, c, want...)
	if got := readStream(t, c, "keep"); got != acked {
		t.Fatalf("after a restart on the full disk: read %d records, want %d", got, acked)
	}
	if after := logFolders(t, s.DataDir); createErr != nil && after != logsBefore {
		t.Fatalf("log folders after the failed CreateStream and a restart: %s, want those before it: %s", after, logsBefore)
	}

	// Free the space: writes resume.
	for _, f := range []string{filler, filler2} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	putOne(t, c, "keep", 100, 1000)
	acked++
	if got := readStream(t, c, "keep"); got != acked {
		t.Fatalf("after freeing space: read %d records, want %d", got, acked)
	}
	if code, body := fetch(t, s.Endpoint+"/readyz"); code != 200 || strings.Contains(body, "storage: full") {
		t.Fatalf("/readyz after freeing space: %d %q", code, body)
	}
	if createErr != nil {
		if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("lost"), ShardCount: aws.Int32(2)}); err != nil {
			t.Fatalf("CreateStream after freeing space: %v", err)
		}
	}
}

// logFolders lists the shard log folders of the daemon's data dir.
func logFolders(t *testing.T, dataDir string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// fillUp writes path until the filesystem is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	for { // the last partial page
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
}

func putOne(t *testing.T, c *kinesis.Client, stream string, i, size int) {
	t.Helper()
	if _, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(stream),
		PartitionKey: aws.String(fmt.Sprint("k-", i)), Data: bytes.Repeat([]byte{'r'}, size)}); err != nil {
		t.Fatalf("PutRecord %d: %v", i, err)
	}
}

// readStream counts the records of every shard of stream from the trim horizon.
func readStream(t *testing.T, c *kinesis.Client, stream string) int {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sh := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream),
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				// one more try with the same iterator, as an SDK with its default retries
				// would: a client-side "use of closed network connection" shows up rarely
				// under load (seen on the pre-redesign base too; not yet understood)
				t.Logf("GetRecords %s: %v; trying again", *sh.ShardId, err)
				out, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			}
			if err != nil {
				t.Fatalf("GetRecords %s: %v", *sh.ShardId, err)
			}
			n += len(out.Records)
			if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return n
}

func checkStreams(t *testing.T, c *kinesis.Client, want ...string) {
	t.Helper()
	out, err := c.ListStreams(context.Background(), &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(out.StreamNames, ","); got != strings.Join(want, ",") {
		t.Fatalf("streams %q, want %q", got, strings.Join(want, ","))
	}
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
