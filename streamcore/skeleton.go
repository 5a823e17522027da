package streamcore

import (
	"context"
	"time"
)

// Skeleton: every contract method compiles; real bodies replace these step by step.

var errTODO = &Error{Code: CodeInternal, Msg: "Internal service failure."}

// Engine is the stream engine. Safe for concurrent use.
type Engine struct {
	opts Options
}

// Reader reads one shard without call quotas (delivery pipelines, SubscribeToShard).
type Reader struct {
	shardID string
}

func Open(ctx context.Context, opts Options) (*Engine, error) { return &Engine{opts: opts}, nil }
func (e *Engine) Close(ctx context.Context) error               { return nil }
func NewMemStore() Store                                        { return nil }

func (e *Engine) CreateStream(ctx context.Context, key StreamKey, o CreateOptions) error {
	return errTODO
}
func (e *Engine) DeleteStream(ctx context.Context, key StreamKey, enforceConsumerDeletion bool) error {
	return errTODO
}
func (e *Engine) DescribeStream(ctx context.Context, key StreamKey) (StreamDescription, error) {
	return StreamDescription{}, errTODO
}
func (e *Engine) ListStreams(ctx context.Context, account, region string) ([]StreamDescription, error) {
	return nil, errTODO
}
func (e *Engine) ListShards(ctx context.Context, key StreamKey, f ShardFilter) ([]Shard, error) {
	return nil, errTODO
}
func (e *Engine) PutRecords(ctx context.Context, key StreamKey, entries []PutEntry) ([]PutResult, error) {
	return nil, errTODO
}
func (e *Engine) GetShardIterator(ctx context.Context, key StreamKey, shardID string, pos Position) (string, error) {
	return "", errTODO
}
func (e *Engine) GetRecords(ctx context.Context, iterator string, limit int) (GetResult, error) {
	return GetResult{}, errTODO
}
func (e *Engine) OpenReader(ctx context.Context, key StreamKey, shardID string, pos Position) (*Reader, error) {
	return nil, errTODO
}
func (r *Reader) ShardID() string { return r.shardID }
func (r *Reader) Read(ctx context.Context, maxRecords, maxBytes int) (ReadBatch, error) {
	return ReadBatch{}, errTODO
}
func (r *Reader) Wait(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (e *Engine) SplitShard(ctx context.Context, key StreamKey, shardID, newStartingHashKey string) error {
	return errTODO
}
func (e *Engine) MergeShards(ctx context.Context, key StreamKey, shardID, adjacentShardID string) error {
	return errTODO
}
func (e *Engine) UpdateShardCount(ctx context.Context, key StreamKey, target int) (int, error) {
	return 0, errTODO
}
func (e *Engine) UpdateStreamMode(ctx context.Context, key StreamKey, mode StreamMode) error {
	return errTODO
}
func (e *Engine) IncreaseRetention(ctx context.Context, key StreamKey, hours int) error { return errTODO }
func (e *Engine) DecreaseRetention(ctx context.Context, key StreamKey, hours int) error { return errTODO }
func (e *Engine) UpdateMaxRecordSize(ctx context.Context, key StreamKey, kib int) error  { return errTODO }
func (e *Engine) StartEncryption(ctx context.Context, key StreamKey, keyID string) error { return errTODO }
func (e *Engine) StopEncryption(ctx context.Context, key StreamKey) error                { return errTODO }
func (e *Engine) SetShardLevelMetrics(ctx context.Context, key StreamKey, enable bool, metrics []string) (current, desired []string, err error) {
	return nil, nil, errTODO
}
func (e *Engine) AddTags(ctx context.Context, arn string, tags map[string]string) error { return errTODO }
func (e *Engine) RemoveTags(ctx context.Context, arn string, keys []string) error       { return errTODO }
func (e *Engine) ListTags(ctx context.Context, arn string) (map[string]string, error) {
	return nil, errTODO
}
func (e *Engine) PutResourcePolicy(ctx context.Context, arn, policy string) error { return errTODO }
func (e *Engine) GetResourcePolicy(ctx context.Context, arn string) (string, error) {
	return "", errTODO
}
func (e *Engine) DeleteResourcePolicy(ctx context.Context, arn string) error { return errTODO }
func (e *Engine) RegisterConsumer(ctx context.Context, key StreamKey, name string) (Consumer, error) {
	return Consumer{}, errTODO
}
func (e *Engine) DeregisterConsumer(ctx context.Context, key StreamKey, name string) error {
	return errTODO
}
func (e *Engine) DescribeConsumer(ctx context.Context, key StreamKey, name string) (Consumer, error) {
	return Consumer{}, errTODO
}
func (e *Engine) ConsumerByARN(ctx context.Context, arn string) (StreamKey, Consumer, error) {
	return StreamKey{}, Consumer{}, errTODO
}
func (e *Engine) ListConsumers(ctx context.Context, key StreamKey) ([]Consumer, error) {
	return nil, errTODO
}
func (e *Engine) CommitCheckpoints(ctx context.Context, key StreamKey, group string, cps []Checkpoint) error {
	return errTODO
}
func (e *Engine) Checkpoints(ctx context.Context, key StreamKey, group string) (map[string]string, error) {
	return nil, errTODO
}
func (e *Engine) DescribeLimits(ctx context.Context, account, region string) (Limits, error) {
	return Limits{}, errTODO
}

var _ = time.Second
