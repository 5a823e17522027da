package directput

import (
	"context"
	"strconv"

	"github.com/sluice-io/sluice/streamcore"
)

// defaultKey routes records until Route is called (or when no key lands in a shard).
const defaultKey = "firehose"

// Route sets the partition keys Append takes in turn: for each open shard of shards (the
// internal stream's, once it is ACTIVE) the first key "firehose-<n>" whose MD5 lands in
// it. Routing by key is cheaper for the engine than an explicit hash key per record.
func (in *Intake) Route(shards []streamcore.Shard) {
	var keys []string
	for _, sh := range shards {
		if !sh.Open() {
			continue
		}
		for i := 0; i < 1_000_000; i++ {
			k := "firehose-" + strconv.Itoa(i)
			if sh.HashKeyRange.Contains(streamcore.PartitionHash(k)) {
				keys = append(keys, k)
				break
			}
		}
	}
	if len(keys) == 0 {
		keys = []string{defaultKey}
	}
	in.keys.Store(&keys)
}

// Append stores records in the internal stream with one PutRecords, all under the next
// partition key in turn. The records are durable when it returns (the engine's group
// commit). The results follow the records: a result's Err is set for a record the engine
// did not store (streamcore.ErrThroughputExceeded: try again later); the Data bytes of the
// stored ones now count as undelivered. An error means the engine refused the whole call
// and stored nothing. Callers pass only what Admit admitted.
func (in *Intake) Append(ctx context.Context, records [][]byte) ([]streamcore.PutResult, error) {
	key := defaultKey
	if p := in.keys.Load(); p != nil {
		keys := *p
		key = keys[int(in.rr.Add(1)%uint64(len(keys)))]
	}
	entries := make([]streamcore.PutEntry, len(records))
	for i, d := range records {
		entries[i] = streamcore.PutEntry{PartitionKey: key, Data: d}
	}
	out, err := in.eng.PutRecords(ctx, in.key, entries)
	if err != nil {
		return nil, err
	}
	var stored int64
	for i, r := range out {
		if r.Err == nil {
			stored += int64(len(records[i]))
		}
	}
	in.undelivered.Add(stored)
	return out, nil
}
