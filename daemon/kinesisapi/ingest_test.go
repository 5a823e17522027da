package kinesisapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/streamcore"
)

type ingestReply struct {
	FailedRecordCount int
	Records           []struct{ SequenceNumber, ShardId, ErrorCode, ErrorMessage string }
}

func postIngest(t *testing.T, url, body string, hdr map[string]string) (int, ingestReply, string) {
	t.Helper()
	resp, b := postRaw(t, url, body, hdr)
	var r ingestReply
	json.Unmarshal(b, &r)
	return resp.StatusCode, r, string(b)
}

func TestIngestRoute(t *testing.T) {
	env := newEnv(t, Options{})
	ctx := context.Background()
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "events"}
	if err := env.eng.CreateStream(ctx, key, streamcore.CreateOptions{ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	// NDJSON with the partition key from a field: "a" → shard 0, "e" → shard 2 (reference §3.1).
	st, r, raw := postIngest(t, env.srv.URL+"/v1/streams/events/records?partition_key_field=user",
		"{\"user\":\"a\",\"n\":1}\n\n{ \"user\" : \"e\", \"n\": 2 }\n", nil)
	if st != 200 || r.FailedRecordCount != 0 || len(r.Records) != 2 || r.Records[0].ShardId != "shardId-000000000000" || r.Records[1].ShardId != "shardId-000000000002" {
		t.Fatalf("NDJSON: %d %s", st, raw)
	}
	// A JSON array with the key from the header: all land on shard 1 ("b").
	st, r, raw = postIngest(t, env.srv.URL+"/v1/streams/events/records", `[{"x":1},"two",3]`, map[string]string{"X-Partition-Key": "b"})
	if st != 200 || len(r.Records) != 3 || r.Records[2].ShardId != "shardId-000000000001" {
		t.Fatalf("array: %d %s", st, raw)
	}
	// The records read back hold each value's compact JSON text.
	it, err := env.eng.GetShardIterator(ctx, key, "shardId-000000000002", streamcore.Position{Type: streamcore.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	g, err := env.eng.GetRecords(ctx, it, 10)
	if err != nil || len(g.Records) != 1 || string(g.Records[0].Data) != `{"user":"e","n":2}` || g.Records[0].PartitionKey != "e" {
		t.Fatalf("read back: %+v %v", g.Records, err)
	}
	// Errors.
	if st, _, raw := postIngest(t, env.srv.URL+"/v1/streams/nope/records", `{"a":1}`, nil); st != 404 || !strings.Contains(raw, "ResourceNotFoundException") {
		t.Fatalf("unknown stream: %d %s", st, raw)
	}
	if st, _, raw := postIngest(t, env.srv.URL+"/v1/streams/events/records", "{\"a\":1}\n{oops\n", nil); st != 400 || !strings.Contains(raw, "Line 2 is not valid JSON.") {
		t.Fatalf("bad line: %d %s", st, raw)
	}
}

func TestIngestAuth(t *testing.T) {
	env := authEnv(t, nil)
	key := streamcore.StreamKey{Account: "000000000000", Region: "us-east-1", Name: "orders"}
	if err := env.eng.CreateStream(context.Background(), key, streamcore.CreateOptions{ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	url := env.srv.URL + "/v1/streams/orders/records"
	basic := func(user, pass string) map[string]string {
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		req.SetBasicAuth(user, pass)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	if st, _, raw := postIngest(t, url, `{"a":1}`, nil); st != 401 || !strings.Contains(raw, "MissingAuthenticationTokenException") {
		t.Fatalf("no auth: %d %s", st, raw)
	}
	if st, _, raw := postIngest(t, url, `{"a":1}`, basic("ADMINKEY", "wrong")); st != 403 || !strings.Contains(raw, "UnrecognizedClientException") {
		t.Fatalf("bad secret: %d %s", st, raw)
	}
	if st, _, raw := postIngest(t, url, `{"a":1}`, basic("LIMITEDKEY", "limited-secret")); st != 403 || !strings.Contains(raw, "AccessDeniedException") {
		t.Fatalf("no PutRecords permission: %d %s", st, raw)
	}
	if st, r, raw := postIngest(t, url, `{"a":1}`, basic("ADMINKEY", "admin-secret")); st != 200 || r.FailedRecordCount != 0 || len(r.Records) != 1 {
		t.Fatalf("admin: %d %s", st, raw)
	}
}
