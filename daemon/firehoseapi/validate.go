package firehoseapi

import (
	"regexp"
	"strconv"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/firehose"
)

// Model constraints (Firehose API model).
var (
	nameRE          = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	roleARNRE       = regexp.MustCompile(`^arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+$`)
	bucketARNRE     = regexp.MustCompile(`^arn:.*:s3:::[\w\.\-]{1,255}$`)
	streamARNRE     = regexp.MustCompile(`^arn:.*:kinesis:[a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+$`)
	kmsARNRE        = regexp.MustCompile(`^arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+$`)
	fileExtRE       = regexp.MustCompile(`^$|^\.[0-9a-z!\-_.*'()]+$`)
	timeZoneRE      = regexp.MustCompile(`^$|^[a-zA-Z/_]+$`)
	versionRE       = regexp.MustCompile(`^[0-9]+$`)
	destIDRE        = regexp.MustCompile(`^[a-zA-Z0-9-]+$`)
	tagKeyRE        = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`)
	compressionEnum = []string{"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"}
)

const (
	namePattern      = "[a-zA-Z0-9_.-]+"
	roleARNPattern   = `arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+`
	bucketARNPattern = `arn:.*:s3:::[\w\.\-]{1,255}`
	streamARNPattern = `arn:.*:kinesis:[a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+`
	kmsARNPattern    = `arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+`
	fileExtPattern   = `^$|\.[0-9a-z!\-_.*'()]+`
	timeZonePattern  = `^$|[a-zA-Z/_]+`
	tagKeyPattern    = `^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`
)

// checkName validates a DeliveryStreamName member at path.
func checkName(v *awsproto.Validation, path string, name *string) {
	if !v.Required(path, name != nil) {
		return
	}
	v.Length(path, *name, 1, 64)
	if *name != "" {
		v.Pattern(path, *name, nameRE, namePattern)
	}
}

func checkOptLen(v *awsproto.Validation, path string, s *string, min, max int) {
	if s != nil {
		v.Length(path, *s, min, max)
	}
}

// checkS3 validates an S3 destination configuration (create shape when create is true,
// update shape otherwise: nothing required). ext adds the ExtendedS3 members.
func checkS3(v *awsproto.Validation, path string, s *firehose.ExtendedS3, create, ext bool) {
	if create {
		v.Required(path+".roleARN", s.RoleARN != "")
		v.Required(path+".bucketARN", s.BucketARN != "")
	}
	if s.RoleARN != "" {
		v.Length(path+".roleARN", s.RoleARN, 1, 512)
		v.Pattern(path+".roleARN", s.RoleARN, roleARNRE, roleARNPattern)
	}
	if s.BucketARN != "" {
		v.Length(path+".bucketARN", s.BucketARN, 1, 2048)
		v.Pattern(path+".bucketARN", s.BucketARN, bucketARNRE, bucketARNPattern)
	}
	checkOptLen(v, path+".prefix", s.Prefix, 0, 1024)
	checkOptLen(v, path+".errorOutputPrefix", s.ErrorOutputPrefix, 0, 1024)
	if bh := s.BufferingHints; bh != nil {
		if bh.SizeInMBs != nil {
			// AWS allows 1..128; Sluice also accepts sizes up to 1024 MiB (reference §4).
			v.Range(path+".bufferingHints.sizeInMBs", int64(*bh.SizeInMBs), 1, 1024)
		}
		if bh.IntervalInSeconds != nil {
			v.Range(path+".bufferingHints.intervalInSeconds", int64(*bh.IntervalInSeconds), 0, 900)
		}
	}
	if s.CompressionFormat != "" && s.CompressionFormat != "ZSTD" {
		v.Enum(path+".compressionFormat", s.CompressionFormat, compressionEnum...)
	}
	if ec := s.EncryptionConfiguration; ec != nil {
		if ec.NoEncryptionConfig != "" {
			v.Enum(path+".encryptionConfiguration.noEncryptionConfig", ec.NoEncryptionConfig, "NoEncryption")
		}
		if kc := ec.KMSEncryptionConfig; kc != nil {
			p := path + ".encryptionConfiguration.kMSEncryptionConfig.aWSKMSKeyARN"
			if v.Required(p, kc.AWSKMSKeyARN != "") {
				v.Length(p, kc.AWSKMSKeyARN, 1, 512)
			}
		}
	}
	if !ext {
		return
	}
	if pc := s.ProcessingConfiguration; pc != nil {
		for i, p := range pc.Processors {
			pp := path + ".processingConfiguration.processors." + strconv.Itoa(i+1) + ".member"
			if v.Required(pp+".type", p.Type != "") {
				v.Enum(pp+".type", p.Type, "RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "Lambda",
					"MetadataExtraction", "AppendDelimiterToRecord")
			}
			for j, kv := range p.Parameters {
				kp := pp + ".parameters." + strconv.Itoa(j+1) + ".member"
				v.Required(kp+".parameterName", kv.ParameterName != "")
				if kv.ParameterValue == "" {
					v.Add(awsproto.Quote(""), kp+".parameterValue", awsproto.RuleMinLen(1))
				} else {
					v.Length(kp+".parameterValue", kv.ParameterValue, 1, 5120)
				}
			}
		}
	}
	if s.S3BackupMode != "" {
		v.Enum(path+".s3BackupMode", s.S3BackupMode, "Disabled", "Enabled")
	}
	if s.FileExtension != nil {
		v.Length(path+".fileExtension", *s.FileExtension, 0, 128)
		v.Pattern(path+".fileExtension", *s.FileExtension, fileExtRE, fileExtPattern)
	}
	if s.CustomTimeZone != nil {
		v.Length(path+".customTimeZone", *s.CustomTimeZone, 0, 50)
		v.Pattern(path+".customTimeZone", *s.CustomTimeZone, timeZoneRE, timeZonePattern)
	}
	if dp := s.DynamicPartitioningConfiguration; dp != nil && dp.RetryOptions != nil && dp.RetryOptions.DurationInSeconds != nil {
		v.Range(path+".dynamicPartitioningConfiguration.retryOptions.durationInSeconds", int64(*dp.RetryOptions.DurationInSeconds), 0, 7200)
	}
}

// tagIn is a Tag as received.
type tagIn struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

func checkTags(v *awsproto.Validation, path string, tags []tagIn, required bool) {
	if tags == nil {
		if required {
			v.Required(path, false)
		}
		return
	}
	if len(tags) < 1 || len(tags) > 50 {
		if len(tags) < 1 {
			v.Add("'[]'", path, awsproto.RuleMinLen(1))
		} else {
			v.Add("'[...]'", path, awsproto.RuleMaxLen(50))
		}
	}
	for i, t := range tags {
		p := path + "." + strconv.Itoa(i+1) + ".member"
		if v.Required(p+".key", t.Key != nil) {
			v.Length(p+".key", *t.Key, 1, 128)
			if !tagKeyRE.MatchString(*t.Key) || hasAWSPrefix(*t.Key) {
				v.Add(awsproto.Quote(*t.Key), p+".key", awsproto.RulePattern(tagKeyPattern))
			}
		}
		if t.Value != nil {
			v.Length(p+".value", *t.Value, 0, 256)
		}
	}
}

func hasAWSPrefix(k string) bool { return len(k) >= 4 && k[:4] == "aws:" }
