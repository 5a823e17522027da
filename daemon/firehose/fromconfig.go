package firehose

import (
	"sort"

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
		s3 := ds.Destination.S3
		sizeMiB := int((int64(ds.Buffer.Size) + (1<<20 - 1)) >> 20)
		interval := int(ds.Buffer.Interval.D().Seconds())
		ext := &ExtendedS3{
			RoleARN:           "arn:aws:iam::" + account + ":role/sluice",
			BucketARN:         "arn:aws:s3:::" + s3.Bucket,
			Prefix:            ptr(s3.Prefix),
			ErrorOutputPrefix: ptr(s3.ErrorOutputPrefix),
			BufferingHints:    &BufferingHints{SizeInMBs: &sizeMiB, IntervalInSeconds: &interval},
			CompressionFormat: s3.Compression,
			FileExtension:     ptr(s3.FileExtension),
			CustomTimeZone:    ptr(s3.CustomTimeZone),
		}
		if len(ds.Processors) > 0 {
			on := true
			pc := &ProcessingConfiguration{Enabled: &on}
			for _, p := range ds.Processors {
				pr := Processor{Type: p.Type}
				keys := make([]string, 0, len(p.Parameters))
				for k := range p.Parameters {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					pr.Parameters = append(pr.Parameters, ProcessorParameter{ParameterName: k, ParameterValue: p.Parameters[k]})
				}
				pc.Processors = append(pc.Processors, pr)
			}
			ext.ProcessingConfiguration = pc
		}
		if ds.DynamicPartitioning.Enabled {
			on := true
			rd := d.RetryDuration
			ext.DynamicPartitioningConfiguration = &DynamicPartitioningConfiguration{Enabled: &on, RetryOptions: &RetryOptions{DurationInSeconds: &rd}}
		}
		d.S3 = ext
		d.Conn = &S3Conn{Endpoint: s3.Endpoint, Region: s3.Region, PathStyle: s3.PathStyle,
			AccessKeyID: s3.AccessKeyID, SecretAccessKey: s3.SecretAccessKey.Reveal()}
		// keys the entry leaves empty come from the `firehose.s3` section
		fh := c.Firehose.S3
		if d.Conn.Endpoint == "" && fh.Endpoint != "" {
			d.Conn.Endpoint, d.Conn.PathStyle = fh.Endpoint, s3.PathStyle || fh.PathStyleOn()
		}
		if d.Conn.Region == "" {
			d.Conn.Region = fh.Region
		}
		if d.Conn.AccessKeyID == "" {
			d.Conn.AccessKeyID, d.Conn.SecretAccessKey = fh.AccessKeyID, fh.SecretAccessKey.Reveal()
		}
		out = append(out, d)
	}
	return out
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
