package s3

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/sluice-io/sluice/sources/record"
)

// Limits on prefixes (firehose.md §3, §5.2).
const (
	MaxPrefixRawLen       = 1024
	MaxPrefixEvaluatedLen = 512
	randomStringLen       = 11
)

// PrefixKind says which configuration member a prefix came from; the allowed namespaces
// differ.
type PrefixKind int

const (
	// MainPrefix is Prefix: timestamp, firehose:random-string, partitionKeyFromQuery/Lambda.
	MainPrefix PrefixKind = iota
	// ErrorPrefix is ErrorOutputPrefix: timestamp, firehose:random-string,
	// firehose:error-output-type.
	ErrorPrefix
)

func (k PrefixKind) member() string {
	if k == ErrorPrefix {
		return "ErrorOutputPrefix"
	}
	return "Prefix"
}

type segKind uint8

const (
	segLit segKind = iota
	segTime
	segRandom
	segErrorType
	segPartitionKey
)

type segment struct {
	kind segKind
	lit  string // literal text, or the partition key name
	tf   timeFormat
}

// Prefix is a parsed S3 prefix expression. It is immutable and safe for concurrent use.
type Prefix struct {
	raw      string
	kind     PrefixKind
	segs     []segment
	hasExpr  bool
	keys     []string // partitionKeyFromQuery keys, in order of appearance
	lkeys    []string // partitionKeyFromLambda keys
	hasError bool     // contains !{firehose:error-output-type}
}

// ParsePrefix parses a Prefix or ErrorOutputPrefix. Errors wrap record.ErrInvalidArgument.
// It checks syntax and namespaces; cross-member rules live in Config.Validate.
func ParsePrefix(raw string, kind PrefixKind) (*Prefix, error) {
	if len(raw) > MaxPrefixRawLen {
		return nil, record.InvalidArgument("%s length %d exceeds the maximum of %d", kind.member(), len(raw), MaxPrefixRawLen)
	}
	p := &Prefix{raw: raw, kind: kind}
	rest := raw
	for {
		i := strings.Index(rest, "!{")
		if i < 0 {
			if rest != "" {
				p.segs = append(p.segs, segment{kind: segLit, lit: rest})
			}
			break
		}
		if i > 0 {
			p.segs = append(p.segs, segment{kind: segLit, lit: rest[:i]})
		}
		rest = rest[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return nil, record.InvalidArgument("%s %q has an unterminated \"!{\" expression", kind.member(), raw)
		}
		body := rest[:j]
		rest = rest[j+1:]
		seg, err := parseExpr(body, kind)
		if err != nil {
			return nil, record.InvalidArgument("%s %q: %v", kind.member(), raw, err)
		}
		p.hasExpr = true
		switch seg.kind {
		case segPartitionKey:
			if strings.HasPrefix(body, "partitionKeyFromLambda:") {
				p.lkeys = append(p.lkeys, seg.lit)
			} else {
				p.keys = append(p.keys, seg.lit)
			}
		case segErrorType:
			p.hasError = true
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

func parseExpr(body string, kind PrefixKind) (segment, error) {
	ns, val, ok := strings.Cut(body, ":")
	if !ok {
		return segment{}, fmt.Errorf("expression !{%s} must be !{namespace:value}", body)
	}
	switch ns {
	case "timestamp":
		tf, err := compileTimeFormat(val)
		if err != nil {
			return segment{}, fmt.Errorf("invalid timestamp pattern %q: %v", val, err)
		}
		if len(tf) == 0 {
			return segment{}, fmt.Errorf("empty timestamp pattern")
		}
		return segment{kind: segTime, tf: tf}, nil
	case "firehose":
		switch val {
		case "random-string":
			return segment{kind: segRandom}, nil
		case "error-output-type":
			if kind != ErrorPrefix {
				return segment{}, fmt.Errorf("!{firehose:error-output-type} is only allowed in ErrorOutputPrefix")
			}
			return segment{kind: segErrorType}, nil
		}
		return segment{}, fmt.Errorf("unknown firehose expression %q", val)
	case "partitionKeyFromQuery", "partitionKeyFromLambda":
		if kind != MainPrefix {
			return segment{}, fmt.Errorf("!{%s:…} is only allowed in Prefix", ns)
		}
		if val == "" {
			return segment{}, fmt.Errorf("!{%s:} needs a key name", ns)
		}
		return segment{kind: segPartitionKey, lit: val}, nil
	}
	return segment{}, fmt.Errorf("unknown namespace %q", ns)
}

// Raw returns the prefix as configured.
func (p *Prefix) Raw() string { return p.raw }

// HasExpressions reports whether the prefix contains any !{…} expression.
func (p *Prefix) HasExpressions() bool { return p.hasExpr }

// PartitionKeys returns the partitionKeyFromQuery keys in order of appearance (duplicates
// kept).
func (p *Prefix) PartitionKeys() []string { return append([]string(nil), p.keys...) }

// LambdaPartitionKeys returns the partitionKeyFromLambda keys in order of appearance.
func (p *Prefix) LambdaPartitionKeys() []string { return append([]string(nil), p.lkeys...) }

// HasErrorOutputType reports whether the prefix contains !{firehose:error-output-type}.
func (p *Prefix) HasErrorOutputType() bool { return p.hasError }

// defaultTimeSuffix is the yyyy/MM/dd/HH/ appended to expression-free prefixes.
const defaultTimeSuffix = "2006/01/02/15/"

// Render evaluates the prefix at time t (already in the output time zone). keys supplies
// partition keys; errorType the error-output type. A prefix without expressions gets
// yyyy/MM/dd/HH/ appended by plain concatenation. A missing partition key is an error.
func (p *Prefix) Render(t time.Time, keys map[string]string, errorType string) (string, error) {
	b := make([]byte, 0, len(p.raw)+32)
	for _, s := range p.segs {
		switch s.kind {
		case segLit:
			b = append(b, s.lit...)
		case segTime:
			b = s.tf.append(b, t)
		case segRandom:
			b = appendRandomString(b)
		case segErrorType:
			b = append(b, errorType...)
		case segPartitionKey:
			v, ok := keys[s.lit]
			if !ok {
				return "", fmt.Errorf("partition key %q has no value", s.lit)
			}
			b = append(b, v...)
		}
	}
	if !p.hasExpr {
		b = t.AppendFormat(b, defaultTimeSuffix)
	}
	return string(b), nil
}

const hexDigits = "0123456789abcdef"

func appendRandomString(b []byte) []byte {
	v := rand.Uint64()
	for range randomStringLen {
		b = append(b, hexDigits[v&0xf])
		v >>= 4
	}
	return b
}
