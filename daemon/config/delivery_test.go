package config

import (
	"strings"
	"testing"
	"time"
)

func TestDeliveryStreamDefaultsAndProblems(t *testing.T) {
	c, err := Parse("ok.yaml", []byte("delivery_streams:\n  - name: a\n    buffer: {interval: 0}\n    destination:\n      s3: {bucket: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.DeliveryStreams[0]
	if d.Source.Type != "direct_put" || d.Buffer.Size != 32*MiB || d.Buffer.Interval != 0 ||
		d.Destination.Type != "s3" || d.Destination.RetryDuration.D() != 300*time.Second || d.Destination.S3.Compression != "UNCOMPRESSED" {
		t.Fatalf("defaults not applied as documented: %+v", d)
	}

	y := "streams:\n  - name: orders\ndelivery_streams:\n  - name: a\n    source: {type: kinesis_stream, stream: nope}\n    buffer: {size: 2GiB}\n    destination:\n      type: s3\n      s3: {bucket: b, compression: gzip}\n"
	_, err = Parse("bad.yaml", []byte(y))
	if err == nil {
		t.Fatal("invalid delivery stream accepted")
	}
	for _, want := range []string{
		`bad.yaml:5:44: delivery_streams[0].source.stream: stream "nope" is not declared in streams`,
		`bad.yaml:6:20: delivery_streams[0].buffer.size: 2GiB is over the 1GiB limit`,
		`delivery_streams[0].destination.s3.compression: "gzip" is not allowed`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}
