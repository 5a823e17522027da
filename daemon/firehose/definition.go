package firehose

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Delivery stream types (DeliveryStreamType).
const (
	TypeDirectPut   = "DirectPut"
	TypeKinesisSrc  = "KinesisStreamAsSource"
	OriginAPI       = "api"
	OriginConfig    = "config"
	StatusActive    = "ACTIVE"
	StatusDeleting  = "DELETING"
	firstDestID     = "destinationId-000000000001"
	encryptionOff   = "DISABLED"
	encryptionOn    = "ENABLED"
	defaultSizeMiB  = 32
	defaultInterval = 60
)

// Definition is everything Sluice keeps about one delivery stream. It is persisted as JSON
// (API-created and config-declared alike) and shaped after the Firehose API, so the API
// layer decodes requests straight into its parts and Describe mirrors it.
type Definition struct {
	Name          string    `json:"name"`
	ARN           string    `json:"arn"`
	Type          string    `json:"type"`
	Origin        string    `json:"origin"`
	VersionID     int       `json:"versionId"`
	DestinationID string    `json:"destinationId"`
	Created       time.Time `json:"created"`
	LastUpdate    time.Time `json:"lastUpdate,omitzero"`
	// Group is the checkpoint group of the pipeline; unique per creation.
	Group string `json:"group"`

	Source     *KinesisStreamSource `json:"source,omitempty"`
	Encryption Encryption           `json:"encryption"`
	Tags       []Tag                `json:"tags,omitempty"`

	// S3 is the destination in ExtendedS3DestinationConfiguration shape.
	S3 *ExtendedS3 `json:"s3"`
	// Conn says how to reach S3 (config-declared streams; API-created ones use the
	// manager's default).
	// Never persisted (it may hold a secret): config-declared streams get it from the file
	// at every start.
	Conn *S3Conn `json:"-"`
	// Lambdas maps LambdaArn → URL of the HTTP function behind a Lambda processor
	// (Options.LambdaFunctions, set by the manager; never persisted).
	Lambdas map[string]string `json:"-"`
	// RetryDuration bounds destination retries before the error output (seconds).
	RetryDuration int `json:"retryDuration"`
}

// KinesisStreamSource is KinesisStreamSourceConfiguration plus the start time.
type KinesisStreamSource struct {
	KinesisStreamARN       string    `json:"KinesisStreamARN"`
	RoleARN                string    `json:"RoleARN,omitempty"`
	DeliveryStartTimestamp time.Time `json:"DeliveryStartTimestamp"`
}

// Encryption is the server-side encryption state of a delivery stream.
type Encryption struct {
	Enabled bool   `json:"enabled"`
	KeyType string `json:"keyType,omitempty"`
	KeyARN  string `json:"keyArn,omitempty"`
}

// Tag is a delivery stream tag.
type Tag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

// S3Conn addresses an S3 server (MinIO or AWS). Empty fields take the AWS default chain.
type S3Conn struct {
	Endpoint        string `json:"endpoint,omitempty"`
	Region          string `json:"region,omitempty"`
	PathStyle       bool   `json:"pathStyle,omitempty"`
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
}

// BufferingHints is the Firehose BufferingHints shape.
type BufferingHints struct {
	SizeInMBs         *int `json:"SizeInMBs,omitempty"`
	IntervalInSeconds *int `json:"IntervalInSeconds,omitempty"`
}

// EncryptionConfiguration is the S3 EncryptionConfiguration shape.
type EncryptionConfiguration struct {
	NoEncryptionConfig  string               `json:"NoEncryptionConfig,omitempty"`
	KMSEncryptionConfig *KMSEncryptionConfig `json:"KMSEncryptionConfig,omitempty"`
}

// KMSEncryptionConfig names the KMS key of SSE-KMS.
type KMSEncryptionConfig struct {
	AWSKMSKeyARN string `json:"AWSKMSKeyARN"`
}

// ProcessingConfiguration is the Firehose processor list.
type ProcessingConfiguration struct {
	Enabled    *bool       `json:"Enabled,omitempty"`
	Processors []Processor `json:"Processors,omitempty"`
}

// Processor is one Firehose processor.
type Processor struct {
	Type       string               `json:"Type"`
	Parameters []ProcessorParameter `json:"Parameters,omitempty"`
}

// ProcessorParameter is one processor parameter.
type ProcessorParameter struct {
	ParameterName  string `json:"ParameterName"`
	ParameterValue string `json:"ParameterValue"`
}

// RetryOptions is the Firehose RetryOptions shape.
type RetryOptions struct {
	DurationInSeconds *int `json:"DurationInSeconds,omitempty"`
}

// DynamicPartitioningConfiguration switches dynamic partitioning on.
type DynamicPartitioningConfiguration struct {
	Enabled      *bool         `json:"Enabled,omitempty"`
	RetryOptions *RetryOptions `json:"RetryOptions,omitempty"`
}

// ExtendedS3 is ExtendedS3DestinationConfiguration (and, as a subset,
// S3DestinationConfiguration). Members Sluice does not act on are kept verbatim.
type ExtendedS3 struct {
	RoleARN                           string                            `json:"RoleARN,omitempty"`
	BucketARN                         string                            `json:"BucketARN,omitempty"`
	Prefix                            *string                           `json:"Prefix,omitempty"`
	ErrorOutputPrefix                 *string                           `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints                    *BufferingHints                   `json:"BufferingHints,omitempty"`
	CompressionFormat                 string                            `json:"CompressionFormat,omitempty"`
	EncryptionConfiguration           *EncryptionConfiguration          `json:"EncryptionConfiguration,omitempty"`
	CloudWatchLoggingOptions          json.RawMessage                   `json:"CloudWatchLoggingOptions,omitempty"`
	ProcessingConfiguration           *ProcessingConfiguration          `json:"ProcessingConfiguration,omitempty"`
	S3BackupMode                      string                            `json:"S3BackupMode,omitempty"`
	S3BackupConfiguration             json.RawMessage                   `json:"S3BackupConfiguration,omitempty"`
	DataFormatConversionConfiguration json.RawMessage                   `json:"DataFormatConversionConfiguration,omitempty"`
	DynamicPartitioningConfiguration  *DynamicPartitioningConfiguration `json:"DynamicPartitioningConfiguration,omitempty"`
	FileExtension                     *string                           `json:"FileExtension,omitempty"`
	CustomTimeZone                    *string                           `json:"CustomTimeZone,omitempty"`
	// S3BackupUpdate is the update-shape spelling of S3BackupConfiguration; it is folded
	// into S3BackupConfiguration on merge.
	S3BackupUpdate json.RawMessage `json:"S3BackupUpdate,omitempty"`
}

// Bucket returns the bucket named by BucketARN (arn:aws:s3:::<bucket>).
func (s *ExtendedS3) Bucket() string {
	return strings.TrimPrefix(s.BucketARN, "arn:aws:s3:::")
}

// Hints returns the effective buffering hints in MiB and seconds (32 / 60 when absent; a
// lone member takes the other's default).
func (s *ExtendedS3) Hints() (sizeMiB, intervalSec int) {
	sizeMiB, intervalSec = defaultSizeMiB, defaultInterval
	if s.BufferingHints != nil {
		if s.BufferingHints.SizeInMBs != nil {
			sizeMiB = *s.BufferingHints.SizeInMBs
		}
		if s.BufferingHints.IntervalInSeconds != nil {
			intervalSec = *s.BufferingHints.IntervalInSeconds
		}
	}
	return sizeMiB, intervalSec
}

// Compression returns the effective CompressionFormat.
func (s *ExtendedS3) Compression() string {
	if s.CompressionFormat == "" {
		return "UNCOMPRESSED"
	}
	return s.CompressionFormat
}

// Partitioned reports whether dynamic partitioning is enabled.
func (s *ExtendedS3) Partitioned() bool {
	return s.DynamicPartitioningConfiguration != nil && s.DynamicPartitioningConfiguration.Enabled != nil &&
		*s.DynamicPartitioningConfiguration.Enabled
}

// ProcessorsEnabled returns the processors that run (none when processing is disabled).
func (s *ExtendedS3) ProcessorsEnabled() []Processor {
	pc := s.ProcessingConfiguration
	if pc == nil || (pc.Enabled != nil && !*pc.Enabled) {
		return nil
	}
	if pc.Enabled == nil && len(pc.Processors) == 0 {
		return nil
	}
	return pc.Processors
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// clone deep-copies v through JSON (a Definition's Conn is copied by cloneDef).
func clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	out := new(T)
	_ = json.Unmarshal(b, out)
	return out
}

func cloneDef(d *Definition) *Definition {
	out := clone(d)
	if d.Conn != nil {
		c := *d.Conn
		out.Conn = &c
	}
	out.Lambdas = d.Lambdas // read-only, shared
	return out
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Describe helpers ---------------------------------------------------------------

// VersionString is VersionId as the API shows it.
func (d *Definition) VersionString() string { return strconv.Itoa(d.VersionID) }

// EncryptionDescription is DeliveryStreamEncryptionConfiguration.
func (d *Definition) EncryptionDescription() map[string]any {
	if !d.Encryption.Enabled {
		return map[string]any{"Status": encryptionOff}
	}
	m := map[string]any{"Status": encryptionOn, "KeyType": d.Encryption.KeyType}
	if d.Encryption.KeyARN != "" {
		m["KeyARN"] = d.Encryption.KeyARN
	}
	return m
}

// S3Description returns ExtendedS3DestinationDescription with effective defaults filled
// in: BufferingHints, CompressionFormat and EncryptionConfiguration are always present.
func (d *Definition) S3Description() map[string]any {
	s := clone(d.S3)
	size, interval := s.Hints()
	s.BufferingHints = &BufferingHints{SizeInMBs: &size, IntervalInSeconds: &interval}
	s.CompressionFormat = s.Compression()
	if s.EncryptionConfiguration == nil {
		s.EncryptionConfiguration = &EncryptionConfiguration{NoEncryptionConfig: "NoEncryption"}
	}
	if s.S3BackupMode == "" {
		s.S3BackupMode = "Disabled"
	}
	var m map[string]any
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &m)
	if raw, ok := m["S3BackupConfiguration"]; ok {
		delete(m, "S3BackupConfiguration")
		m["S3BackupDescription"] = raw
	}
	return m
}

// PlainS3Description is S3DestinationDescription: the base members only.
func (d *Definition) PlainS3Description() map[string]any {
	full := d.S3Description()
	out := map[string]any{}
	for _, k := range []string{"RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints",
		"CompressionFormat", "EncryptionConfiguration", "CloudWatchLoggingOptions"} {
		if v, ok := full[k]; ok {
			out[k] = v
		}
	}
	return out
}

// SortTags orders tags by key.
func SortTags(tags []Tag) {
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
}
