package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTimestampEncodings(t *testing.T) {
	// Reference §1.3: 1767225661123 ms → c1 1b 00 00 01 9b 76 db 96 c3.
	b, err := Marshal(CBOR, struct {
		T Timestamp `json:"T"`
	}{1767225661123})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("a16154c11b0000019b76db96c3")
	if !bytes.Equal(b, want) {
		t.Fatalf("CBOR = %x, want %x", b, want)
	}
	j, _ := Marshal(JSON, struct {
		T Timestamp `json:"T"`
		Z Timestamp `json:"Z,omitempty"`
	}{T: 1767225661005})
	if string(j) != `{"T":1767225661.005}` {
		t.Fatalf("JSON = %s", j)
	}
}

func TestFieldsReadTimestamps(t *testing.T) {
	f, e := ParseBody(JSON, []byte(`{"A":1767225661.5,"B":"2026-01-01T00:01:01Z","C":1767225661}`))
	if e != nil {
		t.Fatal(e)
	}
	for name, want := range map[string]int64{"A": 1767225661500, "B": 1767225661000, "C": 1767225661000} {
		if got, ok := f.Time(name, JSON); !ok || got.UnixMilli() != want {
			t.Errorf("%s = %v (%d), want %d", name, got, got.UnixMilli(), want)
		}
	}
	// CBOR: tag 1 + ms, untagged ms, and small values as seconds.
	cb, _ := hex.DecodeString("a36154c11b0000019b76db96c361551b0000019b76db96c361531a6955b93d")
	f, e = ParseBody(CBOR, cb)
	if e != nil {
		t.Fatal(e)
	}
	for name, want := range map[string]int64{"T": 1767225661123, "U": 1767225661123, "S": 1767225661000} {
		if got, ok := f.Time(name, CBOR); !ok || got.UnixMilli() != want {
			t.Errorf("CBOR %s = %d, want %d", name, got.UnixMilli(), want)
		}
	}
}

func TestSerializationTexts(t *testing.T) {
	f, _ := ParseBody(JSON, []byte(`{"S":5,"I":"x","B":"maybe","L":{},"A":[1],"D":"ab=c","E":"abc","P":"YR==","T":"soon","F":false}`))
	cases := []struct {
		read func()
		want string
	}{
		{func() { f.Str("S") }, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"},
		{func() { f.Blob("S") }, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob"},
		{func() { f.Time("T", JSON) }, "class java.lang.String can not be converted to milliseconds since epoch"},
		{func() { f.Time("F", JSON) }, "class java.lang.Boolean can not be converted to milliseconds since epoch"},
		{func() { f.Struct("A") }, "Start of list found where not expected"},
		{func() { f.StrMap("A") }, "Start of list found where not expected"},
		{func() { f.Struct("S") }, "Expected null"},
		{func() { f.StrMap("S") }, "Expected map or null"},
		{func() { f.StrList("L") }, "Start of structure or map found where not expected."},
		{func() { f.StructList("L") }, "Start of structure or map found where not expected."},
		{func() { f.Int("I") }, "class java.lang.String can not be converted to an Integer"},
		{func() { f.Bool("B") }, "'MAYBE' can not be converted to an Boolean"},
		{func() { f.Str("L") }, "Start of structure or map found where not expected."},
		{func() { f.StrList("S") }, "Expected list or null"},
		{func() { f.Blob("D") }, "'ab=c' can not be converted to a Blob: Invalid Base64 character: '='"},
		{func() { f.Blob("P") }, "'YR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"},
		{func() { f.Blob("E") }, "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"},
	}
	for _, c := range cases {
		f.err = nil
		c.read()
		if f.Err() == nil || f.Err().Message != c.want || f.Err().Type != TypeSerialization {
			t.Errorf("got %v, want %q", f.Err(), c.want)
		}
	}
}

func TestValidationText(t *testing.T) {
	var v Validation
	for i := 0; i < 12; i++ {
		v.Add(Null, "a", RuleNotNull)
	}
	e := v.Err()
	if e.Type != TypeValidation || !bytes.HasPrefix([]byte(e.Message), []byte("12 validation errors detected: Value null at 'a' failed to satisfy constraint: Member must not be null; ")) ||
		bytes.Count([]byte(e.Message), []byte("Value null")) != 10 {
		t.Fatalf("message: %s", e.Message)
	}
}

func TestErrorBodies(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, JSON, Serialization("boom"))
	if w.Body.String() != `{"__type":"SerializationException","Message":"boom"}` || w.Code != 400 || w.Header().Get("x-amzn-ErrorType") != "SerializationException" {
		t.Fatalf("JSON: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	WriteError(w, JSON, Internal())
	if w.Body.String() != `{"__type":"InternalFailure"}` || w.Code != 500 {
		t.Fatalf("internal: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	WriteError(w, CBOR, NewError("ResourceNotFoundException", "x"))
	want, _ := hex.DecodeString("a2665f5f7479706578195265736f757263654e6f74466f756e64457863657074696f6e676d6573736167656178")
	if !bytes.Equal(w.Body.Bytes(), want) || w.Header().Get("Content-Type") != ContentTypeCBOR {
		t.Fatalf("CBOR: %x", w.Body.Bytes())
	}
}

func TestEventMessageRoundTrip(t *testing.T) {
	msg := AppendEventMessage(nil, []EventHeader{{Name: ":event-type", Value: "initial-response"}}, []byte("{}"))
	m, rest, ok := ParseEventMessage(msg)
	if !ok || len(rest) != 0 || m.Headers[":event-type"] != "initial-response" || string(m.Payload) != "{}" {
		t.Fatalf("round trip: %v %+v", ok, m)
	}
	msg[len(msg)-1] ^= 1
	if _, _, ok := ParseEventMessage(msg); ok {
		t.Fatal("corrupted CRC accepted")
	}
}

func TestIdentityAllowed(t *testing.T) {
	id := Identity{AccessKeyID: "K", Account: "000000000000", Cred: &Credential{Actions: []string{"kinesis:Put*"}, Resources: []string{"orders-*"}}}
	if !id.Allowed("kinesis:PutRecords", "arn:aws:kinesis:us-east-1:000000000000:stream/orders-eu") {
		t.Error("name pattern should allow orders-eu")
	}
	if id.Allowed("kinesis:GetRecords", "arn:aws:kinesis:us-east-1:000000000000:stream/orders-eu") || id.Allowed("kinesis:PutRecord", "arn:aws:kinesis:us-east-1:000000000000:stream/clicks") {
		t.Error("should deny other actions and streams")
	}
	if !(Identity{}).Allowed("kinesis:Anything", "x") {
		t.Error("auth off must allow")
	}
	_ = time.Now
}

// GetRecords' Data: every length encodes as encoding/base64 does, after what b held.
func TestAppendJSONBase64(t *testing.T) {
	for n := 0; n < 300; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*167 + n)
		}
		got := AppendJSONBase64([]byte(`{"Data":`), p)
		want := `{"Data":"` + base64.StdEncoding.EncodeToString(p) + `"`
		if string(got) != want {
			t.Fatalf("%d bytes: %s, want %s", n, got, want)
		}
	}
}
