package redshift

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
)

// CheckpointTable holds, per delivery stream and source shard, the last source position
// whose rows are in the table (exactly-once): written in the transaction that loads them.
const CheckpointTable = "sluice_checkpoints"

// Config is what a Sink needs.
type Config struct {
	Target  Target
	Mode    string // ModeCopy or ModeRedshift
	Table   string // [schema.]table, checked by ParseTable
	Columns []string
	Format  Format
	// ExactlyOnce stores the batch's source positions in CheckpointTable in the
	// transaction of its rows (ModeCopy only).
	ExactlyOnce bool
	// Stream is the delivery stream's name; Group identifies this incarnation of it (the
	// key of its rows in CheckpointTable: a delivery stream deleted and created again under
	// the same name starts afresh).
	Stream, Group string
	RoleARN       string
	// Stage is the intermediate bucket (the S3Configuration): Redshift mode stages data and
	// manifests there; jsonpaths files are read from it.
	Stage *s3.Sink
	// RetryDuration is RetryOptions.DurationInSeconds (Redshift mode): a load that fails
	// this long after its batch's first attempt started (or fails permanently) has its
	// manifest copied under <Prefix>errors/manifests/. 0: at the first failure.
	RetryDuration time.Duration
	// MaxConns bounds the connection pool (0: 4).
	MaxConns int32
	Logger   *slog.Logger
}

// Sink loads batches into a PostgreSQL (or Postgres-wire) table. It is safe for concurrent
// use. New returns an *ExactlyOnceSink when cfg.ExactlyOnce is set.
type Sink struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	pool *pgxpool.Pool
	cols []string // resolved target columns (JSON modes)
	// types are the column types of the binary fast path (nil: it does not apply), once
	// typesKnown
	types      []uint32
	typesKnown bool
	paths      []jsonPath // jsonpaths, loaded once

	staged stagings // Redshift mode: what each batch staged, kept across its retries
}

// ExactlyOnceSink is a Sink that commits source positions with the rows
// (sinks.ExactlyOnce).
type ExactlyOnceSink struct{ *Sink }

// New returns the sink of cfg. It does no I/O.
func New(cfg Config) sinks.Sink {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	s := &Sink{cfg: cfg, log: lg.With("component", "redshift", "table", cfg.Table, "host", cfg.Target.Host)}
	if cfg.ExactlyOnce && cfg.Mode == ModeCopy {
		return &ExactlyOnceSink{s}
	}
	return s
}

// Connect builds the connection pool and checks that the server answers (the runner
// retries Connect with backoff meanwhile; records wait in the source).
func (s *Sink) Connect(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		pc, err := pgxpool.ParseConfig(s.cfg.Target.DSN)
		if err != nil {
			return sinks.Permanent(CodeInternalError, fmt.Errorf("connection string: %v", urlErr(err)))
		}
		pc.MaxConns = s.cfg.MaxConns
		if pc.MaxConns <= 0 {
			pc.MaxConns = 4
		}
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
		pool, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), pc)
		if err != nil {
			return sinks.Unavailable(CodeConnectionFailed, err)
		}
		s.pool = pool
	}
	if s.cfg.Stage != nil {
		if err := s.cfg.Stage.Connect(ctx); err != nil {
			return err
		}
	}
	if err := s.pool.Ping(ctx); err != nil {
		return sinks.Unavailable(codeOf(err), err)
	}
	return nil
}

// Close closes the pool.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	return nil
}

func (s *Sink) conn() (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		return nil, sinks.NotConnected(CodeConnectionFailed, nil)
	}
	return s.pool, nil
}

// Write loads one batch in one transaction (with its positions, exactly-once). Rows the
// table refuses (type errors, NOT NULL, CHECK or unique violations, rows too wide) come back
// Rejected with their error and the rest loads; finding them costs one more COPY per bad row
// when the error names its line (the usual case), a bisection of the batch otherwise. Other
// failures fail the whole batch, retried by the runner. In Redshift mode (ModeRedshift) the
// batch goes through the intermediate bucket and loads or fails as a whole (staged.go).
func (s *Sink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	pool, err := s.conn()
	if err != nil {
		return sinks.Failed(err)
	}
	if s.cfg.Mode == ModeRedshift {
		return s.writeStaged(ctx, pool, b)
	}
	cols, paths, err := s.columns(ctx, pool)
	if err != nil {
		return sinks.Failed(wrap(err))
	}
	if s.cfg.Format.kind == kindJSONAuto && len(b.Records) > 0 {
		if types := s.columnTypes(ctx, pool, cols); types != nil {
			err := s.writeBinary(ctx, pool, b, cols, newRowSource(b.Records, s.cfg.Format, cols, types))
			if err == nil {
				return sinks.Done()
			}
			if !errors.Is(err, errFallback) {
				return sinks.Failed(wrap(err))
			}
		}
	}
	enc := encode(b.Records, s.cfg.Format, cols, paths)
	idx := make([]int, 0, len(b.Records))
	for i := range b.Records {
		if enc.bad[i] == nil {
			idx = append(idx, i)
		}
	}
	sql := stdinSQL(s.cfg.Table, cols, s.cfg.Format)
	var rejected map[int]error
	err = s.commitWith(ctx, pool, b, func(tx pgx.Tx) ([]rejectedRow, error) {
		var err error
		if rejected, err = loadIsolating(ctx, tx, sql, enc, idx); err != nil {
			return nil, err
		}
		var refused []rejectedRow
		for i := range b.Records {
			if e := enc.bad[i]; e != nil {
				refused = append(refused, rejectedRow{rec: b.Records[i], code: CodeDataLoadFailed, message: e.Error()})
			} else if e := rejected[i]; e != nil {
				refused = append(refused, rejectedRow{rec: b.Records[i], code: codeOf(e), message: message(e)})
			}
		}
		return refused, nil
	})
	if err != nil {
		return sinks.Failed(wrap(err))
	}
	if len(rejected) == 0 && len(enc.bad) == 0 {
		return sinks.Done()
	}
	res := sinks.Result{Records: make([]sinks.RecordResult, len(b.Records))}
	for i := range res.Records {
		if e := enc.bad[i]; e != nil {
			res.Records[i] = sinks.RecordResult{Outcome: sinks.Rejected, Err: sinks.Permanent(CodeDataLoadFailed, e)}
		} else if e := rejected[i]; e != nil {
			res.Records[i] = sinks.RecordResult{Outcome: sinks.Rejected, Err: sinks.Permanent(codeOf(e), errors.New(message(e)))}
		}
	}
	s.log.Warn("rows refused by the table go to the error output", "rows", len(rejected)+len(enc.bad), "of", len(b.Records))
	return res
}

// commitWith runs load in one transaction and, with exactly-once on, stores the batch's
// positions and the rows load refused (RejectedTable) in it before committing.
func (s *Sink) commitWith(ctx context.Context, pool *pgxpool.Pool, b sinks.Batch, load func(tx pgx.Tx) ([]rejectedRow, error)) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	refused, err := load(tx)
	if err != nil {
		return err
	}
	if s.cfg.ExactlyOnce && len(b.Positions) > 0 {
		if err := s.storePositions(ctx, tx, b.Positions); err != nil {
			return err
		}
		if err := s.storeRejected(ctx, tx, refused); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// loadIsolating COPYs the records idx of enc inside tx, leaving out the ones whose rows the
// table refuses: it returns them (record index → error). Any other failure is returned as
// err and the transaction is unusable.
func loadIsolating(ctx context.Context, tx pgx.Tx, sql string, enc *encoded, idx []int) (map[int]error, error) {
	rejected := map[int]error{}
	rest := idx
	for len(rest) > 0 {
		err := copyIn(ctx, tx, sql, enc, rest)
		if err == nil {
			return rejected, nil
		}
		if !rowError(err) {
			return nil, err
		}
		k := -1
		if line := copyLine(err); line > 0 {
			k = enc.at(rest, line)
		}
		if k < 0 { // the error does not say which row: bisect
			if err := bisect(ctx, tx, sql, enc, rest, rejected); err != nil {
				return nil, err
			}
			return rejected, nil
		}
		if k > 0 {
			if err := bisect(ctx, tx, sql, enc, rest[:k], rejected); err != nil {
				return nil, err
			}
		}
		rejected[rest[k]] = err
		rest = rest[k+1:]
	}
	return rejected, nil
}

// bisect loads idx, halving around the rows the table refuses.
func bisect(ctx context.Context, tx pgx.Tx, sql string, enc *encoded, idx []int, rejected map[int]error) error {
	if len(idx) == 0 {
		return nil
	}
	err := copyIn(ctx, tx, sql, enc, idx)
	if err == nil {
		return nil
	}
	if !rowError(err) {
		return err
	}
	if len(idx) == 1 {
		rejected[idx[0]] = err
		return nil
	}
	if err := bisect(ctx, tx, sql, enc, idx[:len(idx)/2], rejected); err != nil {
		return err
	}
	return bisect(ctx, tx, sql, enc, idx[len(idx)/2:], rejected)
}

// copyIn runs one COPY of the records idx in a savepoint: on failure the transaction is
// back where it was.
func copyIn(ctx context.Context, tx pgx.Tx, sql string, enc *encoded, idx []int) error {
	n := 0
	for _, i := range idx {
		n += enc.lines[i]
	}
	if n == 0 {
		return nil
	}
	sp, err := tx.Begin(ctx) // a savepoint
	if err != nil {
		return err
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, enc.reader(idx), sql); err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return rerr // the transaction is unusable: the batch fails whole
		}
		return err
	}
	return sp.Commit(ctx)
}

// columns returns the target columns: DataTableColumns, or for the JSON modes without
// them the table's own (identity and generated columns left to their defaults), and the
// jsonpaths of a JSON 's3://…' format.
func (s *Sink) columns(ctx context.Context, pool *pgxpool.Pool) ([]string, []jsonPath, error) {
	s.mu.Lock()
	cols, paths := s.cols, s.paths
	s.mu.Unlock()
	f := s.cfg.Format
	if cols != nil || !(f.JSON() || f.Raw()) && len(s.cfg.Columns) == 0 {
		return cols, paths, nil
	}
	cols = s.cfg.Columns
	if len(cols) == 0 && f.JSON() {
		rows, err := pool.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0
			AND NOT attisdropped AND attidentity = '' AND attgenerated = '' ORDER BY attnum`, s.cfg.Table)
		if err != nil {
			return nil, nil, err
		}
		cols, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, nil, err
		}
	}
	if f.Raw() && len(cols) != 1 {
		return nil, nil, sinks.Permanent(CodeColumnNotFound, errors.New("RAW loads each record into one column: DataTableColumns must name exactly one"))
	}
	if f.kind == kindJSONPaths && paths == nil {
		data, err := s.fetch(ctx, f.JSONPaths, 1<<20)
		if err != nil {
			return nil, nil, err
		}
		if paths, err = parseJSONPaths(data); err != nil {
			return nil, nil, sinks.Permanent(CodeSyntaxError, err)
		}
		if len(paths) != len(cols) {
			return nil, nil, sinks.Permanent(CodeSyntaxError, fmt.Errorf("the jsonpaths file has %d paths for %d columns", len(paths), len(cols)))
		}
	}
	s.mu.Lock()
	s.cols, s.paths = cols, paths
	s.mu.Unlock()
	return cols, paths, nil
}

// fetch reads an s3:// object through the intermediate bucket's client.
func (s *Sink) fetch(ctx context.Context, url string, max int64) ([]byte, error) {
	if s.cfg.Stage == nil {
		return nil, sinks.Permanent(CodeMissingS3File, fmt.Errorf("%s: no S3 configuration to read it with", url))
	}
	bucket, key, ok := splitS3URL(url)
	if !ok {
		return nil, sinks.Permanent(CodeMissingS3File, fmt.Errorf("%q is not an s3://bucket/key URL", url))
	}
	data, err := s.cfg.Stage.GetObject(ctx, bucket, key, max)
	if err != nil {
		if s3.Code(err) == "S3.NoSuchKey" || errors.Is(err, s3.ErrTooLarge) {
			return nil, sinks.Retryable(CodeMissingS3File, err)
		}
		return nil, err
	}
	return data, nil
}

func splitS3URL(u string) (bucket, key string, ok bool) {
	rest, found := cutPrefix(u, "s3://")
	if !found {
		return "", "", false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i], rest[i+1:], i > 0 && i+1 < len(rest)
		}
	}
	return "", "", false
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

const checkpointDDL = `CREATE TABLE IF NOT EXISTS ` + CheckpointTable + ` (
	delivery_stream text NOT NULL,
	shard_id        text NOT NULL,
	sequence_number text NOT NULL,
	sub_sequence    integer NOT NULL DEFAULT 0,
	updated_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (delivery_stream, shard_id))`

func (s *Sink) storePositions(ctx context.Context, tx pgx.Tx, ps []sinks.Position) error {
	for _, p := range ps {
		_, err := tx.Exec(ctx, `INSERT INTO `+CheckpointTable+` (delivery_stream, shard_id, sequence_number, sub_sequence, updated_at)
			VALUES ($1, $2, $3, $4, now()) ON CONFLICT (delivery_stream, shard_id) DO UPDATE
			SET sequence_number = EXCLUDED.sequence_number, sub_sequence = EXCLUDED.sub_sequence, updated_at = now()`,
			s.cfg.Group, p.ShardID, p.SequenceNumber, p.SubSequence)
		if err != nil {
			return err
		}
	}
	return nil
}

// Positions implements sinks.ExactlyOnce: the positions this delivery stream committed
// (it creates CheckpointTable when missing).
func (s *ExactlyOnceSink) Positions(ctx context.Context) ([]sinks.Position, error) {
	pool, err := s.conn()
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, checkpointDDL+"; "+rejectedDDL); err != nil {
		return nil, wrap(err)
	}
	rows, err := pool.Query(ctx, `SELECT shard_id, sequence_number, sub_sequence FROM `+CheckpointTable+` WHERE delivery_stream = $1`, s.cfg.Group)
	if err != nil {
		return nil, wrap(err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sinks.Position, error) {
		var p sinks.Position
		err := r.Scan(&p.ShardID, &p.SequenceNumber, &p.SubSequence)
		return p, err
	})
	return ps, wrap(err)
}

// Check connects and checks that the table and the configured columns exist (sluice
// validate -check-sinks).
func (s *Sink) Check(ctx context.Context) error {
	pool, err := s.conn()
	if err != nil {
		return err
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, s.cfg.Table).Scan(&n); err != nil {
		return fmt.Errorf("%s: table %s: %s", codeOf(err), s.cfg.Table, message(err))
	}
	for _, c := range s.cfg.Columns {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped)`, s.cfg.Table, c).Scan(&ok); err != nil {
			return fmt.Errorf("%s: %s", codeOf(err), message(err))
		}
		if !ok {
			return fmt.Errorf("%s: table %s has no column %s", CodeColumnNotFound, s.cfg.Table, c)
		}
	}
	return nil
}

// Probe implements sinks.Prober: the server answers a ping.
func (s *Sink) Probe(ctx context.Context) error {
	pool, err := s.conn()
	if err != nil {
		return err
	}
	return pool.Ping(ctx)
}
