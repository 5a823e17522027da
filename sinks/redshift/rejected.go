package redshift

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-io/sluice/sources/record"
)

// RejectedTable keeps, with exactly-once on, every row the table refused, written in the
// transaction that commits the batch's position: the error output in S3 is written after
// that commit, so a crash in between would otherwise lose those rows from everywhere (the
// position already says they are done). Rows stay until the user deletes them.
const RejectedTable = "sluice_rejected"

const rejectedDDL = `CREATE TABLE IF NOT EXISTS ` + RejectedTable + ` (
	delivery_stream text NOT NULL,
	sequence_number text NOT NULL,
	sub_sequence    integer NOT NULL DEFAULT 0,
	error_code      text NOT NULL,
	error_message   text NOT NULL,
	raw_data        bytea NOT NULL,
	rejected_at     timestamptz NOT NULL DEFAULT now())`

// rejectedRow is one refused record, for storeRejected.
type rejectedRow struct {
	rec     record.Record
	code    string
	message string
}

// storeRejected writes the refused rows into RejectedTable inside tx.
func (s *Sink) storeRejected(ctx context.Context, tx pgx.Tx, rows []rejectedRow) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{RejectedTable},
		[]string{"delivery_stream", "sequence_number", "sub_sequence", "error_code", "error_message", "raw_data"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{s.cfg.Group, r.rec.SequenceNumber, int32(r.rec.SubSequence), r.code, r.message, r.rec.Data}, nil
		}))
	return err
}
