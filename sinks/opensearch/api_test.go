package opensearch

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
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

const createJSON = `{"RoleARN":"arn:aws:iam::123456789012:role/firehose","ClusterEndpoint":"https://u:hunter22@search.example:9200",
	"IndexName":"events","S3Configuration":{"RoleARN":"arn:aws:iam::123456789012:role/firehose","BucketARN":"arn:aws:s3:::backup"}}`

func decode(t *testing.T, raw string) *API {
	t.Helper()
	c, err := sinks.Decode("opensearch", json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*API)
}

func TestCheckAPIAndDefaults(t *testing.T) {
	a := decode(t, createJSON)
	var v checks
	a.CheckAPI(&v, "amazonopensearchserviceDestinationConfiguration", MemberCreate, true)
	if len(v.problems) > 0 {
		t.Fatalf("problems %v", v.problems)
	}
	if err := a.Validate(nil); err != nil {
		t.Fatal(err)
	}
	st := a.Settings()
	if st.SizeMiB != 5 || st.IntervalSec != 300 || *st.RetrySeconds != 300 {
		t.Errorf("settings %+v", st)
	}
	cfg, _ := a.config(sinks.Env{})
	if cfg.Rotation != OneDay || !cfg.DocumentIDs {
		t.Errorf("config %+v", cfg)
	}

	bad := decode(t, `{"IndexRotationPeriod":"OneYear","BufferingHints":{"SizeInMBs":0,"IntervalInSeconds":901},
		"RetryOptions":{"DurationInSeconds":7201},"S3BackupMode":"AllData","DocumentIdOptions":{"DefaultDocumentIdFormat":"UUID"}}`)
	v = checks{}
	bad.CheckAPI(&v, "c", MemberCreate, true)
	got := strings.Join(v.problems, "; ")
	for _, want := range []string{"c.roleARN required", "c.indexName required", "c.s3Configuration required", "c.indexRotationPeriod enum",
		"c.bufferingHints.sizeInMBs range 0", "c.bufferingHints.intervalInSeconds range 901", "c.retryOptions.durationInSeconds range 7201",
		"c.s3BackupMode enum", "c.documentIdOptions.defaultDocumentIdFormat enum"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
}

func TestValidateEndpoint(t *testing.T) {
	for raw, want := range map[string]string{
		`{"DomainARN":"arn:aws:s3:::not-a-domain","IndexName":"i","S3Configuration":{}}`:                                                   "is not an OpenSearch domain ARN",
		`{"IndexName":"i","S3Configuration":{}}`:                                                                                           "One of DomainARN or ClusterEndpoint",
		`{"ClusterEndpoint":"ftp://x","IndexName":"i","S3Configuration":{}}`:                                                               "not an http",
		`{"ClusterEndpoint":"https://x","DomainARN":"arn:aws:es:us-east-1:123456789012:domain/logs","IndexName":"i","S3Configuration":{}}`: "Only one",
		`{"ClusterEndpoint":"https://x","IndexName":"i"}`:                                                                                  "S3Configuration is required",
	} {
		err := decode(t, raw).Validate(nil)
		if !errors.Is(err, record.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an IAE with %q", raw, err, want)
		}
	}
}

// A DomainARN reaches the cluster that firehose.opensearch_domains maps it to; an unmapped
// one is refused when the destination is built, naming the config key.
func TestDomainARNMapping(t *testing.T) {
	arn := "arn:aws:es:us-east-1:123456789012:domain/logs"
	a := decode(t, `{"DomainARN":"`+arn+`","IndexName":"i","S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}`)
	if err := a.Validate(nil); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c, err := a.config(sinks.Env{Domains: map[string]string{arn: "http://127.0.0.1:9200"}})
	if err != nil || c.Endpoint != "http://127.0.0.1:9200" {
		t.Fatalf("mapped: endpoint %q, %v", c.Endpoint, err)
	}
	_, err = a.config(sinks.Env{Domains: map[string]string{}})
	if !errors.Is(err, record.ErrInvalidArgument) || !strings.Contains(err.Error(), "firehose.opensearch_domains") {
		t.Fatalf("unmapped: %v; want an IAE naming firehose.opensearch_domains", err)
	}
}

func TestDescribe(t *testing.T) {
	a := decode(t, createJSON)
	a.SluicePassword = "s3cret-pw"
	a.CheckAPI(&checks{}, "x", MemberCreate, true)
	d := a.Describe()
	b, _ := json.Marshal(d)
	if strings.Contains(string(b), "hunter22") || strings.Contains(string(b), "s3cret-pw") || strings.Contains(string(b), "Sluice") {
		t.Errorf("description shows a secret or a Sluice member: %s", b)
	}
	desc, ok := d[DescriptionMember].(map[string]any)
	if !ok {
		t.Fatalf("description %s", b)
	}
	if desc["IndexRotationPeriod"] != OneDay || desc["S3BackupMode"] != FailedDocumentsOnly || desc["S3DestinationDescription"] == nil ||
		desc["ClusterEndpoint"] != "https://u@search.example:9200" {
		t.Errorf("description %s", b)
	}

	es := decode(t, createJSON)
	es.CheckAPI(&checks{}, "x", MemberCreateES, true)
	// the member survives persistence (the definition is this JSON)
	raw, _ := json.Marshal(es)
	if _, ok := decode(t, string(raw)).Describe()[DescriptionMemberES]; !ok {
		t.Errorf("created with %s, described as %v", MemberCreateES, decode(t, string(raw)).Describe())
	}
}

func TestMerge(t *testing.T) {
	a := decode(t, createJSON)
	a.SluicePassword = "pw"
	c, err := a.Merge(MemberUpdate, json.RawMessage(`{"IndexName":"other","IndexRotationPeriod":"OneHour","SluicePassword":"evil",
		"S3Update":{"Prefix":"p/"},"DocumentIdOptions":{"DefaultDocumentIdFormat":"NO_DOCUMENT_ID"}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.(*API)
	if m.IndexName != "other" || m.IndexRotationPeriod != OneHour || m.SluicePassword != "pw" || m.S3Configuration.Prefix == nil ||
		*m.S3Configuration.Prefix != "p/" || m.S3Configuration.Bucket() != "backup" || m.documentIDFormat() != noDocumentID || m.S3Update != nil {
		t.Errorf("merged %+v", m)
	}
	if a.IndexName != "events" {
		t.Error("Merge changed the original")
	}
}

func TestBuild(t *testing.T) {
	a := decode(t, createJSON)
	a.S3BackupMode = AllDocuments
	b, err := a.Build(sinks.Env{DeliveryStream: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Sink == nil || b.Errors == nil || b.Backup == nil || b.FailedType != "AmazonOpenSearchService-failed" {
		t.Errorf("built %+v", b)
	}
	a.S3BackupMode = ""
	if b, _ := a.Build(sinks.Env{}); b.Backup != nil {
		t.Error("FailedDocumentsOnly has an AllDocuments backup")
	}
}

func decodeS3(t *testing.T) *s3.API {
	return decode(t, createJSON).S3Configuration
}

// A plain http:// endpoint off this machine needs firehose.allow_insecure_endpoints;
// loopback and https never do; validating a configuration alone does not judge it.
func TestInsecureEndpoints(t *testing.T) {
	for ep, want := range map[string]string{
		"http://search.example.com:9200": "allow_insecure_endpoints",
		"http://10.1.2.3:9200":           "allow_insecure_endpoints",
		"http://127.0.0.1:9200":          "",
		"http://localhost:9200":          "",
		"http://[::1]:9200":              "",
		"https://search.example.com":     "",
	} {
		a := decode(t, `{"ClusterEndpoint":"`+ep+`","IndexName":"i","S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}`)
		_, err := a.config(sinks.Env{Domains: map[string]string{}})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", ep, err, want)
		}
		if _, err := a.config(sinks.Env{Domains: map[string]string{}, AllowInsecure: true}); err != nil {
			t.Errorf("%s with allow_insecure_endpoints: %v", ep, err)
		}
		if err := a.Validate(nil); err != nil {
			t.Errorf("%s: Validate alone: %v", ep, err)
		}
	}
}
