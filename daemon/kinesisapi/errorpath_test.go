package kinesisapi

import (
	"testing"
)

// Error paths as AWS answers them (recorded answers and a conformance suite written from
// AWS behaviour): which check wins when several fail, how shard ids are echoed, and every
// violated constraint listed.
func TestErrorPathTexts(t *testing.T) {
	env := newEnv(t, Options{})
	hdr := map[string]string{"Authorization": anyAuth, "X-Amz-Date": "20260101T000000Z"}
	if st, m, _ := rawKinesis(t, env.srv.URL, "CreateStream", `{"StreamName":"s1","ShardCount":2}`, hdr); st != 200 {
		t.Fatalf("CreateStream: %d %v", st, m)
	}
	waitFor(t, "s1 active", func() bool {
		_, m, _ := rawKinesis(t, env.srv.URL, "DescribeStreamSummary", `{"StreamName":"s1"}`, hdr)
		s, _ := m["StreamDescriptionSummary"].(map[string]any)
		return s != nil && s["StreamStatus"] == "ACTIVE"
	})
	const acct = " under account 000000000000"
	for _, c := range []struct {
		name, op, body, typ, msg string
	}{
		// the stream is looked up before the shard is
		{"unknown stream before bad shard", "GetShardIterator", `{"StreamName":"nope","ShardId":"random-shard-id-0","ShardIteratorType":"LATEST"}`,
			"ResourceNotFoundException", "Stream nope" + acct + " not found."},
		{"split: unknown stream first", "SplitShard", `{"StreamName":"nope","ShardToSplit":"shardId-5","NewStartingHashKey":"5"}`,
			"ResourceNotFoundException", "Stream nope" + acct + " not found."},
		{"merge: unknown stream first", "MergeShards", `{"StreamName":"nope","ShardToMerge":"x","AdjacentShardToMerge":"y"}`,
			"ResourceNotFoundException", "Stream nope" + acct + " not found."},
		// shard ids echoed as written
		{"missing shard echoed as written", "GetShardIterator", `{"StreamName":"s1","ShardId":"shardId-5","ShardIteratorType":"LATEST"}`,
			"ResourceNotFoundException", "Shard shardId-5 in stream s1" + acct + " does not exist"},
		{"unparsable shard id", "GetShardIterator", `{"StreamName":"s1","ShardId":"random-shard-id-0","ShardIteratorType":"LATEST"}`,
			"ResourceNotFoundException", "Could not find shard random-shard-id-0 in stream s1" + acct + "."},
		{"split of a missing shard", "SplitShard", `{"StreamName":"s1","ShardToSplit":"shardId-5","NewStartingHashKey":"5"}`,
			"ResourceNotFoundException", "Could not find shard shardId-5 in stream s1" + acct + "."},
		// every violated constraint, in member order (an empty string breaks length and pattern:
		// the model's constraints, as the integration test against the CLI's model checks)
		{"AddTagsToStream, empty members", "AddTagsToStream", `{"StreamName":"","Tags":{}}`, "ValidationException",
			"3 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
				"Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"GetShardIterator, empty members", "GetShardIterator", `{"StreamName":"","ShardId":"","ShardIteratorType":"","StartingSequenceNumber":""}`, "ValidationException",
			"6 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
				"Value '' at 'shardId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '' at 'shardId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
				"Value '' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]; " +
				"Value '' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})"},
		// tags: AWS's character set (with %) and text
		{"tag with a character AWS refuses", "AddTagsToStream", `{"StreamName":"s1","Tags":{"a#b":"c"}}`, "InvalidArgumentException",
			"Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."},
		{"tag with %", "AddTagsToStream", `{"StreamName":"s1","Tags":{"50%":"off"}}`, "", ""},
		// SequenceNumberForOrdering: a number recorded against AWS, not of this stream
		{"ordering on an AWS number", "PutRecord", `{"StreamName":"s1","Data":"AA==","PartitionKey":"a","SequenceNumberForOrdering":"49590338271490256608559692538361571095921575989136588898"}`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, m, _ := rawKinesis(t, env.srv.URL, c.op, c.body, hdr)
			if c.typ == "" {
				if st != 200 {
					t.Fatalf("got %d %v, want 200", st, m)
				}
				return
			}
			if st != 400 || m["__type"] != c.typ || m["message"] != c.msg {
				t.Fatalf("got %d %v %q\nwant 400 %s %q", st, m["__type"], m["message"], c.typ, c.msg)
			}
		})
	}
}
