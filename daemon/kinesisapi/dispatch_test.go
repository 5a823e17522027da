package kinesisapi

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

const anyAuth = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00"

func TestDispatchOrder(t *testing.T) {
	env := newEnv(t, Options{})
	type tc struct {
		name, method, ct, target, body string
		status                         int
		wantBody                       string
		errType                        string
	}
	for _, c := range []tc{
		{"GET is refused in XML", "GET", "", "", "", 403, "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n", ""},
		{"empty body known op", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.ListStreams", "", 400, `{"__type":"SerializationException"}`, "SerializationException"},
		{"empty body unknown op", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.Nope", "", 400, `{"__type":"UnknownOperationException"}`, "UnknownOperationException"},
		{"other content type, dotted target", "POST", "text/plain", "Kinesis_20131202.ListStreams", "{}", 404, "<UnknownOperationException/>\n", ""},
		{"other content type, no dot", "POST", "text/plain", "ListStreams", "{}", 403, "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n", ""},
		{"legacy json", "POST", "application/json", "Kinesis_20131202.ListStreams", "{}", 404, `{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},"Version":"1.0"}`, ""},
		{"legacy json, not JSON", "POST", "application/json", "Kinesis_20131202.ListStreams", "not json", 400, `{"Output":{"__type":"com.amazon.coral.service#SerializationException","Message":null},"Version":"1.0"}`, ""},
		{"map where list", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.PutRecords", `{"StreamName":"a","Records":{}}`, 400, `{"__type":"SerializationException","Message":"Start of structure or map found where not expected."}`, "SerializationException"},
		{"list where map", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.AddTagsToStream", `{"StreamName":"a","Tags":[]}`, 400, `{"__type":"SerializationException","Message":"Start of list found where not expected"}`, "SerializationException"},
		{"number where blob", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.PutRecord", `{"StreamName":"a","PartitionKey":"k","Data":1}`, 400, `{"__type":"SerializationException","Message":"class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob"}`, "SerializationException"},
		{"string timestamp, before validation", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.GetShardIterator", `{"StreamName":"","ShardIteratorType":"AT_TIMESTAMP","Timestamp":"soon"}`, 400, `{"__type":"SerializationException","Message":"class java.lang.String can not be converted to milliseconds since epoch"}`, "SerializationException"},
		{"undecodable", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.ListStreams", "{", 400, `{"__type":"SerializationException"}`, "SerializationException"},
		{"unknown op", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.CreateChannel", "{}", 400, `{"__type":"UnknownOperationException"}`, "UnknownOperationException"},
		{"member type", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.CreateStream", `{"StreamName":"a","ShardCount":"x"}`, 400, `{"__type":"SerializationException","Message":"class java.lang.String can not be converted to an Integer"}`, "SerializationException"},
		{"list where string", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.DescribeStream", `{"StreamName":[]}`, 400, `{"__type":"SerializationException","Message":"Start of list found where not expected"}`, "SerializationException"},
		{"bad base64", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.PutRecord", `{"StreamName":"a","PartitionKey":"k","Data":"abc"}`, 400, `{"__type":"SerializationException","Message":"'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"}`, "SerializationException"},
		{"bad base64 char", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.PutRecords", `{"StreamName":"a","Records":[{"PartitionKey":"k","Data":"ab*d"}]}`, 400, `{"__type":"SerializationException","Message":"'ab*d' can not be converted to a Blob: Invalid Base64 character: '*'"}`, "SerializationException"},
		{"boolean from string", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.DeleteStream", `{"StreamName":"a","EnforceConsumerDeletion":"yes"}`, 400, `{"__type":"SerializationException","Message":"'YES' can not be converted to an Boolean"}`, "SerializationException"},
		{"many validation errors", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.GetShardIterator", `{}`, 400,
			`{"__type":"ValidationException","message":"3 validation errors detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null; Value null at 'shardId' failed to satisfy constraint: Member must not be null; Value null at 'shardIteratorType' failed to satisfy constraint: Member must not be null"}`, "ValidationException"},
		{"records too many", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.PutRecords", `{"StreamName":"a","Records":[]}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1"}`, "ValidationException"},
		{"missing record members", "POST", "application/x-amz-json-1.1", "Kinesis_20131202.PutRecords", `{"StreamName":"a","Records":[{}]}`, 400,
			`{"__type":"ValidationException","message":"2 validation errors detected: Value null at 'records.1.member.data' failed to satisfy constraint: Member must not be null; Value null at 'records.1.member.partitionKey' failed to satisfy constraint: Member must not be null"}`, "ValidationException"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, env.srv.URL+"/", strings.NewReader(c.body))
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			req.Header.Set("X-Amz-Target", c.target)
			req.Header.Set("Authorization", anyAuth)
			req.Header.Set("X-Amz-Date", "20260101T000000Z")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || string(b) != c.wantBody {
				t.Fatalf("got %d %q\nwant %d %q", resp.StatusCode, b, c.status, c.wantBody)
			}
			if c.method != "POST" {
				if ct, set := resp.Header["Content-Type"]; set {
					t.Fatalf("403 to %s names Content-Type %q; AWS names none", c.method, ct)
				}
			}
			if got := resp.Header.Get("x-amzn-ErrorType"); got != c.errType {
				t.Fatalf("x-amzn-ErrorType = %q, want %q", got, c.errType)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" || len(resp.Header.Get("x-amz-id-2")) != 96 {
				t.Fatalf("request id headers missing: %v", resp.Header)
			}
		})
	}
}

func TestCORSAndOptions(t *testing.T) {
	env := newEnv(t, Options{})
	req, _ := http.NewRequest(http.MethodOptions, env.srv.URL+"/", nil)
	req.Header.Set("Origin", "http://example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Max-Age") != "172800" {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("x-amz-id-2") != "" || resp.Header.Get("x-amzn-RequestId") == "" {
		t.Fatalf("OPTIONS headers %v: AWS sends x-amzn-RequestId and no x-amz-id-2", resp.Header)
	}
}

func TestBodyTooLarge(t *testing.T) {
	env := newEnv(t, Options{MaxBodyBytes: 1024})
	req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/", strings.NewReader(strings.Repeat(" ", 2000)))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || len(b) != 0 {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
}

func TestUndecodableBodyBeatsMissingAuth(t *testing.T) {
	env := newEnv(t, Options{})
	st, m, _ := rawKinesis(t, env.srv.URL, "PutRecords", `{"Records":[`, nil)
	if st != 400 || m["__type"] != "SerializationException" {
		t.Fatalf("got %d %v", st, m)
	}
	st, m, _ = rawKinesis(t, env.srv.URL, "PutRecords", `{"Records":[]}`, nil)
	if st != 400 || m["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("got %d %v", st, m)
	}
}

func TestControlPlaneQuota(t *testing.T) {
	env := newEnv(t, Options{})
	hdr := map[string]string{"Authorization": anyAuth, "X-Amz-Date": "20260101T000000Z"}
	limited := 0
	for i := 0; i < 8; i++ {
		st, m, _ := rawKinesis(t, env.srv.URL, "DescribeLimits", "{}", hdr)
		if st == 400 && m["__type"] == "LimitExceededException" && m["message"] == "Rate exceeded" {
			limited++
		} else if st != 200 {
			t.Fatalf("DescribeLimits: %d %v", st, m)
		}
	}
	if limited == 0 || limited == 8 {
		t.Fatalf("%d of 8 back-to-back DescribeLimits calls were limited; want some (1 call/s)", limited)
	}
	env2 := newEnv(t, Options{NoControlPlaneLimits: true})
	for i := 0; i < 8; i++ {
		if st, m, _ := rawKinesis(t, env2.srv.URL, "DescribeLimits", "{}", hdr); st != 200 {
			t.Fatalf("limits off: %d %v", st, m)
		}
	}
}
