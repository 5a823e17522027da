// Package sinks holds the contract every Sluice delivery destination implements, and the code
// shared by all of them: batch and record types, outcome classification, retry with exponential
// backoff and jitter, and the failure-record JSON written under a destination's error prefix.
//
// The shape follows Benthos outputs: a sink is connected once (Connect), then receives whole
// batches (WriteBatch) and is finally closed (Close). The pipeline runner (daemon/delivery) owns
// buffering, retry timing and checkpoints; a sink only moves bytes and reports what happened
// through its error value, which the sink's classifier maps to an Outcome.
package sinks

import (
	"context"
	"errors"
	"fmt"
)

// Record is one record on its way to a destination, after the processors ran.
type Record struct {
	// Data is the record payload, delivered byte-for-byte. Sinks never add delimiters.
	Data []byte
	// ArrivalMs is the approximate arrival time in Unix milliseconds (Firehose
	// arrivalTimestamp; for KinesisStreamAsSource the record's ApproximateArrivalTimestamp).
	ArrivalMs int64
	// SequenceNumber is the source sequence number (WAL sequence for DirectPut).
	SequenceNumber string
	// SubSequence is the index of this record inside its source record after de-aggregation
	// (0 when the source record was not split).
	SubSequence int
	// PartitionKeys are the dynamic-partitioning keys from MetadataExtraction (nil without).
	PartitionKeys map[string]string
}

// Batch is the unit a sink writes: all records share the same partition keys.
type Batch struct {
	Records []Record
	// PartitionKeys are the keys shared by every record (nil without dynamic partitioning).
	PartitionKeys map[string]string
	// OldestArrivalMs is the arrival time of the oldest record, Unix ms. It decides the
	// object time (keys, !{timestamp:…}). Zero means "compute from Records".
	OldestArrivalMs int64
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

// Sink is a delivery destination.
//
// Contracts:
//   - Connect prepares clients and may check reachability. It may block until ctx ends. A
//     failed Connect is retried by the caller with backoff; WriteBatch is never called on a
//     sink whose Connect has not succeeded. Connect may be called again after errors.
//   - WriteBatch delivers one batch completely or returns an error; it never dials on its own
//     beyond what the connected client does per request. A nil error means the data is
//     durable at the destination (the caller may then advance checkpoints). A non-nil error
//     is classified by the sink's classifier (Classify for generic errors): Errored means the
//     same batch may be written again (duplicates are allowed, losses are not); Rejected means
//     retrying cannot help and the batch should go to the error output.
//     WriteBatch must be safe for concurrent use with other WriteBatch calls (different
//     partitions are flushed in parallel).
//   - Close releases resources. It does not flush: the sink holds no buffered data.
type Sink interface {
	Connect(ctx context.Context) error
	WriteBatch(ctx context.Context, b Batch) error
	Close(ctx context.Context) error
}

// Outcome is how one delivery attempt ended.
type Outcome int

const (
	// Delivered: the destination holds the batch.
	Delivered Outcome = iota
	// Errored: a transient problem (retry); the same batch may be retried while the retry
	// duration lasts.
	Errored
	// Rejected: permanent failure; retrying is pointless, send the records to the error output.
	Rejected
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Errored:
		return "errored"
	case Rejected:
		return "rejected"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Classifier maps a WriteBatch error to an Outcome. Every sink exposes exactly one.
type Classifier func(err error) Outcome

// Error is an error carrying a Firehose error code (used as errorCode in failure records) and
// an explicit Outcome. Sinks wrap destination failures in it so the runner can both classify
// and report them.
type Error struct {
	Code    string  // Firehose errorCode, e.g. "S3.NoSuchBucket"
	Outcome Outcome // Errored or Rejected
	Err     error   // underlying cause
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Code
	}
	return e.Code + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable wraps err as a retryable *Error with the given code.
func Retryable(code string, err error) error { return &Error{Code: code, Outcome: Errored, Err: err} }

// Permanent wraps err as a rejected (permanent) *Error with the given code.
func Permanent(code string, err error) error {
	return &Error{Code: code, Outcome: Rejected, Err: err}
}

// Classify is the generic classifier: nil → Delivered; an *Error in the chain → its Outcome;
// context cancellation and everything else → Errored (unknown failures must not lose data).
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

// ErrInvalidArgument marks configuration errors that the Firehose API reports as
// InvalidArgumentException. Test with errors.Is.
var ErrInvalidArgument = errors.New("InvalidArgumentException")

// InvalidArgumentError is a configuration error whose message is client-facing.
type InvalidArgumentError struct{ Msg string }

func (e *InvalidArgumentError) Error() string { return e.Msg }

// Is reports true for ErrInvalidArgument.
func (e *InvalidArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

// InvalidArgument builds an *InvalidArgumentError from a format string.
func InvalidArgument(format string, args ...any) error {
	return &InvalidArgumentError{Msg: fmt.Sprintf(format, args...)}
}
