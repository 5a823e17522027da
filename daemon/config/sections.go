package config

import (
	"path"
	"strings"
)

// Server is the `server` section: where Sluice listens and keeps its data.
type Server struct {
	// Listen is host:port of the one HTTP port serving every API (HTTP/1.1, h2c and,
	// with TLS, h2). Default 127.0.0.1:4600.
	Listen string `yaml:"listen"`
	TLS    TLS    `yaml:"tls"`
	// DataDir holds the stream store. Default ./sluice-data.
	DataDir string `yaml:"data_dir"`
	// MaxRequestSize caps request bodies (larger → 413). Default 16MiB, 1MiB..1GiB.
	MaxRequestSize Size `yaml:"max_request_size"`
	// ShutdownTimeout bounds a graceful stop. Default 30s, 1s..1h.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// RequestMemory bounds the bytes of request bodies and replies held at once, over all
	// connections (above it: 503 "Slow down."). Default 512MiB, at least max_request_size.
	RequestMemory Size `yaml:"request_memory"`
	// BodyTimeout is how long a client has to start sending its body; after it, the body
	// must arrive at BodyMinRate on average or the connection is closed. Default 10s.
	BodyTimeout Duration `yaml:"body_timeout"`
	// BodyMinRate is that rate, in bytes per second. Default 64KiB, 1KiB..1GiB.
	BodyMinRate Size `yaml:"body_min_rate"`
	// WriteTimeout bounds the writing of one reply, or one event of SubscribeToShard: a
	// client that does not read is cut off. Default 60s, 1s..1h.
	WriteTimeout Duration `yaml:"write_timeout"`
	// Region and Account are used when a request does not name them. Defaults
	// us-east-1 and 000000000000.
	Region  string `yaml:"region"`
	Account string `yaml:"account"`
	// Sync is the durability policy of the store: `always` (fsync before a write is
	// acknowledged, with group commit) or `interval` (fsync every SyncInterval).
	Sync         string   `yaml:"sync"`
	SyncInterval Duration `yaml:"sync_interval"`
	// Pprof mounts Go's profiler under /debug/pprof/ on the same port. Default false;
	// for profiling under load (`sluice bench`), not for exposed listeners.
	Pprof bool `yaml:"pprof"`
	// MetricsAuth makes /metrics (and /debug/pprof/) ask for HTTP Basic credentials: an
	// access key id and secret of auth.credentials. Unset = on when auth.sigv4 is on (the
	// metrics name streams and delivery streams).
	MetricsAuth *bool `yaml:"metrics_auth"`
}

// TLS names a PEM certificate chain and key. Both or neither.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// MetricsAuthOn resolves metrics_auth against auth.sigv4.
func (c *Config) MetricsAuthOn() bool {
	if c.Server.MetricsAuth != nil {
		return *c.Server.MetricsAuth
	}
	return c.Auth.SigV4
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.Cert != "" || t.Key != "" }

// Auth is the `auth` section.
type Auth struct {
	// SigV4 turns on signature verification. Off, any well-formed signature passes
	// (as the emulators do).
	SigV4 bool `yaml:"sigv4"`
	// Credentials are the accepted keys. Empty = any access key is accepted.
	Credentials []Credential `yaml:"credentials"`
}

// Credential is one access key and what it may do.
type Credential struct {
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey Secret `yaml:"secret_access_key"`
	// Actions are patterns of `service:Operation` with `*` and `?` wildcards, e.g.
	// `kinesis:Put*`, `firehose:*`, `*`. Empty = every action.
	Actions []string `yaml:"actions"`
	// Streams are patterns of stream (and delivery stream) names. Empty = every stream.
	Streams []string `yaml:"streams"`
}

// Allows reports whether the credential may perform action (e.g. "kinesis:PutRecords")
// on the named stream ("" when the operation names no stream).
func (c *Credential) Allows(action, stream string) bool {
	return matchAny(c.Actions, action) && (stream == "" || matchAny(c.Streams, stream))
}

// Lookup returns the credential with the access key id, or nil.
func (a *Auth) Lookup(accessKeyID string) *Credential {
	for i := range a.Credentials {
		if a.Credentials[i].AccessKeyID == accessKeyID {
			return &a.Credentials[i]
		}
	}
	return nil
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
		// Action names are case-insensitive in IAM.
		if strings.Contains(p, ":") {
			if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(s)); ok {
				return true
			}
		}
	}
	return false
}

// Log is the `log` section.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default text
}

// Limits is the `limits` section: account-wide quotas and state-transition delays.
type Limits struct {
	ShardLimit          int `yaml:"shard_limit"`            // default 20000
	OnDemandStreamLimit int `yaml:"on_demand_stream_limit"` // default 50
	// Time a stream stays CREATING / UPDATING / DELETING and a consumer CREATING /
	// DELETING. 0 = synchronous. Default 500ms each.
	CreateDelay   Duration `yaml:"create_delay"`
	UpdateDelay   Duration `yaml:"update_delay"`
	DeleteDelay   Duration `yaml:"delete_delay"`
	ConsumerDelay Duration `yaml:"consumer_delay"`
	// RetentionCheck is how often expired data is trimmed. Default 1m.
	RetentionCheck Duration `yaml:"retention_check"`
	// OnDemandScaleCheck is how often ON_DEMAND streams split their hot shards. Default
	// 1m; 0 turns automatic scaling off.
	OnDemandScaleCheck Duration `yaml:"on_demand_scale_check"`
	// OnDemandMaxShards caps how far an ON_DEMAND stream is split. Default 8.
	OnDemandMaxShards int `yaml:"on_demand_max_shards"`
}

// Stream is one entry of `streams`: a Kinesis data stream created at start if missing.
type Stream struct {
	Name string `yaml:"name"`
	// Account and Region default to the server's.
	Account string `yaml:"account"`
	Region  string `yaml:"region"`
	// Shards is the PROVISIONED shard count (default 1); OnDemand picks ON_DEMAND
	// capacity mode instead (4 shards, not throttled). Exclusive.
	Shards   int  `yaml:"shards"`
	OnDemand bool `yaml:"on_demand"`
	// Retention: default 24h, 24h..8760h, whole hours.
	Retention Duration `yaml:"retention"`
	// MaxRecordSize: default 1MiB, 1MiB..10MiB, whole KiB.
	MaxRecordSize Size              `yaml:"max_record_size"`
	Quotas        Quotas            `yaml:"quotas"`
	Tags          map[string]string `yaml:"tags"`
}

// Quotas are per-shard throughput limits; zero fields take the Kinesis defaults
// (write 1MiB and 1000 records per second, read 2MiB and 5 calls per second).
type Quotas struct {
	Unlimited          bool  `yaml:"unlimited"`
	WriteBytesPerSec   Size  `yaml:"write_bytes_per_sec"`
	WriteRecordsPerSec int64 `yaml:"write_records_per_sec"`
	ReadBytesPerSec    Size  `yaml:"read_bytes_per_sec"`
	ReadCallsPerSec    int64 `yaml:"read_calls_per_sec"`
}

// CloudWatch is the `cloudwatch` section: the PutMetricData calls of KCL/KPL clients,
// exposed on /metrics as sluice_client_metric series.
type CloudWatch struct {
	// MaxSeries bounds the distinct (namespace, metric, dimensions) series kept; data
	// for new series beyond it is dropped and counted. Default 5000, 0..1000000
	// (0 = accept PutMetricData and expose nothing).
	MaxSeries int `yaml:"max_series"`
}
