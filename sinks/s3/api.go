package s3

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/catalog"
	"github.com/sluice-io/sluice/sources/record"
)

// Firehose API members of the S3 destination.
const (
	MemberExtended       = "ExtendedS3DestinationConfiguration"
	MemberPlain          = "S3DestinationConfiguration"
	MemberExtendedUpdate = "ExtendedS3DestinationUpdate"
	MemberPlainUpdate    = "S3DestinationUpdate"
)

// Buffering defaults of S3 (firehose.md §4).
const (
	DefaultSizeMiB  = 32
	DefaultInterval = 60
	MaxSizeMiB      = 1024 // AWS allows 1..128; Sluice accepts up to 1 GiB
	MaxInterval     = 900
)

func init() {
	sinks.Register(sinks.Kind{
		Name:     "s3",
		Create:   []string{MemberExtended, MemberPlain},
		Update:   []string{MemberExtendedUpdate, MemberPlainUpdate},
		New:      func() sinks.Config { return new(API) },
		FromYAML: fromYAML,
	})
}

// API is ExtendedS3DestinationConfiguration (and, as a subset, S3DestinationConfiguration):
// the S3 destination as the Firehose API and the persisted definition hold it. Members Sluice
// does not act on are kept verbatim.
type API struct {
	RoleARN                           string                             `json:"RoleARN,omitempty"`
	BucketARN                         string                             `json:"BucketARN,omitempty"`
	Prefix                            *string                            `json:"Prefix,omitempty"`
	ErrorOutputPrefix                 *string                            `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints                    *sinks.BufferingHints              `json:"BufferingHints,omitempty"`
	CompressionFormat                 string                             `json:"CompressionFormat,omitempty"`
	EncryptionConfiguration           *EncryptionConfiguration           `json:"EncryptionConfiguration,omitempty"`
	CloudWatchLoggingOptions          json.RawMessage                    `json:"CloudWatchLoggingOptions,omitempty"`
	ProcessingConfiguration           *sinks.ProcessingConfiguration     `json:"ProcessingConfiguration,omitempty"`
	S3BackupMode                      string                             `json:"S3BackupMode,omitempty"`
	S3BackupConfiguration             json.RawMessage                    `json:"S3BackupConfiguration,omitempty"`
	DataFormatConversionConfiguration *DataFormatConversionConfiguration `json:"DataFormatConversionConfiguration,omitempty"`
	DynamicPartitioningConfiguration  *DynamicPartitioningConfiguration  `json:"DynamicPartitioningConfiguration,omitempty"`
	FileExtension                     *string                            `json:"FileExtension,omitempty"`
	CustomTimeZone                    *string                            `json:"CustomTimeZone,omitempty"`
	// S3BackupUpdate is the update-shape spelling of S3BackupConfiguration; Merge folds it
	// into S3BackupConfiguration.
	S3BackupUpdate json.RawMessage `json:"S3BackupUpdate,omitempty"`
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

// DynamicPartitioningConfiguration switches dynamic partitioning on.
type DynamicPartitioningConfiguration struct {
	Enabled      *bool               `json:"Enabled,omitempty"`
	RetryOptions *sinks.RetryOptions `json:"RetryOptions,omitempty"`
}

// Bucket returns the bucket named by BucketARN (arn:aws:s3:::<bucket>).
func (s *API) Bucket() string { return strings.TrimPrefix(s.BucketARN, "arn:aws:s3:::") }

// Compression returns the effective CompressionFormat.
func (s *API) Compression() string {
	if s.CompressionFormat == "" {
		return string(Uncompressed)
	}
	return s.CompressionFormat
}

// Partitioned reports whether dynamic partitioning is enabled.
func (s *API) Partitioned() bool {
	return s.DynamicPartitioningConfiguration != nil && s.DynamicPartitioningConfiguration.Enabled != nil &&
		*s.DynamicPartitioningConfiguration.Enabled
}

// Settings implements sinks.Config.
func (s *API) Settings() sinks.Settings {
	size, interval := s.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval)
	st := sinks.Settings{RoleARN: s.RoleARN, SizeMiB: size, IntervalSec: interval, Processing: s.ProcessingConfiguration, Partitioned: s.Partitioned()}
	if dp := s.DynamicPartitioningConfiguration; dp != nil && dp.RetryOptions != nil {
		st.RetrySeconds = dp.RetryOptions.DurationInSeconds
	}
	return st
}

// Adopt implements sinks.Config.
func (s *API) Adopt(st sinks.Settings) {
	size, interval := st.SizeMiB, st.IntervalSec
	if st.RoleARN != "" {
		s.RoleARN = st.RoleARN
	}
	s.BufferingHints = &sinks.BufferingHints{SizeInMBs: &size, IntervalInSeconds: &interval}
	s.ProcessingConfiguration = st.Processing
	if st.Partitioned {
		on := true
		s.DynamicPartitioningConfiguration = &DynamicPartitioningConfiguration{Enabled: &on, RetryOptions: sinks.RetryFor(st.RetrySeconds)}
	}
}

var (
	bucketARNRE     = regexp.MustCompile(`^arn:.*:s3:::[\w\.\-]{1,255}$`)
	apiCompressions = []string{"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"} // ZSTD is Sluice's
)

const (
	bucketARNPattern = `arn:.*:s3:::[\w\.\-]{1,255}`
	fileExtPattern   = `^$|\.[0-9a-z!\-_.*'()]+`
	timeZonePattern  = `^$|[a-zA-Z/_]+`
)

// CheckAPI implements sinks.Config: the model constraints of the S3 members.
func (s *API) CheckAPI(v sinks.APIChecks, path, member string, create bool) {
	ext := member == MemberExtended || member == MemberExtendedUpdate
	if create {
		v.Required(path+".roleARN", s.RoleARN != "")
		v.Required(path+".bucketARN", s.BucketARN != "")
	}
	if s.RoleARN != "" {
		v.Length(path+".roleARN", s.RoleARN, 1, 512)
		v.Pattern(path+".roleARN", s.RoleARN, sinks.RoleARNRE, sinks.RoleARNPattern)
	}
	if s.BucketARN != "" {
		v.Length(path+".bucketARN", s.BucketARN, 1, 2048)
		v.Pattern(path+".bucketARN", s.BucketARN, bucketARNRE, bucketARNPattern)
	}
	if s.Prefix != nil {
		v.Length(path+".prefix", *s.Prefix, 0, 1024)
	}
	if s.ErrorOutputPrefix != nil {
		v.Length(path+".errorOutputPrefix", *s.ErrorOutputPrefix, 0, 1024)
	}
	s.BufferingHints.CheckAPI(v, path+".bufferingHints", MaxSizeMiB, MaxInterval)
	if s.CompressionFormat != "" && s.CompressionFormat != string(ZSTD) {
		v.Enum(path+".compressionFormat", s.CompressionFormat, apiCompressions...)
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
	s.ProcessingConfiguration.CheckAPI(v, path+".processingConfiguration")
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
		v.Range(path+".dynamicPartitioningConfiguration.retryOptions.durationInSeconds", int64(*dp.RetryOptions.DurationInSeconds), 0, sinks.MaxRetrySeconds)
	}
	s.DataFormatConversionConfiguration.checkAPI(v, path+".dataFormatConversionConfiguration")
}

// Validate implements sinks.Config.
func (s *API) Validate(queryKeys []string) error {
	if s.S3BackupMode == "Enabled" {
		return record.InvalidArgument("S3BackupMode Enabled is not supported yet by Sluice.")
	}
	if err := s.DataFormatConversionConfiguration.validate(s.Compression()); err != nil {
		return err
	}
	return s.config(sinks.Env{QueryKeys: queryKeys}).Validate()
}

// Converts implements sinks.CatalogUser.
func (s *API) Converts() bool { return s.DataFormatConversionConfiguration.On() }

// CheckCatalog implements sinks.CatalogUser: the table of the conversion is in cat.
func (s *API) CheckCatalog(cat *catalog.Catalog) error {
	if !s.Converts() {
		return nil
	}
	if err := s.DataFormatConversionConfiguration.validate(s.Compression()); err != nil {
		return err
	}
	_, err := s.DataFormatConversionConfiguration.converter(cat)
	return err
}

// config is the sink configuration of s in env.
func (s *API) config(env sinks.Env) Config {
	c := Config{
		Bucket:              s.Bucket(),
		Prefix:              deref(s.Prefix),
		ErrorOutputPrefix:   deref(s.ErrorOutputPrefix),
		CompressionFormat:   CompressionFormat(s.CompressionFormat),
		FileExtension:       deref(s.FileExtension),
		CustomTimeZone:      deref(s.CustomTimeZone),
		DynamicPartitioning: s.Partitioned(),
		QueryKeys:           env.QueryKeys,
		Endpoint:            env.S3.Endpoint,
		Region:              env.S3.Region,
		PathStyle:           env.S3.PathStyle,
		AccessKeyID:         env.S3.AccessKeyID,
		SecretAccessKey:     Secret(env.S3.SecretAccessKey),
		InstanceMetadata:    env.S3.InstanceMetadata,
		DeliveryStreamName:  env.DeliveryStream,
		VersionID:           env.VersionID,
	}
	return c
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Merge implements sinks.Config.
func (s *API) Merge(member string, raw json.RawMessage) (sinks.Config, error) {
	out := s.clone()
	was := out.Partitioned()
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, record.InvalidArgument("%s is not a valid %s: %v", member, member, err)
	}
	if out.Partitioned() != was {
		return nil, record.InvalidArgument("Dynamic partitioning cannot be enabled or disabled on an existing delivery stream.")
	}
	if len(out.S3BackupUpdate) > 0 {
		out.S3BackupConfiguration, out.S3BackupUpdate = out.S3BackupUpdate, nil
	}
	var upd struct {
		DataFormatConversionConfiguration *DataFormatConversionConfiguration
	}
	_ = json.Unmarshal(raw, &upd) // decoded above already
	out.DataFormatConversionConfiguration = s.DataFormatConversionConfiguration.merge(upd.DataFormatConversionConfiguration)
	return out, nil
}

func (s *API) clone() *API { return sinks.CloneJSON(s) }

// Describe implements sinks.Config: ExtendedS3DestinationDescription with the effective
// defaults filled in (BufferingHints, CompressionFormat, EncryptionConfiguration and
// S3BackupMode are always present) and S3DestinationDescription with the base members.
func (s *API) Describe() map[string]any {
	d := s.clone()
	size, interval := d.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval)
	d.BufferingHints = &sinks.BufferingHints{SizeInMBs: &size, IntervalInSeconds: &interval}
	d.CompressionFormat = d.Compression()
	d.DataFormatConversionConfiguration = d.DataFormatConversionConfiguration.describe()
	if d.EncryptionConfiguration == nil {
		d.EncryptionConfiguration = &EncryptionConfiguration{NoEncryptionConfig: "NoEncryption"}
	}
	if d.S3BackupMode == "" {
		d.S3BackupMode = "Disabled"
	}
	var full map[string]any
	b, _ := json.Marshal(d)
	_ = json.Unmarshal(b, &full)
	if raw, ok := full["S3BackupConfiguration"]; ok {
		delete(full, "S3BackupConfiguration")
		full["S3BackupDescription"] = raw
	}
	plain := map[string]any{}
	for _, k := range []string{"RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints",
		"CompressionFormat", "EncryptionConfiguration", "CloudWatchLoggingOptions"} {
		if v, ok := full[k]; ok {
			plain[k] = v
		}
	}
	return map[string]any{"ExtendedS3DestinationDescription": full, "S3DestinationDescription": plain}
}

// Build implements sinks.Config: the S3 sink, whose error prefix is the error output.
func (s *API) Build(env sinks.Env) (*sinks.Built, error) {
	keys := append([]string(nil), env.QueryKeys...)
	sort.Strings(keys)
	env.QueryKeys = keys
	cfg := s.config(env)
	if s.Converts() {
		conv, err := s.DataFormatConversionConfiguration.converter(env.Catalog)
		if err != nil {
			return nil, err
		}
		if parts := strings.SplitN(env.ARN, ":", 6); len(parts) == 6 {
			if conv.Table.Region == "" {
				conv.Table.Region = parts[3]
			}
			if conv.Table.CatalogID == "" {
				conv.Table.CatalogID = parts[4]
			}
			conv.Table.CatalogArn = "arn:aws:glue:" + conv.Table.Region + ":" + conv.Table.CatalogID + ":catalog"
		}
		cfg.Conversion = conv
	}
	opts := []Option{}
	if env.Logger != nil {
		opts = append(opts, WithLogger(env.Logger))
	}
	if env.OnObject != nil {
		opts = append(opts, WithObjectHook(env.OnObject))
	}
	snk, err := New(cfg, opts...)
	if err != nil {
		return nil, errors.Join(err)
	}
	var conv func(record.Record, time.Time) (record.Record, *record.FailureRecord)
	if cfg.Conversion != nil {
		conv = cfg.Conversion.Convert
	}
	return &sinks.Built{
		Convert: conv,
		Sink:    snk,
		Errors:  errorOutput{snk},
		CheckPartition: func(pk map[string]string, arrivalMs int64) error {
			k := snk.Keys()
			_, err := k.ObjectPrefix(k.Time(arrivalMs), pk)
			return err
		},
	}, nil
}

// errorOutput writes failure records under the sink's error prefix.
type errorOutput struct{ s *Sink }

func (e errorOutput) WriteFailures(ctx context.Context, errorType string, recs []record.FailureRecord) error {
	_, err := e.s.WriteErrors(ctx, errorType, recs)
	return err
}

// ErrorOutput returns the error output of sink: failure records as NDJSON objects under
// its error prefix (what every non-S3 destination's S3 backup uses).
func ErrorOutput(sink *Sink) sinks.ErrorOutput { return errorOutput{sink} }

// MergeUpdate applies an S3DestinationUpdate (the S3 backup or staging bucket of another
// destination) to *dst, which may be nil (an empty configuration then). An empty update
// leaves *dst as it is. Errors are client-facing.
func MergeUpdate(dst **API, update json.RawMessage) error {
	if len(update) == 0 {
		return nil
	}
	cur := *dst
	if cur == nil {
		cur = &API{}
	}
	m, err := cur.Merge(MemberPlainUpdate, update)
	if err != nil {
		return err
	}
	*dst = m.(*API)
	return nil
}
