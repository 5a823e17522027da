package config

import (
	"strings"
	"testing"
	"time"

	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

func TestDeliveryStreamDefaultsAndProblems(t *testing.T) {
	c, err := Parse("ok.yaml", []byte("delivery_streams:\n  - name: a\n    buffer: {interval: 0}\n    destination:\n      s3: {bucket: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.DeliveryStreams[0]
	if d.Source.Type != "direct_put" || d.Buffer.Size != 32*MiB || d.Buffer.Interval != 0 ||
		d.Destination.Type != "s3" || d.Destination.RetryDuration.D() != 300*time.Second || d.Destination.Config.(*s3sink.API).CompressionFormat != "UNCOMPRESSED" {
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

func TestDeliveryStreamPipelineCheckedAtLoad(t *testing.T) {
	y := "delivery_streams:\n  - name: a\n    processors:\n      - {type: MetadataExtraction, parameters: {MetadataExtractionQuery: '{c: .c', JsonParsingEngine: JQ-1.6}}\n    dynamic_partitioning: {enabled: true}\n    destination:\n      s3: {bucket: b, prefix: 'x/!{partitionKeyFromQuery:c}/', error_output_prefix: 'e/!{firehose:error-output-type}/'}\n" +
		"  - name: b\n    destination:\n      s3: {bucket: b, prefix: 'x/!{nope:c}/'}\n"
	_, err := Parse("p.yaml", []byte(y))
	if err == nil {
		t.Fatal("bad JQ query and bad prefix accepted")
	}
	for _, want := range []string{"p.yaml:4:", "delivery_streams[0].processors:", "delivery_streams[1].destination.s3:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}

// A Lambda processor in a declared delivery stream needs its ARN in
// firehose.lambda_functions.
func TestDeliveryStreamLambdaNeedsMapping(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:enrich"
	ds := "delivery_streams:\n  - name: a\n    processors:\n      - {type: Lambda, parameters: {LambdaArn: '" + arn + "'}}\n    destination:\n      s3: {bucket: b}\n"
	_, err := Parse("l.yaml", []byte(ds))
	if err == nil || !strings.Contains(err.Error(), "delivery_streams[0].processors: Processor Lambda: LambdaArn \""+arn+"\" is not mapped to a function (add it to firehose.lambda_functions)") {
		t.Fatalf("unmapped Lambda: %v", err)
	}
	if _, err := Parse("l.yaml", []byte("firehose:\n  lambda_functions: {'"+arn+"': 'http://127.0.0.1:9001/'}\n"+ds)); err != nil {
		t.Fatalf("mapped Lambda refused: %v", err)
	}
}

// The destination is a union: `type` names a registered destination and its block holds
// its settings; other blocks, unknown keys and a missing block are problems with their
// lines.
func TestDeliveryDestinationUnion(t *testing.T) {
	cases := []struct{ y, want string }{
		{"    destination:\n      type: s3\n      s3: {bucket: b}\n      snowflake: {table: x}\n", `u.yaml:6:7: delivery_streams[0].destination.snowflake: unknown key (allowed: type, retry_duration, http_endpoint, opensearch, redshift, s3, splunk)`},
		{"    destination:\n      type: s3\n      s3: {bucket: b}\n      opensearch: {index: x}\n", `u.yaml:6:19: delivery_streams[0].destination.opensearch: is for destination type opensearch, but type is s3`},
		{"    destination:\n      type: kafka\n", `delivery_streams[0].destination.type: "kafka" is not a destination of this build (one of http_endpoint, opensearch, redshift, s3, splunk)`},
		{"    destination:\n      type: s3\n", `delivery_streams[0].destination.s3: is required with type s3`},
		{"    destination:\n      s3: {bucket: b, nope: 1}\n", `u.yaml:4:23: delivery_streams[0].destination.s3.nope: unknown key`},
		{"    buffer: {size: 1MiB}\n", `delivery_streams[0].destination: is required`},
	}
	for _, c := range cases {
		_, err := Parse("u.yaml", []byte("delivery_streams:\n  - name: a\n"+c.y))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.y, err, c.want)
		}
	}
	c, err := Parse("u.yaml", []byte("delivery_streams:\n  - name: a\n    destination:\n      s3: {bucket: b, endpoint: 'http://127.0.0.1:9000'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.DeliveryStreams[0].Destination
	if d.Type != "s3" || d.Config.(*s3sink.API).BucketARN != "arn:aws:s3:::b" || d.Conn.Endpoint != "http://127.0.0.1:9000" {
		t.Fatalf("decoded %+v", d)
	}
}
