package config

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/sinks/catalog"
)

// Firehose is the `firehose` section: settings shared by every delivery stream.
//
//	firehose:
//	  s3: {endpoint: http://127.0.0.1:9000, region: us-east-1, path_style: true}
//	  buffer_budget: 256MiB
//	  wal_high_water: 2GiB
//	  throttling: none
type Firehose struct {
	// S3 addresses S3 for delivery streams created through the API (declared ones carry
	// their own connection; empty keys there fall back to these). Empty = the standard
	// AWS configuration chain (AWS_ENDPOINT_URL_S3, AWS_REGION, shared files…).
	S3 FirehoseS3 `yaml:"s3"`
	// BufferBudget is the memory shared by every pipeline's buffers; when it is full,
	// reading from the sources pauses. Default 256MiB, 1MiB..1TiB.
	BufferBudget Size `yaml:"buffer_budget"`
	// WALHighWater is, per DirectPut delivery stream, how many accepted bytes may wait
	// undelivered (not yet checkpointed) before PutRecord/PutRecordBatch answer
	// ServiceUnavailableException "Slow down.". Default 2GiB, 1MiB..1TiB.
	WALHighWater Size `yaml:"wal_high_water"`
	// Throttling loads AWS's Direct PUT quotas per delivery stream as 1-second token
	// buckets: `none` (default), `aws-large` (500,000 records/s, 2,000 requests/s,
	// 5MiB/s) or `aws-small` (100,000 records/s, 1,000 requests/s, 1MiB/s).
	Throttling string `yaml:"throttling"`
	// LambdaFunctions maps the LambdaArn of a delivery stream's Lambda processor to the
	// http(s) URL of a function that takes Firehose's Lambda event (Sluice runs no Lambda
	// service). A Lambda processor whose ARN is not here is refused.
	LambdaFunctions map[string]string `yaml:"lambda_functions"`
	// OpenSearchDomains maps the DomainARN of an OpenSearch destination to the http(s) URL
	// of the cluster (API-created delivery streams name domains by ARN; Sluice has no AWS
	// account to look them up in). user:password@ in the URL is basic auth.
	OpenSearchDomains map[string]string `yaml:"opensearch_domains"`
	// AllowInsecureEndpoints lets destinations reach plain http:// endpoints that are not on
	// this machine (AWS takes only HTTPS; loopback is always allowed).
	AllowInsecureEndpoints bool `yaml:"allow_insecure_endpoints"`
	// Catalog is the local table catalog that record format conversion reads schemas
	// from (Sluice's stand-in for AWS Glue): database.table → {columns: [{name, type}]},
	// with Glue/Hive type strings.
	Catalog map[string]catalog.TableSpec `yaml:"catalog"`
	// CatalogFile is a YAML (or JSON) file of more tables in the same shape.
	CatalogFile string `yaml:"catalog_file"`

	tables *catalog.Catalog // Catalog and CatalogFile, checked
}

// Tables returns the catalog of firehose.catalog and firehose.catalog_file (empty when
// neither is set).
func (f *Firehose) Tables() *catalog.Catalog {
	if f.tables == nil {
		f.tables, _ = catalog.Build(nil)
	}
	return f.tables
}

// buildCatalog checks the inline catalog and the catalog file and merges them.
func (f *Firehose) buildCatalog(v *Validator) {
	specs := maps.Clone(f.Catalog)
	if specs == nil {
		specs = map[string]catalog.TableSpec{}
	}
	fromFile := map[string]bool{}
	if f.CatalogFile != "" {
		fs, err := catalog.LoadFile(f.CatalogFile)
		if err != nil {
			v.Errorf("firehose.catalog_file", "%v", err)
		}
		for _, k := range slices.Sorted(maps.Keys(fs)) {
			if _, dup := specs[k]; dup {
				v.Errorf("firehose.catalog_file", "table %s is declared both in firehose.catalog and in %s", k, f.CatalogFile)
				continue
			}
			specs[k], fromFile[k] = fs[k], true
		}
	}
	cat, probs := catalog.Build(specs)
	for _, p := range probs {
		table, _, _ := strings.Cut(p.Path, ".columns")
		if fromFile[table] {
			v.Errorf("firehose.catalog_file", "%s: %s: %s", f.CatalogFile, p.Path, p.Msg)
			continue
		}
		v.Errorf("firehose.catalog."+p.Path, "%s", p.Msg)
	}
	f.tables = cat
}

// FirehoseS3 is the S3 connection of API-created delivery streams.
type FirehoseS3 struct {
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
	// PathStyle: unset = on for a non-AWS endpoint (MinIO), off otherwise.
	PathStyle       *bool  `yaml:"path_style"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey Secret `yaml:"secret_access_key"`
	// InstanceMetadata lets the AWS credential chain ask the EC2 instance metadata service
	// (169.254.169.254) when no keys are configured. Off by default: Sluice is self-hosted
	// and never contacts that address unless told to.
	InstanceMetadata bool `yaml:"instance_metadata"`
}

// Firehose defaults and ranges.
const (
	DefaultBufferBudget = 256 * MiB
	DefaultWALHighWater = 2 * GiB
)

// ThrottleLimits are one profile's per-second quotas (0 = unlimited).
type ThrottleLimits struct {
	Records, Requests, Bytes int64
}

// ThrottleProfiles are the values of `firehose.throttling` (firehose.md §12).
var ThrottleProfiles = map[string]ThrottleLimits{
	"none":      {},
	"aws-large": {Records: 500_000, Requests: 2_000, Bytes: 5 << 20},
	"aws-small": {Records: 100_000, Requests: 1_000, Bytes: 1 << 20},
}

// Limits returns the per-second quotas of the configured throttling profile.
func (f *Firehose) Limits() ThrottleLimits { return ThrottleProfiles[f.Throttling] }

// PathStyleOn resolves path_style: explicit value, else on for a non-AWS endpoint.
func (s *FirehoseS3) PathStyleOn() bool {
	if s.PathStyle != nil {
		return *s.PathStyle
	}
	return s.Endpoint != "" && !strings.Contains(s.Endpoint, "amazonaws.com")
}

func (f *Firehose) applyDefaults(v *Validator) {
	if !v.Set("firehose.buffer_budget") {
		f.BufferBudget = DefaultBufferBudget
	}
	if !v.Set("firehose.wal_high_water") {
		f.WALHighWater = DefaultWALHighWater
	}
	if f.Throttling == "" && !v.Set("firehose.throttling") {
		f.Throttling = "none"
	}
}

func (f *Firehose) validate(v *Validator) {
	v.SizeRange("firehose.buffer_budget", f.BufferBudget, 1*MiB, 1*TiB)
	v.SizeRange("firehose.wal_high_water", f.WALHighWater, 1*MiB, 1*TiB)
	v.OneOf("firehose.throttling", f.Throttling, "none", "aws-large", "aws-small")
	for _, arn := range slices.Sorted(maps.Keys(f.LambdaFunctions)) {
		p := "firehose.lambda_functions." + arn
		if !lambdaARNRE.MatchString(arn) {
			v.Errorf(p, "%q is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>])", arn)
		}
		if u, err := url.Parse(f.LambdaFunctions[arn]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Errorf(p, "%q is not an http(s) URL (e.g. http://127.0.0.1:9001/invoke)", f.LambdaFunctions[arn])
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(f.OpenSearchDomains)) {
		p := "firehose.opensearch_domains." + arn
		if !domainARNRE.MatchString(arn) {
			v.Errorf(p, "%q is not an OpenSearch domain ARN (arn:aws:es:<region>:<account>:domain/<name>)", arn)
		}
		if u, err := url.Parse(f.OpenSearchDomains[arn]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Errorf(p, "is not an http(s) URL (e.g. https://127.0.0.1:9200)")
		}
	}
	if e := f.S3.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Errorf("firehose.s3.endpoint", "%q is not an http(s) URL (e.g. http://127.0.0.1:9000)", e)
		}
	}
	f.buildCatalog(v)
	if f.S3.Region != "" && !regionRE.MatchString(f.S3.Region) {
		v.Errorf("firehose.s3.region", "%q is not a region name (1..32 of a-z, 0-9, -; e.g. us-east-1)", f.S3.Region)
	}
	switch {
	case f.S3.AccessKeyID != "" && f.S3.SecretAccessKey == "":
		v.Errorf("firehose.s3.access_key_id", "needs firehose.s3.secret_access_key too")
	case f.S3.AccessKeyID == "" && f.S3.SecretAccessKey != "":
		v.Errorf("firehose.s3.secret_access_key", "needs firehose.s3.access_key_id too")
	}
}

var domainARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:es:[a-z0-9-]+:\d{12}:domain/[a-z][a-z0-9-]{2,27}$`)

var lambdaARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}(:[a-zA-Z0-9_$-]{1,128})?$`)
