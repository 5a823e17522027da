package firehoseapi

import (
	"encoding/json"
	"testing"

	"github.com/sluice-io/sluice/daemon/awsproto"
	_ "github.com/sluice-io/sluice/sinks/s3"
)

// FuzzDestinationMembers feeds CreateDeliveryStream/UpdateDestination bodies through what
// the API does with their destination members: find them, decode them into their kind's
// configuration, check the model constraints, validate, merge, describe. Nothing may panic.
func FuzzDestinationMembers(f *testing.F) {
	f.Add([]byte(`{"ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/x","BucketARN":"arn:aws:s3:::b","Prefix":"p/!{timestamp:yyyy}/","ErrorOutputPrefix":"e/!{firehose:error-output-type}/","BufferingHints":{"SizeInMBs":5},"DynamicPartitioningConfiguration":{"Enabled":true,"RetryOptions":{"DurationInSeconds":10}},"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"MetadataExtraction","Parameters":[{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{a:.a}"}]}]}}}`))
	f.Add([]byte(`{"S3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b","CompressionFormat":"GZIP","CustomTimeZone":"Europe/Paris"},"S3DestinationUpdate":{"Prefix":"x/"}}`))
	f.Add([]byte(`{"HttpEndpointDestinationConfiguration":{},"ExtendedS3DestinationUpdate":{"S3BackupUpdate":{"BucketARN":"arn:aws:s3:::c"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, update := range []bool{false, true} {
			known := awsCreateMembers
			if update {
				known = awsUpdateMembers
			}
			members, err := destMembers(body, known, update)
			if err != nil {
				return
			}
			for _, m := range members {
				if m.kind == nil {
					continue
				}
				c := m.kind.New()
				if json.Unmarshal(m.raw, c) != nil {
					continue
				}
				var v awsproto.Validation
				c.CheckAPI(&v, lowerFirst(m.name), m.name, !update)
				_ = c.Validate([]string{"a"})
				_ = c.Describe()
				if merged, err := c.Merge(m.name, m.raw); err == nil {
					_ = merged.Settings()
				}
			}
		}
	})
}
