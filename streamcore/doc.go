// Package streamcore is Sluice's stream engine: Kinesis Data Streams semantics (shards,
// hash-key routing, sequence numbers, iterators, resharding lineage, retention, quotas,
// consumers, checkpoints) over a Store, with no HTTP in it.
//
// Layout of the engine:
//
//   - meta.go: the durable model. A stream is one JSON document in the "streams" bucket
//     (shards with lineage, consumers, tags, policy, and any pending transition), so every
//     control operation — a whole reshard included — is one Put in one Update transaction
//     and a crash never leaves half of one. Checkpoints live in "checkpoints" under
//     <stream id>/<group>/<shard id>.
//   - core.go: Open/Close, the runtime view (an immutable snapshot per stream swapped on
//     every metadata change) and the delayed CREATING/UPDATING/DELETING transitions.
//     Pending transitions are stored with their due time and re-armed on restart.
//   - put.go: the write path. Records are routed on the snapshot without a global lock,
//     then each shard gets one ShardLog.Append per call, shards in parallel, so the file
//     store's group commit batches concurrent writers. A shard being closed holds its gate
//     exclusively, so no append lands after its end.
//   - read.go, iterator.go: GetShardIterator/GetRecords (AES-256-CBC iterators keyed by
//     <DataDir>/iterator.key) and Reader with Wait on ShardLog.Notify.
//   - reshard.go, streams.go, consumers.go, retention.go, quota.go, crypto.go, metrics.go.
//   - hashkey.go, seqnum.go: the 128-bit hash space and the 56-digit sequence numbers.
//
// Sequence numbers carry a per-shard SeqIx assigned by the log, so numeric order is
// commit order; children are created at least one second after their newest parent, so
// their numbers exceed every number of their parents.
package streamcore
