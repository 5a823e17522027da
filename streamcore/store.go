package streamcore

import "context"

// Store is where the engine keeps its state: transactional metadata and one append-only
// log per shard. The embedded default is the file store (bbolt metadata + segmented logs,
// package streamcore/filestore); MemStore is its in-memory twin for tests. A Kafka-backed
// store can map one shard log onto one partition and the metadata onto a compacted topic.
//
// A Store is safe for concurrent use.
type Store interface {
	// Update runs fn in a read-write metadata transaction. Either every change fn made is
	// durable when Update returns nil, or none is. fn must not retain tx.
	Update(ctx context.Context, fn func(tx MetaTx) error) error
	// View runs fn in a read-only metadata transaction with a consistent snapshot.
	View(ctx context.Context, fn func(tx MetaTx) error) error

	// OpenLog opens (creating if needed) the log of one shard. id is unique per shard for
	// the life of the store (the engine uses "<stream id>/<shard id>"). Opening the same id
	// twice returns the same log.
	OpenLog(ctx context.Context, id string) (ShardLog, error)
	// DeleteLog closes and removes a shard's log and its data.
	DeleteLog(ctx context.Context, id string) error

	// Close flushes and syncs everything and releases files. Further calls fail.
	Close() error
}

// LogLister is an optional Store capability: LogIDs returns the id of every log the store
// holds, open or not. Engine.Open deletes the logs that no stream's metadata names (a
// control operation cut short by a crash between creating a log and committing it).
type LogLister interface {
	LogIDs() []string
}

// MultiAppender is an optional Store capability: AppendMulti queues appends to several
// of the store's logs at once, so one commit (one group-commit round, one produce
// request) covers all of them, and returns when every one is durable or failed. The
// engine uses it when a PutRecords call spans several shards; without it the shards are
// appended concurrently, one Append each. Each op's outcome is in its First, ArrivalMs
// and Err, with Append's meaning.
type MultiAppender interface {
	AppendMulti(ctx context.Context, ops []AppendOp)
}

// AppendOp is one log's part of an AppendMulti call. Log must come from the same store's
// OpenLog.
type AppendOp struct {
	Log  ShardLog
	Recs []LogRecord

	First     uint64
	ArrivalMs int64
	Err       error
}

// MetaTx is a metadata transaction over named buckets of byte keys and values.
// Values returned by Get are only valid until the transaction ends.
type MetaTx interface {
	Get(bucket, key string) []byte
	// Put fails in a read-only transaction.
	Put(bucket, key string, value []byte) error
	Delete(bucket, key string) error
	// ForEach calls fn for every key in bucket in byte order; a non-nil error stops it.
	ForEach(bucket string, fn func(key string, value []byte) error) error
}

// LogRecord is a record in a shard log. SeqIx and ArrivalMs are assigned by the log on
// Append: SeqIx counts from 1 without gaps, ArrivalMs never decreases.
type LogRecord struct {
	SeqIx        uint64
	ArrivalMs    int64
	PartitionKey string
	Data         []byte
	Flags        uint8 // engine-defined bits (FlagEncrypted); stored verbatim
}

// ShardLog is the append-only log of one shard. Safe for concurrent use.
type ShardLog interface {
	// Append assigns SeqIx (last+1, …) and ArrivalMs (max(now, previous)) to recs in
	// order, writes them, and returns only once they are durable under the store's sync
	// policy (with group commit, one fsync covers every Append queued meanwhile). It
	// returns the SeqIx and ArrivalMs given to the first record; the others follow on.
	// On error nothing of this call is visible to readers and earlier records are intact.
	Append(ctx context.Context, recs []LogRecord) (firstSeqIx uint64, arrivalMs int64, err error)

	// Read returns records with SeqIx >= from, in order, at most maxRecords and at most
	// maxBytes of Data — but at least one record if any exists at or after from. Only
	// durable records are returned. A from below the oldest retained record starts there.
	Read(ctx context.Context, from uint64, maxRecords int, maxBytes int) ([]LogRecord, error)

	// SeekTime returns the SeqIx of the first record with ArrivalMs >= ms, or Last()+1.
	SeekTime(ctx context.Context, ms int64) (uint64, error)

	// First is the SeqIx of the oldest retained record (Last()+1 when the log is empty).
	First() uint64
	// Last is the SeqIx of the newest durable record (0 when nothing was ever written).
	Last() uint64
	// LastArrivalMs is the arrival time of the newest durable record (0 if none).
	LastArrivalMs() int64

	// Notify returns a channel that is closed the next time Last() grows. Readers waiting
	// for new records select on it instead of polling.
	Notify() <-chan struct{}

	// TrimBefore deletes whole segments whose newest record arrived before ms (never the
	// segment being written) and returns how many records were dropped.
	TrimBefore(ctx context.Context, ms int64) (dropped uint64, err error)

	// Close syncs and releases the log.
	Close() error
}
