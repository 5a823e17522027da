//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks/httpendpoint/endpointtest"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// The sluice binary's HTTP endpoint destination against an endpoint in the test that
// records what it got and answers each delivery stream's requests its own way: a valid
// 200 delivers; a wrong requestId, invalid JSON, a 500, a redirect (not followed) and a
// reply slower than the attempt timeout are retried for the retry duration and then
// written to http-endpoint-failed/ in MinIO with §9's JSON (dataId = the RecordId the
// producer got, subsequenceNumber); a 413 is dropped without backup and counted; AllData
// also backs up every record.
func TestHTTPEndpointSinkCasesThroughTheDaemon(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "httpep-cases")
	ep := endpointtest.New(t)
	ep.SlowFor = 3 * time.Second
	modes := map[string]endpointtest.Mode{"/ok": endpointtest.OK, "/wrongid": endpointtest.WrongID, "/invalid": endpointtest.InvalidJSON,
		"/s500": endpointtest.ServerError, "/redirect": endpointtest.Redirect, "/slow": endpointtest.Slow, "/s413": endpointtest.TooLarge,
		"/alldata": endpointtest.OK}
	ep.SetPicker(func(r *endpointtest.Request) endpointtest.Mode { return modes[r.Path] })

	var y strings.Builder
	y.WriteString("delivery_streams:\n")
	for path := range modes {
		name := strings.TrimPrefix(path, "/")
		extra := ""
		if name == "alldata" {
			extra = "        s3_backup_mode: AllData\n"
		}
		fmt.Fprintf(&y, "  - name: %s\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: http_endpoint\n      retry_duration: 3s\n"+
			"      http_endpoint:\n        url: '%s%s'\n        access_key: 'the-key'\n        common_attributes: {env: it}\n        request_timeout: 1s\n%s"+
			"        s3: {bucket: %s, prefix: 'data-%s/', error_output_prefix: 'err-%s/!{firehose:error-output-type}/', endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}\n",
			name, ep.URL, path, extra, bucket, name, name, m.Endpoint, m.Region, m.AccessKey, m.SecretKey)
	}
	s := harness.StartSluice(t, y.String())
	fc := firehoseClient(s.Endpoint)

	const n = 20
	ids := map[string]map[string]string{} // stream → record → RecordId
	for path := range modes {
		name := strings.TrimPrefix(path, "/")
		ids[name] = putRecordIDs(t, fc, name, n, func(i int) string { return fmt.Sprintf(`{"stream":%q,"i":%d}`, name, i) })
	}

	// the failing streams: every record in the error output, with the code of its case
	failing := map[string]string{"wrongid": "HttpEndpoint.InvalidResponseFromDestination", "invalid": "HttpEndpoint.InvalidResponseFromDestination",
		"s500": "HttpEndpoint.DestinationException", "redirect": "HttpEndpoint.DestinationException", "slow": "HttpEndpoint.RequestTimeout"}
	order := regexp.MustCompile(`^\{"attemptsMade":\d+,"arrivalTimestamp":\d+,"errorCode":"[^"]+","errorMessage":".*","attemptEndingTimestamp":\d+,"rawData":"[^"]*","subsequenceNumber":0,"dataId":"\d{56}\.0"\}$`)
	for name, code := range failing {
		prefix := "err-" + name + "/http-endpoint-failed/"
		deadline := time.Now().Add(90 * time.Second)
		var recs []map[string]any
		var raws []string
		for {
			recs, raws = nil, nil
			for _, obj := range readObjects(t, m, bucket, prefix, s3sink.Uncompressed) {
				for _, l := range lines(obj) {
					if !order.MatchString(l) {
						t.Errorf("%s: failure record not in §9's shape and order: %s", name, l)
					}
					var f map[string]any
					if err := json.Unmarshal([]byte(l), &f); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					recs, raws = append(recs, f), append(raws, l)
				}
			}
			if len(recs) >= n || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if len(recs) != n {
			t.Errorf("%s: %d failure records under %s, want %d", name, len(recs), prefix, n)
			continue
		}
		for _, f := range recs {
			raw, _ := jsonB64(f["rawData"])
			if f["errorCode"] != code {
				t.Errorf("%s: errorCode %v, want %s", name, f["errorCode"], code)
			}
			if want := ids[name][string(raw)] + ".0"; f["dataId"] != want {
				t.Errorf("%s: dataId %v, want the RecordId %s", name, f["dataId"], want)
			}
			if code == "HttpEndpoint.DestinationException" && !strings.HasPrefix(f["errorMessage"].(string), "Received the following response from the endpoint destination. ") {
				t.Errorf("%s: errorMessage %q", name, f["errorMessage"])
			}
			if name == "s500" && !strings.Contains(f["errorMessage"].(string), `"errorMessage":"boom"`) {
				t.Errorf("s500: the errorMessage does not quote the body: %q", f["errorMessage"])
			}
			if am := f["attemptsMade"].(float64); am < 2 {
				t.Errorf("%s: attemptsMade %v", name, am)
			}
		}
		t.Logf("%s: %d records in %s, e.g. %s", name, len(recs), prefix, raws[0])
	}

	// what the endpoint got: §9 headers; the 500's retries keep their request id; the
	// redirect was not followed
	byPath := map[string][]*endpointtest.Request{}
	for _, r := range ep.Requests() {
		byPath[r.Path] = append(byPath[r.Path], r)
		h := r.Header
		if h.Get("X-Amz-Firehose-Access-Key") != "the-key" || h.Get("X-Amz-Firehose-Protocol-Version") != "1.0" ||
			h.Get("X-Amz-Firehose-Common-Attributes") != `{"commonAttributes":{"env":"it"}}` || h.Get("Content-Type") != "application/json" ||
			!strings.HasPrefix(h.Get("X-Amz-Firehose-Source-Arn"), "arn:aws:firehose:us-east-1:000000000000:deliverystream/") ||
			h.Get("X-Amz-Firehose-Request-Id") != r.Decoded.RequestID || r.DecodeErr != nil {
			t.Errorf("%s: request headers %v (body error %v)", r.Path, h, r.DecodeErr)
		}
	}
	if len(byPath["/elsewhere"]) > 0 {
		t.Error("the redirect was followed")
	}
	seen := map[string]int{}
	for _, r := range byPath["/s500"] {
		seen[r.Decoded.RequestID]++
	}
	retried := false
	for _, c := range seen {
		retried = retried || c > 1
	}
	if !retried {
		t.Errorf("no request id of /s500 was sent twice: %v", seen)
	}

	// 200: delivered once each, nothing in the error output
	got := map[string]int{}
	for _, r := range byPath["/ok"] {
		for _, d := range r.Records {
			got[string(d)]++
		}
	}
	for rec := range ids["ok"] {
		if got[rec] == 0 {
			t.Errorf("ok: record %q not delivered", rec)
		}
	}
	// 413: dropped, counted, not backed up
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(httpGet(t, s.Endpoint+"/metrics"), fmt.Sprintf(`sluice_firehose_dropped_records_total{reason="http_413",stream="s413"} %d`, n)) {
		if time.Now().After(deadline) {
			t.Fatalf("dropped_records_total{reason=http_413} never reached %d:\n%s", n, grepLines(httpGet(t, s.Endpoint+"/metrics"), "dropped_records"))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(byPath["/s413"]) != 1 {
		t.Errorf("a 413 was retried: %d requests", len(byPath["/s413"]))
	}
	for _, name := range []string{"ok", "s413", "alldata"} {
		if objs := readObjects(t, m, bucket, "err-"+name+"/", s3sink.Uncompressed); len(objs) > 0 {
			t.Errorf("%s: %d objects in the error output", name, len(objs))
		}
	}
	// AllData: every record also in the backup under its prefix
	waitRecords(t, m, bucket, "data-alldata/", s3sink.Uncompressed, keysOf(ids["alldata"]), 30*time.Second)
	if objs := readObjects(t, m, bucket, "data-ok/", s3sink.Uncompressed); len(objs) > 0 {
		t.Errorf("FailedDataOnly backed up delivered records: %v", objs)
	}
	met := httpGet(t, s.Endpoint+"/metrics")
	if !strings.Contains(met, `sluice_firehose_http_processed_records_total{stream="ok"} 20`) || !strings.Contains(met, `destination="http"`) {
		t.Errorf("metrics:\n%s", grepLines(met, "http"))
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, strings.TrimSuffix(k, "\n"))
	}
	return out
}

func jsonB64(v any) ([]byte, error) {
	var b []byte
	raw, _ := json.Marshal(v)
	err := json.Unmarshal(raw, &b)
	return b, err
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// putRecordIDs puts n records (gen(i) + "\n") and returns each record's RecordId.
func putRecordIDs(t *testing.T, c *firehose.Client, stream string, n int, gen func(int) string) map[string]string {
	t.Helper()
	recs := make([]types.Record, n)
	for i := range recs {
		recs[i] = types.Record{Data: []byte(gen(i) + "\n")}
	}
	res, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: recs})
	if err != nil || aws.ToInt32(res.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch %s: %v", stream, err)
	}
	out := map[string]string{}
	for i, r := range res.RequestResponses {
		out[string(recs[i].Data)] = aws.ToString(r.RecordId)
	}
	return out
}

// A delivery stream created through the Firehose API with the SDK's own
// HttpEndpointDestinationConfiguration delivers to the endpoint; DescribeDeliveryStream
// answers HttpEndpointDestinationDescription without the access key; UpdateDestination
// (HttpEndpointDestinationUpdate) moves it to another URL; an enabled
// SecretsManagerConfiguration is refused with a message saying what to do instead.
func TestHTTPEndpointThroughTheFirehoseAPI(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "httpep-api")
	ep := endpointtest.New(t)
	s := startFirehoseSluice(t, m, "")
	fc := firehoseClient(s.Endpoint)
	ctx := context.Background()
	role := aws.String("arn:aws:iam::000000000000:role/firehose")
	cfg := func(url string) *types.HttpEndpointDestinationConfiguration {
		return &types.HttpEndpointDestinationConfiguration{
			EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(url), Name: aws.String("test"), AccessKey: aws.String("api-secret-key")},
			RequestConfiguration: &types.HttpEndpointRequestConfiguration{ContentEncoding: types.ContentEncodingGzip,
				CommonAttributes: []types.HttpEndpointCommonAttribute{{AttributeName: aws.String("a"), AttributeValue: aws.String("1")}}},
			BufferingHints:  &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)},
			RetryOptions:    &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(60)},
			RoleARN:         role,
			S3BackupMode:    types.HttpEndpointS3BackupModeFailedDataOnly,
			S3Configuration: &types.S3DestinationConfiguration{BucketARN: aws.String("arn:aws:s3:::" + bucket), RoleARN: role},
		}
	}
	bad := cfg(ep.URL + "/a")
	bad.SecretsManagerConfiguration = &types.SecretsManagerConfiguration{Enabled: aws.Bool(true), SecretARN: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:x")}
	if _, err := fc.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("api-http"), HttpEndpointDestinationConfiguration: bad}); err == nil ||
		!strings.Contains(err.Error(), "SecretsManagerConfiguration is not supported") {
		t.Fatalf("enabled SecretsManagerConfiguration: %v", err)
	}
	if _, err := fc.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("api-http"), HttpEndpointDestinationConfiguration: cfg(ep.URL + "/a")}); err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	d, err := fc.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("api-http")})
	if err != nil {
		t.Fatal(err)
	}
	desc := d.DeliveryStreamDescription.Destinations[0].HttpEndpointDestinationDescription
	if desc == nil || aws.ToString(desc.EndpointConfiguration.Url) != ep.URL+"/a" || aws.ToString(desc.EndpointConfiguration.Name) != "test" ||
		desc.RequestConfiguration.ContentEncoding != types.ContentEncodingGzip || aws.ToInt32(desc.RetryOptions.DurationInSeconds) != 60 ||
		desc.S3DestinationDescription == nil {
		t.Fatalf("description %+v", desc)
	}
	raw, _ := json.Marshal(d)
	if strings.Contains(string(raw), "api-secret-key") {
		t.Fatalf("DescribeDeliveryStream echoes the access key: %s", raw)
	}
	put := func(tag string) {
		putRecordIDs(t, fc, "api-http", 5, func(i int) string { return fmt.Sprintf(`{"%s":%d}`, tag, i) })
	}
	waitPath := func(path string, n int) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := 0
			for _, r := range ep.Requests() {
				if r.Path == path {
					got += len(r.Records)
					if r.Header.Get("X-Amz-Firehose-Access-Key") != "api-secret-key" || r.Header.Get("Content-Encoding") != "gzip" {
						t.Fatalf("%s: headers %v", path, r.Header)
					}
				}
			}
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d records posted to %s", got, n, path)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	put("first")
	waitPath("/a", 5)
	_, err = fc.UpdateDestination(ctx, &firehose.UpdateDestinationInput{DeliveryStreamName: aws.String("api-http"),
		CurrentDeliveryStreamVersionId: d.DeliveryStreamDescription.VersionId, DestinationId: aws.String("destinationId-000000000001"),
		HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(ep.URL + "/b")}}})
	if err != nil {
		t.Fatalf("UpdateDestination: %v", err)
	}
	put("second")
	waitPath("/b", 5)
}
