// Package opensearch is the Amazon OpenSearch Service (and Elasticsearch) destination of
// Firehose (firehose.md §7): records go to an OpenSearch or Elasticsearch cluster in _bulk
// requests, one document each, into an index named after the arrival time; documents the
// cluster refuses, and with AllDocuments every record, go to the S3 backup
// (S3Configuration).
package opensearch

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"regexp"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// Firehose API members of the destination: AWS has two spellings of one shape.
const (
	MemberCreate        = "AmazonopensearchserviceDestinationConfiguration"
	MemberCreateES      = "ElasticsearchDestinationConfiguration"
	MemberUpdate        = "AmazonopensearchserviceDestinationUpdate"
	MemberUpdateES      = "ElasticsearchDestinationUpdate"
	DescriptionMember   = "AmazonopensearchserviceDestinationDescription"
	DescriptionMemberES = "ElasticsearchDestinationDescription"
	// OpenSearch Serverless: a collection endpoint, no index rotation, type or document ids;
	// failure records name osDocumentId and osIndexName
	MemberCreateServerless      = "AmazonOpenSearchServerlessDestinationConfiguration"
	MemberUpdateServerless      = "AmazonOpenSearchServerlessDestinationUpdate"
	DescriptionMemberServerless = "AmazonOpenSearchServerlessDestinationDescription"
	FailedType                  = "AmazonOpenSearchService-failed"
	defaultDocumentIDFmt        = "FIREHOSE_DEFAULT"
	noDocumentID                = "NO_DOCUMENT_ID"
)

// Defaults and limits of the destination (firehose.md §3–§4, §7).
const (
	DefaultSizeMiB      = 5
	DefaultInterval     = 300
	DefaultRetrySeconds = 300
	// MaxSizeMiB is the largest buffer size: AWS allows 1..100, Sluice (as for every kind)
	// up to 1 GiB, splitting requests at MaxRequestBytes.
	MaxSizeMiB  = 1024
	MaxInterval = 900
)

// Backup modes of S3BackupMode.
const (
	FailedDocumentsOnly = "FailedDocumentsOnly"
	AllDocuments        = "AllDocuments"
)

func init() {
	sinks.Register(sinks.Kind{
		Name:     "opensearch",
		Create:   []string{MemberCreate, MemberCreateES, MemberCreateServerless},
		Update:   []string{MemberUpdate, MemberUpdateES, MemberUpdateServerless},
		New:      func() sinks.Config { return new(API) },
		FromYAML: fromYAML,
	})
}

// API is AmazonopensearchserviceDestinationConfiguration (and its older spelling
// ElasticsearchDestinationConfiguration) as the Firehose API and the persisted definition
// hold it. The Sluice* members are Sluice's own, set from the config file: the basic-auth
// credentials (persisted, never described nor logged), a CA file, an ingest pipeline, and
// the member the delivery stream was created with (which names its description).
type API struct {
	RoleARN                  string                         `json:"RoleARN,omitempty"`
	DomainARN                string                         `json:"DomainARN,omitempty"`
	ClusterEndpoint          string                         `json:"ClusterEndpoint,omitempty"`
	CollectionEndpoint       string                         `json:"CollectionEndpoint,omitempty"` // Serverless
	IndexName                string                         `json:"IndexName,omitempty"`
	TypeName                 *string                        `json:"TypeName,omitempty"`
	IndexRotationPeriod      string                         `json:"IndexRotationPeriod,omitempty"`
	BufferingHints           *sinks.BufferingHints          `json:"BufferingHints,omitempty"`
	RetryOptions             *sinks.RetryOptions            `json:"RetryOptions,omitempty"`
	S3BackupMode             string                         `json:"S3BackupMode,omitempty"`
	S3Configuration          *s3.API                        `json:"S3Configuration,omitempty"`
	ProcessingConfiguration  *sinks.ProcessingConfiguration `json:"ProcessingConfiguration,omitempty"`
	CloudWatchLoggingOptions json.RawMessage                `json:"CloudWatchLoggingOptions,omitempty"`
	VpcConfiguration         json.RawMessage                `json:"VpcConfiguration,omitempty"`
	DocumentIdOptions        *DocumentIdOptions             `json:"DocumentIdOptions,omitempty"`

	SluiceMember   string `json:"SluiceMember,omitempty"` // MemberCreate (default) or MemberCreateES
	SluiceUsername string `json:"SluiceUsername,omitempty"`
	SluicePassword string `json:"SluicePassword,omitempty"`
	SluiceCAFile   string `json:"SluiceCAFile,omitempty"`
	SluicePipeline string `json:"SluicePipeline,omitempty"`
	SluiceSigV4    *SigV4 `json:"SluiceSigV4,omitempty"` // sign requests (Amazon OpenSearch Service)

	// update spelling of S3Configuration, folded in by Merge
	S3Update json.RawMessage `json:"S3Update,omitempty"`
}

// DocumentIdOptions is the Firehose DocumentIdOptions shape.
type DocumentIdOptions struct {
	DefaultDocumentIdFormat string `json:"DefaultDocumentIdFormat"`
}

var domainARNRE = regexp.MustCompile(`^arn:.*:es:[^:]*:\d{12}:domain/.+$`)

const domainARNPattern = `arn:.*:es:[^:]*:\d{12}:domain/.+`

// CheckAPI implements sinks.Config. On a create it also records which of the two members
// configured the destination: its description bears the same name.
func (a *API) CheckAPI(v sinks.APIChecks, path, member string, create bool) {
	if create {
		if member == MemberCreateES || member == MemberCreateServerless {
			a.SluiceMember = member
		}
		v.Required(path+".roleARN", a.RoleARN != "")
		v.Required(path+".indexName", a.IndexName != "")
		v.Required(path+".s3Configuration", a.S3Configuration != nil)
	}
	if a.RoleARN != "" {
		v.Length(path+".roleARN", a.RoleARN, 1, 512)
		v.Pattern(path+".roleARN", a.RoleARN, sinks.RoleARNRE, sinks.RoleARNPattern)
	}
	if a.DomainARN != "" {
		v.Length(path+".domainARN", a.DomainARN, 1, 512)
		v.Pattern(path+".domainARN", a.DomainARN, domainARNRE, domainARNPattern)
	}
	if a.ClusterEndpoint != "" {
		v.Length(path+".clusterEndpoint", a.ClusterEndpoint, 1, 512)
	}
	if a.CollectionEndpoint != "" {
		v.Length(path+".collectionEndpoint", a.CollectionEndpoint, 1, 512)
	}
	if create && a.SluiceMember == MemberCreateServerless {
		v.Required(path+".collectionEndpoint", a.CollectionEndpoint != "")
	}
	if a.IndexName != "" {
		v.Length(path+".indexName", a.IndexName, 1, 80)
	}
	if a.TypeName != nil {
		v.Length(path+".typeName", *a.TypeName, 0, 100)
	}
	if a.IndexRotationPeriod != "" {
		v.Enum(path+".indexRotationPeriod", a.IndexRotationPeriod, Rotations...)
	}
	a.BufferingHints.CheckAPI(v, path+".bufferingHints", MaxSizeMiB, MaxInterval)
	if ro := a.RetryOptions; ro != nil && ro.DurationInSeconds != nil {
		v.Range(path+".retryOptions.durationInSeconds", int64(*ro.DurationInSeconds), 0, sinks.MaxRetrySeconds)
	}
	if a.S3BackupMode != "" {
		v.Enum(path+".s3BackupMode", a.S3BackupMode, FailedDocumentsOnly, AllDocuments)
	}
	if a.S3Configuration != nil {
		a.S3Configuration.CheckAPI(v, path+".s3Configuration", s3.MemberPlain, create)
	}
	a.ProcessingConfiguration.CheckAPI(v, path+".processingConfiguration")
	if d := a.DocumentIdOptions; d != nil {
		p := path + ".documentIdOptions.defaultDocumentIdFormat"
		if v.Required(p, d.DefaultDocumentIdFormat != "") {
			v.Enum(p, d.DefaultDocumentIdFormat, defaultDocumentIDFmt, noDocumentID)
		}
	}
}

// Validate implements sinks.Config.
func (a *API) Validate([]string) error {
	_, err := a.config(sinks.Env{})
	return err
}

// config is the sink configuration, every member checked (errors are client-facing).
func (a *API) config(env sinks.Env) (Config, error) {
	var c Config
	endpoint, member, err := a.endpoint(env)
	if err != nil {
		return c, err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return c, record.InvalidArgument("%s is not a valid URL.", member)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, record.InvalidArgument("%s %q is not an http:// or https:// URL.", member, redact(endpoint))
	}
	if err := checkInsecure(u, env); err != nil {
		return c, err
	}
	if a.IndexName == "" {
		return c, record.InvalidArgument("IndexName is required.")
	}
	if a.S3Configuration == nil {
		return c, record.InvalidArgument("S3Configuration is required.")
	}
	if _, ok := s3.BackupAll(a.backupMode()); !ok || (a.backupMode() != FailedDocumentsOnly && a.backupMode() != AllDocuments) {
		return c, record.InvalidArgument("S3BackupMode %q is not FailedDocumentsOnly or AllDocuments.", a.S3BackupMode)
	}
	if sv := a.SluiceSigV4; sv != nil {
		if sv.Service != "" && sv.Service != "es" && sv.Service != "aoss" {
			return c, record.InvalidArgument("SigV4 service %q is not es (Amazon OpenSearch Service) or aoss (OpenSearch Serverless).", sv.Service)
		}
		if a.SluiceUsername != "" {
			return c, record.InvalidArgument("SigV4 and basic auth (username/password) cannot both be set.")
		}
		if (sv.AccessKeyID == "") != (sv.SecretAccessKey == "") {
			return c, record.InvalidArgument("SigV4 access_key_id and secret_access_key go together.")
		}
	}
	c = Config{Endpoint: endpoint, Index: a.IndexName, Username: a.SluiceUsername, Password: s3.Secret(a.SluicePassword),
		CAFile: a.SluiceCAFile, Pipeline: a.SluicePipeline, SigV4: a.SluiceSigV4, Logger: env.Logger}
	if a.serverless() {
		// one index (no rotation), no type and no document ids (the collection picks them),
		// SigV4 service aoss unless said otherwise
		if a.TypeName != nil || (a.IndexRotationPeriod != "" && a.IndexRotationPeriod != NoRotation) || a.DocumentIdOptions != nil {
			return c, record.InvalidArgument("OpenSearch Serverless has no TypeName, IndexRotationPeriod or DocumentIdOptions.")
		}
		c.Rotation, c.Serverless = NoRotation, true
		if sv := a.SluiceSigV4; sv != nil && sv.Service == "" {
			cp := *sv
			cp.Service = "aoss"
			c.SigV4 = &cp
		}
		return c, nil
	}
	c.Rotation = a.rotation()
	if !contains(Rotations, c.Rotation) {
		return c, record.InvalidArgument("IndexRotationPeriod %q is not one of %v.", c.Rotation, Rotations)
	}
	idf := a.documentIDFormat()
	if idf != defaultDocumentIDFmt && idf != noDocumentID {
		return c, record.InvalidArgument("DefaultDocumentIdFormat %q is not FIREHOSE_DEFAULT or NO_DOCUMENT_ID.", idf)
	}
	c.DocumentIDs = idf == defaultDocumentIDFmt
	if a.TypeName != nil {
		c.TypeName = *a.TypeName
	}
	return c, nil
}

// endpoint returns the URL the destination reaches and the member that names it: the
// CollectionEndpoint (Serverless), the ClusterEndpoint, or the URL firehose.opensearch_domains
// maps the DomainARN to (with env.Domains nil — validated, not built — a placeholder).
func (a *API) endpoint(env sinks.Env) (endpoint, member string, err error) {
	if a.serverless() {
		if a.CollectionEndpoint == "" {
			return "", "", record.InvalidArgument("CollectionEndpoint is required.")
		}
		return a.CollectionEndpoint, "CollectionEndpoint", nil
	}
	switch {
	case a.ClusterEndpoint == "" && a.DomainARN == "":
		return "", "", record.InvalidArgument("One of DomainARN or ClusterEndpoint is required.")
	case a.ClusterEndpoint != "" && a.DomainARN != "":
		return "", "", record.InvalidArgument("Only one of DomainARN and ClusterEndpoint may be given.")
	case a.ClusterEndpoint != "":
		return a.ClusterEndpoint, "ClusterEndpoint", nil
	}
	if !domainARNRE.MatchString(a.DomainARN) {
		return "", "", record.InvalidArgument("DomainARN %q is not an OpenSearch domain ARN (arn:aws:es:<region>:<account>:domain/<name>).", a.DomainARN)
	}
	ep, ok := env.Domains[a.DomainARN]
	switch {
	case ok:
		return ep, "The URL firehose.opensearch_domains maps the DomainARN to", nil
	case env.Domains == nil: // the mapping is checked when the destination is built
		return "https://domain.invalid", "ClusterEndpoint", nil
	}
	return "", "", record.InvalidArgument("DomainARN %s is not in firehose.opensearch_domains: map it to the cluster's URL there, or give ClusterEndpoint.", a.DomainARN)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (a *API) rotation() string {
	if a.IndexRotationPeriod == "" {
		return DefaultRotation
	}
	return a.IndexRotationPeriod
}

func (a *API) documentIDFormat() string {
	if a.DocumentIdOptions == nil || a.DocumentIdOptions.DefaultDocumentIdFormat == "" {
		return defaultDocumentIDFmt
	}
	return a.DocumentIdOptions.DefaultDocumentIdFormat
}

func (a *API) backupMode() string {
	if a.S3BackupMode == "" {
		return FailedDocumentsOnly
	}
	return a.S3BackupMode
}

// Settings implements sinks.Config.
func (a *API) Settings() sinks.Settings {
	size, interval := a.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval)
	rs := a.RetryOptions.Seconds(DefaultRetrySeconds)
	return sinks.Settings{RoleARN: a.RoleARN, SizeMiB: size, IntervalSec: interval, Processing: a.ProcessingConfiguration, RetrySeconds: &rs}
}

// Adopt implements sinks.Config.
func (a *API) Adopt(st sinks.Settings) {
	st.AdoptInto(&a.RoleARN, &a.BufferingHints, &a.ProcessingConfiguration, &a.RetryOptions)
}

// Merge implements sinks.Config (AmazonopensearchserviceDestinationUpdate or
// ElasticsearchDestinationUpdate, whichever member created the destination).
func (a *API) Merge(member string, raw json.RawMessage) (sinks.Config, error) {
	out := a.clone()
	keep := struct{ member, user, pass, ca, pipeline string }{out.SluiceMember, out.SluiceUsername, out.SluicePassword, out.SluiceCAFile, out.SluicePipeline}
	keepSig := out.SluiceSigV4
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, record.InvalidArgument("%s is not a valid %s: %v", member, member, err)
	}
	// the Sluice members come from the config file, never from an update
	out.SluiceMember, out.SluiceUsername, out.SluicePassword, out.SluiceCAFile, out.SluicePipeline =
		keep.member, keep.user, keep.pass, keep.ca, keep.pipeline
	out.SluiceSigV4 = keepSig
	if err := s3.MergeUpdate(&out.S3Configuration, out.S3Update); err != nil {
		return nil, err
	}
	out.S3Update = nil
	return out, nil
}

func (a *API) clone() *API { return sinks.CloneJSON(a) }

// Describe implements sinks.Config: the description named after the create member, with
// the effective defaults, without the credentials (nor any in the endpoint URL).
func (a *API) Describe() map[string]any {
	size, interval := a.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval)
	d := map[string]any{
		"RoleARN":             a.RoleARN,
		"IndexName":           a.IndexName,
		"IndexRotationPeriod": a.rotation(),
		"BufferingHints":      map[string]any{"SizeInMBs": size, "IntervalInSeconds": interval},
		"RetryOptions":        map[string]any{"DurationInSeconds": *a.Settings().RetrySeconds},
		"S3BackupMode":        a.backupMode(),
		"DocumentIdOptions":   map[string]any{"DefaultDocumentIdFormat": a.documentIDFormat()},
	}
	if a.DomainARN != "" {
		d["DomainARN"] = a.DomainARN
	}
	if a.ClusterEndpoint != "" {
		d["ClusterEndpoint"] = redact(a.ClusterEndpoint)
	}
	if a.TypeName != nil {
		d["TypeName"] = *a.TypeName
	}
	if a.S3Configuration != nil {
		d["S3DestinationDescription"] = a.S3Configuration.Describe()["S3DestinationDescription"]
	}
	if a.ProcessingConfiguration != nil {
		d["ProcessingConfiguration"] = a.ProcessingConfiguration
	}
	if len(a.CloudWatchLoggingOptions) > 0 {
		d["CloudWatchLoggingOptions"] = a.CloudWatchLoggingOptions
	}
	if len(a.VpcConfiguration) > 0 {
		d["VpcConfigurationDescription"] = a.VpcConfiguration
	}
	name := DescriptionMember
	switch a.SluiceMember {
	case MemberCreateES:
		name = DescriptionMemberES
	case MemberCreateServerless:
		name = DescriptionMemberServerless
		d["CollectionEndpoint"] = redact(a.CollectionEndpoint)
		delete(d, "IndexRotationPeriod")
		delete(d, "DocumentIdOptions")
	}
	return map[string]any{name: d}
}

// Build implements sinks.Config: the sink and its S3 backup (the error output, and with
// AllDocuments a copy of every delivered record).
func (a *API) Build(env sinks.Env) (*sinks.Built, error) {
	cfg, err := a.config(env)
	if err != nil {
		return nil, err
	}
	bk, err := s3.NewBackup(a.S3Configuration, a.backupMode(), env)
	if err != nil {
		return nil, err
	}
	return &sinks.Built{Sink: New(cfg), Errors: bk.Errors, FailedType: FailedType, Backup: bk.All}, nil
}

// Check implements sinks.Checker (sluice validate -check-sinks): the cluster answers
// `GET /` with the configured credentials. The index need not exist: the first write
// creates it.
func (a *API) Check(ctx context.Context, _ sinks.S3Conn) error {
	cfg, err := a.config(sinks.Env{})
	if err != nil {
		return err
	}
	s := New(cfg)
	defer s.Close(context.WithoutCancel(ctx))
	return s.Connect(ctx)
}

// Endpoint implements sinks.Checker: the cluster's URL without credentials.
func (a *API) Endpoint() string { return redact(a.ClusterEndpoint) }

// redact drops the password of a URL's user information.
func redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return endpoint
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// LogValue implements slog.LogValuer: the description, without the credentials.
func (a *API) LogValue() slog.Value { return slog.AnyValue(a.Describe()) }

// serverless reports whether the destination is OpenSearch Serverless.
func (a *API) serverless() bool { return a.SluiceMember == MemberCreateServerless }

// checkInsecure refuses a plain http:// endpoint off this machine unless
// firehose.allow_insecure_endpoints is on (AWS takes only HTTPS). Loopback needs no
// permission: nothing crosses a network. Only checked when the destination is built (env
// from the daemon), not when a configuration is validated alone.
func checkInsecure(u *url.URL, env sinks.Env) error {
	if u.Scheme != "http" || env.Domains == nil || env.AllowInsecure {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return record.InvalidArgument("The endpoint %s is plain http://: use https://, or set firehose.allow_insecure_endpoints: true.", u.Host)
}
