package streamcore

import "time"

// StreamKey names a stream. Streams are namespaced by account and region, as in AWS.
type StreamKey struct {
	Account string // 12 digits, e.g. "000000000000"
	Region  string // e.g. "us-east-1"
	Name    string
}

// ARN is the stream's ARN: arn:aws:kinesis:<region>:<account>:stream/<name>.
func (k StreamKey) ARN() string {
	return "arn:aws:kinesis:" + k.Region + ":" + k.Account + ":stream/" + k.Name
}

// StreamMode is the capacity mode of a stream.
type StreamMode string

const (
	ModeProvisioned StreamMode = "PROVISIONED"
	ModeOnDemand    StreamMode = "ON_DEMAND"
)

// Distribution is a stream's record distribution strategy: how a put record finds its
// shard.
type Distribution string

const (
	// DistributeByKey routes a record by the MD5 of its partition key (or its explicit hash
	// key): one key stays on one shard. The default; producers must send a partition key.
	DistributeByKey Distribution = "USER_PARTITION_KEY"
	// DistributeAuto spreads records evenly over the open shards whatever their keys
	// (partition key optional, explicit hash key ignored). ON_DEMAND streams only.
	DistributeAuto Distribution = "AUTO"
)

// StreamStatus follows the Kinesis state machine (reference §7).
type StreamStatus string

const (
	StatusCreating StreamStatus = "CREATING"
	StatusActive   StreamStatus = "ACTIVE"
	StatusUpdating StreamStatus = "UPDATING"
	StatusDeleting StreamStatus = "DELETING"
)

// Quotas are the per-shard token-bucket limits of a stream. A zero field takes the
// Kinesis default; Unlimited switches throttling off for the stream.
type Quotas struct {
	Unlimited          bool
	WriteBytesPerSec   int64 // default 1 MiB
	WriteRecordsPerSec int64 // default 1000
	ReadBytesPerSec    int64 // default 2 MiB
	ReadCallsPerSec    int64 // default 5
}

// CreateOptions are the inputs of CreateStream.
type CreateOptions struct {
	ShardCount       int        // PROVISIONED; ignored for ON_DEMAND (4 shards)
	Mode             StreamMode // default PROVISIONED
	RetentionHours   int        // default 24, 24..8760
	MaxRecordSizeKiB int        // default 1024, 1024..10240
	Tags             map[string]string
	Quotas           Quotas
	WarmMiBps        int64        // CreateStream's WarmThroughputMiBps (stored only)
	Distribution     Distribution // default DistributeByKey; DistributeAuto needs ON_DEMAND
}

// HashKeyRange is an inclusive range of the 128-bit hash-key space.
type HashKeyRange struct {
	Start HashKey
	End   HashKey
}

// Shard describes one shard as DescribeStream/ListShards show it.
type Shard struct {
	ShardID               string // shardId-000000000000
	Index                 int
	ParentShardID         string // "" if none
	AdjacentParentShardID string // "" if none
	HashKeyRange          HashKeyRange
	StartingSequence      string // 56-digit sequence number
	EndingSequence        string // "" while open
	CreatedAt             time.Time
	ClosedAt              time.Time // zero while open
}

// Open reports whether the shard still accepts writes.
func (s Shard) Open() bool { return s.EndingSequence == "" }

// StreamDescription is the engine's full view of a stream (DescribeStream and
// DescribeStreamSummary are cut from it). Shards holds every unexpired shard in index order.
type StreamDescription struct {
	Key               StreamKey
	StreamID          string // [a-z0-9]{20}-[a-z0-9]{3}
	Status            StreamStatus
	Mode              StreamMode
	CreatedAt         time.Time
	RetentionHours    int
	MaxRecordSizeKiB  int
	Shards            []Shard
	OpenShardCount    int
	ConsumerCount     int
	EncryptionType    string // "NONE" or "KMS"
	KeyID             string
	ShardLevelMetrics []string
	WarmMiBps         int64 // UpdateStreamWarmThroughput's target (stored only)
	Quotas            Quotas
	Distribution      Distribution // never ""
}

// PutEntry is one record offered to PutRecords.
type PutEntry struct {
	PartitionKey string
	// NoPartitionKey says the caller sent no partition key at all: accepted on a
	// DistributeAuto stream, a validation error (Member must not be null) otherwise.
	NoPartitionKey  bool
	ExplicitHashKey string // decimal, "" = MD5 of PartitionKey
	Data            []byte
	// SequenceNumberForOrdering is PutRecord's optional ordering hint. Sluice's sequence
	// numbers always grow, so it only needs to be a valid, non-future number of the stream.
	SequenceNumberForOrdering string
}

// PutResult is the outcome of one PutEntry, in request order. Exactly one of
// (SequenceNumber, ShardID) or Err is set; Err is an *Error with CodeThroughputExceeded
// or CodeInternal.
type PutResult struct {
	ShardID        string
	SequenceNumber string
	Err            error
	Encrypted      bool // the record was sealed (the stream is KMS-encrypted): EncryptionType KMS
}

// Record is a record as read back.
type Record struct {
	SequenceNumber string // 56-digit decimal
	ArrivalMs      int64  // approximate arrival timestamp, ms since epoch
	PartitionKey   string
	Data           []byte
	Encrypted      bool // the stream was KMS-encrypted when the record was written
}

// IteratorType picks where a shard iterator starts.
type IteratorType string

const (
	TrimHorizon         IteratorType = "TRIM_HORIZON"
	Latest              IteratorType = "LATEST"
	AtSequenceNumber    IteratorType = "AT_SEQUENCE_NUMBER"
	AfterSequenceNumber IteratorType = "AFTER_SEQUENCE_NUMBER"
	AtTimestamp         IteratorType = "AT_TIMESTAMP"
)

// Position is a starting position in a shard (GetShardIterator, SubscribeToShard, and
// delivery pipelines).
type Position struct {
	Type           IteratorType
	SequenceNumber string    // AT_/AFTER_SEQUENCE_NUMBER
	Timestamp      time.Time // AT_TIMESTAMP
}

// ChildShard is listed when a reader reaches the end of a closed shard.
type ChildShard struct {
	ShardID      string
	ParentShards []string
	HashKeyRange HashKeyRange
}

// GetResult is the answer to GetRecords.
type GetResult struct {
	Records            []Record
	NextShardIterator  string // "" at the end of a closed shard
	MillisBehindLatest int64
	ChildShards        []ChildShard // set only at the end of a closed shard
}

// Consumer is a registered stream consumer (enhanced fan-out, delivery pipelines).
type Consumer struct {
	Name      string
	ARN       string // <stream arn>/consumer/<name>:<creation epoch s>
	Status    string // CREATING | ACTIVE | DELETING
	CreatedAt time.Time
	StreamARN string
}

// Checkpoint is a consumer's durable position in one shard: everything at or before
// SequenceNumber has been processed.
type Checkpoint struct {
	ShardID        string
	SequenceNumber string
}
