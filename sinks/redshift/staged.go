package redshift

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-io/sluice/sinks"
)

// writeStaged is Redshift mode (firehose.md §6): stage, manifest, one COPY per manifest.
func (s *Sink) writeStaged(ctx context.Context, pool *pgxpool.Pool, b sinks.Batch) sinks.Result {
	return sinks.Failed(sinks.Permanent(CodeInternalError, errors.New("redshift mode is not built yet")))
}
