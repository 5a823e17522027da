package s3

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Keys renders object keys for one configuration. Build it with NewKeys; it is immutable and
// safe for concurrent use.
type Keys struct {
	main, errp *Prefix
	loc        *time.Location
	stream     string
	version    string
	ext        string
	errExt     string // failure objects are NDJSON: no .parquet
	rawPrefix  string
	errEmpty   bool
}

// NewKeys validates cfg and compiles its prefixes.
func NewKeys(cfg Config) (*Keys, error) {
	m, e, loc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return &Keys{main: m, errp: e, loc: loc, stream: cfg.DeliveryStreamName, version: cfg.version(),
		ext: cfg.extension(), errExt: cfg.errorExtension(), rawPrefix: cfg.Prefix, errEmpty: cfg.ErrorOutputPrefix == ""}, nil
}

// Time converts an arrival time (Unix ms) to the object time: CustomTimeZone, else UTC.
func (k *Keys) Time(arrivalMs int64) time.Time { return time.UnixMilli(arrivalMs).In(k.loc) }

// ObjectPrefix evaluates Prefix for an object whose oldest record arrived at t (see Time).
// It fails when a partition key is missing or the result exceeds 512 characters (the
// pipeline sends such records to partitioning-failed).
func (k *Keys) ObjectPrefix(t time.Time, partitionKeys map[string]string) (string, error) {
	p, err := k.main.Render(t, partitionKeys, "")
	if err != nil {
		return "", err
	}
	if len(p) > MaxPrefixEvaluatedLen {
		return "", fmt.Errorf("evaluated prefix is %d characters, over the limit of %d", len(p), MaxPrefixEvaluatedLen)
	}
	return p, nil
}

// ErrorObjectPrefix evaluates the error prefix for errorType. An empty ErrorOutputPrefix
// gives <Prefix><errorType>/yyyy/MM/dd/HH/ (Prefix taken literally: it has no expressions,
// Validate guarantees it).
func (k *Keys) ErrorObjectPrefix(t time.Time, errorType string) (string, error) {
	var p string
	if k.errEmpty {
		p = k.rawPrefix + errorType + "/" + t.Format(defaultTimeSuffix)
	} else {
		var err error
		if p, err = k.errp.Render(t, nil, errorType); err != nil {
			return "", err
		}
	}
	if len(p) > MaxPrefixEvaluatedLen {
		return "", fmt.Errorf("evaluated error prefix is %d characters, over the limit of %d", len(p), MaxPrefixEvaluatedLen)
	}
	return p, nil
}

// Name returns the object name that follows the prefix:
// <stream>-<VersionId>-yyyy-MM-dd-HH-mm-ss-<uuid v4><ext>.
func (k *Keys) Name(t time.Time) string { return k.name(t, k.ext) }

func (k *Keys) name(t time.Time, ext string) string {
	b := make([]byte, 0, len(k.stream)+len(k.version)+64)
	b = append(b, k.stream...)
	b = append(b, '-')
	b = append(b, k.version...)
	b = append(b, '-')
	b = t.AppendFormat(b, "2006-01-02-15-04-05")
	b = append(b, '-')
	b = append(b, uuid.NewString()...)
	b = append(b, ext...)
	return string(b)
}

// ObjectKey is ObjectPrefix + Name.
func (k *Keys) ObjectKey(t time.Time, partitionKeys map[string]string) (string, error) {
	p, err := k.ObjectPrefix(t, partitionKeys)
	if err != nil {
		return "", err
	}
	return p + k.Name(t), nil
}

// ErrorKey is ErrorObjectPrefix + Name (with the compression's extension when the data
// objects are Parquet: failure objects are NDJSON).
func (k *Keys) ErrorKey(t time.Time, errorType string) (string, error) {
	p, err := k.ErrorObjectPrefix(t, errorType)
	if err != nil {
		return "", err
	}
	return p + k.name(t, k.errExt), nil
}
