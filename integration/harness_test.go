//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-io/sluice/integration/harness"
)

// The harness's own servers answer like the real things they are.
func TestHarnessMinIORoundTrip(t *testing.T) {
	m := harness.MinIO(t)
	ctx := context.Background()
	bucket := m.CreateBucket(t, t.Name())
	body := []byte("hello minio")
	if _, err := m.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.txt"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	keys, err := m.Objects(ctx, bucket, "a/")
	if err != nil || len(keys) != 1 || keys[0] != "a/b.txt" {
		t.Fatalf("list: %v %v", keys, err)
	}
	got, _, err := m.Get(ctx, bucket, "a/b.txt")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get: %q %v", got, err)
	}
}

func TestHarnessPostgres(t *testing.T) {
	pg := harness.Postgres(t)
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql client not installed")
	}
	out, err := exec.Command(psql, "-h", pg.Host, "-p", fmt.Sprint(pg.Port), "-U", pg.User, "-d", pg.Database,
		"-Atc", "create table t(x int); insert into t values (41),(1); select sum(x) from t").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "42") {
		t.Fatalf("psql answered %q", out)
	}
}
