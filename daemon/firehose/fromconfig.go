package firehose

import (
	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/streamcore"
)

// FromConfig turns the `delivery_streams` section into definitions for Manager.Start.
// Streams named by kinesis_stream sources are resolved in the `streams` section (account
// and region), else in the server's namespace.
func FromConfig(c *config.Config) []*Definition {
	account, region := c.Server.Account, c.Server.Region
	streams := map[string]config.Stream{}
	for _, s := range c.Streams {
		streams[s.Name] = s
	}
	out := make([]*Definition, 0, len(c.DeliveryStreams))
	for _, ds := range c.DeliveryStreams {
		d := &Definition{
			Name:          ds.Name,
			ARN:           "arn:aws:firehose:" + region + ":" + account + ":deliverystream/" + ds.Name,
			Type:          TypeDirectPut,
			Origin:        OriginConfig,
			VersionID:     1,
			DestinationID: firstDestID,
			RetryDuration: int(ds.Destination.RetryDuration.D().Seconds()),
		}
		if ds.Source.Type == "kinesis_stream" {
			d.Type = TypeKinesisSrc
			key := streamcore.StreamKey{Account: account, Region: region, Name: ds.Source.Stream}
			if s, ok := streams[ds.Source.Stream]; ok {
				if s.Account != "" {
					key.Account = s.Account
				}
				if s.Region != "" {
					key.Region = s.Region
				}
			}
			d.Source = &KinesisStreamSource{KinesisStreamARN: key.ARN()}
		}
		dc, err := ds.DestinationConfig("arn:aws:iam::" + account + ":role/sluice")
		if err != nil {
			continue // config.Parse refused it already; nothing to run
		}
		d.Dest = Destination{Kind: ds.Destination.Type, Config: dc}
		d.Conn = &S3Conn{}
		if c := ds.Destination.Conn; c != nil {
			*d.Conn = *c
		}
		// keys the entry leaves empty come from the `firehose.s3` section
		fh := c.Firehose.S3
		if d.Conn.Endpoint == "" && fh.Endpoint != "" {
			d.Conn.Endpoint, d.Conn.PathStyle = fh.Endpoint, d.Conn.PathStyle || fh.PathStyleOn()
		}
		if d.Conn.Region == "" {
			d.Conn.Region = fh.Region
		}
		if d.Conn.AccessKeyID == "" {
			d.Conn.AccessKeyID, d.Conn.SecretAccessKey = fh.AccessKeyID, fh.SecretAccessKey.Reveal()
		}
		d.Conn.InstanceMetadata = fh.InstanceMetadata
		out = append(out, d)
	}
	return out
}
