package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MinIOVersion is the pinned MinIO module version the harness builds (it builds with the
// project's Go toolchain; takes a couple of minutes once, then the binary is cached).
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIOServer is a running MinIO on loopback.
type MinIOServer struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
}

// MinIO returns the shared MinIO server, starting it on first use.
func MinIO(t testing.TB) *MinIOServer {
	return shared(t, "minio", startMinIO)
}

// MinIOBinary returns the path of a MinIO binary, building the pinned version into the
// cache dir when it is not there yet.
func MinIOBinary() (string, error) {
	if p := os.Getenv("SLUICE_MINIO_BIN"); p != "" {
		return p, nil
	}
	bin := filepath.Join(CacheDir(), "bin")
	path := filepath.Join(bin, "minio")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "install", "github.com/minio/minio@"+MinIOVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-buildvcs=false")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build minio %s: %w", MinIOVersion, err)
	}
	return path, nil
}

func startMinIO() (*MinIOServer, func() error, error) {
	binPath, err := MinIOBinary()
	if err != nil {
		return nil, nil, err
	}
	dir, cleanup, err := tempDir("minio")
	if err != nil {
		return nil, nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	cport, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	s := &MinIOServer{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		AccessKey: "sluiceminio",
		SecretKey: "sluiceminio-secret",
		Region:    "us-east-1",
	}
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(binPath, "server", "--quiet",
		"--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", cport),
		filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start minio: %w", err)
	}
	stop := func() error {
		defer cleanup()
		defer logf.Close()
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return nil
	}
	if err := WaitHTTP(s.Endpoint+"/minio/health/live", 200, 60*time.Second); err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// S3 returns an S3 client for the server (path-style addressing).
func (m *MinIOServer) S3() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint),
		Region:       m.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// CreateBucket makes a bucket whose name is unique to this test and returns it.
func (m *MinIOServer) CreateBucket(t testing.TB, hint string) string {
	t.Helper()
	name := strings.ToLower(fmt.Sprintf("%s-%d", sanitize(hint), time.Now().UnixNano()%1_000_000_000))
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	_, err := m.S3().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Objects lists every object key in bucket under prefix, in key order.
func (m *MinIOServer) Objects(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(m.S3(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Get reads a whole object.
func (m *MinIOServer) Get(ctx context.Context, bucket, key string) ([]byte, *s3.GetObjectOutput, error) {
	out, err := m.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, out, err
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "t"
	}
	return strings.Trim(b.String(), "-")
}
