package firehoseapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The fast decoder agrees with encoding/json wherever it accepts a body, and declines
// (ok=false) the bodies it does not handle.
func TestFastBatchMatchesEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"DeliveryStreamName":"a","Records":[{"Data":"aGVsbG8="},{"Data":""}]}`,
		` { "Records" : [ { "Data" : "eA==" , "Extra": 5 } ] , "DeliveryStreamName" : "b", "x": true } `,
		`{"DeliveryStreamName":"a","Records":[]}`,
		`{"DeliveryStreamName":"a"}`,
	} {
		name, hasName, recs, hasRecs, ok := fastBatch([]byte(body))
		if !ok {
			t.Fatalf("declined %s", body)
		}
		var in putBatchIn
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		if hasName != (in.DeliveryStreamName != nil) || (hasName && name != *in.DeliveryStreamName) {
			t.Fatalf("%s: name %q/%v", body, name, hasName)
		}
		if hasRecs != (in.Records != nil) {
			t.Fatalf("%s: records presence", body)
		}
		if hasRecs {
			if len(recs) != len(*in.Records) {
				t.Fatalf("%s: %d records, want %d", body, len(recs), len(*in.Records))
			}
			for i, r := range *in.Records {
				if string(recs[i]) != string(*r.Data) {
					t.Fatalf("%s: record %d = %q want %q", body, i, recs[i], *r.Data)
				}
			}
		}
	}
	for _, body := range []string{
		`{"DeliveryStreamName":"a","Records":[{"Data":"%%%"}]}`,
		`{"DeliveryStreamName":"a\u0041","Records":[]}`,
		`{"DeliveryStreamName":null}`,
		`{"DeliveryStreamName":"a","Records":[{"Data":1}]}`,
		`{"DeliveryStreamName":"a"} x`,
		`{"DeliveryStreamName":"a","y":tru}`,
		`{"DeliveryStreamName":"a","Records":{}}`,
		`{"x":1-2}`, `{"x":--1}`, `{"x":1.}`, `{"x":01}`,
		"{\"Records\":[{\"Data\":\"eA\n==\"}]}", "{\"Records\":[{\"Data\":\"eA\t==\"}]}", `{"Records":[{"Data":"eA\u003d="}]}`,
	} {
		if _, _, _, _, ok := fastBatch([]byte(body)); ok {
			t.Errorf("accepted %s", body)
		}
	}
}

// FuzzFastBatch: whatever the fast decoder accepts, encoding/json decodes to the same
// name and records.
func FuzzFastBatch(f *testing.F) {
	for _, s := range []string{
		`{"DeliveryStreamName":"a","Records":[{"Data":"aGVsbG8="},{"Data":""}]}`,
		` { "Records" : [ { "Data" : "eA==" , "Extra": 5 } ] , "DeliveryStreamName" : "b", "x": true } `,
		`{"DeliveryStreamName":"a","Records":[]}`,
		`{"Records":[{"Data":"AAEC"},{"Data":"//8="}],"n":-1.5e3}`,
		// long enough for the vector decoder, and one with a bad character deep inside
		`{"Records":[{"Data":"` + strings.Repeat("c2x1aWNlIGZpcmVob3Nl", 12) + `"},{"Data":"` + strings.Repeat("c2x1aWNl", 9) + "*" + `AAA"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		name, hasName, recs, hasRecs, ok := fastBatch(body)
		if !ok {
			return
		}
		// encoding/json folds key case ("deliverystreamname" fills DeliveryStreamName);
		// AWS and the fast path match exactly, so such bodies are not comparable
		lower := bytes.ToLower(body)
		for _, k := range []string{"DeliveryStreamName", "Records", "Data"} {
			if bytes.Count(lower, bytes.ToLower([]byte(k))) != bytes.Count(body, []byte(k)) {
				return
			}
		}
		var in putBatchIn
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", body, err)
		}
		if hasName != (in.DeliveryStreamName != nil) || (hasName && name != *in.DeliveryStreamName) {
			t.Fatalf("%q: name %q/%v vs %v", body, name, hasName, in.DeliveryStreamName)
		}
		if hasRecs != (in.Records != nil) || (hasRecs && len(recs) != len(*in.Records)) {
			t.Fatalf("%q: records differ", body)
		}
		for i := range recs {
			if (*in.Records)[i].Data == nil || string(recs[i]) != string(*(*in.Records)[i].Data) {
				t.Fatalf("%q: record %d differs", body, i)
			}
		}
	})
}
