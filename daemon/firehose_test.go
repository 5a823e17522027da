package daemon

import (
	"testing"

	"github.com/sluice-io/sluice/daemon/config"
)

func TestFirehoseDefaultS3ConfigWinsOverEnvironment(t *testing.T) {
	t.Setenv(EnvFirehoseS3Endpoint, "http://env:9000")
	t.Setenv(EnvFirehoseS3Region, "eu-west-3")
	t.Setenv(EnvFirehoseS3PathStyle, "false")
	c := firehoseDefaultS3(config.FirehoseS3{Endpoint: "http://minio:9000", AccessKeyID: "AK", SecretAccessKey: "SK"})
	if c.Endpoint != "http://minio:9000" || !c.PathStyle || c.AccessKeyID != "AK" || c.SecretAccessKey != "SK" {
		t.Fatalf("config s3: %+v", c)
	}
	if c.Region != "eu-west-3" {
		t.Fatalf("region left empty by the config should come from %s: %+v", EnvFirehoseS3Region, c)
	}
	c = firehoseDefaultS3(config.FirehoseS3{})
	if c.Endpoint != "http://env:9000" || c.PathStyle {
		t.Fatalf("env fallback: %+v", c)
	}
}
