//go:build integration

package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
)

// TestOpenSearchHarness checks that the harness's OpenSearch node is a real one: green
// health, an index with a mapping, a _bulk whose mapping conflict is a per-item 400 beside
// two 201s, a search after refresh that finds the two, and an ingest pipeline (the
// ingest-common processors and a painless script that uses ingest-common's painless
// extension) applied to a _bulk.
func TestOpenSearchHarness(t *testing.T) {
	start := time.Now()
	node := harness.OpenSearch(t)
	t.Logf("OpenSearch %s at %s (ready in %s)", node.Version, node.URL, time.Since(start).Round(time.Millisecond))
	call := func(method, path, body string, want int) []byte {
		t.Helper()
		return osCall(t, node, method, path, body, want)
	}

	var health struct {
		Status        string `json:"status"`
		NumberOfNodes int    `json:"number_of_nodes"`
	}
	harnessDecode(t, call(http.MethodGet, "/_cluster/health", "", 200), &health)
	if health.Status != "green" && health.Status != "yellow" || health.NumberOfNodes != 1 {
		t.Fatalf("cluster health: %+v", health)
	}
	var root struct {
		Version struct {
			Distribution string `json:"distribution"`
			Number       string `json:"number"`
		} `json:"version"`
	}
	harnessDecode(t, call(http.MethodGet, "/", "", 200), &root)
	if root.Version.Distribution != "opensearch" || root.Version.Number != node.Version {
		t.Fatalf("GET /: %+v", root.Version)
	}

	index := "harness-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	call(http.MethodDelete, "/"+index+"?ignore_unavailable=true", "", 200)
	call(http.MethodPut, "/"+index,
		`{"mappings":{"properties":{"n":{"type":"integer"},"s":{"type":"keyword"}}}}`, 200)

	bulk := func(path string, docs ...string) harnessBulkResponse {
		t.Helper()
		var nd strings.Builder
		for _, d := range docs {
			nd.WriteString(`{"index":{"_index":"` + index + `"}}` + "\n" + d + "\n")
		}
		var r harnessBulkResponse
		harnessDecode(t, call(http.MethodPost, path, nd.String(), 200), &r)
		return r
	}
	r := bulk("/_bulk", `{"n":1,"s":"a"}`, `{"n":"not a number","s":"b"}`, `{"n":3,"s":"c"}`)
	if !r.Errors || len(r.Items) != 3 {
		t.Fatalf("bulk: errors=%v items=%d, want errors and 3 items", r.Errors, len(r.Items))
	}
	for i, want := range []int{201, 400, 201} {
		if got := r.Items[i].Index.Status; got != want {
			t.Fatalf("bulk item %d: status %d, want %d (%s)", i, got, want, r.Items[i].Index.Error)
		}
	}
	if e := string(r.Items[1].Index.Error); !strings.Contains(e, "mapper_parsing_exception") {
		t.Fatalf("bulk item 1 error: %s, want a mapper_parsing_exception", e)
	}

	call(http.MethodPost, "/"+index+"/_refresh", "", 200)
	if hits := harnessSearchHits(t, call(http.MethodGet, "/"+index+"/_search?q=*&sort=n:asc", "", 200)); len(hits) != 2 ||
		hits[0]["s"] != "a" || hits[1]["s"] != "c" {
		t.Fatalf("search: %v, want the docs a and c", hits)
	}

	// An ingest pipeline: ingest-common processors and painless run inside a _bulk, and
	// painless sees what ingest-common adds to it (Processors.*), as modules do.
	call(http.MethodPut, "/_ingest/pipeline/harness-upper", `{"processors":[
		{"uppercase":{"field":"s"}},
		{"set":{"field":"via","value":"pipeline"}},
		{"script":{"source":"ctx.n2 = ctx.n * 2; ctx.low = Processors.lowercase(ctx.s)"}}]}`, 200)
	r = bulk("/_bulk?pipeline=harness-upper&refresh=true", `{"n":5,"s":"e"}`)
	if r.Errors || r.Items[0].Index.Status != 201 {
		t.Fatalf("bulk through the pipeline: %+v", r)
	}
	hits := harnessSearchHits(t, call(http.MethodGet, "/"+index+"/_search?q=via:pipeline", "", 200))
	if len(hits) != 1 || hits[0]["s"] != "E" || hits[0]["n2"] != float64(10) || hits[0]["low"] != "e" {
		t.Fatalf("search for the pipeline's doc: %v", hits)
	}
}

type harnessBulkResponse struct {
	Errors bool `json:"errors"`
	Items  []struct {
		Index struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"index"`
	} `json:"items"`
}

// harnessSearchHits returns the _source of each hit of a _search response.
func harnessSearchHits(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var r struct {
		Hits struct {
			Hits []struct {
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	harnessDecode(t, body, &r)
	var out []map[string]any
	for _, h := range r.Hits.Hits {
		out = append(out, h.Source)
	}
	return out
}

func harnessDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
