package redshift

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// Firehose API members of the Redshift destination.
const (
	MemberCreate = "RedshiftDestinationConfiguration"
	MemberUpdate = "RedshiftDestinationUpdate"
)

// Defaults of the Redshift destination (firehose.md §3–§4, §6): the intermediate bucket's
// buffering (S3DestinationConfiguration) and the retry duration.
const (
	DefaultSizeMiB      = 5
	DefaultInterval     = 300
	DefaultRetrySeconds = 3600
)

func init() {
	sinks.Register(sinks.Kind{
		Name:     "redshift",
		Create:   []string{MemberCreate},
		Update:   []string{MemberUpdate},
		New:      func() sinks.Config { return new(API) },
		FromYAML: fromYAML,
	})
}

// API is RedshiftDestinationConfiguration as the Firehose API and the persisted definition
// hold it (the password included: Describe leaves it out). SluiceLoadMode and
// SluiceExactlyOnce are Sluice's own members (absent: the URL's mode; exactly-once on in
// copy mode).
type API struct {
	RoleARN                     string                         `json:"RoleARN,omitempty"`
	ClusterJDBCURL              string                         `json:"ClusterJDBCURL,omitempty"`
	CopyCommand                 *CopyCommand                   `json:"CopyCommand,omitempty"`
	Username                    *string                        `json:"Username,omitempty"`
	Password                    *string                        `json:"Password,omitempty"`
	RetryOptions                *sinks.RetryOptions            `json:"RetryOptions,omitempty"`
	S3Configuration             *s3.API                        `json:"S3Configuration,omitempty"`
	ProcessingConfiguration     *sinks.ProcessingConfiguration `json:"ProcessingConfiguration,omitempty"`
	S3BackupMode                string                         `json:"S3BackupMode,omitempty"`
	S3BackupConfiguration       *s3.API                        `json:"S3BackupConfiguration,omitempty"`
	CloudWatchLoggingOptions    json.RawMessage                `json:"CloudWatchLoggingOptions,omitempty"`
	SecretsManagerConfiguration json.RawMessage                `json:"SecretsManagerConfiguration,omitempty"`
	SluiceLoadMode              string                         `json:"SluiceLoadMode,omitempty"`
	SluiceExactlyOnce           *bool                          `json:"SluiceExactlyOnce,omitempty"`

	// update spellings, folded in by Merge
	S3Update       json.RawMessage `json:"S3Update,omitempty"`
	S3BackupUpdate json.RawMessage `json:"S3BackupUpdate,omitempty"`
}

// CopyCommand is the Firehose CopyCommand shape.
type CopyCommand struct {
	DataTableName    string  `json:"DataTableName"`
	DataTableColumns *string `json:"DataTableColumns,omitempty"`
	CopyOptions      *string `json:"CopyOptions,omitempty"`
}

// CheckAPI implements sinks.Config.
func (a *API) CheckAPI(v sinks.APIChecks, path, member string, create bool) {
	if create {
		v.Required(path+".roleARN", a.RoleARN != "")
		v.Required(path+".clusterJDBCURL", a.ClusterJDBCURL != "")
		v.Required(path+".copyCommand", a.CopyCommand != nil)
		v.Required(path+".s3Configuration", a.S3Configuration != nil)
	}
	if a.RoleARN != "" {
		v.Length(path+".roleARN", a.RoleARN, 1, 512)
		v.Pattern(path+".roleARN", a.RoleARN, sinks.RoleARNRE, sinks.RoleARNPattern)
	}
	if a.ClusterJDBCURL != "" {
		v.Length(path+".clusterJDBCURL", a.ClusterJDBCURL, 1, 512)
	}
	if cc := a.CopyCommand; cc != nil {
		if v.Required(path+".copyCommand.dataTableName", cc.DataTableName != "") {
			v.Length(path+".copyCommand.dataTableName", cc.DataTableName, 1, 512)
		}
		if cc.CopyOptions != nil {
			v.Length(path+".copyCommand.copyOptions", *cc.CopyOptions, 0, 204800)
		}
		if cc.DataTableColumns != nil {
			v.Length(path+".copyCommand.dataTableColumns", *cc.DataTableColumns, 0, 204800)
		}
	}
	if a.Username != nil {
		v.Length(path+".username", *a.Username, 1, 512)
	}
	if a.Password != nil {
		v.Length(path+".password", *a.Password, 6, 512)
	}
	if ro := a.RetryOptions; ro != nil && ro.DurationInSeconds != nil {
		v.Range(path+".retryOptions.durationInSeconds", int64(*ro.DurationInSeconds), 0, sinks.MaxRetrySeconds)
	}
	if a.S3Configuration != nil {
		a.S3Configuration.CheckAPI(v, path+".s3Configuration", s3.MemberPlain, create)
	}
	if a.S3BackupConfiguration != nil {
		a.S3BackupConfiguration.CheckAPI(v, path+".s3BackupConfiguration", s3.MemberPlain, create)
	}
	a.ProcessingConfiguration.CheckAPI(v, path+".processingConfiguration")
	if a.S3BackupMode != "" {
		v.Enum(path+".s3BackupMode", a.S3BackupMode, "Disabled", "Enabled")
	}
}

// Validate implements sinks.Config.
func (a *API) Validate([]string) error {
	_, err := a.config(sinks.Env{})
	return err
}

// mode is the effective load mode.
func (a *API) mode(t Target) string {
	if a.SluiceLoadMode != "" {
		return a.SluiceLoadMode
	}
	return t.Mode
}

// exactlyOnce reports whether exactly-once is on (copy mode only; default on).
func (a *API) exactlyOnce(mode string) bool {
	if mode != ModeCopy {
		return false
	}
	return a.SluiceExactlyOnce == nil || *a.SluiceExactlyOnce
}

// config is the sink configuration, every member checked (errors are client-facing).
func (a *API) config(env sinks.Env) (Config, error) {
	var c Config
	if a.CopyCommand == nil {
		return c, record.InvalidArgument("CopyCommand is required.")
	}
	if a.S3Configuration == nil {
		return c, record.InvalidArgument("S3Configuration is required.")
	}
	if len(a.SecretsManagerConfiguration) > 0 && string(a.SecretsManagerConfiguration) != "null" {
		var sm struct{ Enabled *bool }
		_ = json.Unmarshal(a.SecretsManagerConfiguration, &sm)
		if sm.Enabled != nil && *sm.Enabled {
			return c, record.InvalidArgument("SecretsManagerConfiguration is not supported by Sluice: give Username and Password.")
		}
	}
	user, pass := "", ""
	if a.Username != nil {
		user = *a.Username
	}
	if a.Password != nil {
		pass = *a.Password
	}
	t, err := ParseURL(a.ClusterJDBCURL, user, pass)
	if err != nil {
		return c, err
	}
	mode := a.mode(t)
	if mode != ModeCopy && mode != ModeRedshift {
		return c, record.InvalidArgument("SluiceLoadMode %q is not copy or redshift.", mode)
	}
	table, err := ParseTable(a.CopyCommand.DataTableName)
	if err != nil {
		return c, err
	}
	cols, err := ParseColumns(deref(a.CopyCommand.DataTableColumns))
	if err != nil {
		return c, err
	}
	f, err := ParseCopyOptions(deref(a.CopyCommand.CopyOptions))
	if err != nil {
		return c, err
	}
	if f.Raw() && len(cols) != 1 {
		return c, record.InvalidArgument("CopyOptions RAW loads each record into one column: DataTableColumns must name exactly one (it names %d).", len(cols))
	}
	if f.GZIP != (a.S3Configuration.Compression() == "GZIP") && mode == ModeRedshift {
		if f.GZIP {
			return c, record.InvalidArgument("CopyOptions GZIP needs S3Configuration CompressionFormat GZIP (it is %s).", a.S3Configuration.Compression())
		}
		return c, record.InvalidArgument("S3Configuration CompressionFormat GZIP needs GZIP in CopyOptions (Redshift mode reads the staged objects with them).")
	}
	if comp := a.S3Configuration.Compression(); comp != "UNCOMPRESSED" && comp != "GZIP" {
		return c, record.InvalidArgument("S3Configuration CompressionFormat %s is not allowed with Redshift (UNCOMPRESSED or GZIP).", comp)
	}
	if _, ok := s3.BackupAll(a.backupMode()); !ok {
		return c, record.InvalidArgument("S3BackupMode %q is not Disabled or Enabled.", a.S3BackupMode)
	}
	if a.backupMode() == "Enabled" && a.S3BackupConfiguration == nil {
		return c, record.InvalidArgument("S3BackupMode Enabled needs S3BackupConfiguration.")
	}
	return Config{Target: t, Mode: mode, Table: table, Columns: cols, Format: f, ExactlyOnce: a.exactlyOnce(mode),
		Stream: env.DeliveryStream, Group: env.Group, RoleARN: a.RoleARN, Logger: env.Logger,
		RetryDuration: time.Duration(*a.Settings().RetrySeconds) * time.Second}, nil
}

func (a *API) backupMode() string {
	if a.S3BackupMode == "" {
		return "Disabled"
	}
	return a.S3BackupMode
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Settings implements sinks.Config: buffering is the intermediate bucket's.
func (a *API) Settings() sinks.Settings {
	var h *sinks.BufferingHints
	if a.S3Configuration != nil {
		h = a.S3Configuration.BufferingHints
	}
	size, interval := h.Hints(DefaultSizeMiB, DefaultInterval)
	rs := a.RetryOptions.Seconds(DefaultRetrySeconds)
	return sinks.Settings{RoleARN: a.RoleARN, SizeMiB: size, IntervalSec: interval, Processing: a.ProcessingConfiguration, RetrySeconds: &rs}
}

// Adopt implements sinks.Config.
func (a *API) Adopt(st sinks.Settings) {
	if st.RoleARN != "" {
		a.RoleARN = st.RoleARN
	}
	if a.S3Configuration == nil {
		a.S3Configuration = &s3.API{}
	}
	// Redshift buffers in its staging bucket's hints
	st.AdoptInto(nil, &a.S3Configuration.BufferingHints, &a.ProcessingConfiguration, &a.RetryOptions)
}

// Merge implements sinks.Config (RedshiftDestinationUpdate).
func (a *API) Merge(member string, raw json.RawMessage) (sinks.Config, error) {
	out := a.clone()
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, record.InvalidArgument("%s is not a valid %s: %v", member, member, err)
	}
	if err := s3.MergeUpdate(&out.S3Configuration, out.S3Update); err != nil {
		return nil, err
	}
	if err := s3.MergeUpdate(&out.S3BackupConfiguration, out.S3BackupUpdate); err != nil {
		return nil, err
	}
	out.S3Update, out.S3BackupUpdate = nil, nil
	return out, nil
}

func (a *API) clone() *API { return sinks.CloneJSON(a) }

// Describe implements sinks.Config: RedshiftDestinationDescription, without the password
// (nor one written into the URL), with the effective defaults and the load mode.
func (a *API) Describe() map[string]any {
	d := map[string]any{"RoleARN": a.RoleARN, "ClusterJDBCURL": redact(a.ClusterJDBCURL)}
	if a.CopyCommand != nil {
		d["CopyCommand"] = a.CopyCommand
	}
	if a.Username != nil {
		d["Username"] = *a.Username
	}
	rs := *a.Settings().RetrySeconds
	d["RetryOptions"] = map[string]any{"DurationInSeconds": rs}
	if a.S3Configuration != nil {
		d["S3DestinationDescription"] = a.S3Configuration.Describe()["S3DestinationDescription"]
	}
	if a.ProcessingConfiguration != nil {
		d["ProcessingConfiguration"] = a.ProcessingConfiguration
	}
	d["S3BackupMode"] = a.backupMode()
	if a.S3BackupConfiguration != nil {
		d["S3BackupDescription"] = a.S3BackupConfiguration.Describe()["S3DestinationDescription"]
	}
	if len(a.CloudWatchLoggingOptions) > 0 {
		d["CloudWatchLoggingOptions"] = a.CloudWatchLoggingOptions
	}
	if t, err := ParseURL(a.ClusterJDBCURL, "", ""); err == nil {
		mode := a.mode(t)
		d["SluiceLoadMode"] = mode
		d["SluiceExactlyOnce"] = a.exactlyOnce(mode)
	}
	return map[string]any{"RedshiftDestinationDescription": d}
}

// Build implements sinks.Config: the sink, its error output under the intermediate
// bucket's error prefix, and (S3BackupMode Enabled) the backup of every record.
func (a *API) Build(env sinks.Env) (*sinks.Built, error) {
	cfg, err := a.config(env)
	if err != nil {
		return nil, err
	}
	stage, err := s3.NewBackup(a.S3Configuration, "Disabled", env)
	if err != nil {
		return nil, err
	}
	cfg.Stage = stage.Sink
	b := &sinks.Built{Sink: New(cfg), Errors: stage.Errors, FailedType: FailedType}
	if a.backupMode() == "Enabled" {
		bk, err := s3.NewBackup(a.S3BackupConfiguration, "Enabled", env)
		if err != nil {
			return nil, err
		}
		b.Backup = bk.All
	}
	return b, nil
}

// Endpoint implements sinks.Checker: the URL without a password.
func (a *API) Endpoint() string { return redact(a.ClusterJDBCURL) }

// Check implements sinks.Checker: connect, and check the table and its configured columns
// exist.
func (a *API) Check(ctx context.Context, _ sinks.S3Conn) error {
	cfg, err := a.config(sinks.Env{})
	if err != nil {
		return err
	}
	s := &Sink{cfg: cfg, log: slog.Default()}
	defer s.Close(context.WithoutCancel(ctx))
	if err := s.Connect(ctx); err != nil {
		return err
	}
	return s.Check(ctx)
}
