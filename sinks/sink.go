// Package sinks holds the contract every Sluice delivery destination implements, the errors
// a destination reports failures with, and the registry the daemon finds destinations in.
// Each destination is a folder of its own (sinks/s3 today); the delivery runner (package
// delivery) drives any of them through this contract and knows none by name.
//
// # The contract
//
// A sink moves bytes; everything around it — buffering, how many batches are in flight,
// retry clocks, the error output, S3 backup, source checkpoints — belongs to the runner.
//
//   - Connect prepares clients (and may check reachability). The runner calls it before the
//     first Write and again, with backoff, after a Write reported ErrNotConnected. It may
//     block until ctx ends. Write is never called while the last Connect failed.
//   - Write delivers one batch and answers with a Result: acknowledgements are data. The
//     Result says, for the whole batch (Err) or record by record (Records), whether each
//     record is Delivered (durable at the destination: the runner may move checkpoints
//     past it), Errored (transient: the runner sends it again, alone with the other
//     Errored records of the batch, until the destination's retry duration ends) or
//     Rejected (retrying cannot help: the runner writes it to the error output, or, when
//     the error says so with Dropped, drops and counts it: an HTTP endpoint's 413). Write
//     never dials on its own beyond what a connected client does per request; it must be
//     safe for concurrent use (the runner flushes several batches, e.g. partitions, at once)
//     unless the sink is ExactlyOnce, which gets one Write at a time.
//   - A Write may finish later: a Result with Pending set says "accepted, not yet
//     confirmed" (Splunk indexer acknowledgements). The runner frees the flush slot and
//     waits for the one final Result the sink sends on Pending, for as long as the sink
//     takes; the sink bounds that wait itself (it owns its acknowledgement timeout).
//   - A sink asks for a pause with RetryAfter (HTTP Retry-After, HEC "server busy"): the
//     runner waits at least that long before the next attempt of those records.
//   - A destination that is down as a whole (S3 unreachable) reports Unavailable: the
//     runner keeps retrying with backoff and does not run the retry-duration clock, so the
//     records wait in the source stream instead of being written to an error output that
//     usually lives on the same server.
//   - Close releases resources. It does not flush: a sink holds no buffered data.
//
// Who retries: only the runner, with the backoff of package retry. A sink makes one attempt
// per Write (a client library's own transport retries aside) and classifies the outcome with
// its one classifier.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
)

// Batch is the unit a sink writes. With dynamic partitioning, all records share the same
// partition keys.
type Batch struct {
	Records []record.Record
	// PartitionKeys are the keys shared by every record (nil without dynamic partitioning).
	PartitionKeys map[string]string
	// OldestArrivalMs is the arrival time of the oldest record, Unix ms. It decides the
	// object time (keys, !{timestamp:…}). Zero means "compute from Records".
	OldestArrivalMs int64
	// Positions are, per source shard, the last source position this batch completes:
	// once the batch is committed, every record of that shard up to it is held by the
	// destination (or was written to the error output). Set only for ExactlyOnce sinks,
	// which store them in the same commit as the records.
	Positions []Position
	// Attempt is 1 for the first Write of these records, 2 for the first retry, and so on.
	Attempt int
}

// Position is a source position: a record of a shard, by sequence number and, for the
// records de-aggregated from one source record, sub-sequence.
type Position struct {
	ShardID        string
	SequenceNumber string
	SubSequence    int
}

// Bytes returns the total payload size of the batch.
func (b Batch) Bytes() int {
	n := 0
	for i := range b.Records {
		n += len(b.Records[i].Data)
	}
	return n
}

// Oldest returns OldestArrivalMs, or the smallest ArrivalMs of the records when it is zero.
func (b Batch) Oldest() int64 {
	if b.OldestArrivalMs != 0 || len(b.Records) == 0 {
		return b.OldestArrivalMs
	}
	m := b.Records[0].ArrivalMs
	for _, r := range b.Records[1:] {
		if r.ArrivalMs < m {
			m = r.ArrivalMs
		}
	}
	return m
}

// Sink is a delivery destination. See the package documentation for the contract.
type Sink interface {
	Connect(ctx context.Context) error
	Write(ctx context.Context, b Batch) Result
	Close(ctx context.Context) error
}

// ExactlyOnce is implemented by a sink that stores Batch.Positions in the same transaction
// as the batch's records. The runner then gives it one batch at a time, in source order,
// and before it reads from the source asks for the positions already committed: records at
// or before them are not written again after a restart. Such a sink reports a batch either
// wholly uncommitted (Err, or every record Errored) or wholly committed (each record
// Delivered or Rejected); it never commits part of the records it reports Errored.
type ExactlyOnce interface {
	Sink
	// Positions returns the positions stored by the last committed batches (one per shard
	// at most; none before the first commit). Called after Connect succeeded.
	Positions(ctx context.Context) ([]Position, error)
}

// Prober is implemented by a sink that can cheaply ask whether its destination answers
// again (a ping, a HEAD): while a batch waits out a long backoff after failures, the runner
// probes every few seconds and retries as soon as a probe succeeds, so a destination that
// comes back is written to within seconds, not at the end of a doubled backoff.
type Prober interface {
	Probe(ctx context.Context) error
}

// Outcome is how a write of one record (or a whole batch) ended.
type Outcome = retry.Outcome

const (
	// Delivered: the destination holds the record.
	Delivered = retry.Succeeded
	// Errored: a transient problem; the record may be written again while the retry
	// duration lasts (duplicates are allowed, losses are not).
	Errored = retry.Again
	// Rejected: permanent; the record goes to the error output.
	Rejected = retry.GiveUp
)

// Result is a sink's answer to one Write.
type Result struct {
	// Err, when Records is nil, is the outcome of every record: nil = all Delivered,
	// otherwise classified by Classify (or the sink's own classifier).
	Err error
	// Records, when not nil, holds one outcome per record of the batch, in order.
	Records []RecordResult
	// Pending, when not nil, means the batch was accepted and is awaiting confirmation;
	// the other fields are ignored and the sink sends exactly one final Result (without
	// Pending) on the channel.
	Pending <-chan Result
}

// RecordResult is the outcome of one record of a Write.
type RecordResult struct {
	Outcome Outcome
	// Err says why (nil when Delivered). Its code (ErrorCode) and text become errorCode and
	// errorMessage of the record's failure record; RetryAfter in it asks for a pause.
	Err error
	// Fields are the destination's own members of the failure record (esDocumentId, …).
	Fields []record.Field
}

// Done is the Result of a batch that was delivered whole.
func Done() Result { return Result{} }

// Failed is the Result of a batch that failed whole with err.
func Failed(err error) Result { return Result{Err: err} }

// ErrNotConnected, in an error's chain, sends the sink back to Connect (with backoff)
// before the next attempt.
var ErrNotConnected = errors.New("not connected")

// Error is an error carrying a Firehose error code (errorCode in failure records) and how
// the runner should treat it. Sinks wrap destination failures in it.
type Error struct {
	Code    string  // Firehose errorCode, e.g. "S3.NoSuchBucket"
	Outcome Outcome // Errored or Rejected
	// After asks the runner to wait at least this long before the next attempt.
	After time.Duration
	// Hold says the destination is down as a whole: retry without the retry-duration
	// clock (records stay in the source meanwhile).
	Hold bool
	// Drop, with Outcome Rejected, says the records are dropped rather than written to the
	// error output or the S3 backup (an HTTP endpoint's 413, firehose.md §9): the runner
	// acknowledges them and counts them in dropped_records_total under this reason.
	Drop string
	// Alert says the destination refuses every write until an operator acts (an invalid
	// or disabled credential): the delivery stream shows the error (DescribeDeliveryStream
	// FailureDescription) even after the records went to the error output, until a later
	// write succeeds.
	Alert bool
	Err   error // underlying cause
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Code
	}
	return e.Code + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent implements retry.Permanenter.
func (e *Error) Permanent() bool { return e.Outcome == Rejected }

// Retryable wraps err as a retryable *Error with the given code.
func Retryable(code string, err error) error { return &Error{Code: code, Outcome: Errored, Err: err} }

// Permanent wraps err as a rejected (permanent) *Error with the given code.
func Permanent(code string, err error) error {
	return &Error{Code: code, Outcome: Rejected, Err: err}
}

// Unavailable wraps err as "the destination is down": retried until it is back, with the
// retry-duration clock stopped.
func Unavailable(code string, err error) error {
	return &Error{Code: code, Outcome: Errored, Hold: true, Err: err}
}

// Dropped wraps err as permanent with the records dropped, not written to the error
// output: counted under reason (see Error.Drop).
func Dropped(reason, code string, err error) error {
	return &Error{Code: code, Outcome: Rejected, Drop: reason, Err: err}
}

// DropReason is the reason err says its records are dropped for ("" for none).
func DropReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Outcome == Rejected {
		return e.Drop
	}
	return ""
}

// NotConnected wraps err as retryable after a new Connect (ErrNotConnected in its chain).
func NotConnected(code string, err error) error {
	if err == nil {
		err = ErrNotConnected
	} else {
		err = fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return &Error{Code: code, Outcome: Errored, Err: err}
}

// RetryAfter wraps err as retryable no sooner than d.
func RetryAfter(d time.Duration, code string, err error) error {
	return &Error{Code: code, Outcome: Errored, After: d, Err: err}
}

// Classify is the generic classifier: nil → Delivered; an *Error in the chain → its
// Outcome; context cancellation and everything else → Errored (unknown failures must not
// lose data).
func Classify(err error) Outcome {
	if err == nil {
		return Delivered
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Outcome
	}
	return Errored
}

// ErrorCode returns the Firehose errorCode of err: the Code of an *Error in the chain, else
// def.
func ErrorCode(err error, def string) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return def
}

// Held reports whether err says the destination is down as a whole (see Unavailable).
func Held(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Hold
}

// Alerting reports whether err says the destination refuses every write until an operator
// acts (see Error.Alert).
func Alerting(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Alert
}

// WaitHint is the pause err asks for (0 for none).
func WaitHint(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.After
	}
	return 0
}
