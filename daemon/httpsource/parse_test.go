package httpsource

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	ok := []struct {
		body string
		id   string
		ts   int64
		recs []string
	}{
		{`{"requestId":"a","timestamp":1700000000000,"records":[{"data":"aGk="},{"data":""}]}`, "a", 1700000000000, []string{"hi", ""}},
		{" \n{ \"records\" : [ ] , \"timestamp\" : -5 , \"requestId\" : \"b\\u0041\" } \r\n", "bA", -5, nil},
		{`{"requestId":"c","timestamp":0,"records":[{"data":"YWJj\/w=="}]}`, "c", 0, []string{"abc\xff"}},
	}
	for _, c := range ok {
		r, err := Parse([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		var got []string
		for _, d := range r.Records {
			got = append(got, string(d))
		}
		if r.RequestID != c.id || r.Timestamp != c.ts || fmt.Sprint(got) != fmt.Sprint(c.recs) {
			t.Errorf("%s: %+v", c.body, r)
		}
	}
	bad := map[string]string{
		``:   "ends",
		`[]`: "expected",
		`{}`: "requestId is missing",
		`{"requestId":"","timestamp":1,"records":[]}`:                       "empty",
		`{"requestId":"a","records":[]}`:                                    "timestamp is missing",
		`{"requestId":"a","timestamp":1}`:                                   "records is missing",
		`{"requestId":"a","timestamp":1,"records":[]}x`:                     "after",
		`{"requestId":"a","requestId":"b","timestamp":1,"records":[]}`:      "twice",
		`{"requestId":"a","timestamp":1e3,"records":[]}`:                    "integer",
		`{"requestId":"a","timestamp":"1","records":[]}`:                    "number",
		`{"requestId":"a","timestamp":99999999999999999999,"records":[]}`:   "range",
		`{"requestId":"a","timestamp":1,"records":[{"data":"aGk=","x":1}]}`: "more than data",
		`{"requestId":"a","timestamp":1,"records":[{"Data":"aGk="}]}`:       "only data",
		`{"requestId":"a","timestamp":1,"records":[{"data":null}]}`:         "string",
		`{"requestId":"a","timestamp":1,"records":[{"data":"aGk"}]}`:        "base64",
		`{"requestId":"a","timestamp":1,"records":{}}`:                      "array",
		`{"requestId":"a","timestamp":1,"records":[{"data":"aGk="},]}`:      "object",
		"{\"requestId\":\"a\x01\",\"timestamp\":1,\"records\":[]}":          "control",
		`{"requestId":"a","timestamp":1,"records":[{"data":"aGk=`:           "not closed",
		`{"requestId":"a\x","timestamp":1,"records":[]}`:                    "not valid JSON",
		`{"requestid":"a","timestamp":1,"records":[]}`:                      "unexpected member",
	}
	for body, want := range bad {
		if _, err := Parse([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	var b strings.Builder
	b.WriteString(`{"requestId":"a","timestamp":1,"records":[`)
	for i := range MaxRecords + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"data":""}`)
	}
	b.WriteString("]}")
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than 10000") {
		t.Errorf("10,001 records: %v", err)
	}
}

// FuzzParse: Parse never panics; what it accepts is valid JSON that encoding/json reads
// to the same request, with at most 10,000 records and no more decoded bytes than sent.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"requestId":"a","timestamp":1700000000000,"records":[{"data":"aGk="},{"data":""}]}`))
	f.Add([]byte(`{"records":[],"timestamp":0,"requestId":"\u00e9"}`))
	f.Add([]byte(`{"requestId":"c","timestamp":-1,"records":[{"data":"YWJj\/w=="}]}`))
	f.Add([]byte(`{"requestId":"a","timestamp":1,"records":[{"data":"aGk"}]}`))
	f.Add([]byte(`{"requestId":"a","timestamp":1e3,"records":[{"data":null}]}`))
	f.Add([]byte(` {"requestId" : "a" , "timestamp" : 12 , "records" : [ { "data" : "QUJD" } ] } `))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Parse(body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var ref struct {
			RequestID string `json:"requestId"`
			Timestamp int64  `json:"timestamp"`
			Records   []struct {
				Data string `json:"data"`
			} `json:"records"`
		}
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("encoding/json refuses what Parse took: %v (%q)", err, body)
		}
		if ref.RequestID != r.RequestID || ref.Timestamp != r.Timestamp || len(ref.Records) != len(r.Records) {
			t.Fatalf("Parse %+v, encoding/json %+v", r, ref)
		}
		n := 0
		for i, d := range r.Records {
			n += len(d)
			want, err := base64.StdEncoding.DecodeString(ref.Records[i].Data)
			if err != nil || !bytes.Equal(want, d) {
				t.Fatalf("record %d: %q, want %q (%v)", i, d, want, err)
			}
		}
		if len(r.Records) > MaxRecords || n > len(body) {
			t.Fatalf("%d records, %d bytes from a %d-byte body", len(r.Records), n, len(body))
		}
	})
}
