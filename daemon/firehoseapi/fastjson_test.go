package firehoseapi

import (
	"encoding/json"
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
	} {
		if _, _, _, _, ok := fastBatch([]byte(body)); ok {
			t.Errorf("accepted %s", body)
		}
	}
}
