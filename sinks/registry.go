package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/sluice-io/sluice/sinks/catalog"
	"github.com/sluice-io/sluice/sources/record"
)

// Kind is one destination type. Its folder registers it (Register, from an init function);
// the daemon links a folder in by importing it. Everything destination-specific is the
// kind's: its section of the YAML config, its member of the Firehose API, their checks, how
// it is described, how its sink is built. Adding a destination is a folder and one import;
// nothing in the runner or the control plane names it.
type Kind struct {
	// Name is the destination's `destination.type` in the config file, the key of its
	// block there, its name in persisted definitions, and (unless Label is set) the
	// metric label.
	Name string
	// Label, when set, is the `destination` metric label instead of Name (firehose.md §11
	// names them s3, redshift, opensearch, splunk, http).
	Label string
	// Create are the CreateDeliveryStream members that configure it, e.g.
	// ExtendedS3DestinationConfiguration and S3DestinationConfiguration.
	Create []string
	// Update are the UpdateDestination members, in the order of Create.
	Update []string
	// New returns an empty configuration to decode the API shape (and the persisted
	// JSON, which is the same shape) into.
	New func() Config
	// FromYAML decodes the destination's block of a `delivery_streams` entry at path,
	// reporting problems through v, and returns its configuration and, when the block
	// says how to reach S3, that connection (never persisted: it may hold a secret).
	FromYAML func(v ConfigChecks, node *yaml.Node, path string) (Config, *S3Conn)
	// Collectors are the kind's own metrics (labelled by delivery stream, `stream`): the
	// daemon registers them with its registry and drops a deleted stream's series.
	Collectors []prometheus.Collector
}

// Config is one destination's configuration in the shape of its Firehose API member. It
// is persisted as that JSON.
type Config interface {
	// CheckAPI records the model-constraint violations of the API member at path (the
	// create shape when create is true, where required members must be present; the
	// update shape otherwise).
	CheckAPI(v APIChecks, path, member string, create bool)
	// Validate checks what the API model cannot say (InvalidArgumentException, with a
	// client-facing message): features not supported, prefixes, time zones, that the
	// prefix's partition keys are those of the MetadataExtraction query (queryKeys).
	Validate(queryKeys []string) error
	// Merge returns a copy with the UpdateDestination member raw applied (members present
	// in the update replace or merge into the current ones). Errors are client-facing.
	Merge(member string, raw json.RawMessage) (Config, error)
	// Settings are the members the runner and the processors use, defaults filled in.
	Settings() Settings
	// Adopt sets the members of s that the config file keeps outside the destination
	// block (buffer, processors, dynamic partitioning, retry duration).
	Adopt(s Settings)
	// Describe returns the members of DescribeDeliveryStream's Destinations entry
	// (member name → description), secrets left out.
	Describe() map[string]any
	// Build makes the destination's sink and error output. It does no I/O.
	Build(env Env) (*Built, error)
}

// Checker is implemented by a Config whose destination can be checked beyond a TCP dial
// (sluice validate -check-sinks): Check connects and verifies what the delivery needs
// exists (a table and its columns, an index), within ctx. Endpoint names the destination
// for the report, without secrets.
type Checker interface {
	Endpoint() string
	Check(ctx context.Context, conn S3Conn) error
}

// Settings are what every destination has in common.
type Settings struct {
	RoleARN              string
	SizeMiB, IntervalSec int // buffering hints
	// Processing is the processor list (nil: none).
	Processing *ProcessingConfiguration
	// RetrySeconds is the destination's retry duration when it sets one (nil: the
	// delivery stream's default).
	RetrySeconds *int
	// Partitioned reports dynamic partitioning.
	Partitioned bool
}

// Env is what building a sink may use besides the configuration.
type Env struct {
	DeliveryStream string // name
	ARN            string
	VersionID      string // VersionId, as Describe shows it
	// Group identifies this incarnation of the delivery stream (its checkpoint group): a
	// delivery stream deleted and created again under the same name gets another one.
	// Exactly-once destinations key the positions they store by it.
	Group string
	// Domains maps OpenSearch DomainARNs to cluster URLs (firehose.opensearch_domains). Nil
	// only when a configuration is validated without being built.
	Domains map[string]string
	// AllowInsecure lets destinations use plain http:// endpoints off this machine
	// (firehose.allow_insecure_endpoints).
	AllowInsecure bool
	// S3 is how to reach S3 (the destination itself, or the backup bucket).
	S3 S3Conn
	// QueryKeys are the literal keys of the MetadataExtraction query, sorted.
	QueryKeys []string
	// Catalog is the local table catalog (firehose.catalog) record format conversion
	// reads schemas from (nil: empty).
	Catalog *catalog.Catalog
	Logger  *slog.Logger
	// OnObject, when set, is called after every S3 object written ("data" or "error").
	OnObject func(kind string)
	// OnProcessed, when set, is called after every request a destination sent, retries
	// included, with the records and payload bytes it carried (the HTTP endpoint's
	// DeliveryToHttpEndpoint.ProcessedRecords/ProcessedBytes). Safe for concurrent use.
	OnProcessed func(records, bytes int)
}

// Built is a destination ready for the runner.
type Built struct {
	Sink   Sink
	Errors ErrorOutput
	// FailedType is the error-output type of records the destination did not take ("" =
	// record.DeliveryFailed).
	FailedType string
	// FailureFields, when set, are the destination's members of the failure record of a
	// record whose failure named none (whole-batch failures, retries run out), e.g. an HTTP
	// endpoint's dataId.
	FailureFields func(record.Record) []record.Field
	// Backup, when set, also receives every delivered batch before it counts as
	// delivered (the S3 backup's "all" mode: AllData, AllDocuments, AllEvents).
	Backup Sink
	// RetryClock says what counts against the retry duration.
	RetryClock RetryClock
	// CheckPartition, when set, validates the evaluated prefix of a record's dynamic
	// partition before it is buffered (a failing record goes to partitioning-failed).
	CheckPartition func(keys map[string]string, arrivalMs int64) error
	// Convert, when set, is record format conversion: each processed record, before it is
	// buffered, becomes what the sink writes (its Data replaced), or a failure record
	// of type record.FormatConversionFailed that goes to the error output while the rest
	// of the batch is delivered. Safe for concurrent use.
	Convert func(r record.Record, now time.Time) (record.Record, *record.FailureRecord)
}

// CatalogUser is implemented by a Config that can read table schemas from the local
// catalog (record format conversion).
type CatalogUser interface {
	// Converts reports whether the configuration converts records (and so needs a table).
	Converts() bool
	// CheckCatalog returns an InvalidArgumentException naming the table when cat lacks it.
	CheckCatalog(cat *catalog.Catalog) error
}

// RetryClock says what counts against a destination's retry duration.
type RetryClock int

const (
	// FromFirstAttempt counts from the start of the first attempt (the default).
	FromFirstAttempt RetryClock = iota
	// FromFirstFailure counts only the waits between attempts.
	FromFirstFailure
)

// ErrorOutput writes failure records under the error output of errorType. It may be
// called concurrently. An error means nothing was written (the runner tries again).
type ErrorOutput interface {
	WriteFailures(ctx context.Context, errorType string, recs []record.FailureRecord) error
}

// S3Conn addresses an S3 server (MinIO or AWS). Empty fields take the AWS default chain.
type S3Conn struct {
	Endpoint        string `json:"endpoint,omitempty"`
	Region          string `json:"region,omitempty"`
	PathStyle       bool   `json:"pathStyle,omitempty"`
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"-"` // never written anywhere
	// InstanceMetadata lets the AWS credential chain use the EC2 instance metadata service
	// (off: it is never contacted).
	InstanceMetadata bool `json:"instanceMetadata,omitempty"`
}

// String implements fmt.Stringer without the secret.
func (c S3Conn) String() string {
	return fmt.Sprintf("{endpoint=%s region=%s path_style=%v access_key_id=%s}", c.Endpoint, c.Region, c.PathStyle, c.AccessKeyID)
}

// LogValue implements slog.LogValuer without the secret.
func (c S3Conn) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", c.Endpoint), slog.String("region", c.Region),
		slog.Bool("path_style", c.PathStyle), slog.String("access_key_id", c.AccessKeyID))
}

// APIChecks is the Firehose API's model-constraint checker (daemon/awsproto.Validation
// implements it): each call records a violation at path in AWS's words.
type APIChecks interface {
	Required(path string, present bool) bool
	Length(path, s string, min, max int)
	Pattern(path, s string, re *regexp.Regexp, pattern string)
	Range(path string, n, min, max int64)
	Enum(path, s string, vals ...string)
}

// ConfigChecks is the config file's strict decoder and checker (daemon/config.Validator
// implements it): problems are reported with the file, line and YAML path.
type ConfigChecks interface {
	// Decode decodes node strictly into out (unknown keys are problems).
	Decode(node *yaml.Node, path string, out any)
	Errorf(path, format string, args ...any)
	Required(path, s string) bool
	OneOf(path, s string, allowed ...string) bool
	// Set reports whether the file sets path.
	Set(path string) bool
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register adds a destination kind. It panics on a duplicate name or API member: that is
// a build defect, found by any test that links both.
func Register(k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k.Name]; dup {
		panic(fmt.Sprintf("sinks: destination %q registered twice", k.Name))
	}
	for _, o := range kinds {
		for _, m := range k.Create {
			if slices.Contains(o.Create, m) {
				panic(fmt.Sprintf("sinks: API member %s claimed by %q and %q", m, o.Name, k.Name))
			}
		}
	}
	kinds[k.Name] = k
}

// Lookup returns the kind named name.
func Lookup(name string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// Kinds returns every registered kind, by name.
func Kinds() []Kind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Kind) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// MetricLabel returns the `destination` metric label of the kind named name.
func MetricLabel(name string) string {
	if k, ok := Lookup(name); ok && k.Label != "" {
		return k.Label
	}
	return name
}

// Names returns the names of the registered kinds, sorted.
func Names() []string {
	var out []string
	for _, k := range Kinds() {
		out = append(out, k.Name)
	}
	return out
}

// Decode decodes a persisted or API-shaped configuration of the kind named name.
func Decode(name string, raw json.RawMessage) (Config, error) {
	k, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("destination type %q is not linked into this build (known: %v)", name, Names())
	}
	c := k.New()
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("decoding the %s destination: %w", name, err)
	}
	return c, nil
}

// SplitBlocks returns a copy of the mapping node without the keys names, and their values:
// a destination block decodes its own keys strictly and hands nested blocks (an s3 block)
// to the kind that owns them.
func SplitBlocks(node *yaml.Node, names ...string) (*yaml.Node, map[string]*yaml.Node) {
	out := map[string]*yaml.Node{}
	if node == nil || node.Kind != yaml.MappingNode {
		return node, out
	}
	rest := *node
	rest.Content = nil
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		if slices.Contains(names, k.Value) {
			out[k.Value] = node.Content[i+1]
			continue
		}
		rest.Content = append(rest.Content, k, node.Content[i+1])
	}
	return &rest, out
}
