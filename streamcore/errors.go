package streamcore

import (
	"errors"
	"fmt"
	"syscall"
)

// Code classifies an engine error. The Kinesis API maps a Code one-to-one onto an AWS
// error type (`__type`); the message text is already the reference's wording.
type Code string

const (
	CodeResourceNotFound   Code = "ResourceNotFoundException"
	CodeResourceInUse      Code = "ResourceInUseException"
	CodeInvalidArgument    Code = "InvalidArgumentException"
	CodeLimitExceeded      Code = "LimitExceededException"
	CodeThroughputExceeded Code = "ProvisionedThroughputExceededException"
	CodeExpiredIterator    Code = "ExpiredIteratorException"
	CodeExpiredNextToken   Code = "ExpiredNextTokenException"
	CodeValidation         Code = "ValidationException"
	CodeKMSNotFound        Code = "KMSNotFoundException"
	CodeInternal           Code = "InternalFailure"
)

// Error is the typed error every public Engine method returns for a request that cannot
// be served. Msg is the user-facing text (see shared/reference/kinesis.md §4–§7);
// Err, when set, is the underlying cause (storage faults) and is never shown to clients.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return string(e.Code) + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, ErrThroughputExceeded) and friends match on the Code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Msg == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is; they match any *Error with the same Code.
var (
	ErrNotFound           = &Error{Code: CodeResourceNotFound}
	ErrInUse              = &Error{Code: CodeResourceInUse}
	ErrInvalidArgument    = &Error{Code: CodeInvalidArgument}
	ErrLimitExceeded      = &Error{Code: CodeLimitExceeded}
	ErrThroughputExceeded = &Error{Code: CodeThroughputExceeded}
	ErrExpiredIterator    = &Error{Code: CodeExpiredIterator}
	ErrValidation         = &Error{Code: CodeValidation}
	ErrInternal           = &Error{Code: CodeInternal}
)

func newErr(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code of err, or CodeInternal when err is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// StorageFull reports whether err is a store failure caused by a full disk (ENOSPC). Its
// message (MsgStorageFull) may be shown to clients: it names the cause, not a path.
func StorageFull(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeInternal && errors.Is(e.Err, syscall.ENOSPC)
}
