package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestFailureRecordJSON(t *testing.T) {
	r := Record{Data: []byte("hello\n"), ArrivalMs: 1700000000123, SequenceNumber: "49", SubSequence: 2}
	f := NewFailureRecord(r, 3, "DynamicPartitioning.MetadataExtractionFailed", `bad "json" <x>`, 1700000000999)
	got := string(AppendNDJSON(nil, []FailureRecord{f}))
	want := `{"attemptsMade":3,"arrivalTimestamp":1700000000123,"errorCode":"DynamicPartitioning.MetadataExtractionFailed","errorMessage":"bad \"json\" \u003cx\u003e","attemptEndingTimestamp":1700000000999,"rawData":"aGVsbG8K"}` + "\n"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// optional members and the format-conversion naming
	sub := 4
	f.LastErrorNames = true
	f.SequenceNumber = "49"
	f.SubSequenceNumber = &sub
	f.DataCatalogTable = &DataCatalogTable{DatabaseName: "db", TableName: "t"}
	f.Extra = []Field{{Key: "EventId", Value: "49.4"}, {Key: "subsequenceNumber", Value: 4}}
	var m map[string]any
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	for _, k := range []string{"lastErrorCode", "lastErrorMessage", "sequenceNumber", "subSequenceNumber", "dataCatalogTable", "EventId", "subsequenceNumber"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s in %s", k, b)
		}
	}
	if _, ok := m["errorCode"]; ok {
		t.Errorf("errorCode present with LastErrorNames: %s", b)
	}
}

func TestWriteNDJSONMatchesAppend(t *testing.T) {
	recs := []FailureRecord{{AttemptsMade: 1, RawData: []byte{0, 1, 2}}, {AttemptsMade: 2, ErrorCode: "c"}}
	var buf bytes.Buffer
	if err := WriteNDJSON(&buf, recs); err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(AppendNDJSON(nil, recs)) {
		t.Fatalf("WriteNDJSON %q != AppendNDJSON %q", buf.String(), AppendNDJSON(nil, recs))
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 2 {
		t.Fatalf("want 2 lines: %q", buf.String())
	}
}

func TestInvalidArgumentIs(t *testing.T) {
	err := errors.Join(InvalidArgument("Prefix %q bad", "x"))
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatal("not ErrInvalidArgument")
	}
}
