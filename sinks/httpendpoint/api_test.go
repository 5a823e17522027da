package httpendpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// checks records every model-constraint violation.
type checks struct{ problems []string }

func (c *checks) Required(path string, present bool) bool {
	if !present {
		c.problems = append(c.problems, path+" required")
	}
	return present
}
func (c *checks) Length(path, s string, min, max int) {
	if len(s) < min || len(s) > max {
		c.problems = append(c.problems, path+" length")
	}
}
func (c *checks) Pattern(path, s string, re *regexp.Regexp, _ string) {
	if !re.MatchString(s) {
		c.problems = append(c.problems, path+" pattern")
	}
}
func (c *checks) Range(path string, n, min, max int64) {
	if n < min || n > max {
		c.problems = append(c.problems, fmt.Sprintf("%s range %d", path, n))
	}
}
func (c *checks) Enum(path, s string, vals ...string) {
	for _, v := range vals {
		if v == s {
			return
		}
	}
	c.problems = append(c.problems, path+" enum")
}

const createJSON = `{"EndpointConfiguration":{"Url":"https://collector.example/ingest?a=b","Name":"collector","AccessKey":"topsecret-key"},
	"RequestConfiguration":{"ContentEncoding":"GZIP","CommonAttributes":[{"AttributeName":"env","AttributeValue":"prod"}]},
	"RoleARN":"arn:aws:iam::123456789012:role/firehose",
	"S3Configuration":{"RoleARN":"arn:aws:iam::123456789012:role/firehose","BucketARN":"arn:aws:s3:::backup"}}`

func decode(t *testing.T, raw string) *API {
	t.Helper()
	c, err := sinks.Decode(Name, json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*API)
}

func TestCheckAPIAndDefaults(t *testing.T) {
	a := decode(t, createJSON)
	var c checks
	a.CheckAPI(&c, "httpEndpointDestinationConfiguration", MemberCreate, true)
	if len(c.problems) != 0 {
		t.Fatalf("valid config: %v", c.problems)
	}
	st := a.Settings()
	if st.SizeMiB != 5 || st.IntervalSec != 300 || *st.RetrySeconds != 300 {
		t.Errorf("defaults %+v", st)
	}
	bad := decode(t, `{"EndpointConfiguration":{"Url":"ftp://x"},"RequestConfiguration":{"ContentEncoding":"ZSTD","CommonAttributes":[{"AttributeName":"","AttributeValue":"v"}]},
		"BufferingHints":{"SizeInMBs":0,"IntervalInSeconds":901},"RetryOptions":{"DurationInSeconds":7201},"S3BackupMode":"Everything"}`)
	c = checks{}
	bad.CheckAPI(&c, "p", MemberCreate, true)
	want := []string{"p.s3Configuration required", "p.endpointConfiguration.url pattern", "p.requestConfiguration.contentEncoding enum",
		"p.requestConfiguration.commonAttributes.1.member.attributeName required", "p.bufferingHints.sizeInMBs range 0",
		"p.bufferingHints.intervalInSeconds range 901", "p.retryOptions.durationInSeconds range 7201", "p.s3BackupMode enum"}
	if fmt.Sprint(c.problems) != fmt.Sprint(want) {
		t.Errorf("problems\n%v\nwant\n%v", c.problems, want)
	}
	long := decode(t, `{"EndpointConfiguration":{"Url":"https://`+strings.Repeat("a", 1000)+`"}}`)
	c = checks{}
	long.CheckAPI(&c, "p", MemberCreate, false)
	if fmt.Sprint(c.problems) != "[p.endpointConfiguration.url length]" {
		t.Errorf("long URL: %v", c.problems)
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]string{
		`{"S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}`:                                                  "EndpointConfiguration.Url is required",
		`{"EndpointConfiguration":{"Url":"https://x"}}`:                                                       "S3Configuration is required",
		`{"EndpointConfiguration":{"Url":"https://u:pw@x"},"S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}`: "user information",
		`{"EndpointConfiguration":{"Url":"https://x"},"S3Configuration":{"BucketARN":"arn:aws:s3:::b"},"SecretsManagerConfiguration":{"Enabled":true,"SecretARN":"arn:x"}}`:                                                                "SecretsManagerConfiguration is not supported",
		`{"EndpointConfiguration":{"Url":"https://x"},"S3Configuration":{"BucketARN":"arn:aws:s3:::b"},"RequestConfiguration":{"CommonAttributes":[{"AttributeName":"a","AttributeValue":""},{"AttributeName":"a","AttributeValue":""}]}}`: "twice",
	}
	for raw, want := range cases {
		err := decode(t, raw).Validate(nil)
		if err == nil || !strings.Contains(record.Message(err), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
	ok := decode(t, `{"EndpointConfiguration":{"Url":"https://x"},"S3Configuration":{"BucketARN":"arn:aws:s3:::b"},"SecretsManagerConfiguration":{"Enabled":false}}`)
	if err := ok.Validate(nil); err != nil {
		t.Errorf("disabled SecretsManagerConfiguration: %v", err)
	}
}

func TestDescribeHidesAccessKey(t *testing.T) {
	a := decode(t, createJSON)
	d := a.Describe()
	b, _ := json.Marshal(d)
	if strings.Contains(string(b), "topsecret") || strings.Contains(string(b), "AccessKey") {
		t.Fatalf("Describe echoes the access key: %s", b)
	}
	desc := d[DescriptionMember].(map[string]any)
	if ec := desc["EndpointConfiguration"].(map[string]any); ec["Url"] != "https://collector.example/ingest?a=b" || ec["Name"] != "collector" {
		t.Errorf("EndpointConfiguration %v", ec)
	}
	if desc["S3BackupMode"] != FailedDataOnly || desc["S3DestinationDescription"] == nil {
		t.Errorf("description %s", b)
	}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("config", "destination", a)
	if strings.Contains(sb.String(), "topsecret") {
		t.Errorf("the log shows the access key: %s", sb.String())
	}
	if s := fmt.Sprintf("%v %+v", a.EndpointConfiguration.AccessKey, *a.EndpointConfiguration); strings.Contains(s, "topsecret") {
		t.Errorf("fmt shows the access key: %s", s)
	}
}

func TestMerge(t *testing.T) {
	a := decode(t, createJSON)
	a.SluiceBackupOn413 = true
	m, err := a.Merge(MemberUpdate, json.RawMessage(`{"EndpointConfiguration":{"Url":"https://new.example/"},"RequestConfiguration":{"ContentEncoding":"NONE"},"S3BackupMode":"AllData"}`))
	if err != nil {
		t.Fatal(err)
	}
	n := m.(*API)
	if n.EndpointConfiguration.Url != "https://new.example/" || n.EndpointConfiguration.AccessKey != "topsecret-key" || *n.EndpointConfiguration.Name != "collector" {
		t.Errorf("EndpointConfiguration merged to %+v", n.EndpointConfiguration)
	}
	if n.RequestConfiguration.ContentEncoding != "NONE" || len(n.RequestConfiguration.CommonAttributes) != 1 || n.S3BackupMode != AllData || !n.SluiceBackupOn413 {
		t.Errorf("merged %+v", n)
	}
	if a.EndpointConfiguration.Url != "https://collector.example/ingest?a=b" {
		t.Error("Merge changed the current configuration")
	}
}

func TestBuildInsecureAndClock(t *testing.T) {
	raw := func(u string) string {
		return `{"EndpointConfiguration":{"Url":"` + u + `"},"S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}`
	}
	env := sinks.Env{Domains: map[string]string{}, ARN: "arn:aws:firehose:us-east-1:000000000000:deliverystream/x"}
	if _, err := decode(t, raw("http://collector.example/")).Build(env); err == nil || !strings.Contains(record.Message(err), "allow_insecure_endpoints") {
		t.Errorf("plain http off loopback: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:8080/", "http://localhost/", "http://[::1]:9/", "https://collector.example/"} {
		b, err := decode(t, raw(u)).Build(env)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if b.RetryClock != sinks.FromFirstFailure || b.FailedType != FailedType || b.FailureFields == nil || b.Backup != nil {
			t.Errorf("%s: built %+v", u, b)
		}
	}
	env.AllowInsecure = true
	if _, err := decode(t, raw("http://collector.example/")).Build(env); err != nil {
		t.Errorf("with allow_insecure_endpoints: %v", err)
	}
	all := decode(t, `{"EndpointConfiguration":{"Url":"https://x/"},"S3BackupMode":"AllData","S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}`)
	if b, err := all.Build(env); err != nil || b.Backup == nil {
		t.Errorf("AllData: %+v %v", b, err)
	}
	if sinks.MetricLabel(Name) != "http" {
		t.Errorf("metric label %q", sinks.MetricLabel(Name))
	}
}

func TestCheckDialsTheEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	a := decode(t, `{"EndpointConfiguration":{"Url":"http://`+addr+`/x"},"S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}`)
	var ck sinks.Checker = a
	if ck.Endpoint() != "http://"+addr+"/x" {
		t.Errorf("Endpoint %q", ck.Endpoint())
	}
	if err := ck.Check(context.Background(), sinks.S3Conn{}); err != nil {
		t.Errorf("Check with a listener: %v", err)
	}
	ln.Close()
	if err := ck.Check(context.Background(), sinks.S3Conn{}); err == nil {
		t.Error("Check with nothing listening passed")
	}
}
