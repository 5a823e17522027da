//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
)

// The Kinesis API model the installed AWS CLI ships (botocore's service-2.json, written
// by AWS, not here) judges Sluice's request validation: for every operation of the model,
// a request whose string members are all empty and whose other members are all absent
// gets one ValidationException listing, in member order, each member's violations (null
// for a required absent member, length and pattern for an empty string, the enum set),
// and the count; a request whose members all carry the wrong JSON type gets
// AWS's SerializationException for the first of them.
func TestKinesisValidationFollowsTheModel(t *testing.T) {
	m := loadKinesisModel(t)
	s := harness.StartSluice(t, "")
	checked, violations := 0, 0
	for _, op := range m.opNames() {
		in := m.Operations[op].Input.Shape
		if in == "" {
			continue
		}
		shape := m.Shapes[in]
		body := map[string]any{}
		var want []string // "<path> <rule>" in member order
		for _, name := range shape.order {
			mem := shape.Members[name]
			ms := m.Shapes[mem.Shape]
			path := lowerFirst(name)
			if ms.Type == "string" {
				body[name] = ""
				want = append(want, emptyStringViolations(path, ms)...)
				continue
			}
			if shape.required(name) {
				want = append(want, path+" Member must not be null")
			}
		}
		code, typ, msg := callKinesis(t, s.Endpoint, op, body)
		if len(want) == 0 {
			if typ == "ValidationException" {
				t.Errorf("%s with empty strings: %s %q; the model has no constraint they break", op, typ, msg)
			}
			continue
		}
		checked++
		violations += len(want)
		if code != 400 || typ != "ValidationException" {
			t.Errorf("%s with empty strings: %d %s %q, want a ValidationException with %d violations", op, code, typ, msg, len(want))
			continue
		}
		got := parseViolations(msg)
		head := fmt.Sprintf("%d validation error", len(want))
		if !strings.HasPrefix(msg, head) {
			t.Errorf("%s: %q, want it to start %q (model: %v)", op, msg, head, want)
		}
		if n := min(len(want), 10); !sameInMemberOrder(got, want[:n]) {
			t.Errorf("%s violations:\n got %v\nwant %v (model order)", op, got, want[:n])
		}
	}
	if checked < 25 {
		t.Fatalf("only %d operations had constraints to check; is the model right?", checked)
	}
	t.Logf("%d operations, %d violations as the model has them", checked, violations)

	// Wrong JSON types: a SerializationException naming the first member's Java type.
	typed := 0
	for _, op := range m.opNames() {
		shape := m.Shapes[m.Operations[op].Input.Shape]
		for _, name := range shape.order {
			ms := m.Shapes[shape.Members[name].Shape]
			value, want := wrongTyped(ms.Type)
			if want == "" {
				continue
			}
			code, typ, msg := callKinesis(t, s.Endpoint, op, map[string]any{name: value})
			typed++
			if code != 400 || typ != "SerializationException" || !strings.Contains(msg, want) {
				t.Errorf("%s.%s (%s) given %v: %d %s %q, want a SerializationException %q", op, name, ms.Type, value, code, typ, msg, want)
			}
		}
	}
	t.Logf("%d wrong-typed members refused with AWS's serialization texts", typed)
}

// emptyStringViolations is what "" breaks in a string shape, in the order AWS lists them.
func emptyStringViolations(path string, s modelShape) []string {
	var out []string
	if s.Min != nil && *s.Min > 0 {
		out = append(out, fmt.Sprintf("%s Member must have length greater than or equal to %d", path, int(*s.Min)))
	}
	if s.Pattern != "" {
		if re, err := regexp.Compile("^(?:" + s.Pattern + ")$"); err != nil || !re.MatchString("") {
			out = append(out, path+" Member must satisfy regular expression pattern: "+s.Pattern)
		}
	}
	if len(s.Enum) > 0 {
		out = append(out, path+" Member must satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]")
	}
	return out
}

// wrongTyped is a JSON value of the wrong type for a member of model type typ, and the
// text AWS's SerializationException has for it ("" for none checked).
func wrongTyped(typ string) (any, string) {
	switch typ {
	case "string":
		return 5, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"
	case "integer":
		return "x", "class java.lang.String can not be converted to an Integer"
	case "long":
		return "x", "class java.lang.String can not be converted to an Long"
	case "boolean":
		return 5, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean"
	case "timestamp":
		return "x", "class java.lang.String can not be converted to milliseconds since epoch"
	case "list":
		return map[string]any{}, "Start of structure or map found where not expected."
	case "map", "structure":
		return []any{}, "Start of list found where not expected"
	}
	return nil, ""
}

var violationRE = regexp.MustCompile(`Value (?:null|'[^']*'|\[[^\]]*\]) at '([^']+)' failed to satisfy constraint: (.+)`)

// parseViolations splits a ValidationException text into "<path> <rule>" items.
func parseViolations(msg string) []string {
	_, list, ok := strings.Cut(msg, " detected: ")
	if !ok {
		return nil
	}
	var out []string
	for _, item := range strings.Split(list, "; ") {
		if m := violationRE.FindStringSubmatch(item); m != nil {
			out = append(out, m[1]+" "+m[2])
		} else {
			out = append(out, "?"+item)
		}
	}
	return out
}

// sameInMemberOrder: the same items, members in the same order (the rules of one member
// in any order).
func sameInMemberOrder(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	member := func(s string) string { p, _, _ := strings.Cut(s, " "); return p }
	// AWS prints an enum's values in its own order (a Java set's), not the model's
	norm := func(s string) string {
		head, vals, ok := strings.Cut(s, "enum value set: [")
		if !ok {
			return s
		}
		l := strings.Split(strings.TrimSuffix(vals, "]"), ", ")
		slices.Sort(l)
		return head + "enum value set: [" + strings.Join(l, ", ") + "]"
	}
	got, want = mapStrings(got, norm), mapStrings(want, norm)
	for i := 0; i < len(want); {
		j := i
		for j < len(want) && member(want[j]) == member(want[i]) {
			j++
		}
		a, b := append([]string(nil), got[i:j]...), append([]string(nil), want[i:j]...)
		for _, w := range b {
			k := indexOf(a, w)
			if k < 0 {
				return false
			}
			a = append(a[:k], a[k+1:]...)
		}
		i = j
	}
	return true
}

func mapStrings(s []string, f func(string) string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// callKinesis posts body to op (JSON 1.1) and
// returns the status, the error type (after '#') and its message.
func callKinesis(t *testing.T, endpoint, op string, body map[string]any) (int, string, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	now := time.Now().UTC() // well formed, not verified: the daemon has no credentials
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/"+now.Format("20060102")+
		"/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg2    string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &e)
	typ := e.Type
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	if e.Message == "" {
		e.Message = e.Msg2
	}
	return resp.StatusCode, typ, e.Message
}

// ---- the model ----

type kinesisModel struct {
	Operations map[string]struct {
		Input struct {
			Shape string `json:"shape"`
		} `json:"input"`
	} `json:"operations"`
	Shapes map[string]modelShape `json:"shapes"`
}

type modelShape struct {
	Type     string   `json:"type"`
	Required []string `json:"required"`
	Members  map[string]struct {
		Shape string `json:"shape"`
	} `json:"members"`
	Min     *float64 `json:"min"`
	Pattern string   `json:"pattern"`
	Enum    []string `json:"enum"`
	order   []string // member names as the model lists them
}

func (s modelShape) required(name string) bool { return indexOf(s.Required, name) >= 0 }

func (m *kinesisModel) opNames() []string {
	var out []string
	for op := range m.Operations {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

// loadKinesisModel finds the Kinesis model of the AWS CLI's botocore (v1: botocore/data,
// v2: awscli/botocore/data) on the sys.path of python3 or in Debian's python folder. Fails
// under CI, where the CLI is installed; skips elsewhere when it is not there.
func loadKinesisModel(t *testing.T) *kinesisModel {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print('\\n'.join(p for p in sys.path if p))").Output()
	if err != nil && os.Getenv("CI") == "" {
		t.Skipf("python3: %v", err)
	}
	// Debian's awscli (what .ci/run installs) is on the system python's path, which a
	// python3 from elsewhere (pyenv) does not list. SLUICE_KINESIS_MODEL names a file.
	found := os.Getenv("SLUICE_KINESIS_MODEL")
	paths := append(strings.Split(strings.TrimSpace(string(out)), "\n"), "/usr/lib/python3/dist-packages")
	for _, p := range paths {
		for _, sub := range []string{"botocore", "awscli/botocore"} {
			ms, _ := filepath.Glob(filepath.Join(p, sub, "data", "kinesis", "2013-12-02", "service-2.json*"))
			if len(ms) > 0 && found == "" {
				found = ms[0]
			}
		}
	}
	if found == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Kinesis model (botocore data/kinesis/2013-12-02/service-2.json) on python3's path; .ci/run installs awscli")
		}
		t.Skip("no Kinesis model of the AWS CLI found")
	}
	raw, err := os.ReadFile(found)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(found, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	var m kinesisModel
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", found, err)
	}
	// member order: Go maps lose it, so read each input shape's members again in order
	var ordered struct {
		Shapes map[string]struct {
			Members json.RawMessage `json:"members"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &ordered); err != nil {
		t.Fatal(err)
	}
	for name, s := range ordered.Shapes {
		if len(s.Members) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(s.Members))
		_, _ = dec.Token() // {
		var order []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, tok.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		sh := m.Shapes[name]
		sh.order = order
		m.Shapes[name] = sh
	}
	t.Logf("Kinesis model: %s (%d operations)", found, len(m.Operations))
	return &m
}
