package kinesisapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

func authEnv(t *testing.T, now func() time.Time) *testEnv {
	return newEnv(t, Options{Now: now, Credentials: []awsproto.Credential{
		{AccessKeyID: "ADMINKEY", SecretAccessKey: "admin-secret", Actions: []string{"kinesis:*"}},
		{AccessKeyID: "111122223333", SecretAccessKey: "reader-secret", Actions: []string{"kinesis:Describe*", "kinesis:List*"}, Resources: []string{"orders*"}},
		{AccessKeyID: "LIMITEDKEY", SecretAccessKey: "limited-secret", Actions: []string{"kinesis:DescribeStreamSummary"}},
	}})
}

func TestSigV4Verification(t *testing.T) {
	env := authEnv(t, nil)
	ctx := ctxT(t)
	admin := env.sdk("ADMINKEY", "admin-secret")
	if _, err := admin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	if _, err := admin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: bytes.Repeat([]byte("x"), 5000)}); err != nil {
		t.Fatalf("valid signature over a body refused: %v", err)
	}
	_, err := env.sdk("ADMINKEY", "wrong-secret").ListStreams(ctx, &kinesis.ListStreamsInput{})
	apiErr(t, err, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	_, err = env.sdk("NOBODY", "x").ListStreams(ctx, &kinesis.ListStreamsInput{})
	apiErr(t, err, "UnrecognizedClientException", "The security token included in the request is invalid.")

	// The reader (a 12-digit key: its own account) may describe orders* only.
	reader := env.sdk("111122223333", "reader-secret")
	_, err = reader.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders-2"), ShardCount: aws.Int32(1)})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::111122223333:user/111122223333 is not authorized to perform: kinesis:CreateStream on resource: arn:aws:kinesis:us-east-1:111122223333:stream/orders-2 because no identity-based policy allows the kinesis:CreateStream action")
	// Allowed action and resource, but the stream lives in the default account.
	_, err = reader.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
	apiErr(t, err, "ResourceNotFoundException", "Stream orders under account 111122223333 not found.")
	_, err = reader.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("clicks")})
	apiErr(t, err, "AccessDeniedException", "")
	if _, err := reader.ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Fatalf("reader ListStreams: %v", err)
	}
}

// GetRecords is authorized against the iterator's stream: an iterator obtained by
// another principal does not let a key read a stream its policy does not cover.
func TestGetRecordsAuthorizesTheIteratorsStream(t *testing.T) {
	env := newEnv(t, Options{Credentials: []awsproto.Credential{
		{AccessKeyID: "ADMINKEY", SecretAccessKey: "admin-secret", Actions: []string{"kinesis:*"}},
		{AccessKeyID: "READERKEY", SecretAccessKey: "reader-secret", Actions: []string{"kinesis:Get*"}, Resources: []string{"orders*"}},
	}})
	ctx := ctxT(t)
	admin := env.sdk("ADMINKEY", "admin-secret")
	reader := env.sdk("READERKEY", "reader-secret")
	iterFor := func(c *kinesis.Client, stream string) *string {
		t.Helper()
		out, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", stream, err)
		}
		return out.ShardIterator
	}
	for _, name := range []string{"orders", "secrets"} {
		if _, err := admin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte(name)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := reader.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterFor(reader, "orders")})
	if err != nil || len(got.Records) != 1 || string(got.Records[0].Data) != "orders" {
		t.Fatalf("reader on its own stream: %v, %+v", err, got)
	}
	_, err = reader.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterFor(admin, "secrets")})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/READERKEY is not authorized to perform: kinesis:GetRecords on resource: arn:aws:kinesis:us-east-1:000000000000:stream/secrets because no identity-based policy allows the kinesis:GetRecords action")
	if got, err := admin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterFor(admin, "secrets")}); err != nil || len(got.Records) != 1 {
		t.Fatalf("admin on secrets: %v", err)
	}
}

func rawKinesis(t *testing.T, url, op, body string, hdr map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, b := postRaw(t, url, body,
		map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202." + op}, hdr)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

func TestSigV4HeaderFormsSkewAndPresign(t *testing.T) {
	skew := time.Duration(0)
	env := authEnv(t, func() time.Time { return time.Now().Add(skew) })
	ctx := ctxT(t)
	admin := env.sdk("ADMINKEY", "admin-secret")

	st, m, _ := rawKinesis(t, env.srv.URL, "ListStreams", "{}", nil)
	if st != 400 || m["__type"] != "MissingAuthenticationTokenException" || m["message"] != "Missing Authentication Token" {
		t.Fatalf("no auth: %d %v", st, m)
	}
	st, m, _ = rawKinesis(t, env.srv.URL, "ListStreams", "{}", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=ADMINKEY/20260101/us-east-1/kinesis/aws4_request"})
	want := "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=ADMINKEY/20260101/us-east-1/kinesis/aws4_request"
	if st != 400 || m["__type"] != "IncompleteSignatureException" || m["message"] != want {
		t.Fatalf("incomplete: %d %v", st, m)
	}
	// parameters separated by spaces, under any first word, count as AWS reads them
	for auth, want := range map[string]string{
		"AWS4- Signature=b Credential=a":                              "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4- Signature=b Credential=a",
		"AWS4-HMAC-SHA256 Credential=a SignedHeaders=host,Signature=": "Authorization header requires 'Signature' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=a SignedHeaders=host,Signature=",
		"Bearer abc": "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc",
	} {
		st, m, _ = rawKinesis(t, env.srv.URL, "ListStreams", "{}", map[string]string{"Authorization": auth})
		if st != 400 || m["__type"] != "IncompleteSignatureException" || m["message"] != want {
			t.Errorf("%q: %d %v\nwant %q", auth, st, m["message"], want)
		}
	}

	skew = time.Hour // the server's clock is an hour ahead of the client's
	_, err := admin.ListStreams(ctx, &kinesis.ListStreamsInput{})
	apiErr(t, err, "InvalidSignatureException", "")
	if !strings.Contains(err.Error(), "Signature expired") {
		t.Fatalf("skew error: %v", err)
	}
	skew = 0

	// Presigned (query) form.
	body := []byte(`{"StreamName":"pre","ShardCount":1}`)
	req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/?X-Amz-Expires=300", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.CreateStream")
	sum := sha256.Sum256(body)
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "ADMINKEY", SecretAccessKey: "admin-secret"},
		req, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	preq, _ := http.NewRequest(http.MethodPost, signed, bytes.NewReader(body))
	preq.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned: %d %s", resp.StatusCode, b)
	}
	// Tampering with the presigned body breaks the signature.
	preq, _ = http.NewRequest(http.MethodPost, signed, strings.NewReader(`{"StreamName":"pre2","ShardCount":1}`))
	preq.Header = req.Header.Clone()
	resp, err = http.DefaultClient.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("x-amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("tampered presigned: %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
}

// A presigned URL lives at most X-Amz-Expires seconds, from 1 to 7 days; a missing,
// malformed, zero, negative or over-long X-Amz-Expires is refused, signed or not.
func TestPresignedExpiry(t *testing.T) {
	signedAt := time.Now().Add(-time.Hour)
	env := authEnv(t, nil)
	presign := func(expires string, at time.Time) *http.Request {
		t.Helper()
		u := env.srv.URL + "/"
		if expires != "" {
			u += "?X-Amz-Expires=" + url.QueryEscape(expires)
		}
		body := []byte(`{}`)
		req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
		sum := sha256.Sum256(body)
		signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "ADMINKEY", SecretAccessKey: "admin-secret"},
			req, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		preq, _ := http.NewRequest(http.MethodPost, signed, bytes.NewReader(body))
		preq.Header = req.Header.Clone()
		return preq
	}
	for _, c := range []struct {
		name, expires string
		at            time.Time
		status        int
		typ, msg      string
	}{
		{"valid", "7200", signedAt, 200, "", ""},
		{"the full week", "604800", signedAt, 200, "", ""},
		{"expired", "60", signedAt, 400, "InvalidSignatureException", "Signature expired"},
		{"a year old", "604800", time.Now().AddDate(-1, 0, 0), 400, "InvalidSignatureException", "Signature expired"},
		{"missing", "", signedAt, 400, "IncompleteSignatureException", "must include 'X-Amz-Expires'"},
		{"zero", "0", signedAt, 400, "IncompleteSignatureException", "X-Amz-Expires must be greater than 0"},
		{"negative", "-5", signedAt, 400, "IncompleteSignatureException", "X-Amz-Expires must be non-negative"},
		{"not a number", "soon", signedAt, 400, "IncompleteSignatureException", "X-Amz-Expires should be a number"},
		{"over a week", "604801", signedAt, 400, "IncompleteSignatureException", "less than a week (in seconds) that is 604800"},
		{"overflowing", "9223372036854775807", signedAt, 400, "IncompleteSignatureException", "less than a week"},
		{"past int64", "99999999999999999999", signedAt, 400, "IncompleteSignatureException", "less than a week"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(presign(c.expires, c.at))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || resp.Header.Get("x-amzn-ErrorType") != c.typ || !strings.Contains(string(b), c.msg) {
				t.Fatalf("%d %s %s; want %d %s %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), b, c.status, c.typ, c.msg)
			}
		})
	}
}

// ordersEnv turns auth on (authEnv) and has the admin create stream "orders" with tags;
// it returns the admin's and LIMITEDKEY's clients and the stream's ARN.
func ordersEnv(t *testing.T, tags map[string]string) (context.Context, *kinesis.Client, *kinesis.Client, *string) {
	env := authEnv(t, nil)
	ctx := ctxT(t)
	admin := env.sdk("ADMINKEY", "admin-secret")
	if _, err := admin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	return ctx, admin, env.sdk("LIMITEDKEY", "limited-secret"), aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/orders")
}

func TestResourcePolicyWithCredentials(t *testing.T) {
	ctx, admin, limited, arn := ordersEnv(t, nil)
	put := &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")}
	_, err := limited.PutRecord(ctx, put)
	apiErr(t, err, "AccessDeniedException", "")
	if _, err := limited.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":["kinesis:PutRecord"],"Resource":"arn:aws:kinesis:us-east-1:000000000000:stream/orders"},
	 {"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::000000000000:user/LIMITEDKEY"]},"Action":"kinesis:Describe*","Resource":"*"}]}`
	if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	// The stream's policy grants what the credential lacks …
	if _, err := limited.PutRecord(ctx, put); err != nil {
		t.Fatalf("resource policy Allow not honoured: %v", err)
	}
	// … and its explicit Deny beats the credential's Allow.
	_, err = limited.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/LIMITEDKEY is not authorized to perform: kinesis:DescribeStreamSummary on resource: arn:aws:kinesis:us-east-1:000000000000:stream/orders with an explicit deny in a resource-based policy")
	if _, err := admin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")}); err != nil {
		t.Fatalf("deny leaked to other principals: %v", err)
	}
	if _, err := admin.DeleteResourcePolicy(ctx, &kinesis.DeleteResourcePolicyInput{ResourceARN: arn}); err != nil {
		t.Fatal(err)
	}
	_, err = limited.PutRecord(ctx, put)
	apiErr(t, err, "AccessDeniedException", "")
}

// A resource policy's statements apply only when their Condition blocks hold for the
// request (source address, transport, user agent, the stream's tags), and PutResourcePolicy refuses a
// document whose conditions Sluice cannot evaluate, keeping the one in force.
func TestResourcePolicyConditions(t *testing.T) {
	ctx, admin, limited, arn := ordersEnv(t, nil)
	setPolicy := func(cond string) {
		t.Helper()
		pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/LIMITEDKEY"},` +
			`"Action":"kinesis:PutRecord","Resource":"*","Condition":` + cond + `}]}`
		if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(pol)}); err != nil {
			t.Fatal(err)
		}
	}
	put := &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")}

	setPolicy(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`) // the test client calls from loopback
	_, err := limited.PutRecord(ctx, put)
	apiErr(t, err, "AccessDeniedException", "")
	setPolicy(`{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]},"StringLike":{"aws:UserAgent":"*aws-sdk-go-v2*"}}`)
	if _, err := limited.PutRecord(ctx, put); err != nil {
		t.Fatalf("conditions that hold did not grant: %v", err)
	}
	setPolicy(`{"StringEquals":{"aws:SourceVpc":"vpc-1"}}`) // a key no request carries
	_, err = limited.PutRecord(ctx, put)
	apiErr(t, err, "AccessDeniedException", "")
	setPolicy(`{"StringEquals":{"aws:ResourceTag/team":"payments"}}`) // the stream's own tags
	_, err = limited.PutRecord(ctx, put)
	apiErr(t, err, "AccessDeniedException", "")
	if _, err := admin.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("orders"), Tags: map[string]string{"Team": "payments"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := limited.PutRecord(ctx, put); err != nil {
		t.Fatalf("aws:ResourceTag condition on a tagged stream did not grant: %v", err)
	}

	// A Deny on plain HTTP catches every principal, the admin too.
	deny := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"kinesis:Describe*","Resource":"*",` +
		`"Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`
	if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	_, err = admin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/ADMINKEY is not authorized to perform: kinesis:DescribeStreamSummary on resource: arn:aws:kinesis:us-east-1:000000000000:stream/orders with an explicit deny in a resource-based policy")

	bad := strings.Replace(deny, `"Bool"`, `"Boolean"`, 1)
	_, err = admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(bad)})
	apiErr(t, err, "InvalidArgumentException", "Policy document is not valid: Statement 0: Condition operator Boolean is not supported")
	got, err := admin.GetResourcePolicy(ctx, &kinesis.GetResourcePolicyInput{ResourceARN: arn})
	if err != nil || got.Policy == nil || *got.Policy != deny {
		t.Fatalf("policy in force after a refused put: %+v %v", got, err)
	}
}

// Tagging calls carry aws:RequestTag/<key> and aws:TagKeys into policy conditions.
func TestResourcePolicyTagConditions(t *testing.T) {
	ctx, admin, limited, arn := ordersEnv(t, nil)
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/LIMITEDKEY"},"Action":"kinesis:AddTagsToStream","Resource":"*",
	  "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]},"StringEquals":{"aws:RequestTag/team":"payments"}}},
	 {"Effect":"Deny","Principal":"*","Action":["kinesis:RemoveTagsFromStream","kinesis:UntagResource"],"Resource":"*",
	  "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"team"}}}]}`
	if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	tag := func(tags map[string]string) error {
		_, err := limited.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("orders"), Tags: tags})
		return err
	}
	if err := tag(map[string]string{"team": "payments", "env": "prod"}); err != nil {
		t.Fatalf("allowed tags refused: %v", err)
	}
	apiErr(t, tag(map[string]string{"team": "payments", "owner": "x"}), "AccessDeniedException", "") // a key outside the set
	apiErr(t, tag(map[string]string{"team": "growth"}), "AccessDeniedException", "")                 // another value
	// Removing "team" meets the Deny, removing "env" does not.
	_, err := admin.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String("orders"), TagKeys: []string{"env", "team"}})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/ADMINKEY is not authorized to perform: kinesis:RemoveTagsFromStream on resource: arn:aws:kinesis:us-east-1:000000000000:stream/orders with an explicit deny in a resource-based policy")
	if _, err := admin.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String("orders"), TagKeys: []string{"env"}}); err != nil {
		t.Fatalf("removing a key the Deny does not name: %v", err)
	}
	tags, err := admin.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("orders")})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "team" || *tags.Tags[0].Value != "payments" {
		t.Fatalf("tags at the end: %+v %v", tags, err)
	}
}

// Policy variables: with Version 2012-10-17, ${aws:username} in a condition value is the
// caller's user name (attribute-based access: only the stream's owner may write); in an
// unversioned policy it is literal text.
func TestResourcePolicyVariables(t *testing.T) {
	ctx, admin, limited, arn := ordersEnv(t, map[string]string{"owner": "LIMITEDKEY"})
	stmt := `"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:PutRecord","Resource":"arn:aws:kinesis:*:*:stream/*",` +
		`"Condition":{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}}`
	put := &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")}
	for _, c := range []struct {
		doc     string
		allowed bool
	}{
		{`{"Version":"2012-10-17",` + stmt + `}`, true},
		{`{` + stmt + `}`, false}, // no Version: "${aws:username}" is literal
	} {
		if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(c.doc)}); err != nil {
			t.Fatal(err)
		}
		_, err := limited.PutRecord(ctx, put)
		if c.allowed && err != nil {
			t.Fatalf("the owner refused: %v", err)
		}
		if !c.allowed {
			apiErr(t, err, "AccessDeniedException", "")
		}
	}
	if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(`{"Version":"2012-10-17",` + stmt + `}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("orders"), Tags: map[string]string{"owner": "someone-else"}}); err != nil {
		t.Fatal(err)
	}
	_, err := limited.PutRecord(ctx, put)
	apiErr(t, err, "AccessDeniedException", "")
}

// A stream of another account is reachable only when its resource policy grants the
// caller's account and the caller's own policy allows the action, as IAM does.
func TestCrossAccountNeedsResourcePolicy(t *testing.T) {
	env := authEnv(t, nil)
	ctx := ctxT(t)
	admin := env.sdk("ADMINKEY", "admin-secret")
	if _, err := admin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/orders")
	reader := env.sdk("111122223333", "reader-secret") // its policy: Describe*/List* on orders*
	describe := &kinesis.DescribeStreamSummaryInput{StreamARN: arn}
	_, err := reader.DescribeStreamSummary(ctx, describe)
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::111122223333:user/111122223333 is not authorized to perform: kinesis:DescribeStreamSummary on resource: arn:aws:kinesis:us-east-1:000000000000:stream/orders because no resource-based policy allows the kinesis:DescribeStreamSummary action")

	pol := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["kinesis:DescribeStreamSummary","kinesis:PutRecord"],"Resource":"*"}}`
	if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: arn, Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.DescribeStreamSummary(ctx, describe); err != nil {
		t.Fatalf("granted by the stream's policy and the reader's own: %v", err)
	}
	// The stream's policy grants PutRecord, the reader's own policy does not.
	_, err = reader.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("k"), Data: []byte("x")})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::111122223333:user/111122223333 is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:000000000000:stream/orders because no identity-based policy allows the kinesis:PutRecord action")
}

// TestSigV4OverH2CWithCBOR signs a CBOR request the way the Java SDK does (content-type,
// content-length and x-amz-target signed) and sends it over h2c.
func TestSigV4OverH2CWithCBOR(t *testing.T) {
	env := authEnv(t, nil)
	body := []byte{0xa2, 0x6a, 'S', 't', 'r', 'e', 'a', 'm', 'N', 'a', 'm', 'e', 0x62, 'h', '2', 0x6a, 'S', 'h', 'a', 'r', 'd', 'C', 'o', 'u', 'n', 't', 0x01}
	send := func(secret string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-cbor-1.1")
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.CreateStream")
		req.Header.Set("Content-Length", "27")
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "ADMINKEY", SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(req.Header.Get("Authorization"), "content-type") {
			t.Fatalf("content-type not signed: %s", req.Header.Get("Authorization"))
		}
		resp, err := h2cClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("HTTP/%d", resp.ProtoMajor)
		}
		return resp
	}
	if resp := send("admin-secret"); resp.StatusCode != 200 {
		t.Fatalf("signed CBOR over h2c: %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
	if resp := send("nope"); resp.StatusCode != 400 || resp.Header.Get("x-amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("bad secret: %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
}
