// Package s3 delivers Firehose batches to Amazon S3 or any S3-compatible server (MinIO):
// object keys exactly as Firehose names them (firehose.md §5.1–5.2), Firehose's compression
// formats (§5.4), failure objects under the error prefix (§5.3), and the S3 retry classifier.
package s3

import (
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/sluice-io/sluice/sources/record"
)

// CompressionFormat is Firehose's CompressionFormat (case-sensitive) plus ZSTD.
type CompressionFormat string

const (
	Uncompressed CompressionFormat = "UNCOMPRESSED"
	GZIP         CompressionFormat = "GZIP"
	ZIP          CompressionFormat = "ZIP"
	Snappy       CompressionFormat = "Snappy"
	HadoopSnappy CompressionFormat = "HADOOP_SNAPPY"
	ZSTD         CompressionFormat = "ZSTD"
)

// CompressionFormats lists the accepted values.
var CompressionFormats = []CompressionFormat{Uncompressed, GZIP, ZIP, Snappy, HadoopSnappy, ZSTD}

// Valid reports whether f is an accepted value ("" counts as UNCOMPRESSED).
func (f CompressionFormat) Valid() bool { return f == "" || slices.Contains(CompressionFormats, f) }

// Extension is the object-name suffix for f ("" for UNCOMPRESSED).
func (f CompressionFormat) Extension() string {
	switch f {
	case GZIP:
		return ".gz"
	case ZIP:
		return ".zip"
	case Snappy, HadoopSnappy:
		return ".snappy"
	case ZSTD:
		return ".zst"
	}
	return ""
}

// ContentEncoding is the Content-Encoding header for f ("" for UNCOMPRESSED).
func (f CompressionFormat) ContentEncoding() string {
	switch f {
	case GZIP:
		return "gzip"
	case ZIP:
		return "zip"
	case Snappy:
		return "snappy-java"
	case HadoopSnappy:
		return "hadoop-snappy"
	case ZSTD:
		return "zstd"
	}
	return ""
}

// Secret is a string that logs as "REDACTED".
type Secret string

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value {
	if s == "" {
		return slog.StringValue("")
	}
	return slog.StringValue("REDACTED")
}

// String never reveals the secret (fmt %v/%s).
func (s Secret) String() string { return string(s.LogValue().String()) }

// Config is one S3 destination (the S3 part of ExtendedS3DestinationConfiguration plus
// connection settings).
type Config struct {
	Bucket            string
	Prefix            string
	ErrorOutputPrefix string
	CompressionFormat CompressionFormat // "" = UNCOMPRESSED
	FileExtension     string            // replaces the compression extension when set
	CustomTimeZone    string            // IANA name; "" = UTC

	// DynamicPartitioning is DynamicPartitioningConfiguration.Enabled. With it, QueryKeys
	// are the keys of the MetadataExtraction query; they must match the Prefix keys.
	DynamicPartitioning bool
	QueryKeys           []string

	Endpoint        string // e.g. http://127.0.0.1:9000; "" = AWS
	Region          string // "" = us-east-1
	PathStyle       bool
	AccessKeyID     string
	SecretAccessKey Secret // static credentials when both set; else the default chain
	SessionToken    Secret
	// InstanceMetadata lets the default chain ask the EC2 instance metadata service; off,
	// it is never contacted.
	InstanceMetadata bool

	// KMSKeyARN is EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN: objects are
	// written with SSE-KMS under this key. "" = no SSE header (NoEncryption).
	KMSKeyARN string

	DeliveryStreamName string
	VersionID          string // delivery stream VersionId in object names; "" = "1"

	// PartSize is the multipart part size (0 = 8 MiB); objects above it use multipart upload.
	PartSize int64

	// Conversion, when set, is record format conversion: records hold encoded rows
	// (Conversion.Convert ran before buffering) and each object is one Parquet file, named
	// .parquet (unless FileExtension), without Content-Encoding.
	Conversion *Conversion
}

// LogValue implements slog.LogValuer without the secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("bucket", c.Bucket),
		slog.String("prefix", c.Prefix),
		slog.String("error_output_prefix", c.ErrorOutputPrefix),
		slog.String("compression", string(c.CompressionFormat)),
		slog.String("endpoint", c.Endpoint),
		slog.String("region", c.Region),
		slog.Bool("path_style", c.PathStyle),
		slog.String("access_key_id", c.AccessKeyID),
		slog.Any("secret_access_key", c.SecretAccessKey),
	)
}

var (
	fileExtRE  = regexp.MustCompile(`^(|\.[0-9a-z!\-_.*'()]+)$`)
	timeZoneRE = regexp.MustCompile(`^(|[a-zA-Z/_]+)$`)
)

// Validate checks the configuration with Firehose's rules and returns every problem joined;
// each wraps record.ErrInvalidArgument.
func (c Config) Validate() error {
	_, _, _, err := c.compile()
	return err
}

// compile parses the prefixes and time zone, collecting every problem.
func (c Config) compile() (main, errp *Prefix, loc *time.Location, err error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, record.InvalidArgument(format, args...)) }
	if c.Bucket == "" {
		bad("BucketARN must name a bucket")
	}
	if !c.CompressionFormat.Valid() {
		bad("CompressionFormat %q is not one of %v", c.CompressionFormat, CompressionFormats)
	}
	if c.Conversion != nil && c.CompressionFormat != "" && c.CompressionFormat != Uncompressed {
		bad("CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled (got %s)", c.CompressionFormat)
	}
	if len(c.FileExtension) > 128 || !fileExtRE.MatchString(c.FileExtension) {
		bad("FileExtension %q must match ^$|\\.[0-9a-z!\\-_.*'()]+", c.FileExtension)
	}
	loc = time.UTC
	if c.CustomTimeZone != "" {
		if !timeZoneRE.MatchString(c.CustomTimeZone) {
			bad("CustomTimeZone %q must match ^$|[a-zA-Z/_]+", c.CustomTimeZone)
		} else if l, lerr := time.LoadLocation(c.CustomTimeZone); lerr != nil {
			bad("CustomTimeZone %q is not a known time zone", c.CustomTimeZone)
		} else {
			loc = l
		}
	}
	main, merr := ParsePrefix(c.Prefix, MainPrefix)
	if merr != nil {
		errs = append(errs, merr)
	}
	errp, eerr := ParsePrefix(c.ErrorOutputPrefix, ErrorPrefix)
	if eerr != nil {
		errs = append(errs, eerr)
	}
	if merr == nil && eerr == nil {
		if main.HasExpressions() && c.ErrorOutputPrefix == "" {
			bad("ErrorOutputPrefix cannot be null or empty when Prefix contains expressions")
		}
		if errp.HasExpressions() && !errp.HasErrorOutputType() {
			bad("ErrorOutputPrefix %q must contain !{firehose:error-output-type} when it contains expressions", c.ErrorOutputPrefix)
		}
		keys := main.PartitionKeys()
		if len(keys)+len(main.LambdaPartitionKeys()) > 0 && !c.DynamicPartitioning {
			bad("Prefix %q uses partitionKeyFromQuery/partitionKeyFromLambda but dynamic partitioning is not enabled", c.Prefix)
		}
		if c.DynamicPartitioning {
			if c.ErrorOutputPrefix == "" {
				bad("ErrorOutputPrefix is required when dynamic partitioning is enabled")
			}
			if len(c.QueryKeys) > 0 {
				pk := uniqSorted(keys)
				qk := uniqSorted(c.QueryKeys)
				if !slices.Equal(pk, qk) {
					bad("the partitionKeyFromQuery keys of Prefix %v do not match the MetadataExtractionQuery keys %v", pk, qk)
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, nil, nil, errors.Join(errs...)
	}
	return main, errp, loc, nil
}

func uniqSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// region returns the effective region.
func (c Config) region() string {
	if c.Region == "" {
		return "us-east-1"
	}
	return c.Region
}

func (c Config) version() string {
	if c.VersionID == "" {
		return "1"
	}
	return c.VersionID
}

func (c Config) extension() string {
	if c.FileExtension != "" {
		return c.FileExtension
	}
	if c.Conversion != nil {
		return ParquetExtension
	}
	return c.CompressionFormat.Extension()
}

// errorExtension is the suffix of failure objects: NDJSON, compressed per
// CompressionFormat; with conversion the data suffix (.parquet or FileExtension) does not
// apply to them.
func (c Config) errorExtension() string {
	if c.Conversion != nil {
		return c.CompressionFormat.Extension()
	}
	return c.extension()
}

// ParquetExtension is the object-name suffix of converted objects (§5.4).
const ParquetExtension = ".parquet"
