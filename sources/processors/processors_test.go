package processors

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/sources/record"
)

// --- a tiny protobuf writer for KPL aggregates (tests only) ---

func pbVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func pbBytes(b []byte, field int, v []byte) []byte {
	b = pbVarint(b, uint64(field)<<3|2)
	b = pbVarint(b, uint64(len(v)))
	return append(b, v...)
}

type kplUser struct {
	pk, ehk int // indexes; ehk -1 = none
	data    string
	tags    bool
}

func aggregate(pks, ehks []string, recs []kplUser) []byte {
	var pb []byte
	for _, k := range pks {
		pb = pbBytes(pb, 1, []byte(k))
	}
	for _, k := range ehks {
		pb = pbBytes(pb, 2, []byte(k))
	}
	for _, r := range recs {
		var rb []byte
		rb = pbVarint(rb, 1<<3|0)
		rb = pbVarint(rb, uint64(r.pk))
		if r.ehk >= 0 {
			rb = pbVarint(rb, 2<<3|0)
			rb = pbVarint(rb, uint64(r.ehk))
		}
		rb = pbBytes(rb, 3, []byte(r.data))
		if r.tags {
			var tb []byte
			tb = pbBytes(tb, 1, []byte("k"))
			tb = pbBytes(tb, 2, []byte("v"))
			rb = pbBytes(rb, 4, tb)
		}
		pb = pbBytes(pb, 3, rb)
	}
	sum := md5.Sum(pb)
	out := append(slices.Clone(KPLMagic), pb...)
	return append(out, sum[:]...)
}

func TestDeaggregateKPL(t *testing.T) {
	agg := aggregate([]string{"p0", "p1"}, []string{"123"}, []kplUser{{0, -1, "first", false}, {1, 0, "second", true}, {0, -1, "", false}})
	recs, ok := DeaggregateKPL(agg)
	if !ok || len(recs) != 3 {
		t.Fatalf("ok=%v recs=%v", ok, recs)
	}
	if recs[0].PartitionKey != "p0" || string(recs[0].Data) != "first" || recs[0].ExplicitHashKey != "" {
		t.Errorf("rec 0 = %+v", recs[0])
	}
	if recs[1].PartitionKey != "p1" || string(recs[1].Data) != "second" || recs[1].ExplicitHashKey != "123" {
		t.Errorf("rec 1 = %+v", recs[1])
	}
	if len(recs[2].Data) != 0 {
		t.Errorf("rec 2 = %+v", recs[2])
	}

	bad := map[string][]byte{
		"short":      append(slices.Clone(KPLMagic), make([]byte, 16)...),
		"no magic":   append([]byte{0, 0, 0, 0}, agg[4:]...),
		"bad md5":    append(slices.Clone(agg[:len(agg)-1]), agg[len(agg)-1]^1),
		"pk range":   aggregate([]string{"p0"}, nil, []kplUser{{1, -1, "x", false}}),
		"ehk range":  aggregate([]string{"p0"}, nil, []kplUser{{0, 0, "x", false}}),
		"no records": aggregate([]string{"p0"}, nil, nil),
		"garbage pb": func() []byte {
			pb := []byte{0x1a, 0xff, 0x01, 0x00}
			s := md5.Sum(pb)
			return append(append(slices.Clone(KPLMagic), pb...), s[:]...)
		}(),
	}
	for name, b := range bad {
		if _, ok := DeaggregateKPL(b); ok {
			t.Errorf("%s: de-aggregated, want pass-through", name)
		}
	}
}

func mustChain(t *testing.T, opts Options, procs ...ProcessorConfig) *Chain {
	t.Helper()
	c, err := NewChain(Config{Enabled: true, Processors: procs}, opts)
	if err != nil {
		t.Fatalf("NewChain: %v", err)
	}
	return c
}

func datas(recs []record.Record) []string {
	var s []string
	for _, r := range recs {
		s = append(s, string(r.Data))
	}
	return s
}

func TestKPLStageSubsequences(t *testing.T) {
	c, err := NewChain(Config{}, Options{KPLDeaggregation: true})
	if err != nil {
		t.Fatal(err)
	}
	agg := aggregate([]string{"a"}, nil, []kplUser{{0, -1, "x", false}, {0, -1, "y", false}})
	in := []record.Record{{Data: []byte("plain"), SequenceNumber: "1", ArrivalMs: 10}, {Data: agg, SequenceNumber: "2", ArrivalMs: 20}}
	out, failed := c.Process(in)
	if len(failed) != 0 || !slices.Equal(datas(out), []string{"plain", "x", "y"}) {
		t.Fatalf("out %q failed %v", datas(out), failed)
	}
	if out[2].SequenceNumber != "2" || out[2].SubSequence != 1 || out[2].ArrivalMs != 20 {
		t.Errorf("sub-record 1 = %+v", out[2])
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestDecompressionAndCloudWatch(t *testing.T) {
	c := mustChain(t, Options{},
		ProcessorConfig{Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{ParamDataMessageExtraction: "true"}},
		ProcessorConfig{Type: TypeDecompression, Parameters: map[string]string{ParamCompressionFormat: "GZIP"}},
		ProcessorConfig{Type: TypeAppendDelimiterToRecord},
	)
	data := `{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":"line one"},{"id":"2","timestamp":2,"message":"line two"}]}`
	ctrl := `{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`
	in := []record.Record{{Data: gz(data)}, {Data: gz(ctrl)}, {Data: []byte("not gzip")}, {Data: gz("not json")}}
	out, failed := c.Process(in)
	if !slices.Equal(datas(out), []string{"line one\n", "line two\n"}) {
		t.Errorf("out %q", datas(out))
	}
	if len(failed) != 2 {
		t.Fatalf("failed %+v", failed)
	}
	if failed[0].ErrorOutputType != record.ProcessingFailed || string(failed[0].Record.Data) != "not gzip" || failed[0].ErrorCode != CodeDecompressionFailed {
		t.Errorf("failure 0 %+v", failed[0])
	}
	// the CloudWatch failure carries the record at the failing stage: decompressed
	if string(failed[1].Record.Data) != "not json" || failed[1].ErrorCode != CodeCloudWatchLogsFailed {
		t.Errorf("failure 1 %+v", failed[1])
	}
}

func TestRecordDeAggregation(t *testing.T) {
	jc := mustChain(t, Options{DynamicPartitioning: true}, ProcessorConfig{Type: TypeRecordDeAggregation, Parameters: map[string]string{ParamSubRecordType: "JSON"}})
	out, failed := jc.Process([]record.Record{{Data: []byte(` {"a":1}{"b":[1,2]}` + "\n" + `  "s" 3 `)}, {Data: []byte(`{"a":`)}})
	if !slices.Equal(datas(out), []string{`{"a":1}`, `{"b":[1,2]}`, `"s"`, `3`}) {
		t.Errorf("json split %q", datas(out))
	}
	if out[3].SubSequence != 3 {
		t.Errorf("subsequence %d", out[3].SubSequence)
	}
	if len(failed) != 1 || failed[0].ErrorCode != CodeDeAggregationFailed {
		t.Errorf("failed %+v", failed)
	}
	// > 500 sub-records: left whole
	many := strings.Repeat(`{}`, MaxSubRecords+1)
	out, _ = jc.Process([]record.Record{{Data: []byte(many)}})
	if len(out) != 1 || string(out[0].Data) != many {
		t.Errorf("501 sub-records split into %d", len(out))
	}
	dc := mustChain(t, Options{DynamicPartitioning: true}, ProcessorConfig{Type: TypeRecordDeAggregation, Parameters: map[string]string{ParamSubRecordType: "DELIMITED", ParamDelimiter: "IyMjIw=="}})
	out, _ = dc.Process([]record.Record{{Data: []byte("a####b########c####")}})
	if !slices.Equal(datas(out), []string{"a", "b", "", "c"}) {
		t.Errorf("delimited split %q", datas(out))
	}
}

func TestMetadataExtraction(t *testing.T) {
	c := mustChain(t, Options{DynamicPartitioning: true},
		ProcessorConfig{Type: TypeMetadataExtraction, Parameters: map[string]string{
			ParamMetadataExtractionQuery: `{customer: .customer_id, n: .n, ok: .ok, "year": (.ts[0:4])}`, ParamJSONParsingEngine: "JQ-1.6"}},
		ProcessorConfig{Type: TypeAppendDelimiterToRecord},
	)
	if !slices.Equal(c.QueryKeys(), []string{"customer", "n", "ok", "year"}) {
		t.Errorf("QueryKeys %v", c.QueryKeys())
	}
	in := []record.Record{
		{Data: []byte(`{"customer_id":"acme","n":1.0,"ok":true,"ts":"2026-07-13"}`)},
		{Data: []byte(`{"customer_id":"x","n":12345678901234567890,"ok":false,"ts":"2025"}`)},
		{Data: []byte(`{"customer_id":null,"n":1,"ok":true,"ts":"2026"}`)},
		{Data: []byte(`{"customer_id":{"a":1},"n":1,"ok":true,"ts":"2026"}`)},
		{Data: []byte(`not json`)},
		{Data: []byte(`{"customer_id":"a","n":1,"ok":true,"ts":5}`)},
	}
	out, failed := c.Process(in)
	if len(out) != 2 || len(failed) != 4 {
		t.Fatalf("out %q failed %+v", datas(out), failed)
	}
	want0 := map[string]string{"customer": "acme", "n": "1", "ok": "true", "year": "2026"}
	if fmt.Sprint(out[0].PartitionKeys) != fmt.Sprint(want0) || string(out[0].Data) != `{"customer_id":"acme","n":1.0,"ok":true,"ts":"2026-07-13"}`+"\n" {
		t.Errorf("record 0 keys %v data %q", out[0].PartitionKeys, out[0].Data)
	}
	if out[1].PartitionKeys["n"] != "12345678901234567000" || out[1].PartitionKeys["ok"] != "false" {
		t.Errorf("record 1 keys %v", out[1].PartitionKeys)
	}
	for _, f := range failed {
		if f.ErrorOutputType != record.PartitioningFailed || f.ErrorCode != record.CodeMetadataExtractionFailed {
			t.Errorf("failure %+v", f)
		}
		if bytes.HasSuffix(f.Record.Data, []byte("\n")) {
			t.Errorf("failure data has the delimiter appended: %q", f.Record.Data)
		}
	}
	// input slices untouched
	if string(in[0].Data) != `{"customer_id":"acme","n":1.0,"ok":true,"ts":"2026-07-13"}` {
		t.Errorf("input modified: %q", in[0].Data)
	}
}

func TestNewChainErrors(t *testing.T) {
	dp := Options{DynamicPartitioning: true}
	cases := []struct {
		opts  Options
		procs []ProcessorConfig
		want  string
	}{
		{dp, []ProcessorConfig{{Type: "Bogus"}}, "Type \"Bogus\""},
		{dp, []ProcessorConfig{{Type: TypeDecompression, Parameters: map[string]string{ParamCompressionFormat: "ZIP"}}}, "CompressionFormat"},
		{dp, []ProcessorConfig{{Type: TypeDecompression, Parameters: map[string]string{"Foo": "1"}}}, "parameter Foo"},
		{dp, []ProcessorConfig{{Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{ParamDataMessageExtraction: "true"}}}, "requires a Decompression"},
		{dp, []ProcessorConfig{{Type: TypeRecordDeAggregation, Parameters: map[string]string{ParamSubRecordType: "CSV"}}}, "SubRecordType"},
		{dp, []ProcessorConfig{{Type: TypeRecordDeAggregation, Parameters: map[string]string{ParamSubRecordType: "DELIMITED", ParamDelimiter: "!!"}}}, "Delimiter"},
		{dp, []ProcessorConfig{{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: ".a"}}}, "must build a JSON object"},
		{dp, []ProcessorConfig{{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: "{a: .a"}}}, "not a valid JQ"},
		{dp, []ProcessorConfig{{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: "{a:.a}", ParamJSONParsingEngine: "JQ-2"}}}, "JsonParsingEngine"},
		{dp, []ProcessorConfig{{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: manyKeys(51)}}}, "over the limit of 50"},
		{Options{}, []ProcessorConfig{{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: "{a:.a}"}}}, "dynamic partitioning"},
		{dp, []ProcessorConfig{{Type: TypeLambda, Parameters: map[string]string{ParamLambdaArn: "arn:aws:lambda:us-east-1:1:function:f"}}}, "not mapped"},
		{dp, []ProcessorConfig{{Type: TypeAppendDelimiterToRecord}, {Type: TypeAppendDelimiterToRecord}}, "more than once"},
	}
	for _, c := range cases {
		_, err := NewChain(Config{Enabled: true, Processors: c.procs}, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, record.ErrInvalidArgument) {
			t.Errorf("%+v: err %v, want IAE containing %q", c.procs, err, c.want)
		}
	}
	if _, err := NewChain(Config{Enabled: true, Processors: []ProcessorConfig{{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: manyKeys(50)}}}}, dp); err != nil {
		t.Errorf("50 keys rejected: %v", err)
	}
}

func manyKeys(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf("k%d: .k%d", i, i))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func TestDisabledChainPassesThrough(t *testing.T) {
	c, err := NewChain(Config{Enabled: false, Processors: []ProcessorConfig{{Type: TypeAppendDelimiterToRecord}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := []record.Record{{Data: []byte("a")}}
	out, _ := c.Process(in)
	if len(out) != 1 || string(out[0].Data) != "a" {
		t.Fatalf("out %q", datas(out))
	}
}

func TestFailureRecordShape(t *testing.T) {
	f := Failure{ErrorOutputType: record.ProcessingFailed, ErrorCode: "c", ErrorMessage: "m", Record: record.Record{Data: []byte("x"), ArrivalMs: 5}}
	got := string(record.AppendNDJSON(nil, []record.FailureRecord{f.FailureRecord(1, 9)}))
	want := `{"attemptsMade":1,"arrivalTimestamp":5,"errorCode":"c","errorMessage":"m","attemptEndingTimestamp":9,"rawData":"` + base64.StdEncoding.EncodeToString([]byte("x")) + "\"}\n"
	if got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func FuzzDeaggregateKPL(f *testing.F) {
	f.Add(aggregate([]string{"p"}, []string{"1"}, []kplUser{{0, 0, "data", true}, {0, -1, "more", false}}))
	f.Add(append(slices.Clone(KPLMagic), make([]byte, 17)...))
	f.Add([]byte("plain record"))
	f.Fuzz(func(t *testing.T, pb []byte) {
		// fuzz the protobuf body behind a valid envelope so the MD5 check does not hide it
		sum := md5.Sum(pb)
		data := append(append(slices.Clone(KPLMagic), pb...), sum[:]...)
		recs, ok := DeaggregateKPL(data)
		if !ok {
			if recs != nil {
				t.Fatal("records returned with ok=false")
			}
			return
		}
		total := 0
		for _, r := range recs {
			total += len(r.Data)
		}
		if total > len(pb) {
			t.Fatalf("sub-records hold %d bytes from a %d-byte protobuf", total, len(pb))
		}
		// the raw form never de-aggregates without the envelope
		if _, ok := DeaggregateKPL(pb); ok && !bytes.HasPrefix(pb, KPLMagic) {
			t.Fatal("de-aggregated without magic")
		}
	})
}

func TestMetadataExtractionHasNoEnvironment(t *testing.T) {
	t.Setenv("SLUICE_TEST_SECRET", "hunter2")
	c := mustChain(t, Options{DynamicPartitioning: true}, ProcessorConfig{Type: TypeMetadataExtraction,
		Parameters: map[string]string{ParamMetadataExtractionQuery: `{s: ($ENV.SLUICE_TEST_SECRET // "none")}`}})
	out, failed := c.Process([]record.Record{{Data: []byte(`{}`)}})
	if len(failed) == 0 && out[0].PartitionKeys["s"] == "hunter2" {
		t.Fatal("query read the daemon environment")
	}
}

func FuzzSplitJSON(f *testing.F) {
	for _, s := range []string{`{"a":1} {"b":"}"}`, `[1,[2]] "x\"y" 3 true null`, ` {"a":`, `"\\"`, `1 2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pieces, err := splitJSON(b)
		if err != nil {
			return
		}
		for _, p := range pieces {
			if !json.Valid(p) || len(p) == 0 || isJSONSpace(p[0]) || isJSONSpace(p[len(p)-1]) {
				t.Fatalf("bad piece %q from %q", p, b)
			}
		}
		// with a separator between the pieces, every piece is one value and they re-split the same
		again, err := splitJSON(bytes.Join(pieces, []byte("\n")))
		if err != nil || len(again) != len(pieces) {
			t.Fatalf("re-split of %q: %d pieces, %v", b, len(again), err)
		}
	})
}

func TestKPLThenJSONSubsequencesDistinct(t *testing.T) {
	c := mustChain(t, Options{KPLDeaggregation: true, DynamicPartitioning: true},
		ProcessorConfig{Type: TypeRecordDeAggregation, Parameters: map[string]string{ParamSubRecordType: "JSON"}})
	agg := aggregate([]string{"a"}, nil, []kplUser{{0, -1, `{"x":1}{"x":2}`, false}, {0, -1, `{"y":1}{"y":2}`, false}})
	out, failed := c.Process([]record.Record{{Data: agg, SequenceNumber: "9"}})
	if len(failed) != 0 || len(out) != 4 {
		t.Fatalf("out %q failed %v", datas(out), failed)
	}
	seen := map[int]bool{}
	for _, r := range out {
		if seen[r.SubSequence] {
			t.Fatalf("duplicate sub-sequence %d in %+v", r.SubSequence, out)
		}
		seen[r.SubSequence] = true
	}
}

// TestJQNumberFormatMatchesJQ16 compares partition-key number printing with jq 1.6's own
// output for the same JSON numbers (testdata/jq16_numbers.tsv: input, `jq -c .` output).
func TestJQNumberFormatMatchesJQ16(t *testing.T) {
	data, err := os.ReadFile("testdata/jq16_numbers.tsv")
	if err != nil {
		t.Fatal(err)
	}
	c := mustChain(t, Options{DynamicPartitioning: true}, ProcessorConfig{Type: TypeMetadataExtraction,
		Parameters: map[string]string{ParamMetadataExtractionQuery: "{n: .n}"}})
	n := 0
	for line := range strings.Lines(string(data)) {
		in, want, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		out, failed := c.Process([]record.Record{{Data: []byte(`{"n":` + in + `}`)}})
		if len(failed) != 0 {
			t.Errorf("%s: %s", in, failed[0].ErrorMessage)
			continue
		}
		if got := out[0].PartitionKeys["n"]; got != want {
			t.Errorf("%s: got %s, jq 1.6 prints %s", in, got, want)
		}
		n++
	}
	if n < 500 {
		t.Fatalf("only %d cases", n)
	}
}

func TestObserverReportsEachProcessor(t *testing.T) {
	var got []StageStats
	c, err := NewChain(Config{Enabled: true, Processors: []ProcessorConfig{
		{Type: TypeAppendDelimiterToRecord},
		{Type: TypeRecordDeAggregation, Parameters: map[string]string{ParamSubRecordType: "JSON"}},
	}}, Options{DynamicPartitioning: true, KPLDeaggregation: true, Observer: func(s StageStats) { got = append(got, s) }})
	if err != nil {
		t.Fatal(err)
	}
	c.Process([]record.Record{{Data: []byte(`{}{}`)}, {Data: []byte(`{`)}})
	var names []string
	for _, s := range got {
		names = append(names, fmt.Sprintf("%s:%d>%d/%d", s.Processor, s.In, s.Out, s.Failed))
	}
	want := []string{"KPLDeaggregation:2>2/0", "RecordDeAggregation:2>2/1", "AppendDelimiterToRecord:2>2/0"}
	if !slices.Equal(names, want) {
		t.Fatalf("stats %v, want %v", names, want)
	}
}
