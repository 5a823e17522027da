package s3

import (
	"context"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// S3 backup of the other destinations (firehose.md §3, §7–9): every destination but S3
// names an S3 bucket (its S3Configuration) where failed records go, and, in its "all"
// mode, a copy of every record. The destinations spell the two modes their own way.
var backupModes = map[string]bool{ // mode → backs up everything
	"FailedDataOnly": false, "AllData": true, // HTTP endpoint
	"FailedDocumentsOnly": false, "AllDocuments": true, // OpenSearch
	"FailedEventsOnly": false, "AllEvents": true, // Splunk
	"Disabled": false, "Enabled": true, // Redshift (Enabled: a copy of the source records)
}

// BackupAll reports whether mode (a destination's S3BackupMode) backs up every record, and
// whether mode is one of the spellings above.
func BackupAll(mode string) (all, ok bool) {
	all, ok = backupModes[mode]
	return all, ok
}

// Backup is a non-S3 destination's S3 backup, built by NewBackup.
type Backup struct {
	// Errors writes failure records (in the destination's shape and error-output type)
	// under the backup's ErrorOutputPrefix: the runner's error output.
	Errors sinks.ErrorOutput
	// All, in the "all" mode, writes every incoming batch under the backup's Prefix (the
	// runner's Config.Backup; it connects on its first write); nil otherwise.
	All sinks.Sink
	// Sink is the S3 sink both write with; All and the error output connect it on first
	// use.
	Sink *Sink
}

// NewBackup builds the S3 backup described by cfg (the destination's S3Configuration, in
// the S3DestinationConfiguration shape) for a destination in backup mode mode. env says how
// to reach S3 and names the delivery stream. It does no I/O; errors are client-facing.
func NewBackup(cfg *API, mode string, env sinks.Env, opts ...Option) (*Backup, error) {
	all, ok := BackupAll(mode)
	if !ok {
		return nil, record.InvalidArgument("S3BackupMode %q is not a backup mode", mode)
	}
	if cfg == nil {
		return nil, record.InvalidArgument("S3Configuration is required")
	}
	c := cfg.config(env)
	c.DynamicPartitioning, c.QueryKeys = false, nil // the backup of a destination is never partitioned
	if env.Logger != nil {
		opts = append([]Option{WithLogger(env.Logger.With("backup", true))}, opts...)
	}
	if env.OnObject != nil {
		opts = append(opts, WithObjectHook(env.OnObject))
	}
	s, err := New(c, opts...)
	if err != nil {
		return nil, err
	}
	b := &Backup{Errors: connecting{s}, Sink: s}
	if all {
		b.All = connectingSink{s}
	}
	return b, nil
}

// connectingSink is the "all" backup as the runner's Config.Backup: the runner connects
// only the destination's sink, so each Write connects first (once; Connect is idempotent).
type connectingSink struct{ *Sink }

func (c connectingSink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	if err := c.Sink.Connect(ctx); err != nil {
		return sinks.Failed(err)
	}
	return c.Sink.Write(ctx, b)
}

// connecting is an error output that connects its sink first (the runner connects only the
// destination's sink, and All in the "all" mode).
type connecting struct{ s *Sink }

func (c connecting) WriteFailures(ctx context.Context, errorType string, recs []record.FailureRecord) error {
	if err := c.s.Connect(ctx); err != nil {
		return err
	}
	_, err := c.s.WriteErrors(ctx, errorType, recs)
	return err
}
