// Package record holds the types every stage after the source shares: the record on its way
// to a destination (after the processors), the failure record written to the error output
// with its error-output types, and the configuration error every stage reports as the
// Firehose API's InvalidArgumentException. It imports nothing of Sluice, so the processors,
// the delivery runner and every sink can use it without pointing an import upstream.
package record

import (
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
	// SequenceNumber is the source sequence number (internal-stream sequence for DirectPut).
	SequenceNumber string
	// SubSequence is the index of this record inside its source record after de-aggregation
	// (0 when the source record was not split).
	SubSequence int
	// PartitionKeys are the dynamic-partitioning keys from MetadataExtraction (nil without).
	PartitionKeys map[string]string
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

// Message is the client-facing text of err: the Msg of an *InvalidArgumentError in its
// chain, else err.Error().
func Message(err error) string {
	var ia *InvalidArgumentError
	if errors.As(err, &ia) {
		return ia.Msg
	}
	return err.Error()
}
