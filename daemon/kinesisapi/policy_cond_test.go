package kinesisapi

import (
	"strings"
	"testing"
)

// A request carrying these keys (lower case, as condition keys are compared).
func testCtx(keys map[string][]string) condContext {
	return func(k string) ([]string, bool) {
		v, ok := keys[k]
		return v, ok
	}
}

func TestConditionsHold(t *testing.T) {
	req := testCtx(map[string][]string{
		"aws:sourceip":        {"127.0.0.1"},
		"aws:securetransport": {"false"},
		"aws:currenttime":     {"2026-11-25T12:00:00Z"},
		"aws:epochtime":       {"1795608000"},
		"aws:username":        {"LIMITEDKEY"},
		"aws:principalarn":    {"arn:aws:iam::000000000000:user/LIMITEDKEY"},
		"aws:tagkeys":         {"team", "env"},
	})
	cases := []struct {
		cond string
		want bool
	}{
		{`{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}`, true},
		{`{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.1.7"]}}`, false},
		{`{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.1"]}}`, true}, // values OR
		{`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
		{`{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]}}`, false}, // negated values NOR
		{`{"Bool":{"aws:SecureTransport":"true"}}`, false},
		{`{"Bool":{"aws:SecureTransport":false}}`, true},
		{`{"StringEquals":{"aws:username":"LIMITEDKEY"}}`, true},
		{`{"StringEquals":{"AWS:UserName":"LIMITEDKEY"}}`, true}, // keys are case-insensitive
		{`{"StringEquals":{"aws:username":"limitedkey"}}`, false},
		{`{"StringEqualsIgnoreCase":{"aws:username":"limitedkey"}}`, true},
		{`{"StringLike":{"aws:username":"LIMIT*"}}`, true},
		{`{"StringLike":{"aws:username":"LIMITEDKE?"}}`, true},
		{`{"StringLike":{"aws:username":"ADMIN*"}}`, false},
		{`{"StringNotLike":{"aws:username":"ADMIN*"}}`, true},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/*"}}`, true},
		{`{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/LIMITEDKEY"}}`, false},
		{`{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, true},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01"}}`, false},
		{`{"NumericLessThan":{"aws:EpochTime":1795608001}}`, true},
		{`{"NumericGreaterThanEquals":{"aws:EpochTime":"1795608001"}}`, false},
		// operators AND, keys AND
		{`{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}`, false},
		{`{"StringEquals":{"aws:username":"LIMITEDKEY","aws:SecureTransport":"false"}}`, true},
		{`{"StringEquals":{"aws:username":"LIMITEDKEY","aws:SecureTransport":"true"}}`, false},
		// a key the request does not carry
		{`{"StringEquals":{"aws:SourceVpc":"vpc-1"}}`, false},
		{`{"StringNotEquals":{"aws:SourceVpc":"vpc-1"}}`, true},
		{`{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-1"}}`, true},
		{`{"StringEqualsIfExists":{"aws:username":"ADMINKEY"}}`, false}, // present: checked
		{`{"Null":{"aws:SourceVpc":"true"}}`, true},
		{`{"Null":{"aws:SourceIp":"true"}}`, false},
		{`{"Null":{"aws:SourceIp":"false"}}`, true},
		// multi-valued keys
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, false},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team","owner"]}}`, true},
		{`{"ForAllValues:StringEquals":{"aws:RequestTag/x":["a"]}}`, true}, // absent: holds
		{`{"ForAnyValue:StringEquals":{"aws:RequestTag/x":["a"]}}`, false},
	}
	for _, c := range cases {
		conds, err := parseConditions([]byte(c.cond))
		if err != nil {
			t.Fatalf("%s: %v", c.cond, err)
		}
		if got := conditionsHold(conds, req); got != c.want {
			t.Errorf("%s: holds=%v, want %v", c.cond, got, c.want)
		}
	}
}

func TestParsePolicyRefusesWhatItCannotEvaluate(t *testing.T) {
	const stmt = `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kinesis:*","Resource":"*"`
	for doc, want := range map[string]string{
		`{"Statement":[` + stmt + `,"Condition":{"StringEqualz":{"aws:username":"a"}}}]}`:           "Statement 0: Condition operator StringEqualz is not supported",
		`{"Statement":[` + stmt + `,"Condition":{"ForEach:StringEquals":{"aws:username":"a"}}}]}`:   "unknown qualifier ForEach",
		`{"Statement":[` + stmt + `,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.300/8"}}}]}`:   `Condition IpAddress aws:SourceIp: "10.0.0.300/8" is not an IP address or CIDR block`,
		`{"Statement":[` + stmt + `,"Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}]}`: `"tomorrow" is not a date`,
		`{"Statement":[` + stmt + `,"Condition":{"NumericLessThan":{"aws:EpochTime":"soon"}}}]}`:    `"soon" is not a number`,
		`{"Statement":[` + stmt + `,"Condition":{"Bool":{"aws:SecureTransport":"yes"}}}]}`:          `"yes" is not true or false`,
		`{"Statement":[` + stmt + `,"Condition":{"StringEquals":{"aws:username":[]}}}]}`:            "aws:username: no values",
		`{"Statement":[` + stmt + `,"Condition":["StringEquals"]}]}`:                                "Condition must map operators",
		`{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kinesis:*"}]}`:                   `Statement 0: Effect must be Allow or Deny, not "Maybe"`,
		`{"Statement":[{"Effect":"Allow","Action":"kinesis:*"}]}`:                                   "Statement 0: Principal must name at least one principal",
		`{"Statement":[{"Effect":"Allow","Principal":"*"}]}`:                                        "Statement 0: Action must name at least one action",
		`{"Statement":[]}`:         "Statement is empty",
		`{"Version":"2012-10-17"}`: "Statement must be",
		`not json`:                 "not a JSON object",
	} {
		_, err := parsePolicy(doc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to say %q", doc, err, want)
		}
	}
	stmts, err := parsePolicy(`{"Statement":` + stmt + `,"Condition":{"StringLikeIfExists":{"aws:UserAgent":"aws-cli/*"},"Null":{"aws:SourceVpc":"true"}}}}`)
	if err != nil || len(stmts) != 1 || len(stmts[0].conds) != 2 {
		t.Fatalf("valid single statement: %+v %v", stmts, err)
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*b*d", "abcbd", true}, {"ab", "ab", true}, {"ab", "abc", false},
	} {
		if got := wildcardMatch(c.p, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

// Any document either is refused by parsePolicy or evaluates without panicking.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]}}}}`,
		`{"Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":["kinesis:Put*"],"Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"a*"},"NullIfExists":{"x":"true"}}}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2026-01-01"},"NumericGreaterThan":{"aws:EpochTime":1}}}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"BinaryEquals":{"k":"QUJD"},"Bool":{"aws:SecureTransport":true}}}]}`,
	} {
		f.Add(s)
	}
	req := testCtx(map[string][]string{"aws:sourceip": {"10.1.2.3"}, "aws:currenttime": {"2025-06-01T00:00:00Z"},
		"aws:epochtime": {"1748736000"}, "aws:tagkeys": {"ab", "b"}, "k": {"QUJD"}, "aws:securetransport": {"true"}})
	f.Fuzz(func(t *testing.T, doc string) {
		stmts, err := parsePolicy(doc)
		if err != nil {
			return
		}
		for _, st := range stmts {
			conditionsHold(st.conds, req)
			conditionsHold(st.conds, testCtx(nil))
		}
	})
}

func TestExpandVars(t *testing.T) {
	ctx := testCtx(map[string][]string{"aws:username": {"alice"}, "aws:tagkeys": {"a", "b"}})
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"stream/${aws:username}-*", "stream/alice-*", true},
		{"${AWS:UserName}", "alice", true},
		{"${aws:SourceVpc, 'none'}/x", "none/x", true},
		{"${aws:SourceVpc}", "", false},
		{"${aws:TagKeys}", "", false}, // multi-valued keys do not substitute
		{"a${*}b${?}c${$}d", "a*b?c$d", true},
		{"no vars", "no vars", true},
		{"${unterminated", "${unterminated", true},
	} {
		got, ok := expandVars(c.in, ctx)
		if got != c.want || ok != c.ok {
			t.Errorf("expandVars(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
