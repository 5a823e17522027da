package streamcore

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FlagEncrypted marks a LogRecord whose Data is sealed with the stream's key.
const FlagEncrypted uint8 = 1

// Options configure an Engine.
type Options struct {
	Store   Store
	DataDir string // holds the iterator key file; "" = a random key per process
	Now     func() time.Time
	Logger  *slog.Logger
	// Registerer receives the per-stream/shard metrics (nil = not exported).
	Registerer prometheus.Registerer

	// State-transition delays (reference §7). 0 = synchronous.
	CreateDelay, UpdateDelay, DeleteDelay, ConsumerDelay time.Duration

	ShardLimit          int // open shards per account, default 20000
	OnDemandStreamLimit int // default 50
	// Keys is the keyring for StartStreamEncryption: KeyId → 32-byte AES key.
	// "alias/aws/kinesis" is always present (derived from the data dir key when absent).
	Keys map[string][]byte
	// RetentionCheck is how often expired segments are trimmed (default 1 min).
	RetentionCheck time.Duration
	// OnDemandCheck is how often ON_DEMAND streams are scaled (default 1 min; < 0 turns
	// automatic scaling off): a shard that took more than a provisioned shard's write
	// capacity on average since the last check is split in two (ScaleOnDemand).
	OnDemandCheck time.Duration
	// OnDemandMaxShards caps the open shards automatic scaling gives an ON_DEMAND stream
	// (default 8). Every shard log is fsynced on its own, so on one disk more shards
	// cost write throughput.
	OnDemandMaxShards int
}

// ShardFilter is ListShards' ShardFilter (reference §7).
type ShardFilter struct {
	Type      string // AFTER_SHARD_ID | AT_TRIM_HORIZON | FROM_TRIM_HORIZON | AT_LATEST | AT_TIMESTAMP | FROM_TIMESTAMP
	ShardID   string
	Timestamp time.Time
}

// Limits is DescribeLimits' answer.
type Limits struct {
	ShardLimit, OpenShardCount, OnDemandStreamCount, OnDemandStreamCountLimit int
}

// ReadBatch is what a Reader returns.
type ReadBatch struct {
	Records            []Record
	MillisBehindLatest int64
	// End is true once the reader has passed the last record of a closed shard;
	// ChildShards is then set.
	End         bool
	ChildShards []ChildShard
	// Continuation is the sequence number of the last record delivered so far (or, before
	// any, of the position just before the start), for SubscribeToShard.
	Continuation string
	// Skipped counts the records between the reader's position and what it returned that
	// retention removed (trimmed, or past the retention period): data the reader lost.
	Skipped int64
}
