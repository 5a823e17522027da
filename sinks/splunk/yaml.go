package splunk

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// YAML is the `destination.splunk` block of a `delivery_streams` entry.
//
//	destination:
//	  type: splunk
//	  retry_duration: 3600s                          # RetryOptions (0s..7200s, default 3600s)
//	  splunk:
//	    endpoint: https://splunk.example.com:8088    # HECEndpoint
//	    endpoint_type: Event                         # HECEndpointType: Event (default) | Raw
//	    token: 6d5ee6b5-…                            # HECToken; never logged or described
//	    ack_timeout: 180s                            # HECAcknowledgmentTimeoutInSeconds (180s..600s)
//	    ack_poll_interval: 5s                        # how often acknowledgements are polled for
//	    require_ack: true                            # false: a 200 without ackId counts as delivered
//	    wrap: {host: web-1, source: firehose, sourcetype: _json, index: main}
//	    s3: {bucket: backup, endpoint: 'http://127.0.0.1:9000'}
//	    s3_backup_mode: FailedEventsOnly             # AllEvents: every record also under s3's prefix
//
// wrap (Sluice's own) turns records that are not HEC event objects into events (time = the
// arrival time) with those members; on the raw endpoint they are the posts' query
// parameters.
type YAML struct {
	Endpoint        string    `yaml:"endpoint"`
	EndpointType    string    `yaml:"endpoint_type"`
	Token           s3.Secret `yaml:"token"`
	AckTimeout      string    `yaml:"ack_timeout"`
	AckPollInterval string    `yaml:"ack_poll_interval"`
	RequireAck      *bool     `yaml:"require_ack"`
	Wrap            *struct {
		Host       string `yaml:"host"`
		Source     string `yaml:"source"`
		Sourcetype string `yaml:"sourcetype"`
		Index      string `yaml:"index"`
	} `yaml:"wrap"`
	S3BackupMode string `yaml:"s3_backup_mode"`
	// s3 is an S3 block (as for type s3), decoded by the s3 destination
}

// fromYAML decodes and checks the block (sinks.Kind.FromYAML).
func fromYAML(v sinks.ConfigChecks, node *yaml.Node, path string) (sinks.Config, *sinks.S3Conn) {
	var y YAML
	rest, blocks := sinks.SplitBlocks(node, "s3")
	v.Decode(rest, path, &y)
	v.Required(path+".endpoint", y.Endpoint)
	v.Required(path+".token", string(y.Token))
	if y.EndpointType == "" {
		y.EndpointType = Event
	}
	v.OneOf(path+".endpoint_type", y.EndpointType, Event, Raw)
	if y.S3BackupMode != "" {
		v.OneOf(path+".s3_backup_mode", y.S3BackupMode, FailedEventsOnly, AllEvents)
	}
	a := &API{HECEndpoint: y.Endpoint, HECEndpointType: y.EndpointType, HECToken: string(y.Token), S3BackupMode: y.S3BackupMode}
	if y.AckTimeout != "" {
		d, err := time.ParseDuration(y.AckTimeout)
		switch {
		case err != nil:
			v.Errorf(path+".ack_timeout", "%q is not a duration (e.g. 180s)", y.AckTimeout)
		case d < MinAckTimeout*time.Second || d > MaxAckTimeout*time.Second:
			v.Errorf(path+".ack_timeout", "%s is outside %ds..%ds", d, MinAckTimeout, MaxAckTimeout)
		default:
			secs := int(d / time.Second)
			a.HECAcknowledgmentTimeoutInSeconds = &secs
		}
	}
	if y.AckPollInterval != "" {
		d, err := time.ParseDuration(y.AckPollInterval)
		switch {
		case err != nil:
			v.Errorf(path+".ack_poll_interval", "%q is not a duration (e.g. 5s)", y.AckPollInterval)
		case d < 10*time.Millisecond || d > time.Minute:
			v.Errorf(path+".ack_poll_interval", "%s is outside 10ms..60s", d)
		default:
			a.SluiceAckPollMs = int(d / time.Millisecond)
		}
	}
	if y.RequireAck != nil && !*y.RequireAck {
		a.SluiceAcceptNoAck = true
	}
	if w := y.Wrap; w != nil {
		a.SluiceWrap = &Wrap{Host: w.Host, Source: w.Source, Sourcetype: w.Sourcetype, Index: w.Index}
	}
	var conn *sinks.S3Conn
	if s3Block := blocks["s3"]; s3Block == nil {
		v.Errorf(path+".s3", "is required: the bucket records HEC does not take go to")
	} else {
		s3kind, _ := sinks.Lookup("s3")
		c, cn := s3kind.FromYAML(v, s3Block, path+".s3")
		if sc, ok := c.(*s3.API); ok {
			a.S3Configuration = sc
		}
		conn = cn
	}
	if y.Endpoint != "" && y.Token != "" && a.S3Configuration != nil {
		if err := a.Validate(nil); err != nil {
			v.Errorf(path, "%s", record.Message(err))
		}
	}
	return a, conn
}
