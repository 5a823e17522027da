package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path"
	"regexp"
	"strconv"
	"time"
)

// Ranges and defaults (reference.yaml documents the same values).
const (
	DefaultListen          = "127.0.0.1:4600"
	DefaultDataDir         = "./sluice-data"
	DefaultMaxRequestSize  = 16 * MiB
	DefaultRequestMemory   = 512 * MiB
	DefaultBodyTimeout     = 10 * time.Second
	DefaultBodyMinRate     = 64 * KiB
	DefaultWriteTimeout    = 60 * time.Second
	DefaultShutdownTimeout = Duration(30 * time.Second)
	DefaultRegion          = "us-east-1"
	DefaultAccount         = "000000000000"
	DefaultSyncInterval    = Duration(100 * time.Millisecond)
	DefaultShardLimit      = 20000
	DefaultOnDemandLimit   = 50
	DefaultStateDelay      = Duration(500 * time.Millisecond)
	DefaultRetentionCheck  = Duration(time.Minute)
	DefaultOnDemandScale   = Duration(time.Minute)
	DefaultOnDemandMax     = 8
	DefaultRetention       = Duration(24 * time.Hour)
	DefaultMaxRecordSize   = 1 * MiB

	MinRetention = 24 * time.Hour
	MaxRetention = 8760 * time.Hour
)

// DeliveryValidator is implemented by *DeliveryStream (delivery.go, owned by the
// Firehose work) to check its own entry. It is called once per entry of
// `delivery_streams` after decoding and defaulting, with the entry's path (e.g.
// `delivery_streams[2]`), the set of stream names declared in `streams` and the
// `firehose` section (its Lambda function mapping). It records
// problems with v.Errorf(path+".source", ...) and friends; it may also fill defaults.
type DeliveryValidator interface {
	Validate(v *Validator, path string, streams map[string]bool, fh *Firehose)
}

// DeliveryDefaulter is optionally implemented by *DeliveryStream; SetDefaults is called
// on every entry before validation.
type DeliveryDefaulter interface {
	SetDefaults()
}

// SinkEndpointer is optionally implemented by *DeliveryStream for `sluice validate
// -check-sinks`: it returns the network addresses its destination uses, as URLs
// (`http://host:9000`) or host:port. Without it, the checker looks for string fields
// tagged `endpoint`, `url`, `urls`, `endpoints` or `hosts` in the entry.
type SinkEndpointer interface {
	SinkEndpoints() []string
}

// DefaultCloudWatchSeries is cloudwatch.max_series's default.
const DefaultCloudWatchSeries = 5000

var (
	nameRE    = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	regionRE  = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	actionRE  = regexp.MustCompile(`^(\*|[a-zA-Z0-9*?]+:[a-zA-Z0-9*?]+)$`)
)

// defaults is the configuration every file starts from.
func defaults() *Config {
	return &Config{
		Server: Server{
			Listen:          DefaultListen,
			DataDir:         DefaultDataDir,
			MaxRequestSize:  DefaultMaxRequestSize,
			ShutdownTimeout: DefaultShutdownTimeout,
			RequestMemory:   DefaultRequestMemory,
			BodyTimeout:     Duration(DefaultBodyTimeout),
			BodyMinRate:     DefaultBodyMinRate,
			WriteTimeout:    Duration(DefaultWriteTimeout),
			Region:          DefaultRegion,
			Account:         DefaultAccount,
			Sync:            "always",
			SyncInterval:    DefaultSyncInterval,
		},
		Log:        Log{Level: "info", Format: "text"},
		CloudWatch: CloudWatch{MaxSeries: DefaultCloudWatchSeries},
		Limits: Limits{
			ShardLimit:          DefaultShardLimit,
			OnDemandStreamLimit: DefaultOnDemandLimit,
			CreateDelay:         DefaultStateDelay,
			UpdateDelay:         DefaultStateDelay,
			DeleteDelay:         DefaultStateDelay,
			ConsumerDelay:       DefaultStateDelay,
			RetentionCheck:      DefaultRetentionCheck,
			OnDemandScaleCheck:  DefaultOnDemandScale,
			OnDemandMaxShards:   DefaultOnDemandMax,
		},
	}
}

func (c *Config) applyDefaults(v *Validator) {
	c.Firehose.applyDefaults(v)
	for i := range c.Streams {
		s := &c.Streams[i]
		if s.Account == "" {
			s.Account = c.Server.Account
		}
		if s.Region == "" {
			s.Region = c.Server.Region
		}
		if s.Shards == 0 && !s.OnDemand && !v.Set(fmt.Sprintf("streams[%d].shards", i)) {
			s.Shards = 1
		}
		if s.Retention == 0 && !v.Set(fmt.Sprintf("streams[%d].retention", i)) {
			s.Retention = DefaultRetention
		}
		if s.MaxRecordSize == 0 && !v.Set(fmt.Sprintf("streams[%d].max_record_size", i)) {
			s.MaxRecordSize = DefaultMaxRecordSize
		}
	}
	for i := range c.DeliveryStreams {
		if d, ok := any(&c.DeliveryStreams[i]).(DeliveryDefaulter); ok {
			d.SetDefaults()
		}
	}
}

func (c *Config) validate(v *Validator) {
	c.Server.validate(v)
	c.Auth.validate(v)
	c.validateMetricsAuth(v)
	v.OneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.OneOf("log.format", c.Log.Format, "text", "json")
	c.Limits.validate(v)
	streams := c.validateStreams(v)
	c.Firehose.validate(v)
	c.validateHTTPSources(v)
	v.IntRange("cloudwatch.max_series", int64(c.CloudWatch.MaxSeries), 0, 1000000)

	for i := range c.DeliveryStreams {
		if d, ok := any(&c.DeliveryStreams[i]).(DeliveryValidator); ok {
			d.Validate(v, fmt.Sprintf("delivery_streams[%d]", i), streams, &c.Firehose)
		}
	}
}

func (s *Server) validate(v *Validator) {
	if host, port, err := net.SplitHostPort(s.Listen); err != nil {
		v.Errorf("server.listen", "%q is not host:port (e.g. 127.0.0.1:4600, :4600)", s.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.Errorf("server.listen", "port %q is out of range (allowed 0..65535)", port)
	} else if host != "" && net.ParseIP(host) == nil && !regexp.MustCompile(`^[a-zA-Z0-9.-]+$`).MatchString(host) {
		v.Errorf("server.listen", "host %q is neither an IP address nor a host name", host)
	}
	switch {
	case s.TLS.Cert != "" && s.TLS.Key == "":
		v.Errorf("server.tls.key", "is required when server.tls.cert is set")
	case s.TLS.Key != "" && s.TLS.Cert == "":
		v.Errorf("server.tls.cert", "is required when server.tls.key is set")
	case s.TLS.Enabled():
		certPEM, err1 := os.ReadFile(s.TLS.Cert)
		if err1 != nil {
			v.Errorf("server.tls.cert", "cannot read %s: %s", s.TLS.Cert, unwrapPathErr(err1))
		}
		keyPEM, err2 := os.ReadFile(s.TLS.Key)
		if err2 != nil {
			v.Errorf("server.tls.key", "cannot read %s: %s", s.TLS.Key, unwrapPathErr(err2))
		}
		if err1 == nil && err2 == nil {
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				v.Errorf("server.tls", "%s and %s are not a usable certificate and key: %v", s.TLS.Cert, s.TLS.Key, err)
			}
		}
	}
	v.Required("server.data_dir", s.DataDir)
	sizeOK := v.SizeRange("server.max_request_size", s.MaxRequestSize, 1*MiB, 1*GiB)
	v.DurationRange("server.shutdown_timeout", s.ShutdownTimeout.D(), time.Second, time.Hour)
	if v.SizeRange("server.request_memory", s.RequestMemory, 1*MiB, 1*TiB) && sizeOK && s.RequestMemory < s.MaxRequestSize {
		v.Errorf("server.request_memory", "%s is under server.max_request_size (%s): no request could be read", s.RequestMemory, s.MaxRequestSize)
	}
	v.DurationRange("server.body_timeout", s.BodyTimeout.D(), time.Second, time.Hour)
	v.SizeRange("server.body_min_rate", s.BodyMinRate, 1*KiB, 1*GiB)
	v.DurationRange("server.write_timeout", s.WriteTimeout.D(), time.Second, time.Hour)
	if !regionRE.MatchString(s.Region) {
		v.Errorf("server.region", "%q is not a region name (1..32 of a-z, 0-9, -; e.g. us-east-1)", s.Region)
	}
	if !accountRE.MatchString(s.Account) {
		v.Errorf("server.account", "%q is not an account id (12 digits)", s.Account)
	}
	if v.OneOf("server.sync", s.Sync, "always", "interval") && s.Sync == "interval" {
		v.DurationRange("server.sync_interval", s.SyncInterval.D(), time.Millisecond, 10*time.Second)
	}
}

func (a *Auth) validate(v *Validator) {
	seen := map[string]int{}
	for i, c := range a.Credentials {
		p := fmt.Sprintf("auth.credentials[%d]", i)
		if v.Required(p+".access_key_id", c.AccessKeyID) {
			if j, dup := seen[c.AccessKeyID]; dup {
				v.Errorf(p+".access_key_id", "%q is already used by auth.credentials[%d]", c.AccessKeyID, j)
			}
			seen[c.AccessKeyID] = i
			if len(c.AccessKeyID) > 128 {
				v.Errorf(p+".access_key_id", "is %d characters long (allowed 1..128)", len(c.AccessKeyID))
			}
		}
		if c.SecretAccessKey == "" {
			v.Errorf(p+".secret_access_key", "is required")
		}
		for j, act := range c.Actions {
			if !actionRE.MatchString(act) {
				v.Errorf(fmt.Sprintf("%s.actions[%d]", p, j), "%q is not an action pattern (service:Operation with * or ? wildcards, e.g. kinesis:Put*, firehose:*, *)", act)
			}
		}
		for j, s := range c.Streams {
			if _, err := path.Match(s, ""); err != nil || s == "" {
				v.Errorf(fmt.Sprintf("%s.streams[%d]", p, j), "%q is not a name pattern (use * and ? wildcards)", s)
			}
		}
	}
	if a.SigV4 && len(a.Credentials) == 0 {
		v.Errorf("auth.sigv4", "needs at least one entry in auth.credentials to verify signatures against")
	}
}

// validateMetricsAuth checks that server.metrics_auth has credentials to check.
func (c *Config) validateMetricsAuth(v *Validator) {
	if c.MetricsAuthOn() && len(c.Auth.Credentials) == 0 && c.Server.MetricsAuth != nil {
		v.Errorf("server.metrics_auth", "needs at least one entry in auth.credentials to check the HTTP Basic credentials against")
	}
}

func (l *Limits) validate(v *Validator) {
	v.IntRange("limits.shard_limit", int64(l.ShardLimit), 1, 1_000_000)
	v.IntRange("limits.on_demand_stream_limit", int64(l.OnDemandStreamLimit), 0, 10_000)
	for _, d := range []struct {
		key string
		val Duration
	}{{"create_delay", l.CreateDelay}, {"update_delay", l.UpdateDelay}, {"delete_delay", l.DeleteDelay}, {"consumer_delay", l.ConsumerDelay}} {
		v.DurationRange("limits."+d.key, d.val.D(), 0, time.Minute)
	}
	v.DurationRange("limits.retention_check", l.RetentionCheck.D(), time.Second, 24*time.Hour)
	v.IntRange("limits.on_demand_max_shards", int64(l.OnDemandMaxShards), 4, 10_000)
	if l.OnDemandScaleCheck != 0 {
		v.DurationRange("limits.on_demand_scale_check", l.OnDemandScaleCheck.D(), time.Second, 24*time.Hour)
	}
}

// validateStreams checks `streams` and returns the set of declared names.
func (c *Config) validateStreams(v *Validator) map[string]bool {
	names := map[string]bool{}
	seen := map[[3]string]int{}
	total, onDemand := 0, 0
	for i := range c.Streams {
		s := &c.Streams[i]
		p := fmt.Sprintf("streams[%d]", i)
		if s.Name == "" {
			v.Errorf(p+".name", "is required")
		} else if !nameRE.MatchString(s.Name) {
			v.Errorf(p+".name", "%q is not a stream name (1..128 of a-z, A-Z, 0-9, _ . -)", s.Name)
		} else {
			k := [3]string{s.Account, s.Region, s.Name}
			if j, dup := seen[k]; dup {
				v.Errorf(p+".name", "duplicate stream name %q (also streams[%d])", s.Name, j)
			}
			seen[k] = i
			names[s.Name] = true
		}
		// Inherited values were checked under server.
		if v.Set(p+".account") && !accountRE.MatchString(s.Account) {
			v.Errorf(p+".account", "%q is not an account id (12 digits)", s.Account)
		}
		if v.Set(p+".region") && !regionRE.MatchString(s.Region) {
			v.Errorf(p+".region", "%q is not a region name (1..32 of a-z, 0-9, -)", s.Region)
		}
		switch {
		case s.OnDemand && v.Set(p+".shards"):
			v.Errorf(p+".shards", "cannot be set together with on_demand: true (ON_DEMAND streams start with 4 shards)")
		case s.OnDemand:
			onDemand++
			total += 4
		default:
			if v.IntRange(p+".shards", int64(s.Shards), 1, int64(min(c.Limits.ShardLimit, 10000))) {
				total += s.Shards
			}
		}
		if v.DurationRange(p+".retention", s.Retention.D(), MinRetention, MaxRetention) && s.Retention.D()%time.Hour != 0 {
			v.Errorf(p+".retention", "%s is not a whole number of hours", s.Retention)
		}
		if v.SizeRange(p+".max_record_size", s.MaxRecordSize, 1*MiB, 10*MiB) && s.MaxRecordSize%KiB != 0 {
			v.Errorf(p+".max_record_size", "%d is not a whole number of KiB", int64(s.MaxRecordSize))
		}
		q := s.Quotas
		v.SizeRange(p+".quotas.write_bytes_per_sec", q.WriteBytesPerSec, 0, 1*TiB)
		v.SizeRange(p+".quotas.read_bytes_per_sec", q.ReadBytesPerSec, 0, 1*TiB)
		v.IntRange(p+".quotas.write_records_per_sec", q.WriteRecordsPerSec, 0, 1_000_000_000)
		v.IntRange(p+".quotas.read_calls_per_sec", q.ReadCallsPerSec, 0, 1_000_000)
		if len(s.Tags) > 50 {
			v.Errorf(p+".tags", "has %d tags (allowed at most 50)", len(s.Tags))
		}
		for k, val := range s.Tags {
			if len(k) < 1 || len(k) > 128 {
				v.Errorf(p+".tags."+k, "key is %d characters long (allowed 1..128)", len(k))
			}
			if len(val) > 256 {
				v.Errorf(p+".tags."+k, "value is %d characters long (allowed 0..256)", len(val))
			}
		}
	}
	if total > c.Limits.ShardLimit {
		v.Errorf("streams", "declared streams need %d shards, over limits.shard_limit %d", total, c.Limits.ShardLimit)
	}
	if onDemand > c.Limits.OnDemandStreamLimit {
		v.Errorf("streams", "%d ON_DEMAND streams declared, over limits.on_demand_stream_limit %d", onDemand, c.Limits.OnDemandStreamLimit)
	}
	return names
}
