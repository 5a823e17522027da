//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/integration/hec"
)

// splunkToken is the HEC token of the tests; no log line may contain it.
const splunkToken = "3f1d6a2e-7b8c-4d9e-a0f1-5c2b8e9d7a64"

// The sluice processes of the Splunk tests (some parallel, so no t.Setenv) never ask the
// EC2 instance metadata service.
func init() { _ = os.Setenv("AWS_EC2_METADATA_DISABLED", "true") }

// splunkStream is one config-declared delivery stream to an HEC test server, its S3
// backup in a MinIO bucket.
type splunkStream struct {
	name   string
	srv    *hec.Server
	m      *harness.MinIOServer
	bucket string
	s      *harness.Sluice
}

// startSplunk starts an HEC test server (token splunkToken, acknowledgement on) and sluice
// with the delivery stream name to it: buffer 1 MiB / 1 s, acks polled every 200 ms, and
// splunkKeys (lines at the splunk block's indentation, 8 spaces) and destKeys (at the
// destination's, 6 spaces) added.
func startSplunk(t *testing.T, name, splunkKeys, destKeys string) *splunkStream {
	t.Helper()
	srv := hec.NewServer(hec.Options{})
	t.Cleanup(srv.Close)
	srv.AddToken(splunkToken, true)
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "splunk-"+name)
	y := fmt.Sprintf("delivery_streams:\n  - name: %s\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: splunk\n%s"+
		"      splunk:\n        endpoint: '%s'\n        token: %s\n        ack_poll_interval: 200ms\n%s"+
		"        s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}\n",
		name, destKeys, srv.URL, splunkToken, splunkKeys, bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey)
	s := harness.StartSluice(t, y)
	t.Cleanup(func() {
		if re := regexp.MustCompile(regexp.QuoteMeta(splunkToken)); re.MatchString(s.Log()) {
			t.Error("the sluice log contains the HEC token")
		}
	})
	return &splunkStream{name: name, srv: srv, m: m, bucket: bucket, s: s}
}

// splunkEvent is record i of a test: an HEC event object (with a trailing line break).
func splunkEvent(tag string, i int) string {
	return fmt.Sprintf(`{"event":{"case":%q,"i":%d},"sourcetype":"_json"}`, tag, i)
}

// eventKey is how the HEC server counts splunkEvent(tag, i): by its event member.
func eventKey(tag string, i int) string { return fmt.Sprintf(`{"case":%q,"i":%d}`, tag, i) }

// waitIndexed polls until the server indexed every key of want at least once, and returns
// the counts.
func waitIndexed(t *testing.T, srv *hec.Server, want []string, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := srv.Counts()
		missing := 0
		for _, w := range want {
			if c[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events not indexed after %s", missing, len(want), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricSum is the sum of the samples of a metric line matching the regular expression
// prefix (e.g. `sluice_firehose_splunk_ack_timeouts_total\{stream="x"\}`) in /metrics.
func metricSum(t *testing.T, s *harness.Sluice, prefix string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + prefix + ` ([0-9.e+]+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(httpGet(t, s.Endpoint+"/metrics"), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}

// splunkFailure is a line of a splunk-failed object.
type splunkFailure struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                []byte `json:"rawData"`
	EventID                string `json:"EventId"`
}

// splunkFailures decodes every failure line under prefix, with its key order.
func splunkFailures(t *testing.T, objs map[string][]byte) (recs []splunkFailure, raw []string) {
	t.Helper()
	for k, d := range objs {
		for _, l := range lines(d) {
			var f splunkFailure
			if err := json.Unmarshal([]byte(l), &f); err != nil {
				t.Fatalf("%s: failure line %q: %v", k, l, err)
			}
			recs = append(recs, f)
			raw = append(raw, l)
		}
	}
	return recs, raw
}
