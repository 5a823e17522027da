package processors

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
)

const testArn = "arn:aws:lambda:us-east-1:000000000000:function:upper"

// fakeLambda upper-cases records, drops "drop", fails "fail", and can fail whole calls.
type fakeLambda struct {
	mu         sync.Mutex
	calls      int
	failFirst  int // HTTP failStatus (500 when 0) for this many calls
	failStatus int
	events     []lambdaEvent
	mangle     func(*map[string]any)
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.failFirst {
		http.Error(w, "boom", cmp.Or(f.failStatus, 500))
		return
	}
	var ev lambdaEvent
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.events = append(f.events, ev)
	var recs []map[string]any
	for _, er := range ev.Records {
		d := string(er.Data)
		switch d {
		case "drop":
			recs = append(recs, map[string]any{"recordId": er.RecordID, "result": "Dropped"})
		case "fail":
			recs = append(recs, map[string]any{"recordId": er.RecordID, "result": "ProcessingFailed", "data": base64.StdEncoding.EncodeToString(er.Data)})
		default:
			recs = append(recs, map[string]any{"recordId": er.RecordID, "result": "Ok",
				"data":     base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(d))),
				"metadata": map[string]any{"partitionKeys": map[string]string{"first": d[:1]}}})
		}
	}
	reply := map[string]any{"records": recs}
	if f.mangle != nil {
		f.mangle(&reply)
	}
	json.NewEncoder(w).Encode(reply)
}

func lambdaChain(t *testing.T, url string, params map[string]string) *Chain {
	t.Helper()
	if params == nil {
		params = map[string]string{}
	}
	params[ParamLambdaArn] = testArn
	c, err := NewChain(Config{Enabled: true, Processors: []ProcessorConfig{{Type: TypeLambda, Parameters: params}}},
		Options{LambdaFunctions: map[string]string{testArn: url}, DeliveryStreamARN: "arn:aws:firehose:us-east-1:000000000000:deliverystream/s", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range c.stages {
		if ls, ok := st.(*lambdaStage); ok {
			ls.backoff = retry.Backoff{Base: time.Millisecond, Max: time.Millisecond}
		}
	}
	return c
}

func TestLambdaProcessor(t *testing.T) {
	fl := &fakeLambda{failFirst: 1} // first call fails: retried
	srv := httptest.NewServer(fl)
	defer srv.Close()
	c := lambdaChain(t, srv.URL, nil)
	in := []record.Record{{Data: []byte("abc"), ArrivalMs: 7}, {Data: []byte("drop")}, {Data: []byte("fail"), ArrivalMs: 9}, {Data: []byte("xyz")}}
	out, failed := c.Process(in)
	if !slices.Equal(datas(out), []string{"ABC", "XYZ"}) || out[0].PartitionKeys["first"] != "a" || out[0].ArrivalMs != 7 {
		t.Fatalf("out %q keys %v", datas(out), out[0].PartitionKeys)
	}
	if len(failed) != 1 || failed[0].ErrorCode != CodeLambdaProcessingFailed || string(failed[0].Record.Data) != "fail" || failed[0].LambdaArn != testArn {
		t.Fatalf("failed %+v", failed)
	}
	fr := failed[0].FailureRecord(1, 10)
	if fr.LambdaArn != testArn {
		t.Errorf("failure record lacks lambdaArn: %+v", fr)
	}
	if fl.calls != 2 || len(fl.events) != 1 || fl.events[0].DeliveryStreamArn == "" || fl.events[0].InvocationID == "" || len(fl.events[0].Records) != 4 {
		t.Errorf("calls %d events %+v", fl.calls, fl.events)
	}
}

func TestLambdaFailuresFailWholeInvocation(t *testing.T) {
	cases := []struct {
		name   string
		fl     *fakeLambda
		params map[string]string
		code   string
	}{
		{"always 500", &fakeLambda{failFirst: 100}, map[string]string{ParamNumberOfRetries: "2"}, CodeLambdaFunctionError},
		{"always 400", &fakeLambda{failFirst: 100, failStatus: 400}, map[string]string{ParamNumberOfRetries: "2"}, CodeLambdaFunctionError},
		{"missing id", &fakeLambda{mangle: func(r *map[string]any) {
			recs := (*r)["records"].([]map[string]any)
			(*r)["records"] = recs[1:]
		}}, nil, CodeLambdaMissingRecordID},
		{"duplicate id", &fakeLambda{mangle: func(r *map[string]any) {
			recs := (*r)["records"].([]map[string]any)
			(*r)["records"] = append(recs, recs[0])
		}}, nil, CodeLambdaDuplicatedRecord},
	}
	for _, c := range cases {
		srv := httptest.NewServer(c.fl)
		ch := lambdaChain(t, srv.URL, c.params)
		out, failed := ch.Process([]record.Record{{Data: []byte("a")}, {Data: []byte("b")}})
		srv.Close()
		if len(out) != 0 || len(failed) != 2 || failed[0].ErrorCode != c.code || failed[1].ErrorCode != c.code {
			t.Errorf("%s: out %q failed %+v", c.name, datas(out), failed)
		}
		if c.name == "always 500" && c.fl.calls != 3 {
			t.Errorf("%s: %d calls, want 1 + 2 retries", c.name, c.fl.calls)
		}
		if c.name == "always 400" && c.fl.calls != 1 {
			t.Errorf("%s: %d calls, want 1 (a 4xx is not retried)", c.name, c.fl.calls)
		}
	}
}

func TestLambdaChunksByBufferSize(t *testing.T) {
	fl := &fakeLambda{}
	srv := httptest.NewServer(fl)
	defer srv.Close()
	c := lambdaChain(t, srv.URL, map[string]string{"BufferSizeInMBs": "0.2"}) // 209,715 bytes
	rec := strings.Repeat("q", 100_000)
	var in []record.Record
	for range 5 {
		in = append(in, record.Record{Data: []byte(rec)})
	}
	out, failed := c.Process(in)
	if len(out) != 5 || len(failed) != 0 {
		t.Fatalf("out %d failed %d", len(out), len(failed))
	}
	if len(fl.events) != 3 { // 2 + 2 + 1 records
		t.Errorf("%d invocations, want 3", len(fl.events))
	}
}

func TestLambdaConfigErrors(t *testing.T) {
	for _, p := range []map[string]string{
		{ParamLambdaArn: testArn, ParamNumberOfRetries: "9"},
		{ParamLambdaArn: testArn, "BufferSizeInMBs": "4"},
		{ParamLambdaArn: "arn:aws:lambda:us-east-1:000000000000:function:other"},
	} {
		_, err := NewChain(Config{Enabled: true, Processors: []ProcessorConfig{{Type: TypeLambda, Parameters: p}}},
			Options{LambdaFunctions: map[string]string{testArn: "http://127.0.0.1:1"}})
		if err == nil {
			t.Errorf("%v accepted", p)
		}
	}
}
