package firehoseapi

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	delivery "github.com/sluice-io/sluice/daemon/firehose"
)

// An UpdateDestination whose new pipeline does not start, and whose old one does not start
// again, answers InternalFailure, and DescribeDeliveryStream then shows the stream failing
// (FailureDescription) until an UpdateDestination succeeds.
func TestFailedRestoreShowsInDescribe(t *testing.T) {
	sink := &memSink{}
	var failFrom atomic.Int64 // builds from this one on fail (0 = none)
	var builds atomic.Int64
	env := newEnvWith(t, delivery.Options{NewDestination: func(def *delivery.Definition, _ delivery.S3Conn) (*delivery.Built, error) {
		n := builds.Add(1)
		if f := failFrom.Load(); f > 0 && n >= f {
			return nil, errors.New("destination unavailable")
		}
		return &delivery.Built{Sink: sink, Errors: sink}, nil
	}})
	ctx := context.Background()
	if _, err := env.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("r"), ExtendedS3DestinationConfiguration: s3Config("lake")}); err != nil {
		t.Fatal(err)
	}
	update := func(version string) error {
		_, err := env.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String("r"), CurrentDeliveryStreamVersionId: aws.String(version),
			DestinationId:               aws.String("destinationId-000000000001"),
			ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("new/")},
		}, func(o *firehose.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
	describe := func() *types.DeliveryStreamDescription {
		t.Helper()
		d, err := env.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("r")})
		if err != nil {
			t.Fatal(err)
		}
		return d.DeliveryStreamDescription
	}
	failFrom.Store(builds.Load() + 2) // the Update's check builds; its pipeline and the restore do not
	if code, _ := apiErr(t, update("1")); code != "InternalFailure" {
		t.Fatalf("UpdateDestination with a failed restore: %s", code)
	}
	d := describe()
	if d.DeliveryStreamStatus != types.DeliveryStreamStatusActive || d.FailureDescription == nil ||
		!strings.Contains(aws.ToString(d.FailureDescription.Details), "no pipeline is running") {
		t.Fatalf("Describe after the failed restore: %s %+v", d.DeliveryStreamStatus, d.FailureDescription)
	}
	failFrom.Store(0)
	if err := update("1"); err != nil {
		t.Fatalf("UpdateDestination once the destination builds: %v", err)
	}
	if d := describe(); d.FailureDescription != nil || aws.ToString(d.VersionId) != "2" {
		t.Fatalf("Describe after the second update: version %s %+v", aws.ToString(d.VersionId), d.FailureDescription)
	}
}
