//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// A Lambda processor against the real binary: firehose.lambda_functions maps the ARN to
// an HTTP function (the Firehose Lambda contract: records[{recordId, data}] in,
// records[{recordId, result, data}] out). It upper-cases records, drops the ones saying
// "skip" and fails "bad" ones, which go to processing-failed; the rest land in MinIO.
func TestFirehoseLambdaProcessorToS3(t *testing.T) {
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Records []struct {
				RecordID string `json:"recordId"`
				Data     []byte `json:"data"`
			} `json:"records"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		type rec struct {
			RecordID string `json:"recordId"`
			Result   string `json:"result"`
			Data     []byte `json:"data"`
		}
		var out struct {
			Records []rec `json:"records"`
		}
		for _, r := range ev.Records {
			res := "Ok"
			switch {
			case bytes.HasPrefix(r.Data, []byte("skip")):
				res = "Dropped"
			case bytes.HasPrefix(r.Data, []byte("bad")):
				res = "ProcessingFailed"
			}
			out.Records = append(out.Records, rec{r.RecordID, res, append(bytes.ToUpper(r.Data), '\n')})
		}
		json.NewEncoder(w).Encode(out)
	}))
	defer fn.Close()
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:upper"
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-lambda")
	s := startFirehoseSluiceWith(t, m, fmt.Sprintf("  lambda_functions: {%q: %q}\n", arn, fn.URL), "")
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	cfg := extS3(bucket, "l/", types.CompressionFormatUncompressed, 1)
	cfg.ErrorOutputPrefix = aws.String("err/!{firehose:error-output-type}/")
	cfg.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		{Type: types.ProcessorTypeLambda, Parameters: []types.ProcessorParameter{
			{ParameterName: types.ProcessorParameterNameLambdaArn, ParameterValue: aws.String(arn)}}}}}
	if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("lam"), ExtendedS3DestinationConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	var recs []types.Record
	var want []string
	for i := 0; i < 100; i++ {
		recs = append(recs, types.Record{Data: []byte(fmt.Sprintf("rec-%03d", i))})
		want = append(want, fmt.Sprintf("REC-%03d", i))
	}
	recs = append(recs, types.Record{Data: []byte("skip-me")}, types.Record{Data: []byte("bad-one")})
	out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("lam"), Records: recs})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	seen, _ := waitRecords(t, m, bucket, "l/", s3sink.Uncompressed, want, 60*time.Second)
	for l := range seen {
		if !strings.HasPrefix(l, "REC-") {
			t.Errorf("delivered %q: not the function's output (or a dropped/failed record)", l)
		}
	}
	failed := readObjects(t, m, bucket, "err/processing-failed/", s3sink.Uncompressed)
	deadline := time.Now().Add(60 * time.Second)
	for len(failed) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		failed = readObjects(t, m, bucket, "err/processing-failed/", s3sink.Uncompressed)
	}
	var all []byte
	for _, b := range failed {
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte(`"errorCode":"Lambda.ProcessingFailedStatus"`)) || !bytes.Contains(all, []byte(`"lambdaArn":"`+arn+`"`)) {
		t.Fatalf("processing-failed output: %s", all)
	}
}
