package httpendpoint

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// YAML is the `destination.http_endpoint` block of a `delivery_streams` entry.
//
//	destination:
//	  type: http_endpoint
//	  http_endpoint:
//	    url: https://collector.example.com/firehose   # EndpointConfiguration.Url, posted to verbatim
//	    name: collector                               # EndpointConfiguration.Name
//	    access_key: s3cr3t                            # X-Amz-Firehose-Access-Key; never logged or described
//	    content_encoding: GZIP                        # NONE (default) | GZIP: the whole body gzipped
//	    common_attributes: {env: prod}                # X-Amz-Firehose-Common-Attributes (≤ 50)
//	    s3_backup_mode: FailedDataOnly                # AllData: every record also under s3's prefix
//	    backup_on_413: false                          # true: records answered 413 go to http-endpoint-failed/ instead of being dropped
//	    request_timeout: 3m                           # one attempt (AWS: 3 min fixed), 1s..3m
//	    ca_file: /etc/sluice/collector-ca.pem         # CAs of an https endpoint (default: the system's)
//	    s3: {bucket: backup, endpoint: 'http://127.0.0.1:9000'}
type YAML struct {
	URL              string            `yaml:"url"`
	Name             string            `yaml:"name"`
	AccessKey        s3.Secret         `yaml:"access_key"`
	ContentEncoding  string            `yaml:"content_encoding"`
	CommonAttributes map[string]string `yaml:"common_attributes"`
	S3BackupMode     string            `yaml:"s3_backup_mode"`
	BackupOn413      bool              `yaml:"backup_on_413"`
	RequestTimeout   Duration          `yaml:"request_timeout"`
	CAFile           string            `yaml:"ca_file"`
	// s3 is an S3 block (as for type s3), decoded by the s3 destination
}

// Duration is a Go duration string in YAML (`30s`, `3m`).
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 30s, 3m)", n.Value)
	}
	*d = Duration(v)
	return nil
}

// fromYAML decodes and checks the block (sinks.Kind.FromYAML).
func fromYAML(v sinks.ConfigChecks, node *yaml.Node, path string) (sinks.Config, *sinks.S3Conn) {
	var y YAML
	rest, blocks := sinks.SplitBlocks(node, "s3")
	v.Decode(rest, path, &y)
	v.Required(path+".url", y.URL)
	if len(y.URL) > MaxURL {
		v.Errorf(path+".url", "is %d characters long (allowed 1..%d)", len(y.URL), MaxURL)
	}
	if len(y.Name) > MaxName {
		v.Errorf(path+".name", "is %d characters long (allowed 1..%d)", len(y.Name), MaxName)
	}
	if len(y.AccessKey) > MaxKey {
		v.Errorf(path+".access_key", "is %d characters long (allowed 0..%d)", len(y.AccessKey), MaxKey)
	}
	if y.ContentEncoding != "" {
		v.OneOf(path+".content_encoding", y.ContentEncoding, EncodingNone, EncodingGZIP)
	}
	if y.S3BackupMode != "" {
		v.OneOf(path+".s3_backup_mode", y.S3BackupMode, FailedDataOnly, AllData)
	}
	if len(y.CommonAttributes) > MaxAttributes {
		v.Errorf(path+".common_attributes", "has %d attributes (allowed 0..%d)", len(y.CommonAttributes), MaxAttributes)
	}
	names := make([]string, 0, len(y.CommonAttributes))
	for k, val := range y.CommonAttributes {
		if k == "" || len(k) > MaxAttributeName {
			v.Errorf(path+".common_attributes", "attribute name %q is %d characters long (allowed 1..%d)", k, len(k), MaxAttributeName)
		}
		if len(val) > MaxAttributeValue {
			v.Errorf(path+".common_attributes."+k, "is %d characters long (allowed 0..%d)", len(val), MaxAttributeValue)
		}
		names = append(names, k)
	}
	slices.Sort(names)
	if t := time.Duration(y.RequestTimeout); v.Set(path+".request_timeout") && (t < time.Second || t > DefaultTimeout) {
		v.Errorf(path+".request_timeout", "%v is outside 1s..%v", t, DefaultTimeout)
	}
	a := &API{RoleARN: "arn:aws:iam::000000000000:role/sluice",
		EndpointConfiguration: &EndpointConfiguration{Url: y.URL, AccessKey: y.AccessKey},
		S3BackupMode:          y.S3BackupMode, SluiceBackupOn413: y.BackupOn413,
		SluiceTimeoutSeconds: int(time.Duration(y.RequestTimeout) / time.Second), SluiceCAFile: y.CAFile}
	if y.Name != "" {
		a.EndpointConfiguration.Name = &y.Name
	}
	if y.ContentEncoding != "" || len(names) > 0 {
		a.RequestConfiguration = &RequestConfiguration{ContentEncoding: y.ContentEncoding}
		for _, k := range names {
			a.RequestConfiguration.CommonAttributes = append(a.RequestConfiguration.CommonAttributes,
				CommonAttribute{AttributeName: k, AttributeValue: y.CommonAttributes[k]})
		}
	}
	var conn *sinks.S3Conn
	if s3Block := blocks["s3"]; s3Block == nil {
		v.Errorf(path+".s3", "is required: the bucket records the endpoint does not take go to")
	} else {
		s3kind, _ := sinks.Lookup("s3")
		c, cn := s3kind.FromYAML(v, s3Block, path+".s3")
		if sc, ok := c.(*s3.API); ok {
			a.S3Configuration = sc
		}
		conn = cn
	}
	if y.URL != "" && a.S3Configuration != nil {
		if err := a.Validate(nil); err != nil {
			v.Errorf(path, "%s", record.Message(err))
		}
	}
	return a, conn
}
