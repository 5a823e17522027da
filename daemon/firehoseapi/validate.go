package firehoseapi

import (
	"regexp"
	"strconv"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

// Model constraints (Firehose API model).
var (
	nameRE      = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	streamARNRE = regexp.MustCompile(`^arn:.*:kinesis:[a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+$`)
	kmsARNRE    = regexp.MustCompile(`^arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+$`)
	versionRE   = regexp.MustCompile(`^[0-9]+$`)
	destIDRE    = regexp.MustCompile(`^[a-zA-Z0-9-]+$`)
	tagKeyRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`)
)

const (
	namePattern      = "[a-zA-Z0-9_.-]+"
	streamARNPattern = `arn:.*:kinesis:[a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+`
	kmsARNPattern    = `arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+`
	tagKeyPattern    = `^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`
)

// checkName validates a DeliveryStreamName member at path.
func checkName(v *awsproto.Validation, path string, name *string) {
	if !v.Required(path, name != nil) {
		return
	}
	v.Length(path, *name, 1, 64)
	if *name != "" {
		v.Pattern(path, *name, nameRE, namePattern)
	}
}

// tagIn is a Tag as received.
type tagIn struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

func checkTags(v *awsproto.Validation, path string, tags []tagIn, required bool) {
	if tags == nil {
		if required {
			v.Required(path, false)
		}
		return
	}
	if len(tags) < 1 || len(tags) > 50 {
		if len(tags) < 1 {
			v.Add("'[]'", path, awsproto.RuleMinLen(1))
		} else {
			v.Add("'[...]'", path, awsproto.RuleMaxLen(50))
		}
	}
	for i, t := range tags {
		p := path + "." + strconv.Itoa(i+1) + ".member"
		if v.Required(p+".key", t.Key != nil) {
			v.Length(p+".key", *t.Key, 1, 128)
			if !tagKeyRE.MatchString(*t.Key) || hasAWSPrefix(*t.Key) {
				v.Add(awsproto.Quote(*t.Key), p+".key", awsproto.RulePattern(tagKeyPattern))
			}
		}
		if t.Value != nil {
			v.Length(p+".value", *t.Value, 0, 256)
		}
	}
}

func hasAWSPrefix(k string) bool { return len(k) >= 4 && k[:4] == "aws:" }
