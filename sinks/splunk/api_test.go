package splunk_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/sinks"
	_ "github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sinks/splunk"
	"github.com/sluice-io/sluice/sources/record"
)

const createJSON = `{"HECEndpoint":"https://hec.example:8088","HECEndpointType":"Event","HECToken":"6d5ee6b5-secret-token",
	"S3Configuration":{"RoleARN":"arn:aws:iam::123456789012:role/firehose","BucketARN":"arn:aws:s3:::backup"}}`

func decode(t *testing.T, raw string) *splunk.API {
	t.Helper()
	c, err := sinks.Decode("splunk", json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*splunk.API)
}

// checkAPI returns the ValidationException text of a configuration (create shape).
func checkAPI(a *splunk.API, create bool) string {
	var v awsproto.Validation
	a.CheckAPI(&v, "splunkDestinationConfiguration", splunk.MemberCreate, create)
	if e := v.Err(); e != nil {
		return e.Message
	}
	return ""
}

func TestDefaults(t *testing.T) {
	a := decode(t, createJSON)
	if msg := checkAPI(a, true); msg != "" {
		t.Fatal(msg)
	}
	if err := a.Validate(nil); err != nil {
		t.Fatal(err)
	}
	st := a.Settings()
	if st.SizeMiB != 5 || st.IntervalSec != 60 || *st.RetrySeconds != 3600 {
		t.Errorf("settings %+v, want 5 MiB, 60 s, retry 3600 s", st)
	}
	b, err := a.Build(sinks.Env{DeliveryStream: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if b.FailedType != "splunk-failed" || b.RetryClock != sinks.FromFirstFailure || b.Backup != nil || b.Errors == nil {
		t.Errorf("built %+v", b)
	}
	// records given up after the retry duration carry EventId too
	if f := b.FailureFields(record.Record{SequenceNumber: "4900", SubSequence: 2}); len(f) != 1 || f[0].Key != "EventId" || f[0].Value != "4900.2" {
		t.Errorf("FailureFields = %+v", f)
	}
	a.S3BackupMode = splunk.AllEvents
	if b, _ := a.Build(sinks.Env{}); b.Backup == nil {
		t.Error("AllEvents has no backup of every record")
	}
}

// The model constraints, in AWS's words, each naming the member and its limit.
func TestCheckAPIMessages(t *testing.T) {
	a := decode(t, `{"HECEndpointType":"Json","HECAcknowledgmentTimeoutInSeconds":179,"RetryOptions":{"DurationInSeconds":7201},
		"S3BackupMode":"AllDocuments","BufferingHints":{"SizeInMBs":0,"IntervalInSeconds":61},"HECToken":"`+strings.Repeat("x", 2049)+`"}`)
	msg := checkAPI(a, true)
	for _, want := range []string{
		"Value null at 'splunkDestinationConfiguration.hECEndpoint' failed to satisfy constraint: Member must not be null",
		"Value null at 'splunkDestinationConfiguration.s3Configuration' failed to satisfy constraint: Member must not be null",
		"'splunkDestinationConfiguration.hECEndpointType' failed to satisfy constraint: Member must satisfy enum value set: [Raw, Event]",
		"'splunkDestinationConfiguration.hECAcknowledgmentTimeoutInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 180",
		"'splunkDestinationConfiguration.retryOptions.durationInSeconds' failed to satisfy constraint: Member must have value less than or equal to 7200",
		"'splunkDestinationConfiguration.s3BackupMode' failed to satisfy constraint: Member must satisfy enum value set: [FailedEventsOnly, AllEvents]",
		"'splunkDestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value greater than or equal to 1",
		"'splunkDestinationConfiguration.bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 60",
		"'splunkDestinationConfiguration.hECToken' failed to satisfy constraint: Member must have length less than or equal to 2048",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "xxxxxxxx") {
		t.Error("the message quotes the token")
	}
	b := decode(t, `{"HECAcknowledgmentTimeoutInSeconds":601}`)
	if msg := checkAPI(b, false); !strings.Contains(msg, "hECAcknowledgmentTimeoutInSeconds' failed to satisfy constraint: Member must have value less than or equal to 600") {
		t.Errorf("update: %s", msg)
	}
}

func TestValidateMessages(t *testing.T) {
	s3c := `,"S3Configuration":{"BucketARN":"arn:aws:s3:::b"}`
	for raw, want := range map[string]string{
		`{"HECEndpointType":"Event","HECToken":"t"` + s3c + `}`:                                                                        "HECEndpoint is required",
		`{"HECEndpoint":"ftp://x","HECEndpointType":"Event","HECToken":"t"` + s3c + `}`:                                                "not an http:// or https:// URL",
		`{"HECEndpoint":"https://x","HECEndpointType":"Json","HECToken":"t"` + s3c + `}`:                                               "HECEndpointType \"Json\" is not Raw or Event",
		`{"HECEndpoint":"https://x","HECEndpointType":"Raw"` + s3c + `}`:                                                               "HECToken is required",
		`{"HECEndpoint":"https://x","HECEndpointType":"Raw","HECToken":"t"}`:                                                           "S3Configuration is required",
		`{"HECEndpoint":"https://x","HECEndpointType":"Raw","HECToken":"t","HECAcknowledgmentTimeoutInSeconds":90` + s3c + `}`:         "HECAcknowledgmentTimeoutInSeconds 90 is outside 180..600",
		`{"HECEndpoint":"https://x","HECEndpointType":"Raw","HECToken":"t","BufferingHints":{"IntervalInSeconds":300}` + s3c + `}`:     "IntervalInSeconds 300 is over Splunk's maximum of 60 seconds",
		`{"HECEndpoint":"https://x","HECEndpointType":"Raw","HECToken":"t","SecretsManagerConfiguration":{"Enabled":true}` + s3c + `}`: "SecretsManagerConfiguration is not supported",
	} {
		err := decode(t, raw).Validate(nil)
		if !errors.Is(err, record.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an IAE with %q", raw, err, want)
		}
	}
}

// Describe never shows the token (nor a password in the endpoint URL), and shows the
// effective defaults.
func TestDescribeWithoutToken(t *testing.T) {
	a := decode(t, strings.Replace(createJSON, "https://hec.example:8088", "https://u:pw-in-url@hec.example:8088", 1))
	d := a.Describe()
	b, _ := json.Marshal(d)
	if strings.Contains(string(b), "secret-token") || strings.Contains(string(b), "HECToken") || strings.Contains(string(b), "pw-in-url") || strings.Contains(string(b), "Sluice") {
		t.Fatalf("description shows a secret: %s", b)
	}
	desc := d[splunk.DescriptionMember].(map[string]any)
	if desc["HECEndpointType"] != "Event" || desc["HECAcknowledgmentTimeoutInSeconds"] != 180 || desc["S3BackupMode"] != "FailedEventsOnly" ||
		desc["S3DestinationDescription"] == nil || desc["HECEndpoint"] != "https://u@hec.example:8088" {
		t.Errorf("description %s", b)
	}
	if lv := a.LogValue().String(); strings.Contains(lv, "secret-token") {
		t.Errorf("log value shows the token: %s", lv)
	}
}

func TestMerge(t *testing.T) {
	a := decode(t, createJSON)
	c, err := a.Merge(splunk.MemberUpdate, json.RawMessage(`{"HECEndpointType":"Raw","HECAcknowledgmentTimeoutInSeconds":300,"S3Update":{"Prefix":"p/"},"SluiceAckPollMs":1}`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.(*splunk.API)
	if m.HECEndpointType != "Raw" || *m.HECAcknowledgmentTimeoutInSeconds != 300 || m.HECToken != "6d5ee6b5-secret-token" ||
		*m.S3Configuration.Prefix != "p/" || m.S3Configuration.Bucket() != "backup" || m.SluiceAckPollMs != 0 || m.S3Update != nil {
		t.Errorf("merged %+v", m)
	}
	if a.HECEndpointType != "Event" {
		t.Error("Merge changed the original")
	}
	all := decode(t, createJSON)
	all.S3BackupMode = splunk.AllEvents
	if _, err := all.Merge(splunk.MemberUpdate, json.RawMessage(`{"S3BackupMode":"FailedEventsOnly"}`)); !errors.Is(err, record.ErrInvalidArgument) {
		t.Errorf("AllEvents → FailedEventsOnly: %v, want an IAE", err)
	}
}

func TestInsecureEndpoint(t *testing.T) {
	a := decode(t, strings.Replace(createJSON, "https://hec.example:8088", "http://hec.example:8088", 1))
	if err := a.Validate(nil); err != nil {
		t.Fatalf("Validate alone: %v", err)
	}
	if _, err := a.Build(sinks.Env{Domains: map[string]string{}}); err == nil || !strings.Contains(err.Error(), "allow_insecure_endpoints") {
		t.Errorf("plain http off this machine: %v", err)
	}
	if _, err := a.Build(sinks.Env{Domains: map[string]string{}, AllowInsecure: true}); err != nil {
		t.Errorf("with allow_insecure_endpoints: %v", err)
	}
}

func TestYAML(t *testing.T) {
	y := `delivery_streams:
  - name: logs
    buffer: {size: 1MiB, interval: 10s}
    destination:
      type: splunk
      retry_duration: 600s
      splunk:
        endpoint: https://hec.example:8088
        endpoint_type: Raw
        token: 6d5ee6b5-secret-token
        ack_timeout: 300s
        ack_poll_interval: 1s
        require_ack: false
        wrap: {host: web-1, sourcetype: _json, index: main}
        s3: {bucket: backup, error_output_prefix: 'failed/'}
        s3_backup_mode: AllEvents
`
	c, err := config.Parse("c.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := c.DeliveryStreams[0].DestinationConfig("arn:aws:iam::000000000000:role/sluice")
	if err != nil {
		t.Fatal(err)
	}
	a := dc.(*splunk.API)
	if a.HECEndpoint != "https://hec.example:8088" || a.HECEndpointType != "Raw" || a.HECToken != "6d5ee6b5-secret-token" ||
		*a.HECAcknowledgmentTimeoutInSeconds != 300 || a.SluiceAckPollMs != 1000 || !a.SluiceAcceptNoAck ||
		a.SluiceWrap.Host != "web-1" || a.SluiceWrap.Index != "main" || a.S3BackupMode != "AllEvents" || a.S3Configuration.Bucket() != "backup" {
		t.Errorf("API %+v", a)
	}
	if st := a.Settings(); st.SizeMiB != 1 || st.IntervalSec != 10 {
		t.Errorf("settings %+v", st)
	}
	if b, _ := json.Marshal(a.Describe()); strings.Contains(string(b), "secret-token") {
		t.Errorf("description shows the token: %s", b)
	}
	for bad, want := range map[string]string{
		"token: t\n        s3: {bucket: b}\n":                                                           "splunk.endpoint: is required",
		"endpoint: https://x\n        s3: {bucket: b}\n":                                                "splunk.token: is required",
		"endpoint: https://x\n        token: t\n":                                                       "splunk.s3: is required",
		"endpoint: https://x\n        token: t\n        endpoint_type: Json\n        s3: {bucket: b}\n": "splunk.endpoint_type",
		"endpoint: https://x\n        token: t\n        ack_timeout: 60s\n        s3: {bucket: b}\n":    "splunk.ack_timeout: 1m0s is outside 180s..600s",
		"endpoint: https://x\n        token: t\n        nope: 1\n        s3: {bucket: b}\n":             "splunk.nope: unknown key",
	} {
		doc := "delivery_streams:\n  - name: a\n    destination:\n      type: splunk\n      splunk:\n        " + bad
		if _, err := config.Parse("c.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", bad, err, want)
		}
	}
	// the buffer interval is bounded by Splunk's 60 s
	doc := "delivery_streams:\n  - name: a\n    buffer: {interval: 300s}\n    destination:\n      type: splunk\n      splunk:\n        endpoint: https://x\n        token: t\n        s3: {bucket: b}\n"
	if _, err := config.Parse("c.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), "maximum of 60 seconds") {
		t.Errorf("interval 300s: %v", err)
	}
}
