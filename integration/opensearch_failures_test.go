//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// End-to-end failure tests of the OpenSearch destination through the real sluice binary:
// documents the cluster refuses go to the error output in MinIO with Firehose's fields, a
// node killed mid-run loses and repeats nothing, 429 items are retried alone, and
// AllDocuments backs every record up under the S3 prefix.

// osStreamYAML is one `delivery_streams` entry of type opensearch writing to endpoint,
// index, with its S3 block on m (s3Keys: more keys of the flow mapping, e.g.
// "prefix: os/"); extra holds more lines of the opensearch block, indented by eight spaces.
func osStreamYAML(m *harness.MinIOServer, bucket, name, endpoint, index, rotation, s3Keys, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: opensearch\n      opensearch:\n", name)
	fmt.Fprintf(&b, "        endpoint: '%s'\n        index: %s\n        rotation: %s\n%s", endpoint, index, rotation, extra)
	if s3Keys != "" {
		s3Keys = ", " + s3Keys
	}
	fmt.Fprintf(&b, "        s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s%s}\n",
		bucket, m.Endpoint, m.Region, m.AccessKey, m.SecretKey, s3Keys)
	return b.String()
}

// osFailure is one failure record of the OpenSearch error output.
type osFailure struct {
	Key                    string `json:"-"`
	Line                   string `json:"-"`
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	ESDocumentID           string `json:"esDocumentId"`
	ESIndexName            string `json:"esIndexName"`
	ESTypeName             string `json:"esTypeName"`
	RawData                []byte `json:"rawData"`
}

// osFailureKeys are the members every OpenSearch failure record has (firehose.md §7).
var osFailureKeys = []string{"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp",
	"esDocumentId", "esIndexName", "esTypeName", "rawData"}

// osFailures reads every failure record under prefix (uncompressed NDJSON) and fails the
// test if one lacks a member of osFailureKeys.
func osFailures(t *testing.T, m *harness.MinIOServer, bucket, prefix string) []osFailure {
	t.Helper()
	var out []osFailure
	for k, d := range readObjects(t, m, bucket, prefix, s3sink.Uncompressed) {
		for _, l := range lines(d) {
			var f osFailure
			var keys map[string]json.RawMessage
			if err := json.Unmarshal([]byte(l), &f); err != nil {
				t.Fatalf("%s: failure line %q: %v", k, l, err)
			}
			_ = json.Unmarshal([]byte(l), &keys)
			for _, want := range osFailureKeys {
				if _, ok := keys[want]; !ok {
					t.Errorf("%s: failure record without %s: %s", k, want, l)
				}
			}
			f.Key, f.Line = k, l
			out = append(out, f)
		}
	}
	return out
}

// osWaitCount polls the _count of index (after a _refresh) until it is want or timeout
// passes, and returns the last count.
func osWaitCount(t *testing.T, node *harness.OpenSearchServer, index string, want int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ctx := context.Background()
	got := -1
	for {
		_, _, _ = node.Do(ctx, http.MethodPost, "/"+index+"/_refresh?allow_no_indices=true", "")
		code, body, err := node.Do(ctx, http.MethodGet, "/"+index+"/_count?allow_no_indices=true", "")
		var c struct{ Count int }
		if err == nil && code == 200 && json.Unmarshal(body, &c) == nil {
			got = c.Count
			if got == want {
				return got
			}
		}
		if time.Now().After(deadline) {
			return got
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// osAll returns every document of the indices matching pattern (after a _refresh),
// however many, with a scroll.
func osAll(t *testing.T, node *harness.OpenSearchServer, pattern string) []osHit {
	t.Helper()
	osCall(t, node, http.MethodPost, "/"+pattern+"/_refresh?allow_no_indices=true", "", 200)
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []osHit `json:"hits"`
		} `json:"hits"`
	}
	var p page
	b := osCall(t, node, http.MethodPost, "/"+pattern+"/_search?scroll=1m&allow_no_indices=true", `{"size":5000,"query":{"match_all":{}}}`, 200)
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("search: %v", err)
	}
	var out []osHit
	for len(p.Hits.Hits) > 0 {
		out = append(out, p.Hits.Hits...)
		id := p.ScrollID
		b := osCall(t, node, http.MethodPost, "/_search/scroll", fmt.Sprintf(`{"scroll":"1m","scroll_id":%q}`, id), 200)
		p = page{}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("scroll: %v", err)
		}
	}
	if p.ScrollID != "" {
		_, _, _ = node.Do(context.Background(), http.MethodDelete, "/_search/scroll", fmt.Sprintf(`{"scroll_id":%q}`, p.ScrollID))
	}
	return out
}

// docIDRE is the FIREHOSE_DEFAULT document id: <sequence>.<subsequence>.
var docIDRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// An index created up front with a strict mapping refuses the documents with an unknown
// field (strict_dynamic_mapping_exception) or a string in its integer field
// (mapper_parsing_exception): exactly those are in the error output — under the S3 prefix,
// folder AmazonOpenSearchService-failed, the error prefix being empty — with errorCode
// "400", the item's error as errorMessage, the document's <sequence>.<subsequence> id, the
// rotated index name and the record as rawData; every other document is in the index
// once, as sent.
func TestOpenSearchStrictMappingRejectsToBackup(t *testing.T) {
	node, m := harness.OpenSearch(t), harness.MinIO(t)
	bucket := m.CreateBucket(t, "os-strict")
	base := fmt.Sprintf("os-strict-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		_, _, _ = node.Do(context.Background(), http.MethodDelete, "/"+base+"*", "")
		_, _, _ = node.Do(context.Background(), http.MethodDelete, "/_index_template/"+base, "")
	})
	const mapping = `{"dynamic":"strict","properties":{"i":{"type":"integer"},"msg":{"type":"keyword"}}}`
	// the template covers an hour boundary crossed during the test; the index of this hour
	// is created first, as a user would
	osCall(t, node, http.MethodPut, "/_index_template/"+base,
		`{"index_patterns":["`+base+`-*"],"template":{"settings":{"number_of_shards":1},"mappings":`+mapping+`}}`, 200)
	hourIndex := base + time.Now().UTC().Format("-2006-01-02-15")
	osCall(t, node, http.MethodPut, "/"+hourIndex, `{"settings":{"number_of_shards":1},"mappings":`+mapping+`}`, 200)

	s := harness.StartSluice(t, "delivery_streams:\n"+osStreamYAML(m, bucket, "os-strict", node.URL, base, "OneHour", "prefix: os-strict/", ""))
	const n = 60
	bad := map[int]string{} // i → the error type the cluster gives
	var recs []string
	want := map[string]bool{} // documents indexed, as sent
	for i := 0; i < n; i++ {
		var r string
		switch {
		case i%10 == 3:
			r = fmt.Sprintf(`{"i":%d,"msg":"m%d","unknown_field":true}`, i, i)
			bad[i] = "strict_dynamic_mapping_exception"
		case i%10 == 7:
			r = fmt.Sprintf(`{"i":"not a number %d","msg":"m%d"}`, i, i)
			bad[i] = "mapper_parsing_exception"
		default:
			r = fmt.Sprintf(`{"i":%d,"msg":"m%d"}`, i, i)
			want[r] = true
		}
		recs = append(recs, r+"\n")
	}
	putRecords(t, firehoseClient(s.Endpoint), "os-strict", recs...)

	const errPrefix = "os-strict/" + "AmazonOpenSearchService-failed/"
	deadline := time.Now().Add(60 * time.Second)
	var fs []osFailure
	for {
		fs = osFailures(t, m, bucket, errPrefix)
		if len(fs) >= len(bad) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	got := osWaitCount(t, node, base+"-*", len(want), 30*time.Second)
	time.Sleep(2 * time.Second) // anything written twice or late would be here by now
	fs = osFailures(t, m, bucket, errPrefix)

	// exactly the refused records, each once
	errKey := keyRE(regexp.QuoteMeta(errPrefix)+`\d{4}/\d{2}/\d{2}/\d{2}/`, "os-strict", "")
	byI := map[int]osFailure{}
	for _, f := range fs {
		if !errKey.MatchString(f.Key) {
			t.Errorf("failure object %s, want %syyyy/MM/dd/HH/os-strict-1-…", f.Key, errPrefix)
		}
		var doc struct{ I any }
		if err := json.Unmarshal(f.RawData, &doc); err != nil {
			t.Errorf("rawData %q is not the JSON record: %v", f.RawData, err)
			continue
		}
		var i int
		switch v := doc.I.(type) {
		case float64:
			i = int(v)
		case string:
			fmt.Sscanf(v, "not a number %d", &i)
		}
		if _, ok := bad[i]; !ok {
			t.Errorf("record %q is in the error output but the index takes it: %s", f.RawData, f.Line)
			continue
		}
		if _, dup := byI[i]; dup {
			t.Errorf("record %d in the error output twice", i)
		}
		byI[i] = f
	}
	if len(fs) != len(bad) {
		t.Errorf("%d failure records, want %d", len(fs), len(bad))
	}
	ids := map[string]bool{}
	for i, typ := range bad {
		f, ok := byI[i]
		if !ok {
			t.Errorf("record %d (%s) is not in the error output", i, strings.TrimSpace(recs[i]))
			continue
		}
		if string(f.RawData) != recs[i] {
			t.Errorf("record %d: rawData %q, want the record %q", i, f.RawData, recs[i])
		}
		if f.ErrorCode != "400" {
			t.Errorf("record %d: errorCode %q, want \"400\"", i, f.ErrorCode)
		}
		var em struct{ Type, Reason string }
		if err := json.Unmarshal([]byte(f.ErrorMessage), &em); err != nil {
			t.Errorf("record %d: errorMessage %q is not the item's error as JSON: %v", i, f.ErrorMessage, err)
		} else if em.Type != typ || !strings.Contains(f.ErrorMessage, typ) {
			t.Errorf("record %d: errorMessage type %q, want %s: %s", i, em.Type, typ, f.ErrorMessage)
		}
		if !docIDRE.MatchString(f.ESDocumentID) {
			t.Errorf("record %d: esDocumentId %q, want <sequence>.<subsequence>", i, f.ESDocumentID)
		}
		if ids[f.ESDocumentID] {
			t.Errorf("record %d: esDocumentId %q given twice", i, f.ESDocumentID)
		}
		ids[f.ESDocumentID] = true
		if wantIdx := base + time.UnixMilli(f.ArrivalTimestamp).UTC().Format("-2006-01-02-15"); f.ESIndexName != wantIdx {
			t.Errorf("record %d: esIndexName %q, want %q (OneHour rotation of arrivalTimestamp %d)", i, f.ESIndexName, wantIdx, f.ArrivalTimestamp)
		}
		if f.ESTypeName != "" {
			t.Errorf("record %d: esTypeName %q, want empty", i, f.ESTypeName)
		}
		if f.AttemptsMade < 1 || f.ArrivalTimestamp == 0 || f.AttemptEndingTimestamp < f.ArrivalTimestamp {
			t.Errorf("record %d: attemptsMade %d, arrivalTimestamp %d, attemptEndingTimestamp %d", i, f.AttemptsMade, f.ArrivalTimestamp, f.AttemptEndingTimestamp)
		}
	}

	// the rest is indexed once, as sent, under <sequence>.<subsequence> ids
	if got != len(want) {
		t.Errorf("_count %d, want %d", got, len(want))
	}
	hits := osAll(t, node, base+"-*")
	seen := map[string]int{}
	for _, h := range hits {
		seen[string(h.Source)]++
		if !want[string(h.Source)] {
			t.Errorf("document %s (%s) in %s was not sent as such", h.ID, h.Source, h.Index)
		}
		if !docIDRE.MatchString(h.ID) || ids[h.ID] {
			t.Errorf("document %s: _id not a fresh <sequence>.<subsequence>", h.ID)
		}
		if !strings.HasPrefix(h.Index, base+"-") {
			t.Errorf("document %s in index %s", h.ID, h.Index)
		}
	}
	for w := range want {
		if seen[w] != 1 {
			t.Errorf("document %s indexed %d times, want once", w, seen[w])
		}
	}
	// nothing else under the prefix: FailedDocumentsOnly backs up only the failures
	keys, err := m.Objects(context.Background(), bucket, "os-strict/")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, errPrefix) {
			t.Errorf("object %s under the prefix (FailedDocumentsOnly)", k)
		}
	}
	if len(fs) > 0 {
		t.Logf("%d indexed, %d refused; e.g. %s", len(hits), len(fs), fs[0].Line)
	}
}

// The node killed with SIGKILL in the middle of a sustained load and started again on the
// same data dir about 10 s later: meanwhile DescribeDeliveryStream shows the failure (an
// UNKNOWN_ERROR FailureDescription naming OS.ConnectionFailed, the stream still ACTIVE), and
// clears it once the node is back; in the end every acknowledged record is indexed
// exactly once (FIREHOSE_DEFAULT ids: a resend overwrites itself), nothing else is, and
// nothing went to the error output (the outage holds the retry clock).
//
// The shared node itself is killed and restarted (same ports, same data dir): OpenSearch
// tests of this binary run one after the other, and the cleanup starts it again if the test
// stops half-way.
func TestOpenSearchNodeKilledMidRun(t *testing.T) {
	node, m := harness.OpenSearch(t), harness.MinIO(t)
	bucket := m.CreateBucket(t, "os-kill")
	index := fmt.Sprintf("os-kill-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if !node.Running() {
			node.Start(t)
		}
		_, _, _ = node.Do(context.Background(), http.MethodDelete, "/"+index, "")
	})
	osCall(t, node, http.MethodPut, "/"+index, `{"settings":{"number_of_shards":1}}`, 200)
	const stream = "os-kill"
	s := harness.StartSluice(t, "delivery_streams:\n"+osStreamYAML(m, bucket, stream, node.URL, index, "NoRotation", "error_output_prefix: 'os-err/'", ""))
	fh := firehoseClient(s.Endpoint)
	ctx := context.Background()
	describe := func() (string, *string, string) {
		d, err := fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("DescribeDeliveryStream: %v", err)
		}
		dd := d.DeliveryStreamDescription
		if fd := dd.FailureDescription; fd != nil {
			return string(dd.DeliveryStreamStatus), aws.String(string(fd.Type)), aws.ToString(fd.Details)
		}
		return string(dd.DeliveryStreamStatus), nil, ""
	}

	l := startLoader(fh, stream, 3, 25, 30*time.Millisecond)
	defer l.halt()
	time.Sleep(3 * time.Second)
	if st, typ, det := describe(); typ != nil {
		t.Errorf("before the kill: FailureDescription %s %q (status %s), want none", *typ, det, st)
	}
	before := osWaitCount(t, node, index, -1, 0)
	node.Kill(t)
	killed := time.Now()
	t.Logf("node killed with %d documents indexed", before)

	fd := waitFailureDescription(t, fh, stream, "OS.ConnectionFailed", "DescribeDeliveryStream never showed the destination failing while the node was down")
	shownAfter := time.Since(killed)
	if fd.Type != "UNKNOWN_ERROR" || !strings.HasPrefix(aws.ToString(fd.Details), "Delivery to the destination is failing and being retried: ") {
		t.Errorf("FailureDescription %s %q", fd.Type, aws.ToString(fd.Details))
	}
	if st, _, _ := describe(); st != "ACTIVE" {
		t.Errorf("DeliveryStreamStatus %s while the node is down, want ACTIVE", st)
	}
	t.Logf("%s after the kill: FailureDescription %s %q", shownAfter.Round(time.Millisecond), fd.Type, aws.ToString(fd.Details))
	time.Sleep(time.Until(killed.Add(10 * time.Second)))
	node.Start(t)
	back := time.Now()
	t.Logf("node started again %s after the kill", back.Sub(killed).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	l.halt()
	if len(l.acked) == 0 {
		t.Fatal("no record acknowledged")
	}

	// every acknowledged id indexed, then exactly once
	acked := map[int64]bool{}
	for _, id := range l.acked {
		acked[id] = true
	}
	possible := map[int64]bool{}
	for _, id := range l.uncertain {
		possible[id] = true
	}
	countIDs := func() (map[int64]int, []osHit) {
		hits := osAll(t, node, index)
		c := map[int64]int{}
		for _, h := range hits {
			var d struct{ ID int64 }
			if err := json.Unmarshal(h.Source, &d); err != nil {
				t.Fatalf("document %s: %v", h.Source, err)
			}
			c[d.ID]++
		}
		return c, hits
	}
	deadline := time.Now().Add(90 * time.Second)
	var counts map[int64]int
	var hits []osHit
	for {
		counts, hits = countIDs()
		missing := 0
		for id := range acked {
			if counts[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d of %d acknowledged records not indexed %s after the node came back", missing, len(acked), time.Since(back).Round(time.Second))
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	caughtUp := time.Since(back)
	time.Sleep(2 * time.Second) // anything written twice would be here by now
	counts, hits = countIDs()
	dups, stray := 0, 0
	for id, c := range counts {
		if c > 1 {
			dups++
			if dups <= 5 {
				t.Errorf("id %d indexed %d times", id, c)
			}
		}
		if !acked[id] && !possible[id] {
			stray++
			if stray <= 5 {
				t.Errorf("id %d is indexed but was refused by PutRecordBatch (or never sent)", id)
			}
		}
	}
	for _, h := range hits {
		if !docIDRE.MatchString(h.ID) {
			t.Errorf("document _id %q, want <sequence>.<subsequence>", h.ID)
			break
		}
	}
	if fs := osFailures(t, m, bucket, "os-err/"); len(fs) > 0 {
		t.Errorf("%d records in the error output, e.g. %s", len(fs), fs[0].Line)
	}
	// the failure clears once deliveries go through again
	clearBy := time.Now().Add(30 * time.Second)
	for {
		_, typ, det := describe()
		if typ == nil {
			break
		}
		if time.Now().After(clearBy) {
			t.Errorf("FailureDescription %s %q still shown %s after the node came back", *typ, det, time.Since(back).Round(time.Second))
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d acknowledged, %d refused, %d uncertain (%d failed calls); %d documents, %d ids, %d duplicates; caught up %s after the restart",
		len(l.acked), len(l.refused), len(l.uncertain), l.callErrs, len(hits), len(counts), dups, caughtUp.Round(time.Millisecond))
}

// bulkRejectProxy stands in front of the node: it forwards every request, except that in
// a _bulk request the documents chosen by reject (called once per document and sighting)
// are kept back from the node and answered with a 429 es_rejected_execution_exception
// item, the response then saying errors:true. It keeps the document numbers ("n") of each
// _bulk request it saw.
type bulkRejectProxy struct {
	target *url.URL
	rp     *httputil.ReverseProxy
	reject func(n, sighting int) bool

	mu        sync.Mutex
	seen      map[int]int // n → sightings
	requests  [][]int     // the n of each _bulk request, in order
	sightings [][]int     // the sighting of each document of requests (1: first time sent)
	rejected  [][]int     // the n answered 429 in each _bulk request
}

// sighting is how many times document x had been sent, counting _bulk request k.
func (p *bulkRejectProxy) sighting(k, x int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, y := range p.requests[k] {
		if y == x {
			return p.sightings[k][i]
		}
	}
	return 0
}

// wasRejectedBefore reports whether x is among the rejected documents of earlier requests.
func wasRejectedBefore(earlier [][]int, x int) bool {
	for _, r := range earlier {
		if slices.Contains(r, x) {
			return true
		}
	}
	return false
}

func newBulkRejectProxy(t *testing.T, target string, reject func(n, sighting int) bool) (*bulkRejectProxy, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &bulkRejectProxy{target: u, rp: httputil.NewSingleHostReverseProxy(u), reject: reject, seen: map[int]int{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *bulkRejectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") {
		p.rp.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type entry struct {
		action, source []byte
		index, id      string
		n              int
		reject         bool
	}
	var entries []entry
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		action := slices.Clone(sc.Bytes())
		if !sc.Scan() {
			http.Error(w, "an action line without a source", http.StatusBadRequest)
			return
		}
		e := entry{action: action, source: slices.Clone(sc.Bytes()), n: -1}
		var a map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		_ = json.Unmarshal(action, &a)
		for _, v := range a {
			e.index, e.id = v.Index, v.ID
		}
		var doc struct{ N *int }
		if json.Unmarshal(e.source, &doc) == nil && doc.N != nil {
			e.n = *doc.N
		}
		entries = append(entries, e)
	}
	p.mu.Lock()
	var ns, sights, rej []int
	for i := range entries {
		e := &entries[i]
		ns = append(ns, e.n)
		p.seen[e.n]++
		sights = append(sights, p.seen[e.n])
		if p.reject(e.n, p.seen[e.n]) {
			e.reject = true
			rej = append(rej, e.n)
		}
	}
	p.requests = append(p.requests, ns)
	p.sightings = append(p.sightings, sights)
	p.rejected = append(p.rejected, rej)
	p.mu.Unlock()

	var fwd bytes.Buffer
	for _, e := range entries {
		if !e.reject {
			fwd.Write(e.action)
			fwd.WriteByte('\n')
			fwd.Write(e.source)
			fwd.WriteByte('\n')
		}
	}
	var nodeItems []json.RawMessage
	nodeErrors := false
	if fwd.Len() > 0 {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.target.String()+r.URL.RequestURI(), &fwd)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.WriteHeader(resp.StatusCode)
			w.Write(rb)
			return
		}
		var br struct {
			Errors bool              `json:"errors"`
			Items  []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(rb, &br); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		nodeItems, nodeErrors = br.Items, br.Errors
	}
	out := struct {
		Took   int               `json:"took"`
		Errors bool              `json:"errors"`
		Items  []json.RawMessage `json:"items"`
	}{Took: 1, Errors: nodeErrors}
	k := 0
	for _, e := range entries {
		if !e.reject {
			if k >= len(nodeItems) {
				http.Error(w, "the node answered fewer items than it was sent", http.StatusBadGateway)
				return
			}
			out.Items = append(out.Items, nodeItems[k])
			k++
			continue
		}
		out.Errors = true
		it, _ := json.Marshal(map[string]any{"index": map[string]any{
			"_index": e.index, "_id": e.id, "status": 429,
			"error": map[string]any{"type": "es_rejected_execution_exception",
				"reason": "rejected execution of coordinating operation [sluice test proxy: queue full]"},
		}})
		out.Items = append(out.Items, it)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(out)
}

// An HTTP proxy in front of the node answers every fifth document 429
// (es_rejected_execution_exception, errors:true) the first time it is sent, without the
// node seeing it: those documents — and only those — are sent again, in a _bulk request
// of their own holding nothing but rejected documents; in the end every document is
// indexed once and none is in the error output.
func TestOpenSearch429RetriedItemByItem(t *testing.T) {
	node, m := harness.OpenSearch(t), harness.MinIO(t)
	bucket := m.CreateBucket(t, "os-429")
	index := fmt.Sprintf("os-429-%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _, _ = node.Do(context.Background(), http.MethodDelete, "/"+index, "") })
	osCall(t, node, http.MethodPut, "/"+index, `{"settings":{"number_of_shards":1}}`, 200)
	proxy, endpoint := newBulkRejectProxy(t, node.URL, func(n, sighting int) bool { return n%5 == 0 && sighting == 1 })
	s := harness.StartSluice(t, "delivery_streams:\n"+osStreamYAML(m, bucket, "os-429", endpoint, index, "NoRotation", "error_output_prefix: 'os-err/'", ""))
	const n = 200
	var recs []string
	for i := 0; i < n; i++ {
		recs = append(recs, fmt.Sprintf(`{"n":%d,"msg":"doc %d"}`+"\n", i, i))
	}
	start := time.Now()
	putRecords(t, firehoseClient(s.Endpoint), "os-429", recs...)
	got := osWaitCount(t, node, index, n, 60*time.Second)
	took := time.Since(start)
	time.Sleep(2 * time.Second) // a resend of anything would be here by now

	hits := osAll(t, node, index)
	seen := map[string]int{}
	for _, h := range hits {
		seen[string(h.Source)]++
	}
	for _, r := range recs {
		if c := seen[strings.TrimSuffix(r, "\n")]; c != 1 {
			t.Errorf("document %s indexed %d times, want once", strings.TrimSpace(r), c)
		}
	}
	if got != n || len(hits) != n {
		t.Errorf("_count %d, %d documents found, want %d", got, len(hits), n)
	}

	proxy.mu.Lock()
	requests, rejected, sightings := slices.Clone(proxy.requests), slices.Clone(proxy.rejected), maps.Clone(proxy.seen)
	proxy.mu.Unlock()
	wasRejected := map[int]bool{}
	retries := 0
	for k, req := range requests {
		for _, x := range rejected[k] {
			wasRejected[x] = true
		}
		// a request holding a document sent before holds only documents that were
		// rejected before: the retry is of the 429 items alone
		resend := false
		for _, x := range req {
			if proxy.sighting(k, x) > 1 {
				resend = true
			}
		}
		if !resend {
			continue
		}
		retries++
		for _, x := range req {
			if proxy.sighting(k, x) == 1 || !wasRejectedBefore(rejected[:k], x) {
				t.Errorf("_bulk request %d (a retry) holds document %d, which was not rejected before (request %v)", k, x, req)
			}
		}
	}
	for i := 0; i < n; i++ {
		want := 1
		if i%5 == 0 {
			want = 2
		}
		if sightings[i] != want {
			t.Errorf("document %d sent %d times, want %d", i, sightings[i], want)
		}
		if i%5 == 0 && !wasRejected[i] {
			t.Errorf("document %d never rejected by the proxy", i)
		}
	}
	if retries == 0 {
		t.Errorf("no _bulk request held only retried documents; requests: %v", requests)
	}
	if fs := osFailures(t, m, bucket, "os-err/"); len(fs) > 0 {
		t.Errorf("%d records in the error output, e.g. %s", len(fs), fs[0].Line)
	}
	sizes := make([]int, len(requests))
	for k, r := range requests {
		sizes[k] = len(r)
	}
	t.Logf("%d documents indexed in %s; %d _bulk requests of %v documents, %d of them retries", len(hits), took.Round(time.Millisecond), len(requests), sizes, retries)
}

// S3 backup mode AllDocuments: every record is also written under the S3 block's prefix
// (as sent, in data objects named like the S3 destination's) and indexed; a document the
// index refuses (a string in an integer field) is in the error output too and, as AWS
// documents AllDocuments ("all incoming records to Amazon S3, and also … failed
// documents"), in the backup.
func TestOpenSearchAllDocumentsBackup(t *testing.T) {
	node, m := harness.OpenSearch(t), harness.MinIO(t)
	bucket := m.CreateBucket(t, "os-all")
	index := fmt.Sprintf("os-all-%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _, _ = node.Do(context.Background(), http.MethodDelete, "/"+index, "") })
	osCall(t, node, http.MethodPut, "/"+index, `{"settings":{"number_of_shards":1},"mappings":{"properties":{"n":{"type":"integer"}}}}`, 200)
	s := harness.StartSluice(t, "delivery_streams:\n"+osStreamYAML(m, bucket, "os-all", node.URL, index, "NoRotation",
		"prefix: os-all/, error_output_prefix: 'os-all-err/'", "        s3_backup_mode: AllDocuments\n"))
	const n = 80
	var recs, good []string
	refused := `{"n":"forty","msg":"refused"}`
	for i := 0; i < n; i++ {
		r := fmt.Sprintf(`{"n":%d,"msg":"doc %d"}`, i, i)
		good = append(good, r)
		recs = append(recs, r+"\n")
		if i == 40 {
			recs = append(recs, refused+"\n")
		}
	}
	putRecords(t, firehoseClient(s.Endpoint), "os-all", recs...)

	seen, objs := waitRecords(t, m, bucket, "os-all/", s3sink.Uncompressed, good, 60*time.Second)
	got := osWaitCount(t, node, index, n, 30*time.Second)
	fs := osFailures(t, m, bucket, "os-all-err/")
	for deadline := time.Now().Add(30 * time.Second); len(fs) == 0 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		fs = osFailures(t, m, bucket, "os-all-err/")
	}
	time.Sleep(2 * time.Second) // anything written twice would be here by now
	seen, objs = waitRecords(t, m, bucket, "os-all/", s3sink.Uncompressed, good, 10*time.Second)
	fs = osFailures(t, m, bucket, "os-all-err/")

	dataKey := keyRE(`os-all/\d{4}/\d{2}/\d{2}/\d{2}/`, "os-all", "")
	for k := range objs {
		if !dataKey.MatchString(k) {
			t.Errorf("backup object %s, want os-all/yyyy/MM/dd/HH/os-all-1-…", k)
		}
	}
	for _, r := range good {
		if seen[r] != 1 {
			t.Errorf("record %s in the backup %d times, want once", r, seen[r])
		}
	}
	if got != n {
		t.Errorf("_count %d, want %d", got, n)
	}
	hits := osAll(t, node, index)
	inIndex := map[string]int{}
	for _, h := range hits {
		inIndex[string(h.Source)]++
	}
	for _, r := range good {
		if inIndex[r] != 1 {
			t.Errorf("document %s indexed %d times, want once", r, inIndex[r])
		}
	}
	if len(fs) != 1 || string(fs[0].RawData) != refused+"\n" || fs[0].ErrorCode != "400" || !strings.Contains(fs[0].ErrorMessage, "mapper_parsing_exception") {
		var got []string
		for _, f := range fs {
			got = append(got, f.Line)
		}
		t.Errorf("error output %v, want the one refused record with errorCode 400, mapper_parsing_exception", got)
	}
	var lineCount int
	var keys []string
	for k, d := range objs {
		lineCount += len(lines(d))
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if seen[refused] != 1 {
		t.Errorf("the refused record %s is in the backup %d times, want once: AllDocuments backs up all incoming records (firehose.md §7 \"AllDocuments also writes every record under Prefix\")", refused, seen[refused])
	}
	t.Logf("%d records in %d backup objects (%v), %d indexed, %d in the error output", lineCount, len(objs), keys, len(hits), len(fs))
}
