package firehose

import (
	"errors"
	"fmt"
)

// AWS error types the Manager returns (the API layer maps Type → `__type`, Msg → `message`).
const (
	ErrTypeInvalidArgument    = "InvalidArgumentException"
	ErrTypeResourceNotFound   = "ResourceNotFoundException"
	ErrTypeResourceInUse      = "ResourceInUseException"
	ErrTypeLimitExceeded      = "LimitExceededException"
	ErrTypeConcurrentModif    = "ConcurrentModificationException"
	ErrTypeServiceUnavailable = "ServiceUnavailableException"
	ErrTypeInternal           = "InternalFailure"
)

// Error is a client-facing failure of a Manager operation. Msg is the reference's text.
type Error struct {
	Type string
	Msg  string
	Err  error // cause, never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Type + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Type + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// MsgStorageFull is the ErrorMessage of a record refused because the data dir is full.
const MsgStorageFull = "An internal error occurred: the storage is full (no space left on device); the record was not written."

// TypeOf returns the AWS error type of err (InternalFailure when it is not an *Error).
func TypeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ErrTypeInternal
}

func invalidArg(format string, args ...any) *Error {
	return &Error{Type: ErrTypeInvalidArgument, Msg: fmt.Sprintf(format, args...)}
}

func (m *Manager) notFound(name string) *Error {
	return &Error{Type: ErrTypeResourceNotFound, Msg: fmt.Sprintf("Firehose %s under account %s not found.", name, m.opts.Account)}
}

func (m *Manager) alreadyExists(name string) *Error {
	return &Error{Type: ErrTypeResourceInUse, Msg: fmt.Sprintf("Firehose %s under accountId %s already exists", name, m.opts.Account)}
}

// RestoreError is a configuration change (UpdateDestination, reload) whose new pipeline did
// not start (Update) and whose previous pipeline could not be started again (Restore):
// the delivery stream is left without a pipeline and Describe shows it failing.
type RestoreError struct {
	Update, Restore error
}

func (e *RestoreError) Error() string {
	return "starting the new pipeline failed: " + e.Update.Error() + "; restarting the previous one failed too: " + e.Restore.Error()
}

func (e *RestoreError) Unwrap() []error { return []error{e.Update, e.Restore} }

func internal(err error) *Error {
	return &Error{Type: ErrTypeInternal, Msg: "An internal error occurred.", Err: err}
}
