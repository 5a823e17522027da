package s3

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3/convert"
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
	// DataFormatConversion converts JSON records to Apache Parquet (firehose.md §5.5).
	DataFormatConversion *ConversionYAML `yaml:"data_format_conversion"`
}

// ConversionYAML is `data_format_conversion`: the table of firehose.catalog the records
// follow, the JSON deserializer and the Parquet writer's settings.
//
//	data_format_conversion:
//	  database: analytics
//	  table: events
//	  deserializer: openx              # openx (default) | hive
//	  case_insensitive: true           # openx
//	  column_to_json_key_mappings: {ts: "@timestamp"}
//	  compression: SNAPPY              # UNCOMPRESSED | GZIP | SNAPPY | ZSTD
type ConversionYAML struct {
	Enabled      *bool  `yaml:"enabled"`
	Database     string `yaml:"database"`
	Table        string `yaml:"table"`
	Deserializer string `yaml:"deserializer"`
	// OpenX JSON SerDe.
	CaseInsensitive                    *bool             `yaml:"case_insensitive"`
	ConvertDotsInJSONKeysToUnderscores bool              `yaml:"convert_dots_in_json_keys_to_underscores"`
	ColumnToJSONKeyMappings            map[string]string `yaml:"column_to_json_key_mappings"`
	// Hive JSON SerDe.
	TimestampFormats []string `yaml:"timestamp_formats"`
	// Serializer: parquet (default); orc is refused.
	Serializer                  string `yaml:"serializer"`
	Compression                 string `yaml:"compression"`
	BlockSizeBytes              int    `yaml:"block_size_bytes"`
	PageSizeBytes               int    `yaml:"page_size_bytes"`
	WriterVersion               string `yaml:"writer_version"`
	EnableDictionaryCompression bool   `yaml:"enable_dictionary_compression"`
}

// api converts the block to the API shape, reporting problems at path.
func (y *ConversionYAML) api(v sinks.ConfigChecks, path string) *DataFormatConversionConfiguration {
	d := &DataFormatConversionConfiguration{Enabled: y.Enabled,
		SchemaConfiguration: &SchemaConfiguration{DatabaseName: y.Database, TableName: y.Table}}
	if !d.On() {
		return d
	}
	v.Required(path+".database", y.Database)
	v.Required(path+".table", y.Table)
	ds := &Deserializer{}
	switch y.Deserializer {
	case "", "openx":
		ds.OpenXJsonSerDe = &OpenXJsonSerDe{CaseInsensitive: y.CaseInsensitive, ColumnToJsonKeyMappings: y.ColumnToJSONKeyMappings}
		if y.ConvertDotsInJSONKeysToUnderscores {
			t := true
			ds.OpenXJsonSerDe.ConvertDotsInJsonKeysToUnderscores = &t
		}
		if len(y.TimestampFormats) > 0 {
			v.Errorf(path+".timestamp_formats", "is a setting of deserializer hive")
		}
	case "hive":
		ds.HiveJsonSerDe = &HiveJsonSerDe{TimestampFormats: y.TimestampFormats}
		if y.CaseInsensitive != nil || y.ConvertDotsInJSONKeysToUnderscores || len(y.ColumnToJSONKeyMappings) > 0 {
			v.Errorf(path+".deserializer", "case_insensitive, convert_dots_in_json_keys_to_underscores and column_to_json_key_mappings are settings of deserializer openx")
		}
		for i, f := range y.TimestampFormats {
			if err := convert.CheckTimestampFormat(f); err != nil {
				v.Errorf(fmt.Sprintf("%s.timestamp_formats[%d]", path, i), "%q: %v", f, err)
			}
		}
	default:
		v.OneOf(path+".deserializer", y.Deserializer, "openx", "hive")
	}
	d.InputFormatConfiguration = &InputFormatConfiguration{Deserializer: ds}
	ser := &Serializer{}
	switch y.Serializer {
	case "", "parquet":
		pq := &ParquetSerDe{Compression: y.Compression, WriterVersion: y.WriterVersion}
		if y.BlockSizeBytes != 0 {
			if y.BlockSizeBytes < MinBlockSizeBytes {
				v.Errorf(path+".block_size_bytes", "%d is below the minimum of %d (64 MiB)", y.BlockSizeBytes, MinBlockSizeBytes)
			}
			pq.BlockSizeBytes = &y.BlockSizeBytes
		}
		if y.PageSizeBytes != 0 {
			if y.PageSizeBytes < MinPageSizeBytes {
				v.Errorf(path+".page_size_bytes", "%d is below the minimum of %d (64 KiB)", y.PageSizeBytes, MinPageSizeBytes)
			}
			pq.PageSizeBytes = &y.PageSizeBytes
		}
		if y.Compression != "" {
			v.OneOf(path+".compression", y.Compression, ParquetCompressions...)
		}
		if y.WriterVersion != "" {
			v.OneOf(path+".writer_version", y.WriterVersion, "V1", "V2")
		}
		if y.EnableDictionaryCompression {
			t := true
			pq.EnableDictionaryCompression = &t
		}
		ser.ParquetSerDe = pq
	case "orc":
		v.Errorf(path+".serializer", "orc is not supported by Sluice (there is no maintained ORC writer for Go); use parquet")
		ser.OrcSerDe = map[string]any{}
	default:
		v.OneOf(path+".serializer", y.Serializer, "parquet")
	}
	d.OutputFormatConfiguration = &OutputFormatConfiguration{Serializer: ser}
	return d
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
	if y.DataFormatConversion != nil {
		api.DataFormatConversionConfiguration = y.DataFormatConversion.api(v, path+".data_format_conversion")
		if api.Converts() && y.Compression != string(Uncompressed) {
			v.Errorf(path+".compression", "must be UNCOMPRESSED with data_format_conversion (set data_format_conversion.compression instead)")
		}
	}
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
