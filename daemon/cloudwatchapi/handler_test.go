package cloudwatchapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

func newServer(t *testing.T, maxSeries int) *httptest.Server {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	reg := prometheus.NewRegistry()
	h := New(Options{MaxSeries: maxSeries, Registerer: reg})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Is(r) {
			http.Error(w, "not cloudwatch", 418)
			return
		}
		h.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func scrape(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func wantLine(t *testing.T, metrics, line string) {
	t.Helper()
	for _, l := range strings.Split(metrics, "\n") {
		if l == line {
			return
		}
	}
	t.Errorf("/metrics lacks %q; has:\n%s", line, grepClient(metrics))
}

func grepClient(m string) string {
	var out []string
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, "sluice_client_metric") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestPutMetricDataSDK(t *testing.T) {
	srv := newServer(t, 100)
	c := cloudwatch.New(cloudwatch.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	_, err := c.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
		Namespace: aws.String("MyKclApp"),
		MetricData: []types.MetricDatum{
			{MetricName: aws.String("RecordsProcessed"), Unit: types.StandardUnitCount,
				Dimensions:      []types.Dimension{{Name: aws.String("ShardId"), Value: aws.String("shardId-000000000001")}, {Name: aws.String("Operation"), Value: aws.String("ProcessTask")}},
				StatisticValues: &types.StatisticSet{SampleCount: aws.Float64(4), Sum: aws.Float64(100), Minimum: aws.Float64(10), Maximum: aws.Float64(40)}},
			{MetricName: aws.String("Time"), Unit: types.StandardUnitMilliseconds, Value: aws.Float64(12.5)},
			{MetricName: aws.String("Latency"), Values: []float64{1, 3}, Counts: []float64{1, 3}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := scrape(t, srv)
	wantLine(t, m, `sluice_client_metric{dimensions="Operation=ProcessTask,ShardId=shardId-000000000001",name="RecordsProcessed",namespace="MyKclApp"} 25`)
	wantLine(t, m, `sluice_client_metric_sum_total{dimensions="Operation=ProcessTask,ShardId=shardId-000000000001",name="RecordsProcessed",namespace="MyKclApp"} 100`)
	wantLine(t, m, `sluice_client_metric_samples_total{dimensions="Operation=ProcessTask,ShardId=shardId-000000000001",name="RecordsProcessed",namespace="MyKclApp"} 4`)
	wantLine(t, m, `sluice_client_metric{dimensions="",name="Time",namespace="MyKclApp"} 12.5`)
	wantLine(t, m, `sluice_client_metric{dimensions="",name="Latency",namespace="MyKclApp"} 2.5`)

	// invalid input is CloudWatch's error, through the SDK
	_, err = c.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
		Namespace:  aws.String("AWS/Kinesis"),
		MetricData: []types.MetricDatum{{MetricName: aws.String("x"), Value: aws.Float64(1)}},
	})
	if err == nil || !strings.Contains(err.Error(), "AWS/") {
		t.Fatalf("AWS/ namespace: %v", err)
	}
}

func post(t *testing.T, srv *httptest.Server, path string, hdr map[string]string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=00")
	req.Header.Set("X-Amz-Date", "20260101T000000Z")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The query protocol (Java SDK v1/v2 of KCL 2.x, the KPL's C++ SDK), gzip-compressed as
// the SDKs send large calls, and JSON 1.0.
func TestPutMetricDataQueryAndJSON(t *testing.T) {
	srv := newServer(t, 100)
	q := url.Values{
		"Action": {"PutMetricData"}, "Version": {"2010-08-01"}, "Namespace": {"KinesisProducerLibrary"},
		"MetricData.member.1.MetricName":                  {"UserRecordsPut"},
		"MetricData.member.1.Dimensions.member.1.Name":    {"StreamName"},
		"MetricData.member.1.Dimensions.member.1.Value":   {"orders"},
		"MetricData.member.1.StatisticValues.SampleCount": {"2"},
		"MetricData.member.1.StatisticValues.Sum":         {"30"},
		"MetricData.member.1.StatisticValues.Minimum":     {"10"},
		"MetricData.member.1.StatisticValues.Maximum":     {"20"},
		"MetricData.member.1.Unit":                        {"Count"},
	}
	st, body := post(t, srv, "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, []byte(q.Encode()))
	if st != 200 || !strings.Contains(body, "<PutMetricDataResponse") {
		t.Fatalf("query: %d %s", st, body)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(q.Encode()))
	zw.Close()
	st, body = post(t, srv, "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"}, gz.Bytes())
	if st != 200 {
		t.Fatalf("gzip query: %d %s", st, body)
	}
	st, body = post(t, srv, "/", map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData"},
		[]byte(`{"Namespace":"KinesisProducerLibrary","MetricData":[{"MetricName":"UserRecordsPut","Dimensions":[{"Name":"StreamName","Value":"orders"}],"Value":6}]}`))
	if st != 200 || body != "{}" {
		t.Fatalf("json: %d %s", st, body)
	}
	m := scrape(t, srv)
	wantLine(t, m, `sluice_client_metric_sum_total{dimensions="StreamName=orders",name="UserRecordsPut",namespace="KinesisProducerLibrary"} 66`)
	wantLine(t, m, `sluice_client_metric_samples_total{dimensions="StreamName=orders",name="UserRecordsPut",namespace="KinesisProducerLibrary"} 5`)
	wantLine(t, m, `sluice_client_metric{dimensions="StreamName=orders",name="UserRecordsPut",namespace="KinesisProducerLibrary"} 6`)

	// errors: a missing namespace (query XML), an unknown action
	st, body = post(t, srv, "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		[]byte("Action=PutMetricData&Version=2010-08-01&MetricData.member.1.MetricName=a&MetricData.member.1.Value=1"))
	if st != 400 || !strings.Contains(body, "<Code>MissingParameter</Code>") || !strings.Contains(body, "Namespace") {
		t.Fatalf("missing namespace: %d %s", st, body)
	}
	st, body = post(t, srv, "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte("Action=ListMetrics&Version=2010-08-01"))
	if st != 400 || !strings.Contains(body, "PutMetricData only, not ListMetrics") {
		t.Fatalf("unknown action: %d %s", st, body)
	}
	st, body = post(t, srv, "/", map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData"},
		[]byte(`{"Namespace":"N","MetricData":[{"MetricName":"m","Value":1,"StatisticValues":{"SampleCount":1,"Sum":1,"Minimum":1,"Maximum":1}}]}`))
	if st != 400 || !strings.Contains(body, "InvalidParameterCombinationException") {
		t.Fatalf("value and statistics: %d %s", st, body)
	}
}

func TestMaxSeriesDropsAndCounts(t *testing.T) {
	srv := newServer(t, 2)
	for _, name := range []string{"a", "b", "c", "a"} {
		st, body := post(t, srv, "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			[]byte("Action=PutMetricData&Version=2010-08-01&Namespace=N&MetricData.member.1.MetricName="+name+"&MetricData.member.1.Value=1"))
		if st != 200 {
			t.Fatalf("%d %s", st, body)
		}
	}
	m := scrape(t, srv)
	wantLine(t, m, "sluice_client_metric_dropped_total 1")
	wantLine(t, m, `sluice_client_metric_samples_total{dimensions="",name="a",namespace="N"} 2`)
	if strings.Contains(m, `name="c"`) {
		t.Fatal("a series over max_series was kept")
	}
}

// FuzzForm feeds the query decoder arbitrary form bodies: it must not panic and must
// never keep more than the bounded number of data.
func FuzzForm(f *testing.F) {
	f.Add("Action=PutMetricData&Namespace=N&MetricData.member.1.MetricName=a&MetricData.member.1.Value=1")
	f.Add("MetricData.member.1000.Dimensions.member.30.Name=x&MetricData.member.1.Values.member.150=2")
	f.Add("MetricData.member.0.Value=1&MetricData.member.-1.Value=x")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		ns, has, data, e := fromForm(q)
		if e == nil {
			if len(data) > maxData {
				t.Fatalf("%d data", len(data))
			}
			_ = validate(ns, has, data)
			st := newStore(10)
			st.add(ns, data)
		}
	})
}

// FuzzBodies feeds the JSON 1.0 and RPC v2 CBOR decoders arbitrary bodies.
func FuzzBodies(f *testing.F) {
	f.Add([]byte(`{"Namespace":"N","MetricData":[{"MetricName":"m","Values":[1,2],"Counts":[1,1],"Dimensions":[{"Name":"a","Value":"b"}]}]}`), false)
	f.Add([]byte{0xa2, 0x69, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 0x61, 'N', 0x6a, 'M', 'e', 't', 'r', 'i', 'c', 'D', 'a', 't', 'a', 0x80}, true)
	f.Fuzz(func(t *testing.T, b []byte, cbor bool) {
		var tree any
		var err error
		if cbor {
			tree, err = awsproto.DecodeCBOR(b)
		} else {
			tree, err = awsproto.DecodeJSON(b)
		}
		if err != nil {
			return
		}
		ns, has, data, e := fromTree(tree)
		if e == nil && validate(ns, has, data) == nil {
			newStore(10).add(ns, data)
		}
	})
}
