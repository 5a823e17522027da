package redshift

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// Error codes of the Redshift destination (firehose.md §6).
const (
	CodeTableNotFound         = "Redshift.TableNotFound"
	CodeColumnNotFound        = "Redshift.ColumnNotFound"
	CodeSyntaxError           = "Redshift.SyntaxError"
	CodeAuthenticationFailed  = "Redshift.AuthenticationFailed"
	CodeDatabaseNotFound      = "Redshift.DatabaseNotFound"
	CodeInsufficientPrivilege = "Redshift.InsufficientPrivilege"
	CodeMissingColumn         = "Redshift.MissingColumn"
	CodeDataLoadFailed        = "Redshift.DataLoadFailed"
	CodeDiskFull              = "Redshift.DiskFull"
	CodeConnectionFailed      = "Redshift.ConnectionFailed"
	CodeMissingS3File         = "Redshift.MissingS3File"
	CodeInternalError         = "Redshift.InternalError"
)

// FailedType is the error-output type (folder under the backup's error prefix) of the rows
// and batches the destination did not take.
const FailedType = "redshift-failed"

// codeOf maps a PostgreSQL error (or a transport failure) to its Firehose code.
func codeOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "42P01":
			return CodeTableNotFound
		case "42703":
			return CodeColumnNotFound
		case "42601":
			return CodeSyntaxError
		case "28P01", "28000":
			return CodeAuthenticationFailed
		case "3D000":
			return CodeDatabaseNotFound
		case "42501":
			return CodeInsufficientPrivilege
		case "23502":
			return CodeMissingColumn
		case "53100":
			return CodeDiskFull
		}
		switch {
		case strings.HasPrefix(pe.Code, "22"), strings.HasPrefix(pe.Code, "23"), pe.Code == "54000":
			return CodeDataLoadFailed
		case strings.HasPrefix(pe.Code, "08"):
			return CodeConnectionFailed
		}
		return CodeInternalError
	}
	if isTransport(err) {
		return CodeConnectionFailed
	}
	return CodeInternalError
}

// rowError reports whether err is about the data of one row (a type error, a NOT NULL,
// CHECK or unique violation, a row too wide): that row goes to the error output and the
// rest of the batch loads.
func rowError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23") || pe.Code == "54000"
}

// isTransport reports a failure to reach or keep the server: connection refused or reset,
// timeouts, a closed connection, a server shutting down.
func isTransport(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "unexpected EOF")
}

// wrap classifies a load failure for the runner: everything is retried until the retry
// duration ends (connection, timeout and serialization failures, and a missing table or
// column, which the user may still create); the code says what it was.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return sinks.Retryable(CodeConnectionFailed, err)
	}
	var se *sinks.Error
	if errors.As(err, &se) {
		return err
	}
	return sinks.Retryable(codeOf(err), err)
}

var copyLineRE = regexp.MustCompile(`\bline (\d+)`)

// copyLine is the 1-based line of the COPY input a data error is about (from the error's
// context, "COPY events, line 3, column id: …"), or 0 when it does not say.
func copyLine(err error) int {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || !strings.HasPrefix(pe.Where, "COPY ") {
		return 0
	}
	m := copyLineRE.FindStringSubmatch(pe.Where)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// message is the text of a PostgreSQL error for the failure record: message, detail and
// where it happened.
func message(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	s := pe.Message
	if pe.Detail != "" {
		s += " (" + pe.Detail + ")"
	}
	if pe.Where != "" {
		s += " [" + pe.Where + "]"
	}
	return s + " SQLSTATE " + pe.Code
}

func messageOf(err error) string { return record.Message(err) }
