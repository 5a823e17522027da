// Package splunk is the Splunk destination of Firehose (firehose.md §8): records go to a
// Splunk HTTP Event Collector (HEC), to its event endpoint (each record an HEC event
// object, sent as it is) or its raw endpoint (bytes), in posts of at most 5 MiB, each
// confirmed by an indexer acknowledgement that is polled for, batched per channel. What is
// not acknowledged within HECAcknowledgmentTimeoutInSeconds is sent again; what HEC
// refuses for good, or what is still not delivered when the retry duration ends, goes to
// the S3 backup under splunk-failed (with AllEvents, every record also goes there).
package splunk

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// Firehose API members of the destination.
const (
	MemberCreate      = "SplunkDestinationConfiguration"
	MemberUpdate      = "SplunkDestinationUpdate"
	DescriptionMember = "SplunkDestinationDescription"
	// FailedType is the error-output type of the records HEC did not take.
	FailedType = "splunk-failed"
)

// Endpoint types (HECEndpointType).
const (
	Raw   = "Raw"
	Event = "Event"
)

// Backup modes (S3BackupMode).
const (
	FailedEventsOnly = "FailedEventsOnly"
	AllEvents        = "AllEvents"
)

// Defaults and limits (firehose.md §2–§4, §8).
const (
	DefaultAckTimeout   = 180
	MinAckTimeout       = 180
	MaxAckTimeout       = 600
	DefaultRetrySeconds = 3600
	DefaultSizeMiB      = 5
	DefaultInterval     = 60
	// MaxSizeMiB is the largest buffer size: AWS allows 1..5, Sluice (as for every kind)
	// up to 1 GiB, splitting posts at MaxPostBytes.
	MaxSizeMiB  = 1024
	MaxInterval = 60
	// DefaultAckPoll is how often acknowledgements are polled for (§8: every 5 s).
	DefaultAckPoll = 5 * time.Second
	maxEndpointLen = 2048
	maxTokenLen    = 2048
)

func init() {
	sinks.Register(sinks.Kind{
		Name:       "splunk",
		Create:     []string{MemberCreate},
		Update:     []string{MemberUpdate},
		New:        func() sinks.Config { return new(API) },
		FromYAML:   fromYAML,
		Collectors: []prometheus.Collector{metrics.ackLatency, metrics.tokenRefused, metrics.ackTimeouts},
	})
}

// API is SplunkDestinationConfiguration as the Firehose API and the persisted definition
// hold it. HECToken is persisted but never described nor logged. The Sluice* members are
// Sluice's own, set from the config file.
type API struct {
	HECEndpoint                       string                         `json:"HECEndpoint,omitempty"`
	HECEndpointType                   string                         `json:"HECEndpointType,omitempty"`
	HECToken                          string                         `json:"HECToken,omitempty"`
	HECAcknowledgmentTimeoutInSeconds *int                           `json:"HECAcknowledgmentTimeoutInSeconds,omitempty"`
	RetryOptions                      *sinks.RetryOptions            `json:"RetryOptions,omitempty"`
	S3BackupMode                      string                         `json:"S3BackupMode,omitempty"`
	S3Configuration                   *s3.API                        `json:"S3Configuration,omitempty"`
	ProcessingConfiguration           *sinks.ProcessingConfiguration `json:"ProcessingConfiguration,omitempty"`
	CloudWatchLoggingOptions          json.RawMessage                `json:"CloudWatchLoggingOptions,omitempty"`
	BufferingHints                    *sinks.BufferingHints          `json:"BufferingHints,omitempty"`
	SecretsManagerConfiguration       json.RawMessage                `json:"SecretsManagerConfiguration,omitempty"`

	// SluiceAcceptNoAck accepts a 200 answer without ackId as delivered (HEC with indexer
	// acknowledgement off; config splunk.require_ack: false). Off, it is Splunk.DisabledAck.
	SluiceAcceptNoAck bool `json:"SluiceAcceptNoAck,omitempty"`
	// SluiceAckPollMs is the acknowledgement polling interval in ms (0: DefaultAckPoll).
	SluiceAckPollMs int `json:"SluiceAckPollMs,omitempty"`
	// SluiceWrap, when set, wraps records that are not HEC event objects (Event) or names
	// the metadata of raw posts (Raw).
	SluiceWrap *Wrap `json:"SluiceWrap,omitempty"`

	// update spelling of S3Configuration, folded in by Merge
	S3Update json.RawMessage `json:"S3Update,omitempty"`
}

// Wrap is the Sluice opt-in that turns records that are not HEC event objects into
// `{"time":<arrival, epoch s>,"event":<record>,"host":…,"source":…,"sourcetype":…,"index":…}`
// (empty members left out). A record that is JSON becomes the event as it is; other bytes
// become a JSON string (trailing line breaks dropped). On the raw endpoint the members are
// sent as the query parameters of each post.
type Wrap struct {
	Host       string `json:"Host,omitempty"`
	Source     string `json:"Source,omitempty"`
	Sourcetype string `json:"Sourcetype,omitempty"`
	Index      string `json:"Index,omitempty"`
}

// CheckAPI implements sinks.Config: the model constraints of SplunkDestinationConfiguration
// (create) or SplunkDestinationUpdate.
func (a *API) CheckAPI(v sinks.APIChecks, path, _ string, create bool) {
	if create {
		v.Required(path+".hECEndpoint", a.HECEndpoint != "")
		v.Required(path+".hECEndpointType", a.HECEndpointType != "")
		v.Required(path+".s3Configuration", a.S3Configuration != nil)
	}
	v.Length(path+".hECEndpoint", a.HECEndpoint, 0, maxEndpointLen)
	if len(a.HECToken) > maxTokenLen {
		// the token is sensitive: the violation shows it masked, never its value
		v.Length(path+".hECToken", strings.Repeat("*", len(a.HECToken)), 0, maxTokenLen)
	}
	if a.HECEndpointType != "" {
		v.Enum(path+".hECEndpointType", a.HECEndpointType, Raw, Event)
	}
	if t := a.HECAcknowledgmentTimeoutInSeconds; t != nil {
		v.Range(path+".hECAcknowledgmentTimeoutInSeconds", int64(*t), MinAckTimeout, MaxAckTimeout)
	}
	if ro := a.RetryOptions; ro != nil && ro.DurationInSeconds != nil {
		v.Range(path+".retryOptions.durationInSeconds", int64(*ro.DurationInSeconds), 0, sinks.MaxRetrySeconds)
	}
	if a.S3BackupMode != "" {
		v.Enum(path+".s3BackupMode", a.S3BackupMode, FailedEventsOnly, AllEvents)
	}
	a.BufferingHints.CheckAPI(v, path+".bufferingHints", MaxSizeMiB, MaxInterval)
	if a.S3Configuration != nil {
		a.S3Configuration.CheckAPI(v, path+".s3Configuration", s3.MemberPlain, create)
	}
	a.ProcessingConfiguration.CheckAPI(v, path+".processingConfiguration")
}

// Validate implements sinks.Config.
func (a *API) Validate([]string) error {
	_, err := a.config(sinks.Env{})
	return err
}

// config is the sink configuration, every member checked (errors are client-facing and
// never quote the token).
func (a *API) config(env sinks.Env) (Config, error) {
	var c Config
	if a.HECEndpoint == "" {
		return c, record.InvalidArgument("HECEndpoint is required.")
	}
	u, err := url.Parse(a.HECEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, record.InvalidArgument("HECEndpoint %q is not an http:// or https:// URL.", redact(a.HECEndpoint))
	}
	if err := checkInsecure(u, env); err != nil {
		return c, err
	}
	if a.HECEndpointType != Raw && a.HECEndpointType != Event {
		return c, record.InvalidArgument("HECEndpointType %q is not Raw or Event.", a.HECEndpointType)
	}
	if len(a.SecretsManagerConfiguration) > 0 && string(a.SecretsManagerConfiguration) != "null" {
		var sm struct{ Enabled *bool }
		_ = json.Unmarshal(a.SecretsManagerConfiguration, &sm)
		if sm.Enabled != nil && *sm.Enabled {
			return c, record.InvalidArgument("SecretsManagerConfiguration is not supported by Sluice: give HECToken.")
		}
	}
	if a.HECToken == "" {
		return c, record.InvalidArgument("HECToken is required (Sluice does not read Secrets Manager).")
	}
	if len(a.HECToken) > maxTokenLen {
		return c, record.InvalidArgument("HECToken is longer than %d characters.", maxTokenLen)
	}
	to := a.ackTimeout()
	if to < MinAckTimeout || to > MaxAckTimeout {
		return c, record.InvalidArgument("HECAcknowledgmentTimeoutInSeconds %d is outside %d..%d.", to, MinAckTimeout, MaxAckTimeout)
	}
	if a.S3Configuration == nil {
		return c, record.InvalidArgument("S3Configuration is required.")
	}
	if m := a.backupMode(); m != FailedEventsOnly && m != AllEvents {
		return c, record.InvalidArgument("S3BackupMode %q is not FailedEventsOnly or AllEvents.", a.S3BackupMode)
	}
	if _, iv := a.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval); iv > MaxInterval {
		return c, record.InvalidArgument("BufferingHints.IntervalInSeconds %d is over Splunk's maximum of %d seconds.", iv, MaxInterval)
	}
	if a.SluiceAckPollMs < 0 {
		return c, record.InvalidArgument("The acknowledgement poll interval cannot be negative.")
	}
	poll := DefaultAckPoll
	if a.SluiceAckPollMs > 0 {
		poll = time.Duration(a.SluiceAckPollMs) * time.Millisecond
	}
	return Config{Endpoint: a.HECEndpoint, Type: a.HECEndpointType, Token: s3.Secret(a.HECToken),
		AckTimeout: time.Duration(to) * time.Second, AcceptNoAck: a.SluiceAcceptNoAck, AckPoll: poll, Wrap: a.SluiceWrap,
		Stream: env.DeliveryStream, Logger: env.Logger}, nil
}

func (a *API) ackTimeout() int {
	if a.HECAcknowledgmentTimeoutInSeconds == nil {
		return DefaultAckTimeout
	}
	return *a.HECAcknowledgmentTimeoutInSeconds
}

func (a *API) backupMode() string {
	if a.S3BackupMode == "" {
		return FailedEventsOnly
	}
	return a.S3BackupMode
}

// Settings implements sinks.Config.
func (a *API) Settings() sinks.Settings {
	size, interval := a.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval)
	rs := a.RetryOptions.Seconds(DefaultRetrySeconds)
	return sinks.Settings{SizeMiB: size, IntervalSec: interval, Processing: a.ProcessingConfiguration, RetrySeconds: &rs}
}

// Adopt implements sinks.Config.
func (a *API) Adopt(st sinks.Settings) {
	st.AdoptInto(nil, &a.BufferingHints, &a.ProcessingConfiguration, &a.RetryOptions)
}

// Merge implements sinks.Config (SplunkDestinationUpdate). An update cannot turn AllEvents
// back into FailedEventsOnly (as on AWS), and never changes the Sluice members.
func (a *API) Merge(member string, raw json.RawMessage) (sinks.Config, error) {
	out := sinks.CloneJSON(a)
	keepNoAck, keepPoll, keepWrap := out.SluiceAcceptNoAck, out.SluiceAckPollMs, out.SluiceWrap
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, record.InvalidArgument("%s is not a valid %s: %v", member, member, err)
	}
	out.SluiceAcceptNoAck, out.SluiceAckPollMs, out.SluiceWrap = keepNoAck, keepPoll, keepWrap
	if a.backupMode() == AllEvents && out.backupMode() == FailedEventsOnly {
		return nil, record.InvalidArgument("S3BackupMode cannot be changed from AllEvents to FailedEventsOnly.")
	}
	if err := s3.MergeUpdate(&out.S3Configuration, out.S3Update); err != nil {
		return nil, err
	}
	out.S3Update = nil
	return out, nil
}

// Describe implements sinks.Config: SplunkDestinationDescription with the effective
// defaults, never the HECToken (nor credentials in the endpoint URL).
func (a *API) Describe() map[string]any {
	size, interval := a.BufferingHints.Hints(DefaultSizeMiB, DefaultInterval)
	d := map[string]any{
		"HECEndpoint":                       redact(a.HECEndpoint),
		"HECEndpointType":                   a.HECEndpointType,
		"HECAcknowledgmentTimeoutInSeconds": a.ackTimeout(),
		"RetryOptions":                      map[string]any{"DurationInSeconds": *a.Settings().RetrySeconds},
		"S3BackupMode":                      a.backupMode(),
		"BufferingHints":                    map[string]any{"SizeInMBs": size, "IntervalInSeconds": interval},
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
	return map[string]any{DescriptionMember: d}
}

// Build implements sinks.Config: the sink (its retry clock runs from the first failure,
// not counting acknowledgement waits) and its S3 backup.
func (a *API) Build(env sinks.Env) (*sinks.Built, error) {
	cfg, err := a.config(env)
	if err != nil {
		return nil, err
	}
	bk, err := s3.NewBackup(a.S3Configuration, a.backupMode(), env)
	if err != nil {
		return nil, err
	}
	return &sinks.Built{Sink: New(cfg), Errors: bk.Errors, FailedType: FailedType, Backup: bk.All,
		RetryClock: sinks.FromFirstFailure, FailureFields: failureFields}, nil
}

// LogValue implements slog.LogValuer: the description, without the token.
func (a *API) LogValue() slog.Value { return slog.AnyValue(a.Describe()) }

// redact drops the password of a URL's user information.
func redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return endpoint
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// checkInsecure refuses a plain http:// endpoint off this machine unless
// firehose.allow_insecure_endpoints is on (AWS takes only HTTPS). Only checked when the
// destination is built by the daemon (env.Domains set), not when a configuration is
// validated alone.
func checkInsecure(u *url.URL, env sinks.Env) error {
	if u.Scheme != "http" || env.Domains == nil || env.AllowInsecure {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return record.InvalidArgument("The HECEndpoint %s is plain http://: use https://, or set firehose.allow_insecure_endpoints: true.", u.Host)
}
