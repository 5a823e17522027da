// Package sources reads the records a delivery pipeline delivers. Both Firehose source
// kinds are streamcore streams: DirectPut lands PutRecord/PutRecordBatch in an internal
// stream per delivery stream (package directput, the intake), and KinesisStreamAsSource
// reads a Sluice stream. A StreamSource reads every shard of one stream from its
// checkpoint (or a start position), follows reshards (children only after their parents
// were read to the end), and commits per-shard checkpoints in a named group once the
// pipeline says records are delivered.
package sources

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

// Read limits per batch.
const (
	DefaultMaxRecords = 10000
	DefaultMaxBytes   = 4 << 20
)

// readBackoff spaces the retries of a shard read that failed (the store had a problem).
var readBackoff = retry.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}

// relistEvery bounds how long a new shard can go unnoticed if no end-of-shard event
// announces it (defensive; reshards normally close a parent first).
const relistEvery = 5 * time.Second

// Batch is a group of records read from one shard, in order.
type Batch struct {
	ShardID            string
	Records            []streamcore.Record
	MillisBehindLatest int64
}

// LastSequence is the sequence number of the batch's last record.
func (b Batch) LastSequence() string {
	if len(b.Records) == 0 {
		return ""
	}
	return b.Records[len(b.Records)-1].SequenceNumber
}

// Engine is the part of *streamcore.Engine a StreamSource uses.
type Engine interface {
	ListShards(ctx context.Context, key streamcore.StreamKey, f streamcore.ShardFilter) ([]streamcore.Shard, error)
	OpenReader(ctx context.Context, key streamcore.StreamKey, shardID string, pos streamcore.Position) (*streamcore.Reader, error)
	CommitCheckpoints(ctx context.Context, key streamcore.StreamKey, group string, cps []streamcore.Checkpoint) error
	Checkpoints(ctx context.Context, key streamcore.StreamKey, group string) (map[string]string, error)
}

// Options configure a StreamSource.
type Options struct {
	Stream streamcore.StreamKey
	// Group names the checkpoint group (one per delivery stream).
	Group string
	// Start is where a shard without checkpoint starts (TRIM_HORIZON for DirectPut,
	// AT_TIMESTAMP of the delivery stream's creation for KinesisStreamAsSource).
	Start streamcore.Position
	// MaxRecords and MaxBytes bound one read (0 = defaults).
	MaxRecords, MaxBytes int
	// Gate, when set, is called before every read and may block: the pipeline uses it to
	// pause reading while the memory budget is full.
	Gate func(ctx context.Context) error
	// OnExpired, when set, is told how many records of a shard retention removed before
	// they could be read (they are lost to this source).
	OnExpired func(shardID string, n int64)
	Logger    *slog.Logger
}

// StreamSource reads one stream for one pipeline.
type StreamSource struct {
	eng  Engine
	opts Options
	log  *slog.Logger
}

// NewStreamSource returns a source over eng.
func NewStreamSource(eng Engine, opts Options) *StreamSource {
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = DefaultMaxRecords
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Start.Type == "" {
		opts.Start.Type = streamcore.TrimHorizon
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &StreamSource{eng: eng, opts: opts, log: lg.With("component", "source", "stream", opts.Stream.Name)}
}

// Commit stores checkpoints durably in the source's group.
func (s *StreamSource) Commit(ctx context.Context, cps []streamcore.Checkpoint) error {
	if len(cps) == 0 {
		return nil
	}
	return s.eng.CommitCheckpoints(ctx, s.opts.Stream, s.opts.Group, cps)
}

// Run reads every shard and sends its batches to out until ctx ends or the stream
// disappears. Batches of one shard are sent in order; shards are read concurrently, a child
// shard only once all of its parents were read to their end (or have expired). Run returns
// ctx.Err() on cancellation, or the engine's error when the stream is gone.
func (s *StreamSource) Run(ctx context.Context, out chan<- Batch) error {
	cps, err := s.eng.Checkpoints(ctx, s.opts.Stream, s.opts.Group)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		started  = map[string]bool{}
		finished = map[string]bool{}
		events   = make(chan struct{}, 1)
		fatal    error
	)
	signal := func() {
		select {
		case events <- struct{}{}:
		default:
		}
	}
	defer wg.Wait()

	ticker := time.NewTicker(relistEvery)
	defer ticker.Stop()
	for {
		shards, err := s.eng.ListShards(ctx, s.opts.Stream, streamcore.ShardFilter{})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, streamcore.ErrNotFound) {
				return err
			}
			s.log.Warn("listing shards failed", "err", err)
		}
		present := map[string]bool{}
		for _, sh := range shards {
			present[sh.ShardID] = true
		}
		mu.Lock()
		for _, sh := range shards {
			if started[sh.ShardID] {
				continue
			}
			if !parentDone(sh.ParentShardID, present, finished) || !parentDone(sh.AdjacentParentShardID, present, finished) {
				continue
			}
			started[sh.ShardID] = true
			pos := s.opts.Start
			if seq := cps[sh.ShardID]; seq != "" {
				pos = streamcore.Position{Type: streamcore.AfterSequenceNumber, SequenceNumber: seq}
			}
			wg.Add(1)
			go func(id string, pos streamcore.Position) {
				defer wg.Done()
				err := s.readShard(ctx, id, pos, out)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					finished[id] = true
				} else if ctx.Err() == nil && fatal == nil {
					fatal = err
					cancel()
				}
				signal()
			}(sh.ShardID, pos)
		}
		mu.Unlock()

		select {
		case <-ctx.Done():
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if fatal != nil {
				return fatal
			}
			return ctx.Err()
		case <-events:
		case <-ticker.C:
		}
	}
}

func parentDone(parent string, present, finished map[string]bool) bool {
	return parent == "" || !present[parent] || finished[parent]
}

// readShard reads one shard to its end or until it vanishes (nil), or until ctx ends (error).
func (s *StreamSource) readShard(ctx context.Context, shardID string, pos streamcore.Position, out chan<- Batch) error {
	r, err := s.eng.OpenReader(ctx, s.opts.Stream, shardID, pos)
	if errors.Is(err, streamcore.ErrNotFound) {
		return nil // expired or the stream is gone; the next listing tells which
	}
	if err != nil {
		return err
	}
	failures := 0
	for {
		if s.opts.Gate != nil {
			if err := s.opts.Gate(ctx); err != nil {
				return err
			}
		}
		b, err := r.Read(ctx, s.opts.MaxRecords, s.opts.MaxBytes)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, streamcore.ErrNotFound) {
				return nil
			}
			delay := readBackoff.Delay(failures)
			failures++
			s.log.Warn("reading shard failed; retrying", "shard", shardID, "delay", delay, "err", err)
			if err := retry.Sleep(ctx, delay); err != nil {
				return err
			}
			continue
		}
		failures = 0
		if b.Skipped > 0 {
			s.log.Warn("records expired before they were read; they are lost", "shard", shardID, "records", b.Skipped)
			if s.opts.OnExpired != nil {
				s.opts.OnExpired(shardID, b.Skipped)
			}
		}
		if len(b.Records) > 0 {
			select {
			case out <- Batch{ShardID: shardID, Records: b.Records, MillisBehindLatest: b.MillisBehindLatest}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if b.End {
			return nil
		}
		if len(b.Records) == 0 {
			if err := r.Wait(ctx); err != nil {
				return err
			}
		}
	}
}
