// Package httpendpoint is the HTTP endpoint destination of Firehose (firehose.md §9):
// records are POSTed to a URL in Firehose's request shape — a JSON body with the request id,
// a millisecond timestamp and the records in base64, optionally gzipped as a whole — with
// the X-Amz-Firehose-* headers (access key, common attributes). Only a 200 answered with
// a valid reply echoing the request id delivers; a 413 drops the request's records (as
// AWS does; `backup_on_413` sends them to the S3 backup instead); anything else is
// retried with Firehose's spacing for RetryOptions.DurationInSeconds, counted from the
// first failure without the time requests were in flight, and then the records go to
// `http-endpoint-failed/` in the S3 backup (S3Configuration). With AllData, every record
// is also written to the backup.
//
// Requests hold 1–10,000 records and at most 64 MiB of uncompressed body; larger buffers
// are split, each piece a request of its own with its own request id. A request that is
// retried keeps its id: the id is derived from the piece's records (their sequence
// numbers, arrival times and bytes) and the delivery stream, so the same records form the
// same request again.
package httpendpoint

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// Firehose API members of the destination.
const (
	MemberCreate      = "HttpEndpointDestinationConfiguration"
	MemberUpdate      = "HttpEndpointDestinationUpdate"
	DescriptionMember = "HttpEndpointDestinationDescription"
	// FailedType is the error-output type of records the endpoint did not take.
	FailedType = "http-endpoint-failed"
	// Name is the destination's `destination.type`; Label its metric label (§11).
	Name  = "http_endpoint"
	Label = "http"
)

// Defaults and limits of the destination (firehose.md §2–§4, §9).
const (
	DefaultSizeMiB      = 5
	DefaultInterval     = 300
	DefaultRetrySeconds = 300
	// MaxSizeMiB is the largest buffer size: AWS allows 1..64, Sluice (as for every kind)
	// up to 1 GiB, splitting requests at MaxRequestBytes.
	MaxSizeMiB  = 1024
	MaxInterval = 900
	MaxURL      = 1000
	MaxName     = 256
	MaxKey      = 4096
	// MaxAttributes bounds CommonAttributes; names are 1–256 characters, values 0–1024.
	MaxAttributes     = 50
	MaxAttributeName  = 256
	MaxAttributeValue = 1024
	// DefaultTimeout bounds one attempt (AWS: 3 minutes).
	DefaultTimeout = 3 * time.Minute
)

// Backup modes of S3BackupMode and the content encodings of RequestConfiguration.
const (
	FailedDataOnly = "FailedDataOnly"
	AllData        = "AllData"
	EncodingNone   = "NONE"
	EncodingGZIP   = "GZIP"
)

func init() {
	sinks.Register(sinks.Kind{
		Name:     Name,
		Label:    Label,
		Create:   []string{MemberCreate},
		Update:   []string{MemberUpdate},
		New:      func() sinks.Config { return new(API) },
		FromYAML: fromYAML,
	})
}

// API is HttpEndpointDestinationConfiguration as the Firehose API and the persisted
// definition hold it. The Sluice* members are Sluice's own, set from the config file.
type API struct {
	EndpointConfiguration       *EndpointConfiguration         `json:"EndpointConfiguration,omitempty"`
	RequestConfiguration        *RequestConfiguration          `json:"RequestConfiguration,omitempty"`
	BufferingHints              *sinks.BufferingHints          `json:"BufferingHints,omitempty"`
	RetryOptions                *sinks.RetryOptions            `json:"RetryOptions,omitempty"`
	RoleARN                     string                         `json:"RoleARN,omitempty"`
	S3BackupMode                string                         `json:"S3BackupMode,omitempty"`
	S3Configuration             *s3.API                        `json:"S3Configuration,omitempty"`
	ProcessingConfiguration     *sinks.ProcessingConfiguration `json:"ProcessingConfiguration,omitempty"`
	CloudWatchLoggingOptions    json.RawMessage                `json:"CloudWatchLoggingOptions,omitempty"`
	SecretsManagerConfiguration *SecretsManagerConfiguration   `json:"SecretsManagerConfiguration,omitempty"`

	// SluiceBackupOn413 writes the records of a request answered 413 to the error output
	// instead of dropping them (http.backup_on_413).
	SluiceBackupOn413 bool `json:"SluiceBackupOn413,omitempty"`
	// SluiceTimeoutSeconds bounds one attempt (0: 180 s, AWS's fixed timeout).
	SluiceTimeoutSeconds int `json:"SluiceTimeoutSeconds,omitempty"`
	// SluiceCAFile is a PEM CA bundle for an https endpoint (ca_file).
	SluiceCAFile string `json:"SluiceCAFile,omitempty"`

	// update spelling of S3Configuration, folded in by Merge
	S3Update json.RawMessage `json:"S3Update,omitempty"`
}

// EndpointConfiguration is the Firehose HttpEndpointConfiguration shape. AccessKey is a
// secret: never logged, never described.
type EndpointConfiguration struct {
	Url       string    `json:"Url,omitempty"`
	Name      *string   `json:"Name,omitempty"`
	AccessKey s3.Secret `json:"AccessKey,omitempty"`
}

// RequestConfiguration is the Firehose HttpEndpointRequestConfiguration shape.
type RequestConfiguration struct {
	ContentEncoding  string            `json:"ContentEncoding,omitempty"`
	CommonAttributes []CommonAttribute `json:"CommonAttributes,omitempty"`
}

// CommonAttribute is the Firehose HttpEndpointCommonAttribute shape.
type CommonAttribute struct {
	AttributeName  string `json:"AttributeName"`
	AttributeValue string `json:"AttributeValue"`
}

// SecretsManagerConfiguration is the Firehose shape; Sluice accepts it only disabled.
type SecretsManagerConfiguration struct {
	Enabled   *bool  `json:"Enabled,omitempty"`
	SecretARN string `json:"SecretARN,omitempty"`
	RoleARN   string `json:"RoleARN,omitempty"`
}

// urlRE is the model's pattern of Url (AWS: https://.*), widened to http:// (refused at
// build time off loopback unless firehose.allow_insecure_endpoints is on).
var urlRE = regexp.MustCompile(`^https?://.*$`)

const urlPattern = `https?://.*`

// CheckAPI implements sinks.Config.
func (a *API) CheckAPI(v sinks.APIChecks, path, member string, create bool) {
	if create {
		v.Required(path+".endpointConfiguration", a.EndpointConfiguration != nil)
		v.Required(path+".s3Configuration", a.S3Configuration != nil)
	}
	if ec := a.EndpointConfiguration; ec != nil {
		p := path + ".endpointConfiguration"
		if v.Required(p+".url", ec.Url != "" || !create) && ec.Url != "" {
			v.Length(p+".url", ec.Url, 1, MaxURL)
			v.Pattern(p+".url", ec.Url, urlRE, urlPattern)
		}
		if ec.Name != nil {
			v.Length(p+".name", *ec.Name, 1, MaxName)
		}
		if ec.AccessKey != "" {
			v.Length(p+".accessKey", string(ec.AccessKey), 0, MaxKey)
		}
	}
	if rc := a.RequestConfiguration; rc != nil {
		p := path + ".requestConfiguration"
		if rc.ContentEncoding != "" {
			v.Enum(p+".contentEncoding", rc.ContentEncoding, EncodingNone, EncodingGZIP)
		}
		if len(rc.CommonAttributes) > MaxAttributes {
			// a list's length is reported as a length violation, as AWS does
			v.Length(p+".commonAttributes", string(make([]byte, len(rc.CommonAttributes))), 0, MaxAttributes)
		}
		for i, at := range rc.CommonAttributes {
			ap := p + ".commonAttributes." + strconv.Itoa(i+1) + ".member"
			if v.Required(ap+".attributeName", at.AttributeName != "") {
				v.Length(ap+".attributeName", at.AttributeName, 1, MaxAttributeName)
			}
			v.Length(ap+".attributeValue", at.AttributeValue, 0, MaxAttributeValue)
		}
	}
	if a.RoleARN != "" {
		v.Length(path+".roleARN", a.RoleARN, 1, 512)
		v.Pattern(path+".roleARN", a.RoleARN, sinks.RoleARNRE, sinks.RoleARNPattern)
	}
	a.BufferingHints.CheckAPI(v, path+".bufferingHints", MaxSizeMiB, MaxInterval)
	if ro := a.RetryOptions; ro != nil && ro.DurationInSeconds != nil {
		v.Range(path+".retryOptions.durationInSeconds", int64(*ro.DurationInSeconds), 0, sinks.MaxRetrySeconds)
	}
	if a.S3BackupMode != "" {
		v.Enum(path+".s3BackupMode", a.S3BackupMode, FailedDataOnly, AllData)
	}
	if a.S3Configuration != nil {
		a.S3Configuration.CheckAPI(v, path+".s3Configuration", s3.MemberPlain, create)
	}
	a.ProcessingConfiguration.CheckAPI(v, path+".processingConfiguration")
	if sm := a.SecretsManagerConfiguration; sm != nil && create {
		v.Required(path+".secretsManagerConfiguration.enabled", sm.Enabled != nil)
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
	ec := a.EndpointConfiguration
	if ec == nil || ec.Url == "" {
		return c, record.InvalidArgument("EndpointConfiguration.Url is required.")
	}
	if len(ec.Url) > MaxURL {
		return c, record.InvalidArgument("EndpointConfiguration.Url is %d characters, over the %d-character limit.", len(ec.Url), MaxURL)
	}
	u, err := url.Parse(ec.Url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, record.InvalidArgument("EndpointConfiguration.Url %q is not an https:// (or, for Sluice, http://) URL.", redactURL(ec.Url))
	}
	if u.User != nil {
		return c, record.InvalidArgument("EndpointConfiguration.Url carries user information: give the key as EndpointConfiguration.AccessKey.")
	}
	if err := checkInsecure(u, env); err != nil {
		return c, err
	}
	if len(ec.AccessKey) > MaxKey {
		return c, record.InvalidArgument("EndpointConfiguration.AccessKey is over %d characters.", MaxKey)
	}
	if a.S3Configuration == nil {
		return c, record.InvalidArgument("S3Configuration is required.")
	}
	if m := a.backupMode(); m != FailedDataOnly && m != AllData {
		return c, record.InvalidArgument("S3BackupMode %q is not FailedDataOnly or AllData.", a.S3BackupMode)
	}
	if sm := a.SecretsManagerConfiguration; sm != nil && sm.Enabled != nil && *sm.Enabled {
		return c, record.InvalidArgument("SecretsManagerConfiguration is not supported by Sluice: give the key as EndpointConfiguration.AccessKey (or access_key in the config file).")
	}
	c = Config{URL: ec.Url, AccessKey: ec.AccessKey, SourceARN: env.ARN, BackupOn413: a.SluiceBackupOn413,
		Timeout: time.Duration(a.SluiceTimeoutSeconds) * time.Second, CAFile: a.SluiceCAFile, Logger: env.Logger, OnProcessed: env.OnProcessed}
	if rc := a.RequestConfiguration; rc != nil {
		switch rc.ContentEncoding {
		case "", EncodingNone:
		case EncodingGZIP:
			c.GZIP = true
		default:
			return c, record.InvalidArgument("RequestConfiguration.ContentEncoding %q is not NONE or GZIP.", rc.ContentEncoding)
		}
		if len(rc.CommonAttributes) > MaxAttributes {
			return c, record.InvalidArgument("RequestConfiguration.CommonAttributes has %d attributes, over the limit of %d.", len(rc.CommonAttributes), MaxAttributes)
		}
		seen := map[string]bool{}
		for _, at := range rc.CommonAttributes {
			if at.AttributeName == "" || len(at.AttributeName) > MaxAttributeName || len(at.AttributeValue) > MaxAttributeValue {
				return c, record.InvalidArgument("CommonAttributes: names are 1-%d characters and values 0-%d.", MaxAttributeName, MaxAttributeValue)
			}
			if seen[at.AttributeName] {
				return c, record.InvalidArgument("CommonAttributes names %q twice.", at.AttributeName)
			}
			seen[at.AttributeName] = true
		}
		c.Attributes = rc.CommonAttributes
	}
	return c, nil
}

func (a *API) backupMode() string {
	if a.S3BackupMode == "" {
		return FailedDataOnly
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

// Merge implements sinks.Config (HttpEndpointDestinationUpdate): members present replace
// the current ones (EndpointConfiguration and RequestConfiguration merge member by
// member; CommonAttributes is replaced whole).
func (a *API) Merge(member string, raw json.RawMessage) (sinks.Config, error) {
	out := a.clone()
	keep413, keepTimeout, keepCA := out.SluiceBackupOn413, out.SluiceTimeoutSeconds, out.SluiceCAFile
	// the nested shapes merge: decode them onto the current values
	var probe struct {
		EndpointConfiguration json.RawMessage
		RequestConfiguration  json.RawMessage
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, record.InvalidArgument("%s is not a valid %s: %v", member, member, err)
	}
	ec, rc := out.EndpointConfiguration, out.RequestConfiguration
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, record.InvalidArgument("%s is not a valid %s: %v", member, member, err)
	}
	if len(probe.EndpointConfiguration) > 0 && ec != nil {
		merged := *ec
		if err := json.Unmarshal(probe.EndpointConfiguration, &merged); err != nil {
			return nil, record.InvalidArgument("EndpointConfiguration is not valid: %v", err)
		}
		out.EndpointConfiguration = &merged
	}
	if len(probe.RequestConfiguration) > 0 && rc != nil {
		merged := *rc
		merged.CommonAttributes = append([]CommonAttribute(nil), rc.CommonAttributes...)
		if err := json.Unmarshal(probe.RequestConfiguration, &merged); err != nil {
			return nil, record.InvalidArgument("RequestConfiguration is not valid: %v", err)
		}
		out.RequestConfiguration = &merged
	}
	// the Sluice members come from the config file, never from an update
	out.SluiceBackupOn413, out.SluiceTimeoutSeconds, out.SluiceCAFile = keep413, keepTimeout, keepCA
	if err := s3.MergeUpdate(&out.S3Configuration, out.S3Update); err != nil {
		return nil, err
	}
	out.S3Update = nil
	return out, nil
}

// clone deep-copies a through JSON, the access key included (s3.Secret marshals as the
// plain string: it only hides itself from logs).
func (a *API) clone() *API { return sinks.CloneJSON(a) }

// Describe implements sinks.Config: HttpEndpointDestinationDescription with the
// effective defaults, without the access key.
func (a *API) Describe() map[string]any {
	size, interval := a.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval)
	d := map[string]any{
		"BufferingHints": map[string]any{"SizeInMBs": size, "IntervalInSeconds": interval},
		"RetryOptions":   map[string]any{"DurationInSeconds": *a.Settings().RetrySeconds},
		"S3BackupMode":   a.backupMode(),
	}
	if ec := a.EndpointConfiguration; ec != nil {
		e := map[string]any{"Url": ec.Url}
		if ec.Name != nil {
			e["Name"] = *ec.Name
		}
		d["EndpointConfiguration"] = e
	}
	rc := map[string]any{"ContentEncoding": EncodingNone}
	if r := a.RequestConfiguration; r != nil {
		if r.ContentEncoding != "" {
			rc["ContentEncoding"] = r.ContentEncoding
		}
		if len(r.CommonAttributes) > 0 {
			rc["CommonAttributes"] = r.CommonAttributes
		}
	}
	d["RequestConfiguration"] = rc
	if a.RoleARN != "" {
		d["RoleARN"] = a.RoleARN
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
	if sm := a.SecretsManagerConfiguration; sm != nil {
		d["SecretsManagerConfiguration"] = sm
	}
	return map[string]any{DescriptionMember: d}
}

// LogValue implements slog.LogValuer: the description, without the access key.
func (a *API) LogValue() slog.Value { return slog.AnyValue(a.Describe()) }

// Build implements sinks.Config: the sink, its S3 backup (the error output, and with
// AllData a copy of every record) and the HTTP endpoint's retry clock (from the first
// failure, in-flight time excluded).
func (a *API) Build(env sinks.Env) (*sinks.Built, error) {
	cfg, err := a.config(env)
	if err != nil {
		return nil, err
	}
	bk, err := s3.NewBackup(a.S3Configuration, a.backupMode(), env)
	if err != nil {
		return nil, err
	}
	return &sinks.Built{Sink: New(cfg), Errors: bk.Errors, FailedType: FailedType, FailureFields: Fields,
		Backup: bk.All, RetryClock: sinks.FromFirstFailure}, nil
}

// Check implements sinks.Checker (sluice validate -check-sinks): the endpoint's host
// accepts TCP connections. No request is sent: an endpoint sees only deliveries.
func (a *API) Check(ctx context.Context, _ sinks.S3Conn) error {
	cfg, err := a.config(sinks.Env{})
	if err != nil {
		return err
	}
	s := New(cfg)
	defer s.Close(context.WithoutCancel(ctx))
	return s.Connect(ctx)
}

// Endpoint implements sinks.Checker: the URL (it never carries credentials).
func (a *API) Endpoint() string {
	if a.EndpointConfiguration == nil {
		return ""
	}
	return a.EndpointConfiguration.Url
}

// checkInsecure refuses a plain http:// endpoint off this machine unless
// firehose.allow_insecure_endpoints is on (AWS takes only HTTPS). Loopback needs no
// permission. Only checked when the destination is built (env from the daemon, Domains
// set), not when a configuration is validated alone.
func checkInsecure(u *url.URL, env sinks.Env) error {
	if u.Scheme != "http" || env.Domains == nil || env.AllowInsecure {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return record.InvalidArgument("EndpointConfiguration.Url %s is plain http://: use https://, or set firehose.allow_insecure_endpoints: true.", u.Host)
}

// redactURL drops the user information of a URL (it is refused; never echo a password).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable)"
		}
		return s
	}
	u.User = nil
	return u.String()
}
