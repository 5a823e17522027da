package awsproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credential is one configured access key with the actions and resources it may use.
// Actions are patterns like "kinesis:*", "kinesis:PutRecords" or "*"; Resources are ARN
// or name patterns ("arn:aws:kinesis:*:*:stream/orders-*", "*"). `*` matches any run of
// characters and `?` one character. Empty Actions or Resources allow everything.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	Actions         []string
	Resources       []string
}

// Identity is the verified (or, with auth off, claimed) caller of a request.
type Identity struct {
	AccessKeyID string
	Region      string // from the credential scope; DefaultRegion when absent
	Account     string // the access key when it is 12 digits, else DefaultAccount
	// Cred is the matching configured credential; nil when auth is off.
	Cred *Credential
}

// Allowed reports whether the caller may perform action ("kinesis:PutRecords") on
// resource (an ARN; "" for account-level actions). With auth off everything is allowed.
func (id Identity) Allowed(action, resource string) bool {
	c := id.Cred
	if c == nil {
		return true
	}
	if len(c.Actions) > 0 && !matchAny(c.Actions, action) {
		return false
	}
	if resource == "" || len(c.Resources) == 0 {
		return true
	}
	if matchAny(c.Resources, resource) {
		return true
	}
	// A pattern may name the stream (or DynamoDB table) alone ("orders", "orders-*").
	for _, kind := range []string{":stream/", ":table/"} {
		if i := strings.LastIndex(resource, kind); i >= 0 {
			name := resource[i+len(kind):]
			if j := strings.Index(name, "/"); j >= 0 {
				name = name[:j]
			}
			return matchAny(c.Resources, name)
		}
	}
	return false
}

// DeniedError is AWS's AccessDeniedException for id performing action on resource.
func (id Identity) DeniedError(action, resource string) *Error {
	return id.DeniedBecause(action, resource, "because no identity-based policy allows the "+action+" action")
}

// DeniedBecause is AWS's AccessDeniedException for the caller, ending with why (for
// example "with an explicit deny in a resource-based policy").
func (id Identity) DeniedBecause(action, resource, why string) *Error {
	msg := "User: arn:aws:iam::" + id.Account + ":user/" + id.AccessKeyID + " is not authorized to perform: " + action
	if resource != "" {
		msg += " on resource: " + resource
	}
	return NewError(TypeAccessDenied, msg+" "+why)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == "*" || p == s {
			return true
		}
		if ok, err := path.Match(globToPath(p), globToPath(s)); err == nil && ok {
			return true
		}
	}
	return false
}

// globToPath makes '/' ordinary for path.Match so that `*` spans slashes.
func globToPath(s string) string { return strings.ReplaceAll(s, "/", "\x00") }

// Verifier checks SigV4 signatures of one service ("kinesis" or "firehose").
// A Verifier is safe for concurrent use.
type Verifier struct {
	Service        string
	Credentials    []Credential // nil/empty: accept any signature (but some auth must be present)
	DefaultAccount string       // "000000000000" when empty
	DefaultRegion  string       // "us-east-1" when empty
	Now            func() time.Time
	MaxSkew        time.Duration // default 15 min

	keys sync.Map // signing-key cache: secret|date|region → []byte
}

// Enabled reports whether signatures are verified.
func (v *Verifier) Enabled() bool { return len(v.Credentials) > 0 }

const (
	algorithm   = "AWS4-HMAC-SHA256"
	amzDateFmt  = "20060102T150405Z"
	unsignedPay = "UNSIGNED-PAYLOAD"
)

type sigParts struct {
	akid, date, region, service, term string
	signedHeaders                     []string
	signature                         string
	amzDate                           string
	expires                           int64 // presigned only
	presigned                         bool
	scheme                            string // the Authorization header's first word
}

// BasicCredential returns the credential of creds whose access key id is user and whose
// secret is pass (HTTP Basic authentication), or nil. The secret is compared in constant
// time.
func BasicCredential(creds []Credential, user, pass string) *Credential {
	for i := range creds {
		c := &creds[i]
		if c.AccessKeyID == user && subtle.ConstantTimeCompare([]byte(c.SecretAccessKey), []byte(pass)) == 1 {
			return c
		}
	}
	return nil
}

// Verify authenticates r whose body has been read into body (§1.1 item 7). It returns
// the caller's identity or the AWS error to send.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, *Error) {
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	hasQuery := q.Has("X-Amz-Algorithm")
	if auth != "" && hasQuery {
		return Identity{}, NewError(TypeInvalidSig, "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
	}
	var p sigParts
	var e *Error
	switch {
	case auth != "":
		p, e = parseAuthHeader(r, auth)
	case hasQuery:
		p, e = parseQueryAuth(q)
	default:
		return Identity{}, NewError(TypeMissingToken, "Missing Authentication Token")
	}
	if e != nil {
		return Identity{}, e
	}
	id := Identity{AccessKeyID: p.akid, Region: p.region, Account: v.DefaultAccount}
	if id.Region == "" {
		id.Region = v.DefaultRegion
	}
	if id.Region == "" {
		id.Region = "us-east-1"
	}
	if isDigits(p.akid, 12) {
		id.Account = p.akid
	}
	if id.Account == "" {
		id.Account = "000000000000"
	}
	if !v.Enabled() {
		return id, nil
	}
	var cred *Credential
	for i := range v.Credentials {
		if v.Credentials[i].AccessKeyID == p.akid {
			cred = &v.Credentials[i]
			break
		}
	}
	if cred == nil {
		return Identity{}, NewError(TypeUnrecognized, "The security token included in the request is invalid.")
	}
	id.Cred = cred
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	t, err := time.Parse(amzDateFmt, p.amzDate)
	if err != nil {
		if t2, err2 := http.ParseTime(p.amzDate); err2 == nil {
			t = t2
		} else {
			return Identity{}, NewError(TypeIncompleteSig, "Date must be in ISO-8601 'basic format'. Got '"+p.amzDate+"'. See http://en.wikipedia.org/wiki/ISO_8601")
		}
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = 15 * time.Minute
	}
	fmtT := func(x time.Time) string { return x.UTC().Format(amzDateFmt) }
	mins := strconv.Itoa(int(skew / time.Minute))
	if p.presigned {
		if now.After(t.Add(time.Duration(p.expires) * time.Second)) { // expires ≤ 7 days: no overflow
			return Identity{}, NewError(TypeInvalidSig, "Signature expired: "+fmtT(t)+" is now earlier than "+fmtT(now.Add(-time.Duration(p.expires)*time.Second))+" ("+fmtT(now)+" - "+strconv.FormatInt(p.expires, 10)+" sec.)")
		}
	} else if t.Before(now.Add(-skew)) {
		return Identity{}, NewError(TypeInvalidSig, "Signature expired: "+fmtT(t)+" is now earlier than "+fmtT(now.Add(-skew))+" ("+fmtT(now)+" - "+mins+" min.)")
	}
	if t.After(now.Add(skew)) {
		return Identity{}, NewError(TypeInvalidSig, "Signature not yet current: "+fmtT(t)+" is still later than "+fmtT(now.Add(skew))+" ("+fmtT(now)+" + "+mins+" min.)")
	}
	if p.term != "aws4_request" || p.service != v.Service || (len(p.amzDate) >= 8 && p.date != p.amzDate[:8]) {
		return Identity{}, sigMismatch()
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	candidates := []string{payload}
	if payload == "" {
		sum := sha256.Sum256(body)
		candidates = []string{hex.EncodeToString(sum[:])}
		if p.presigned {
			candidates = append(candidates, unsignedPay)
		}
	} else if payload != unsignedPay && !strings.HasPrefix(payload, "STREAMING-") {
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != payload {
			return Identity{}, sigMismatch()
		}
	}
	if !p.presigned && p.scheme != algorithm {
		return Identity{}, sigMismatch() // only HMAC-SHA256 signatures are computed
	}
	key := v.signingKey(cred.SecretAccessKey, p.date, p.region, p.service)
	scope := p.date + "/" + p.region + "/" + p.service + "/aws4_request"
	want, err := hex.DecodeString(p.signature)
	if err != nil {
		return Identity{}, sigMismatch()
	}
	for _, ph := range candidates {
		creq := canonicalRequest(r, p, ph, len(body))
		h := sha256.Sum256([]byte(creq))
		sts := algorithm + "\n" + p.amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
		got := hmacSHA256(key, []byte(sts))
		if subtle.ConstantTimeCompare(got, want) == 1 {
			return id, nil
		}
	}
	return Identity{}, sigMismatch()
}

func sigMismatch() *Error {
	return NewError(TypeInvalidSig, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseAuthHeader(r *http.Request, auth string) (sigParts, *Error) {
	var p sigParts
	// As AWS reads the header: the first word is the scheme, then key=value parameters
	// separated by commas or spaces, whatever the scheme ("AWS4- Signature=b Credential=a"
	// lacks only SignedHeaders).
	scheme, rest, _ := strings.Cut(auth, " ")
	p.scheme = scheme
	var cred, signed, sig string
	for _, part := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, val, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			cred = val
		case "SignedHeaders":
			signed = val
		case "Signature":
			sig = val
		}
	}
	p.amzDate = r.Header.Get("X-Amz-Date")
	if p.amzDate == "" {
		p.amzDate = r.Header.Get("Date")
	}
	var msg string
	if cred == "" {
		msg += "Authorization header requires 'Credential' parameter. "
	}
	if sig == "" {
		msg += "Authorization header requires 'Signature' parameter. "
	}
	if signed == "" {
		msg += "Authorization header requires 'SignedHeaders' parameter. "
	}
	if p.amzDate == "" {
		msg += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
	}
	if msg != "" {
		return p, NewError(TypeIncompleteSig, msg+"Authorization="+auth)
	}
	if e := p.setCredential(cred); e != nil {
		return p, e
	}
	p.signedHeaders = strings.Split(signed, ";")
	p.signature = sig
	return p, nil
}

func parseQueryAuth(q url.Values) (sigParts, *Error) {
	var p sigParts
	p.presigned = true
	var msg string
	for _, k := range []string{"Algorithm", "Credential", "Signature", "SignedHeaders", "Date", "Expires"} {
		if q.Get("X-Amz-"+k) == "" {
			msg += "AWS query-string parameters must include 'X-Amz-" + k + "'. "
		}
	}
	if msg != "" {
		return p, NewError(TypeIncompleteSig, msg+"Re-examine the query-string parameters.")
	}
	if e := p.setCredential(q.Get("X-Amz-Credential")); e != nil {
		return p, e
	}
	p.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	p.signature = q.Get("X-Amz-Signature")
	p.amzDate = q.Get("X-Amz-Date")
	exp, e := parseExpires(q.Get("X-Amz-Expires"))
	if e != nil {
		return p, e
	}
	p.expires = exp
	return p, nil
}

// MaxPresignExpires is SigV4's longest presigned-URL lifetime: 7 days, in seconds.
const MaxPresignExpires = 604800

// parseExpires checks X-Amz-Expires: a whole number of seconds from 1 to
// MaxPresignExpires (AWS's wording where it is known: S3's).
func parseExpires(s string) (int64, *Error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		n, err = math.MaxInt64, nil // a number, too large (or too small) for any lifetime
		if strings.HasPrefix(s, "-") {
			n = -1
		}
	}
	switch {
	case err != nil:
		return 0, NewError(TypeIncompleteSig, "X-Amz-Expires should be a number")
	case n < 0:
		return 0, NewError(TypeIncompleteSig, "X-Amz-Expires must be non-negative")
	case n == 0:
		return 0, NewError(TypeIncompleteSig, "X-Amz-Expires must be greater than 0")
	case n > MaxPresignExpires:
		return 0, NewError(TypeIncompleteSig, "X-Amz-Expires must be less than a week (in seconds) that is "+strconv.Itoa(MaxPresignExpires))
	}
	return n, nil
}

func (p *sigParts) setCredential(cred string) *Error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" {
		return NewError(TypeIncompleteSig, "Credential should be scoped to a valid region. ")
	}
	p.akid, p.date, p.region, p.service, p.term = parts[0], parts[1], parts[2], parts[3], parts[4]
	return nil
}

func canonicalRequest(r *http.Request, p sigParts, payloadHash string, bodyLen int) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	uri := r.URL.EscapedPath()
	if uri == "" {
		uri = "/"
	}
	b.WriteString(escapePath(uri))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query(), p.presigned))
	b.WriteByte('\n')
	for _, h := range p.signedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		switch h {
		case "host":
			b.WriteString(r.Host)
		case "content-length":
			n := r.ContentLength
			if n < 0 { // HTTP/2 without the header: the length that was read
				n = int64(bodyLen)
			}
			b.WriteString(strconv.FormatInt(n, 10))
		default:
			vals := r.Header.Values(h)
			for i, v := range vals {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strings.Join(strings.Fields(v), " "))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(p.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func canonicalQuery(q url.Values, presigned bool) string {
	type kv struct{ k, v string }
	var all []kv
	for k, vs := range q {
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			all = append(all, kv{awsEscape(k, true), awsEscape(v, true)})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].k != all[j].k {
			return all[i].k < all[j].k
		}
		return all[i].v < all[j].v
	})
	var b strings.Builder
	for i, e := range all {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(e.k)
		b.WriteByte('=')
		b.WriteString(e.v)
	}
	return b.String()
}

// escapePath URI-encodes an already escaped path once more (SigV4 for non-S3 services).
func escapePath(p string) string { return awsEscape(p, false) }

func awsEscape(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func (v *Verifier) signingKey(secret, date, region, service string) []byte {
	ck := secret + "|" + date + "|" + region + "|" + service
	if k, ok := v.keys.Load(ck); ok {
		return k.([]byte)
	}
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	k = hmacSHA256(k, []byte("aws4_request"))
	v.keys.Store(ck, k)
	return k
}
