package config

import (
	"strings"
	"testing"
)

func TestFirehoseDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte("log: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Firehose
	if f.BufferBudget != 256*MiB || f.WALHighWater != 2*GiB || f.Throttling != "none" {
		t.Fatalf("defaults: %+v", f)
	}
	if f.S3.Endpoint != "" || f.S3.PathStyleOn() || f.Limits() != (ThrottleLimits{}) {
		t.Fatalf("s3/limits defaults: %+v %+v", f.S3, f.Limits())
	}
}

func TestFirehoseSection(t *testing.T) {
	src := `firehose:
  s3: {endpoint: "http://127.0.0.1:9000", region: eu-west-1, access_key_id: AK, secret_access_key: SK}
  buffer_budget: 1GiB
  wal_high_water: 64MiB
  throttling: aws-small
`
	c, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Firehose
	if f.BufferBudget != GiB || f.WALHighWater != 64*MiB || f.S3.Region != "eu-west-1" || f.S3.SecretAccessKey.Reveal() != "SK" {
		t.Fatalf("decoded: %+v", f)
	}
	if !f.S3.PathStyleOn() {
		t.Fatal("a MinIO endpoint without path_style should use path-style addressing")
	}
	if l := f.Limits(); l.Records != 100_000 || l.Requests != 1_000 || l.Bytes != 1<<20 {
		t.Fatalf("aws-small: %+v", l)
	}
	c, err = Parse("t.yaml", []byte("firehose:\n  s3: {endpoint: \"http://minio:9000\", path_style: false}\n  throttling: aws-large\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Firehose.S3.PathStyleOn() {
		t.Fatal("explicit path_style: false ignored")
	}
	if l := c.Firehose.Limits(); l.Records != 500_000 || l.Requests != 2_000 || l.Bytes != 5<<20 {
		t.Fatalf("aws-large: %+v", l)
	}
}

func TestFirehoseProblems(t *testing.T) {
	src := `firehose:
  buffer_budget: 10KiB
  wal_high_water: 2TiB
  throttling: aws-medium
  s3:
    endpoint: "ftp://x"
    access_key_id: AK
    colour: red
`
	_, err := Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		"t.yaml:8:5: firehose.s3.colour: unknown key (allowed: endpoint, region, path_style, access_key_id, secret_access_key, instance_metadata)",
		"t.yaml:2:18: firehose.buffer_budget: 10KiB is under the 1MiB minimum (allowed 1MiB..1TiB)",
		"t.yaml:3:19: firehose.wal_high_water: 2TiB is over the 1TiB limit (allowed 1MiB..1TiB)",
		`t.yaml:4:15: firehose.throttling: "aws-medium" is not allowed (allowed: none, aws-large, aws-small)`,
		`t.yaml:6:15: firehose.s3.endpoint: "ftp://x" is not an http(s) URL (e.g. http://127.0.0.1:9000)`,
		"t.yaml:7:20: firehose.s3.access_key_id: needs firehose.s3.secret_access_key too",
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}
