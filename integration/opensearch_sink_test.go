//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/opensearch"
	"github.com/sluice-io/sluice/sinks/sinktest"
	"github.com/sluice-io/sluice/sources/record"
)

// osCall sends one request to the node and fails the test unless the status is want.
func osCall(t testing.TB, node *harness.OpenSearchServer, method, path, body string, want int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, b, err := node.Do(ctx, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	return b
}

// osSources returns the _source of every document of the indices matching pattern, as
// stored (byte for byte), with their index names and ids.
func osSources(t testing.TB, node *harness.OpenSearchServer, pattern string) []osHit {
	t.Helper()
	osCall(t, node, http.MethodPost, "/"+pattern+"/_refresh?allow_no_indices=true", "", 200)
	var r struct {
		Hits struct {
			Total struct{ Value int } `json:"total"`
			Hits  []osHit             `json:"hits"`
		} `json:"hits"`
	}
	b := osCall(t, node, http.MethodPost, "/"+pattern+"/_search?allow_no_indices=true", `{"size":10000,"track_total_hits":true,"query":{"match_all":{}}}`, 200)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("search: %v", err)
	}
	if r.Hits.Total.Value > len(r.Hits.Hits) {
		t.Fatalf("%d documents in %s, more than one search returns", r.Hits.Total.Value, pattern)
	}
	return r.Hits.Hits
}

type osHit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
}

// osIndexName turns a test's delivery stream name into an index name (lowercase, no
// characters OpenSearch forbids).
var osBadIndexChars = regexp.MustCompile(`[^a-z0-9._-]+`)

func osIndexName(s string) string { return osBadIndexChars.ReplaceAllString(strings.ToLower(s), "-") }

// TestOpenSearchSinkConformance runs the conformance suite against a real OpenSearch node.
// Run writes to one index without document ids (its batches reuse sequence numbers) and
// breaks the destination by closing that index; RunDelivery gives each case an index of its
// own with Firehose's <sequence>.<subsequence> ids, so a record sent again overwrites itself.
func TestOpenSearchSinkConformance(t *testing.T) {
	node := harness.OpenSearch(t)
	prefix := fmt.Sprintf("sluice-conf-%d", time.Now().UnixNano())
	runIndex := prefix + "-run"
	t.Cleanup(func() { osCall(t, node, http.MethodDelete, "/"+prefix+"*", "", 200) })
	osCall(t, node, http.MethodPut, "/"+runIndex, `{"mappings":{"properties":{"n":{"type":"integer"}}}}`, 200)
	dead := "http://" + closedLoopback(t)
	build := func(endpoint, index, rotation string, ids bool) sinks.Sink {
		return opensearch.New(opensearch.Config{Endpoint: endpoint, Index: index, Rotation: rotation, DocumentIDs: ids})
	}
	h := sinktest.Harness{
		New: func(testing.TB) sinks.Sink { return build(node.URL, runIndex, opensearch.NoRotation, false) },
		For: func(t testing.TB, stream string) sinks.Sink {
			// the index is made beforehand: creating it takes longer than the 300 ms retry
			// duration of GivesUpAfterRetryDuration, whose records would then get one attempt
			index := prefix + "-d-" + osIndexName(stream)
			if st, b, err := node.Do(context.Background(), http.MethodPut, "/"+index, ""); err != nil || (st != 200 && !bytes.Contains(b, []byte("resource_already_exists"))) {
				t.Fatalf("creating %s: %d %s %v", index, st, b, err)
			}
			return build(node.URL, index, opensearch.NoRotation, true)
		},
		Unreachable: func(testing.TB) sinks.Sink { return build(dead, runIndex, opensearch.NoRotation, false) },
		Classify:    sinks.Classify,
		Delivered: func(t testing.TB) [][]byte {
			// One element per document (the delivery cases' records are whole JSON lines),
			// plus Run's batches put back together: its records are {"batch","i",…}, every
			// third one ending in a newline, which the sink trims (documents are one line).
			var out [][]byte
			type key struct{ batch, i int }
			batches := map[int]map[int][]byte{}
			for _, h := range osSources(t, node, prefix+"*") {
				out = append(out, append(append([]byte(nil), h.Source...), '\n'))
				var d struct{ Batch, I *int }
				if h.Index != runIndex || json.Unmarshal(h.Source, &d) != nil || d.Batch == nil || d.I == nil {
					continue
				}
				if batches[*d.Batch] == nil {
					batches[*d.Batch] = map[int][]byte{}
				}
				batches[*d.Batch][*d.I] = h.Source
			}
			for _, docs := range batches {
				idx := make([]int, 0, len(docs))
				for i := range docs {
					idx = append(idx, i)
				}
				sort.Ints(idx)
				var b []byte
				for _, i := range idx {
					b = append(b, docs[i]...)
					if i%3 == 0 {
						b = append(b, '\n')
					}
				}
				out = append(out, b)
			}
			return out
		},
		Break:   func(t testing.TB) { osCall(t, node, http.MethodPost, "/"+runIndex+"/_close", "", 200) },
		Fix:     func(t testing.TB) { osCall(t, node, http.MethodPost, "/"+runIndex+"/_open", "", 200) },
		Refused: func() []byte { return []byte(`{"n":"not a number"}`) },
	}
	sinktest.Run(t, h)
	sinktest.RunDelivery(t, h)
}

// TestOpenSearchSinkDocuments checks what lands in the cluster: index names rotated by
// arrival time, Firehose's document ids (a batch sent twice overwrites itself), documents
// made single-line, an ingest pipeline applied, and a mapping conflict answered with the
// item's status and error for the failure record.
func TestOpenSearchSinkDocuments(t *testing.T) {
	node := harness.OpenSearch(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("sluice-docs-%d", time.Now().UnixNano())
	t.Cleanup(func() { osCall(t, node, http.MethodDelete, "/"+prefix+"*", "", 200) })
	osCall(t, node, http.MethodPut, "/_ingest/pipeline/"+prefix+"-tag",
		`{"processors":[{"set":{"field":"via","value":"pipeline"}}]}`, 200)
	osCall(t, node, http.MethodPut, "/_index_template/"+prefix,
		`{"index_patterns":["`+prefix+`*"],"template":{"mappings":{"properties":{"n":{"type":"integer"}}}}}`, 200)
	t.Cleanup(func() { osCall(t, node, http.MethodDelete, "/_index_template/"+prefix, "", 200) })

	s := opensearch.New(opensearch.Config{Endpoint: node.URL, Index: prefix, Rotation: opensearch.OneHour, DocumentIDs: true,
		Pipeline: prefix + "-tag"})
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	at := func(s string) int64 {
		tm, _ := time.Parse(time.RFC3339, s)
		return tm.UnixMilli()
	}
	b := sinks.Batch{Records: []record.Record{
		{Data: []byte(`{"n":1}` + "\n"), ArrivalMs: at("2016-02-25T13:05:00Z"), SequenceNumber: "49001", SubSequence: 0},
		{Data: []byte("{\n  \"n\": 2,\n  \"s\": \"two words\"\n}\n"), ArrivalMs: at("2016-02-25T14:59:59Z"), SequenceNumber: "49001", SubSequence: 1},
		{Data: []byte(`{"n":"three"}`), ArrivalMs: at("2016-02-25T14:00:00Z"), SequenceNumber: "49002", SubSequence: 0},
		{Data: []byte("{\n\"n\": 4"), ArrivalMs: at("2016-02-25T14:00:00Z"), SequenceNumber: "49003", SubSequence: 0},
	}}
	for attempt := 1; attempt <= 2; attempt++ { // the second time overwrites
		res := s.Write(ctx, b)
		if len(res.Records) != 4 {
			t.Fatalf("Write = %+v", res)
		}
		for i, want := range []sinks.Outcome{sinks.Delivered, sinks.Delivered, sinks.Rejected, sinks.Rejected} {
			if got := res.Records[i].Outcome; got != want {
				t.Fatalf("attempt %d, record %d: %v (%v), want %v", attempt, i, got, res.Records[i].Err, want)
			}
		}
		conflict := res.Records[2]
		if code := sinks.ErrorCode(conflict.Err, ""); code != "400" || !strings.Contains(conflict.Err.Error(), `"type":"mapper_parsing_exception"`) ||
			!json.Valid([]byte(conflict.Err.Error())) {
			t.Errorf("mapping conflict: code %q, message %s", code, conflict.Err)
		}
		fields := map[string]any{}
		for _, f := range conflict.Fields {
			fields[f.Key] = f.Value
		}
		if fields["esDocumentId"] != "49002.0" || fields["esIndexName"] != prefix+"-2016-02-25-14" {
			t.Errorf("failure fields %v", fields)
		}
		if code := sinks.ErrorCode(res.Records[3].Err, ""); code != "400" {
			t.Errorf("invalid multi-line document: code %q (%v)", code, res.Records[3].Err)
		}
	}
	got := map[string]string{}
	for _, h := range osSources(t, node, prefix+"*") {
		got[h.Index+"/"+h.ID] = string(h.Source)
	}
	want := map[string]string{
		prefix + "-2016-02-25-13/49001.0": `{"n":1,"via":"pipeline"}`,
		prefix + "-2016-02-25-14/49001.1": `{"s":"two words","n":2,"via":"pipeline"}`,
	}
	if len(got) != len(want) {
		t.Fatalf("documents %v, want %v", got, want)
	}
	for k, w := range want {
		var g, ww any
		_ = json.Unmarshal([]byte(got[k]), &g)
		_ = json.Unmarshal([]byte(w), &ww)
		if gb, _ := json.Marshal(g); !bytes.Equal(gb, mustMarshal(ww)) {
			t.Errorf("%s = %s, want %s", k, got[k], w)
		}
	}
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
