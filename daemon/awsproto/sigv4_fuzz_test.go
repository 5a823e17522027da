package awsproto

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary Authorization headers, X-Amz-Date values and query strings
// (the presigned form) to the verifier, with signatures checked: it must answer with an
// identity or an AWS error, never panic, and never accept a request that is not signed
// with a known key.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261207T120000Z", "")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261207%2Fus-east-1%2Fkinesis%2Faws4_request&X-Amz-Date=20261207T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID/a/b/c/d&X-Amz-Date=x&X-Amz-Expires=99999999999999999999&X-Amz-SignedHeaders=&X-Amz-Signature=")
	f.Add("", "", "X-Amz-Algorithm=x&X-Amz-Expires=-9223372036854775808")
	f.Add("AWS4-HMAC-SHA256 Credential=,,,=", "Mon, 07 Dec 2026 12:00:00 GMT", "")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Service: "kinesis", Credentials: []Credential{{AccessKeyID: "AKID", SecretAccessKey: "secret"}},
		Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, auth, date, query string) {
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{}, Host: "localhost"}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if date != "" {
			r.Header.Set("X-Amz-Date", date)
		}
		id, e := v.Verify(r, []byte("{}"))
		if e == nil {
			// the fuzzer cannot forge an HMAC: an accepted request is a bug
			t.Fatalf("accepted %q %q %q as %+v", auth, date, query, id)
		}
		if e.Type == "" || e.Status < 400 || e.Status > 499 {
			t.Fatalf("error %+v is not an AWS client error", e)
		}
		if strings.Contains(e.Message, "secret") {
			t.Fatalf("error message leaks the secret: %q", e.Message)
		}
	})
}
