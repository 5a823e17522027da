//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/opensearch"
	"github.com/sluice-io/sluice/sources/record"
)

// TestOpenSearchRotationAcrossBoundaries writes, for each IndexRotationPeriod, two batches
// whose records arrived on either side of a year, ISO-week, hour, day and month boundary
// (the last millisecond before it and the first of it), and checks against the node that
// every document is in the index firehose.md §7 names after its own arrival time: the
// sink names the index record by record (a batch straddling a boundary is split between
// two indices), not after the batch's oldest record. The expected names are written out
// here, not computed with opensearch.IndexName.
func TestOpenSearchRotationAcrossBoundaries(t *testing.T) {
	node := harness.OpenSearch(t)
	ctx := context.Background()
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	// Each arrival with the suffix of its index under OneHour, OneDay, OneWeek (ISO week-year
	// and week: weeks start on Monday, week 1 holds 4 January) and OneMonth.
	arrivals := []struct {
		at                  string
		hour, day, week, mo string
	}{
		// a year: 2015-12-31 (Thursday) and 2016-01-01 (Friday) are both in ISO week 2015-w53
		{"2015-12-31T23:59:59.999Z", "-2015-12-31-23", "-2015-12-31", "-2015-w53", "-2015-12"},
		{"2016-01-01T00:00:00Z", "-2016-01-01-00", "-2016-01-01", "-2015-w53", "-2016-01"},
		// an ISO week: Sunday 2016-01-03 still ends 2015-w53, Monday 2016-01-04 begins 2016-w01
		{"2016-01-03T23:59:59.999Z", "-2016-01-03-23", "-2016-01-03", "-2015-w53", "-2016-01"},
		{"2016-01-04T00:00:00Z", "-2016-01-04-00", "-2016-01-04", "-2016-w01", "-2016-01"},
		// an hour (AWS's example day, 2016-02-25, a Thursday of 2016-w08)
		{"2016-02-25T13:59:59.999Z", "-2016-02-25-13", "-2016-02-25", "-2016-w08", "-2016-02"},
		{"2016-02-25T14:00:00Z", "-2016-02-25-14", "-2016-02-25", "-2016-w08", "-2016-02"},
		// a day in the same week and month
		{"2016-02-25T23:59:59.999Z", "-2016-02-25-23", "-2016-02-25", "-2016-w08", "-2016-02"},
		{"2016-02-26T00:00:00Z", "-2016-02-26-00", "-2016-02-26", "-2016-w08", "-2016-02"},
		// a month after a leap day (Monday 2016-02-29 begins 2016-w09)
		{"2016-02-29T23:59:59.999Z", "-2016-02-29-23", "-2016-02-29", "-2016-w09", "-2016-02"},
		{"2016-03-01T00:00:00Z", "-2016-03-01-00", "-2016-03-01", "-2016-w09", "-2016-03"},
	}
	suffix := map[string]func(i int) string{
		opensearch.NoRotation: func(int) string { return "" },
		opensearch.OneHour:    func(i int) string { return arrivals[i].hour },
		opensearch.OneDay:     func(i int) string { return arrivals[i].day },
		opensearch.OneWeek:    func(i int) string { return arrivals[i].week },
		opensearch.OneMonth:   func(i int) string { return arrivals[i].mo },
	}
	stamp := time.Now().UnixNano()
	for _, rotation := range opensearch.Rotations {
		t.Run(rotation, func(t *testing.T) {
			prefix := fmt.Sprintf("sluice-rot-%d-%s", stamp, strings.ToLower(rotation))
			t.Cleanup(func() { osCall(t, node, http.MethodDelete, "/"+prefix+"*", "", 200) })
			s := opensearch.New(opensearch.Config{Endpoint: node.URL, Index: prefix, Rotation: rotation, DocumentIDs: true})
			if err := s.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)

			// Two batches of five records: each straddles boundaries, and its
			// OldestArrivalMs is its first record's (the sink must not name by it).
			wantIndex := map[string]string{} // _id → index
			wantCount := map[string]int{}    // index → documents
			for half := range 2 {
				var b sinks.Batch
				for i := half * len(arrivals) / 2; i < (half+1)*len(arrivals)/2; i++ {
					r := record.Record{Data: fmt.Appendf(nil, `{"i":%d,"at":%q}`, i, arrivals[i].at), ArrivalMs: at(arrivals[i].at),
						SequenceNumber: fmt.Sprintf("4960%052d", i), SubSequence: 0}
					if len(b.Records) == 0 {
						b.OldestArrivalMs = r.ArrivalMs
					}
					b.Records = append(b.Records, r)
					index := prefix + suffix[rotation](i)
					wantIndex[r.SequenceNumber+".0"] = index
					wantCount[index]++
				}
				res := s.Write(ctx, b)
				if res.Err != nil {
					t.Fatalf("batch %d: %v", half, res.Err)
				}
				for i, r := range res.Records {
					if r.Outcome != sinks.Delivered {
						t.Fatalf("batch %d, record %d: %v (%v)", half, i, r.Outcome, r.Err)
					}
				}
			}

			// The indices there are, with their document counts.
			osCall(t, node, http.MethodPost, "/"+prefix+"*/_refresh", "", 200)
			var cat []struct {
				Index string `json:"index"`
				Docs  string `json:"docs.count"`
			}
			if err := json.Unmarshal(osCall(t, node, http.MethodGet, "/_cat/indices/"+prefix+"*?format=json&h=index,docs.count", "", 200), &cat); err != nil {
				t.Fatal(err)
			}
			gotCount := map[string]int{}
			for _, c := range cat {
				var n int
				if _, err := fmt.Sscan(c.Docs, &n); err != nil {
					t.Fatalf("index %s: docs.count %q", c.Index, c.Docs)
				}
				gotCount[c.Index] = n
			}
			if !maps.Equal(gotCount, wantCount) {
				t.Errorf("indices and counts:\n got %v\nwant %v", osCounts(gotCount), osCounts(wantCount))
			}
			// And each document in its own record's index.
			hits := osSources(t, node, prefix+"*")
			if len(hits) != len(arrivals) {
				t.Errorf("%d documents, want %d", len(hits), len(arrivals))
			}
			for _, h := range hits {
				if want := wantIndex[h.ID]; h.Index != want {
					t.Errorf("document %s (%s) in %s, want %s", h.ID, h.Source, h.Index, want)
				}
			}
		})
	}
}

// osCounts lists a map's entries in key order, for messages.
func osCounts(m map[string]int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return out
}
