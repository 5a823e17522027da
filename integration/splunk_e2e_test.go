//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/integration/hec"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// Records put through the Firehose API of the sluice binary are indexed by HEC, each once,
// every post acknowledged; the acknowledgement latency is exported.
func TestSplunkDeliversEveryRecordOnce(t *testing.T) {
	st := startSplunk(t, "once", "", "")
	c := firehoseClient(st.s.Endpoint)
	const n = 3000
	acked := putBatches(t, c, st.name, n, func(i int) string { return splunkEvent("once", i) })
	if len(acked) != n {
		t.Fatalf("%d of %d records acknowledged by PutRecordBatch", len(acked), n)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = eventKey("once", i)
	}
	counts := waitIndexed(t, st.srv, want, 60*time.Second)
	time.Sleep(2 * time.Second) // nothing more arrives
	counts = st.srv.Counts()
	for _, w := range want {
		if counts[w] != 1 {
			t.Errorf("event %s indexed %d times", w, counts[w])
		}
	}
	if len(counts) != n {
		t.Errorf("%d distinct events indexed, want %d", len(counts), n)
	}
	for _, e := range st.srv.Events()[:1] {
		if e.Sourcetype != "_json" || e.Channel == "" || e.AckID < 0 {
			t.Errorf("event %+v: want the record's sourcetype, a channel and an ack id", e)
		}
	}
	stats := st.srv.Stats()
	deadline := time.Now().Add(10 * time.Second)
	for metricSum(t, st.s, `sluice_firehose_splunk_ack_latency_seconds_count\{stream="once"\}`) < float64(stats.Posts) {
		if time.Now().After(deadline) {
			t.Fatalf("ack latency histogram counts fewer than the %d posts", stats.Posts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := metricSum(t, st.s, `sluice_firehose_delivery_records_total\{destination="splunk",stream="once"\}`); got != n {
		t.Errorf("delivery_records_total = %v, want %d", got, n)
	}
	if objs := readObjects(t, st.m, st.bucket, "", s3sink.Uncompressed); len(objs) != 0 {
		t.Errorf("%d objects in the backup bucket; nothing failed", len(objs))
	}
}

// Lost acknowledgements: HEC indexes the posts but never acknowledges them; after
// HECAcknowledgmentTimeoutInSeconds (180 s, the minimum) sluice sends them again, and they
// count as delivered once acknowledged. Every record is indexed, the resent ones twice
// (duplicates are counted and reported); none goes to splunk-failed.
func TestSplunkLostAcksAreResent(t *testing.T) {
	t.Parallel()
	st := startSplunk(t, "lostacks", "        ack_timeout: 180s\n", "")
	st.srv.LoseAcks(2)
	c := firehoseClient(st.s.Endpoint)
	const n = 400
	want := make([]string, n)
	for i := range want {
		want[i] = eventKey("lost", i)
	}
	// two rounds, so that there are at least two posts
	putBatches(t, c, st.name, n/2, func(i int) string { return splunkEvent("lost", i) })
	waitIndexed(t, st.srv, want[:n/2], 60*time.Second)
	putBatches(t, c, st.name, n/2, func(i int) string { return splunkEvent("lost", n/2+i) })
	waitIndexed(t, st.srv, want, 60*time.Second)
	if lost := st.srv.Stats().LostAcks; lost != 2 {
		t.Fatalf("%d acks lost, want 2", lost)
	}
	// the two posts whose acks were lost are sent again after the 180 s ack timeout
	deadline := time.Now().Add(240 * time.Second)
	for {
		dups := 0
		for _, v := range st.srv.Counts() {
			if v > 1 {
				dups += v - 1
			}
		}
		if dups > 0 && metricSum(t, st.s, `sluice_firehose_splunk_ack_timeouts_total\{stream="lostacks"\}`) >= 2 {
			// every post acknowledged: the resent ones too
			if s := st.srv.Stats(); s.AcksTrue == s.Posts-s.LostAcks {
				t.Logf("%d duplicate events after resending the %d posts whose acks were lost (%d posts, %d events indexed for %d records)",
					dups, s.LostAcks, s.Posts, s.Events, n)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the posts whose acks were lost were not resent and acknowledged within 240 s (stats %+v)", st.srv.Stats())
		}
		time.Sleep(time.Second)
	}
	for _, w := range want {
		if st.srv.Counts()[w] == 0 {
			t.Fatalf("event %s lost", w)
		}
	}
	if !strings.Contains(st.s.Log(), "acknowledgement timeout") {
		t.Error("the log does not say acknowledgements timed out")
	}
	// checkpoints moved past everything: delivered records stay delivered
	waitMetric(t, st.s, `sluice_firehose_delivery_records_total\{destination="splunk",stream="lostacks"\}`, n)
	if objs := readObjects(t, st.m, st.bucket, "", s3sink.Uncompressed); len(objs) != 0 {
		t.Errorf("%d objects in the backup bucket; a lost ack is resent, not given up", len(objs))
	}
}

// waitMetric polls until the metric's sum reaches at least want.
func waitMetric(t *testing.T, s *harness.Sluice, prefix string, want float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for metricSum(t, s, prefix) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 60 s, want at least %v", prefix, metricSum(t, s, prefix), want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// HEC busy (503 code 9) for 30 s: sluice keeps retrying (the retry duration is far from
// over), Describe says delivery is failing meanwhile, and once HEC recovers every record
// is indexed; nothing is lost or backed up.
func TestSplunkBusyServerRecovers(t *testing.T) {
	t.Parallel()
	st := startSplunk(t, "busy", "", "")
	c := firehoseClient(st.s.Endpoint)
	st.srv.SetBusy(30 * time.Second)
	busyUntil := time.Now().Add(30 * time.Second)
	const n = 1500
	putBatches(t, c, st.name, n, func(i int) string { return splunkEvent("busy", i) })
	fd := waitFailureDescription(t, c, st.name, "busy", "Describe never said that delivery is failing while HEC was busy")
	t.Logf("FailureDescription while busy: %s", aws.ToString(fd.Details))
	if got := st.srv.Stats().Events; got != 0 {
		t.Fatalf("%d events indexed while HEC was busy", got)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = eventKey("busy", i)
	}
	counts := waitIndexed(t, st.srv, want, 90*time.Second)
	t.Logf("all %d records indexed %v after HEC stopped being busy", n, time.Since(busyUntil).Round(100*time.Millisecond))
	for _, w := range want {
		if counts[w] != 1 {
			t.Errorf("event %s indexed %d times", w, counts[w])
		}
	}
	if objs := readObjects(t, st.m, st.bucket, "", s3sink.Uncompressed); len(objs) != 0 {
		t.Errorf("%d objects in the backup bucket; nothing should have been given up", len(objs))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := c.DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(st.name)})
		if err != nil {
			t.Fatal(err)
		}
		if d.DeliveryStreamDescription.FailureDescription == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("FailureDescription still set after recovery")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// A revoked token: HEC answers 403 code 4; sluice gives up at once (retrying cannot
// help), writes the records to splunk-failed/ in the backup bucket with §8's JSON
// (EventId = <sequence>.<subsequence>), logs an error, counts it in a metric and shows it
// in DescribeDeliveryStream; the token appears in no log line.
func TestSplunkRevokedToken(t *testing.T) {
	st := startSplunk(t, "revoked", "", "")
	c := firehoseClient(st.s.Endpoint)
	putBatches(t, c, st.name, 10, func(i int) string { return splunkEvent("before", i) })
	before := make([]string, 10)
	for i := range before {
		before[i] = eventKey("before", i)
	}
	waitIndexed(t, st.srv, before, 60*time.Second)
	// acknowledged too: an ack query with the revoked token would refuse them
	waitMetric(t, st.s, `sluice_firehose_delivery_records_total\{destination="splunk",stream="revoked"\}`, 10)

	st.srv.RevokeToken(splunkToken)
	const n = 50
	var recs []types.Record
	var raws []string
	for i := range n {
		r := splunkEvent("revoked", i) + "\n"
		raws = append(raws, r)
		recs = append(recs, types.Record{Data: []byte(r)})
	}
	out, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(st.name), Records: recs})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	ids := map[string]bool{}
	for _, r := range out.RequestResponses {
		ids[aws.ToString(r.RecordId)+".0"] = true
	}
	var fails []splunkFailure
	var flines []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		fails, flines = splunkFailures(t, readObjects(t, st.m, st.bucket, "splunk-failed/", s3sink.Uncompressed))
		if len(fails) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records under splunk-failed/ after 60 s", len(fails), n)
		}
		time.Sleep(250 * time.Millisecond)
	}
	keyOrder := regexp.MustCompile(`^\{"attemptsMade":1,"arrivalTimestamp":\d{13},"errorCode":"Splunk\.InvalidToken","errorMessage":"(?:[^"\\]|\\.)*",` +
		`"attemptEndingTimestamp":\d{13},"rawData":"[A-Za-z0-9+/=]+","EventId":"\d{56}\.0"\}$`)
	seen := map[string]bool{}
	for i, f := range fails {
		if !keyOrder.MatchString(flines[i]) {
			t.Errorf("failure line %s does not have §8's shape", flines[i])
		}
		if !ids[f.EventID] {
			t.Errorf("EventId %s is not <RecordId>.0 of a record put", f.EventID)
		}
		if f.AttemptEndingTimestamp < f.ArrivalTimestamp || !strings.Contains(f.ErrorMessage, "HEC refused the token") {
			t.Errorf("failure %+v", f)
		}
		seen[string(f.RawData)] = true
	}
	for _, r := range raws {
		if !seen[r] {
			t.Errorf("record %q is not in splunk-failed/ (rawData %s)", r, base64.StdEncoding.EncodeToString([]byte(r)))
		}
	}
	if c := st.srv.Counts()[eventKey("revoked", 0)]; c != 0 {
		t.Errorf("a record was indexed with the revoked token")
	}
	fd := waitFailureDescription(t, c, st.name, "HEC refused the token", "Describe does not say HEC refused the token")
	t.Logf("FailureDescription: %s", aws.ToString(fd.Details))
	waitMetric(t, st.s, `sluice_firehose_splunk_token_refused_total\{error_code="Splunk.InvalidToken",stream="revoked"\}`, 1)
	log := st.s.Log()
	if !regexp.MustCompile(`level=ERROR[^\n]*HEC refused the token[^\n]*Splunk\.InvalidToken`).MatchString(log) {
		t.Error("the log has no error line saying HEC refused the token")
	}
	if strings.Contains(log, splunkToken) {
		t.Fatal("the log contains the token")
	}
}

// AllEvents: every record is indexed and also backed up under the S3 prefix.
func TestSplunkAllEventsBackup(t *testing.T) {
	st := startSplunk(t, "allevents", "        s3_backup_mode: AllEvents\n", "")
	c := firehoseClient(st.s.Endpoint)
	const n = 200
	acked := putBatches(t, c, st.name, n, func(i int) string { return splunkEvent("all", i) })
	want := make([]string, n)
	for i := range want {
		want[i] = eventKey("all", i)
	}
	waitIndexed(t, st.srv, want, 60*time.Second)
	seen, _ := waitRecords(t, st.m, st.bucket, "", s3sink.Uncompressed, acked, 60*time.Second)
	for _, a := range acked {
		if seen[a] == 0 {
			t.Errorf("record %s not in the AllEvents backup", a)
		}
	}
	if objs := readObjects(t, st.m, st.bucket, "splunk-failed/", s3sink.Uncompressed); len(objs) != 0 {
		t.Errorf("%d failure objects; nothing failed", len(objs))
	}
}

// The raw endpoint: records are bytes, each line an event, host/sourcetype from the wrap
// block as query parameters.
func TestSplunkRawEndpoint(t *testing.T) {
	st := startSplunk(t, "raw", "        endpoint_type: Raw\n        wrap: {host: web-1, sourcetype: access_combined}\n", "")
	c := firehoseClient(st.s.Endpoint)
	const n = 500
	gen := func(i int) string { return fmt.Sprintf(`127.0.0.1 - - "GET /page/%d HTTP/1.1" 200 %d`, i, 100+i) }
	putBatches(t, c, st.name, n, gen)
	want := make([]string, n)
	for i := range want {
		want[i] = gen(i)
	}
	counts := waitIndexed(t, st.srv, want, 60*time.Second)
	for _, w := range want {
		if counts[w] != 1 {
			t.Errorf("line %q indexed %d times", w, counts[w])
		}
	}
	e := st.srv.Events()[0]
	if e.Endpoint != "raw" || e.Host != "web-1" || e.Sourcetype != "access_combined" {
		t.Errorf("event %+v: want a raw event with the wrap's host and sourcetype", e)
	}
}

// The Firehose API path: CreateDeliveryStream with SplunkDestinationConfiguration (AWS SDK
// for Go v2); DescribeDeliveryStream shows SplunkDestinationDescription without the
// HECToken; records put are indexed; an out-of-range ack timeout is a ValidationException
// naming the member and its limit.
func TestSplunkFirehoseAPI(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "splunk-api")
	srv := hec.NewServer(hec.Options{})
	t.Cleanup(srv.Close) // after sluice stopped (cleanups run last in, first out)
	srv.AddToken(splunkToken, true)
	s := startFirehoseSluice(t, m, "")
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()
	cfg := func(timeout int32) *types.SplunkDestinationConfiguration {
		return &types.SplunkDestinationConfiguration{
			HECEndpoint: aws.String(srv.URL), HECEndpointType: types.HECEndpointTypeEvent, HECToken: aws.String(splunkToken),
			HECAcknowledgmentTimeoutInSeconds: aws.Int32(timeout),
			BufferingHints:                    &types.SplunkBufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)},
			RetryOptions:                      &types.SplunkRetryOptions{DurationInSeconds: aws.Int32(600)},
			S3Configuration: &types.S3DestinationConfiguration{BucketARN: aws.String("arn:aws:s3:::" + bucket),
				RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose")},
		}
	}
	_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("api-bad"), SplunkDestinationConfiguration: cfg(100)})
	if err == nil || !strings.Contains(err.Error(), "splunkDestinationConfiguration.hECAcknowledgmentTimeoutInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 180") {
		t.Fatalf("ack timeout 100: %v, want a ValidationException naming the member and 180", err)
	}
	if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("api-splunk"), SplunkDestinationConfiguration: cfg(300)}); err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("api-splunk")})
	if err != nil {
		t.Fatal(err)
	}
	sd := d.DeliveryStreamDescription.Destinations[0].SplunkDestinationDescription
	if sd == nil || aws.ToString(sd.HECEndpoint) != srv.URL || sd.HECEndpointType != types.HECEndpointTypeEvent || sd.HECToken != nil ||
		aws.ToInt32(sd.HECAcknowledgmentTimeoutInSeconds) != 300 || aws.ToInt32(sd.RetryOptions.DurationInSeconds) != 600 ||
		sd.S3BackupMode != types.SplunkS3BackupModeFailedEventsOnly || sd.S3DestinationDescription == nil {
		t.Fatalf("SplunkDestinationDescription %+v", sd)
	}
	// the raw reply never carries the token
	capture := &bodyCapture{rt: http.DefaultTransport}
	raw := firehose.New(firehose.Options{BaseEndpoint: aws.String(s.Endpoint), Region: "us-east-1", Credentials: c.Options().Credentials,
		HTTPClient: &http.Client{Transport: capture}, RetryMaxAttempts: 1})
	if _, err := raw.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("api-splunk")}); err != nil {
		t.Fatal(err)
	}
	body := capture.last
	if bytes.Contains(body, []byte(splunkToken)) || bytes.Contains(body, []byte("HECToken")) || !bytes.Contains(body, []byte("SplunkDestinationDescription")) {
		t.Fatalf("DescribeDeliveryStream reply: %s", body)
	}
	const n = 100
	putBatches(t, c, "api-splunk", n, func(i int) string { return splunkEvent("api", i) })
	want := make([]string, n)
	for i := range want {
		want[i] = eventKey("api", i)
	}
	waitIndexed(t, srv, want, 60*time.Second) // acks polled every 5 s (the default)
	if strings.Contains(s.Log(), splunkToken) {
		t.Fatal("the log contains the token")
	}
}

// bodyCapture keeps the body of the last response it carried.
type bodyCapture struct {
	rt   http.RoundTripper
	last []byte
}

func (b *bodyCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b.last, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b.last))
	return resp, nil
}

// HEC busy for longer than the retry duration (5 s, counted from the first failure): the
// records go to splunk-failed/ with Splunk.ServerError, HEC's answer as errorMessage and
// their EventId, after several attempts.
func TestSplunkRetryDurationEnds(t *testing.T) {
	st := startSplunk(t, "giveup", "", "      retry_duration: 5s\n")
	st.srv.SetBusy(time.Hour)
	c := firehoseClient(st.s.Endpoint)
	const n = 20
	out, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(st.name),
		Records: func() []types.Record {
			var rs []types.Record
			for i := range n {
				rs = append(rs, types.Record{Data: []byte(splunkEvent("giveup", i) + "\n")})
			}
			return rs
		}()})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	ids := map[string]bool{}
	for _, r := range out.RequestResponses {
		ids[aws.ToString(r.RecordId)+".0"] = true
	}
	deadline := time.Now().Add(90 * time.Second)
	var fails []splunkFailure
	for {
		fails, _ = splunkFailures(t, readObjects(t, st.m, st.bucket, "splunk-failed/", s3sink.Uncompressed))
		if len(fails) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records under splunk-failed/ after 90 s", len(fails), n)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, f := range fails {
		if f.ErrorCode != "Splunk.ServerError" || !strings.Contains(f.ErrorMessage, `"code":9`) || f.AttemptsMade < 2 || !ids[f.EventID] {
			t.Errorf("failure %+v: want Splunk.ServerError quoting code 9, several attempts and the EventId of a record put", f)
		}
	}
}
