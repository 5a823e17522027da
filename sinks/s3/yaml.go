package s3

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-io/sluice/sinks"
)

// YAML is the `destination.s3` block of a `delivery_streams` entry: a bucket (S3 or MinIO),
// the key layout of its objects, and how to reach the server.
//
//	destination:
//	  type: s3
//	  s3: {bucket: lake, prefix: 'orders/!{partitionKeyFromQuery:c}/', error_output_prefix: 'err/!{firehose:error-output-type}/',
//	       compression: GZIP, endpoint: 'http://127.0.0.1:9000', region: us-east-1, path_style: true}
type YAML struct {
	Bucket            string `yaml:"bucket"`
	Prefix            string `yaml:"prefix"`
	ErrorOutputPrefix string `yaml:"error_output_prefix"`
	// Compression: UNCOMPRESSED (default), GZIP, ZIP, Snappy, HADOOP_SNAPPY, ZSTD.
	Compression    string `yaml:"compression"`
	FileExtension  string `yaml:"file_extension"`
	CustomTimeZone string `yaml:"custom_time_zone"`
	// Endpoint, Region, PathStyle and the keys address the S3 server; empty values take
	// the `firehose.s3` section, then the standard AWS configuration chain.
	Endpoint        string `yaml:"endpoint"`
	Region          string `yaml:"region"`
	PathStyle       bool   `yaml:"path_style"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey Secret `yaml:"secret_access_key"`
}

// fromYAML decodes and checks the block (sinks.Kind.FromYAML).
func fromYAML(v sinks.ConfigChecks, node *yaml.Node, path string) (sinks.Config, *sinks.S3Conn) {
	var y YAML
	v.Decode(node, path, &y)
	v.Required(path+".bucket", y.Bucket)
	if y.Compression == "" {
		y.Compression = string(Uncompressed)
	}
	names := make([]string, len(CompressionFormats))
	for i, f := range CompressionFormats {
		names[i] = string(f)
	}
	v.OneOf(path+".compression", y.Compression, names...)
	if len(y.FileExtension) > 128 || !fileExtRE.MatchString(y.FileExtension) {
		v.Errorf(path+".file_extension", "%q must be empty or start with a dot followed by 0-9 a-z ! - _ . * ' ( )", y.FileExtension)
	}
	if !timeZoneRE.MatchString(y.CustomTimeZone) {
		v.Errorf(path+".custom_time_zone", "%q is not a time zone name (e.g. Europe/Paris)", y.CustomTimeZone)
	} else if y.CustomTimeZone != "" {
		if _, err := time.LoadLocation(y.CustomTimeZone); err != nil {
			v.Errorf(path+".custom_time_zone", "unknown time zone %q", y.CustomTimeZone)
		}
	}
	if len(y.Prefix) > 1024 {
		v.Errorf(path+".prefix", "is %d characters long (allowed 0..1024)", len(y.Prefix))
	}
	if len(y.ErrorOutputPrefix) > 1024 {
		v.Errorf(path+".error_output_prefix", "is %d characters long (allowed 0..1024)", len(y.ErrorOutputPrefix))
	}
	if (y.AccessKeyID == "") != (y.SecretAccessKey == "") {
		v.Errorf(path+".secret_access_key", "access_key_id and secret_access_key go together")
	}
	api := &API{BucketARN: "arn:aws:s3:::" + y.Bucket, Prefix: opt(y.Prefix), ErrorOutputPrefix: opt(y.ErrorOutputPrefix),
		CompressionFormat: y.Compression, FileExtension: opt(y.FileExtension), CustomTimeZone: opt(y.CustomTimeZone)}
	conn := &sinks.S3Conn{Endpoint: y.Endpoint, Region: y.Region, PathStyle: y.PathStyle,
		AccessKeyID: y.AccessKeyID, SecretAccessKey: string(y.SecretAccessKey)}
	return api, conn
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
