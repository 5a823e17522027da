package s3

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

func TestBackupModes(t *testing.T) {
	for mode, want := range map[string]bool{"FailedDataOnly": false, "AllData": true, "FailedDocumentsOnly": false,
		"AllDocuments": true, "FailedEventsOnly": false, "AllEvents": true} {
		if all, ok := BackupAll(mode); !ok || all != want {
			t.Errorf("BackupAll(%s) = %v, %v", mode, all, ok)
		}
	}
	if _, err := NewBackup(&API{BucketARN: "arn:aws:s3:::b"}, "Sometimes", sinks.Env{}); err == nil || !strings.Contains(err.Error(), `"Sometimes"`) {
		t.Fatalf("unknown mode: %v", err)
	}
}

// A backup writes failure records under its ErrorOutputPrefix and, in the "all" mode,
// every delivered batch under its Prefix, connecting its client itself.
func TestBackupWritesFailuresAndEverything(t *testing.T) {
	fs := &fakeS3{objects: map[string][]byte{}, headers: map[string]http.Header{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	client := s3.New(s3.Options{BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""), RetryMaxAttempts: 1})
	prefix, errPrefix := "all/", "failed/!{firehose:error-output-type}/"
	b, err := NewBackup(&API{BucketARN: "arn:aws:s3:::bkt", Prefix: &prefix, ErrorOutputPrefix: &errPrefix}, "AllDocuments",
		sinks.Env{DeliveryStream: "orders", VersionID: "1"}, WithClient(client))
	if err != nil {
		t.Fatal(err)
	}
	if b.All == nil {
		t.Fatal("AllDocuments built no copy-everything sink")
	}
	ctx := context.Background()
	fr := record.NewFailureRecord(record.Record{Data: []byte("doc"), ArrivalMs: 1700000000000}, 3, "OS.MapperParsingException", "bad field", 1700000000500)
	if err := b.Errors.WriteFailures(ctx, "AmazonOpenSearchService-failed", []record.FailureRecord{fr}); err != nil {
		t.Fatal(err)
	}
	if res := b.All.Write(ctx, sinks.Batch{Records: []record.Record{{Data: []byte("a\n"), ArrivalMs: 1700000000000}, {Data: []byte("b\n"), ArrivalMs: 1700000000000}}}); res.Err != nil {
		t.Fatal(res.Err)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var failed, all string
	for k, v := range fs.objects {
		switch {
		case strings.HasPrefix(k, "/bkt/failed/AmazonOpenSearchService-failed/"):
			failed = string(v)
		case strings.HasPrefix(k, "/bkt/all/"):
			all = string(v)
		default:
			t.Errorf("object outside both prefixes: %s", k)
		}
	}
	if !strings.Contains(failed, `"errorCode":"OS.MapperParsingException"`) || !strings.Contains(failed, `"rawData":"ZG9j"`) {
		t.Fatalf("failure object = %q", failed)
	}
	if all != "a\nb\n" {
		t.Fatalf("backup object = %q, want the records as delivered", all)
	}
}
