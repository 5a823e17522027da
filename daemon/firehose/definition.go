package firehose

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/catalog"
)

// Delivery stream types (DeliveryStreamType).
const (
	TypeDirectPut  = "DirectPut"
	TypeKinesisSrc = "KinesisStreamAsSource"
	OriginAPI      = "api"
	OriginConfig   = "config"
	StatusActive   = "ACTIVE"
	StatusDeleting = "DELETING"
	firstDestID    = "destinationId-000000000001"
	encryptionOff  = "DISABLED"
	encryptionOn   = "ENABLED"
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

	// Dest is the destination: its kind and its configuration in the shape of its
	// Firehose API member.
	Dest Destination `json:"destination"`
	// Conn says how to reach S3 (config-declared streams; API-created ones use the
	// manager's default). Never persisted (it may hold a secret): config-declared streams
	// get it from the file at every start.
	Conn *S3Conn `json:"-"`
	// Lambdas maps LambdaArn → URL of the HTTP function behind a Lambda processor
	// (Options.LambdaFunctions, set by the manager; never persisted).
	Lambdas map[string]string `json:"-"`
	// Domains maps OpenSearch DomainARNs to cluster URLs (firehose.opensearch_domains);
	// set by the manager, never persisted.
	Domains map[string]string `json:"-"`
	// AllowInsecure is firehose.allow_insecure_endpoints (set by the manager).
	AllowInsecure bool `json:"-"`
	// Catalog is firehose.catalog (set by the manager, never persisted).
	Catalog *catalog.Catalog `json:"-"`
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
type S3Conn = sinks.S3Conn

// Destination is a delivery stream's destination: a registered kind (sinks.Kind) and its
// configuration. It is persisted as {"type": kind, "config": <the API member's JSON>}.
type Destination struct {
	Kind   string
	Config sinks.Config
}

type destinationJSON struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// MarshalJSON implements json.Marshaler.
func (d Destination) MarshalJSON() ([]byte, error) {
	if d.Config == nil {
		return []byte("null"), nil
	}
	c, err := json.Marshal(d.Config)
	if err != nil {
		return nil, err
	}
	return json.Marshal(destinationJSON{Type: d.Kind, Config: c})
}

// UnmarshalJSON implements json.Unmarshaler; the kind must be linked into the build.
func (d *Destination) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Destination{}
		return nil
	}
	var dj destinationJSON
	if err := json.Unmarshal(b, &dj); err != nil {
		return err
	}
	c, err := sinks.Decode(dj.Type, dj.Config)
	if err != nil {
		return err
	}
	*d = Destination{Kind: dj.Type, Config: c}
	return nil
}

// UnmarshalJSON reads a definition, including those persisted before destinations were
// a union (an "s3" member in ExtendedS3DestinationConfiguration shape).
func (d *Definition) UnmarshalJSON(b []byte) error {
	type plain Definition
	var legacy struct {
		plain
		S3 json.RawMessage `json:"s3"`
	}
	if err := json.Unmarshal(b, &legacy); err != nil {
		return err
	}
	*d = Definition(legacy.plain)
	if d.Dest.Config == nil && len(legacy.S3) > 0 && string(legacy.S3) != "null" {
		c, err := sinks.Decode("s3", legacy.S3)
		if err != nil {
			return err
		}
		d.Dest = Destination{Kind: "s3", Config: c}
	}
	return nil
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
	out.Domains, out.AllowInsecure = d.Domains, d.AllowInsecure
	out.Catalog = d.Catalog // immutable, shared
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

// SortTags orders tags by key.
func SortTags(tags []Tag) {
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
}
