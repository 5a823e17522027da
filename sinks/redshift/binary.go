package redshift

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// The fast path of JSON 'auto' in copy mode: when every target column has a type whose
// value Sluice can convert exactly as PostgreSQL's text input would, the batch goes in with
// binary COPY (pgx CopyFrom of typed values), which saves the server from parsing every
// value. Anything else — a value Sluice does not convert with certainty (a timestamp without
// a zone in a timestamptz column, a number with a fraction for an integer column, "1_000"),
// a record that is not plain JSON objects, a load that fails for a row — sends the batch
// down the text path, which decides exactly as before (the server parses, bad rows are set
// apart). The fast path never decides that a row is bad.

// PostgreSQL type OIDs the fast path converts to.
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidJSONB       = 3802
)

func binaryType(oid uint32) bool {
	switch oid {
	case oidBool, oidInt8, oidInt2, oidInt4, oidText, oidJSON, oidFloat4, oidFloat8, oidBPChar, oidVarchar,
		oidTimestamp, oidTimestamptz, oidJSONB:
		return true
	}
	return false
}

// columnTypes returns the type OIDs of cols in the table, in order, or nil when the fast
// path does not apply (a column missing — the text path reports it — or of another type).
// The answer is kept until a fast-path load fails.
func (s *Sink) columnTypes(ctx context.Context, pool *pgxpool.Pool, cols []string) []uint32 {
	s.mu.Lock()
	types, known := s.types, s.typesKnown
	s.mu.Unlock()
	if known {
		return types
	}
	rows, err := pool.Query(ctx, `SELECT a.atttypid::int8 FROM unnest($2::text[]) WITH ORDINALITY AS c(name, n)
		JOIN pg_attribute a ON a.attrelid = $1::regclass AND a.attname = c.name AND NOT a.attisdropped ORDER BY c.n`, s.cfg.Table, cols)
	if err != nil {
		return nil // the text path meets the same problem and reports it
	}
	oids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil
	}
	types = nil
	if len(oids) == len(cols) {
		types = make([]uint32, len(oids))
		for i, o := range oids {
			if !binaryType(uint32(o)) {
				types = nil
				break
			}
			types[i] = uint32(o)
		}
	}
	s.mu.Lock()
	s.types, s.typesKnown = types, true
	s.mu.Unlock()
	return types
}

// forgetTypes drops the cached column types (the table may have changed).
func (s *Sink) forgetTypes() {
	s.mu.Lock()
	s.types, s.typesKnown = nil, false
	s.mu.Unlock()
}

// rowSource streams the records (JSON 'auto') as typed rows for cols of types, converting
// while pgx sends (the server works meanwhile). A value not certain to convert as the server
// would ends the COPY with errFallback.
type rowSource struct {
	recs  []record.Record
	types []uint32
	sc    *autoScanner
	rec   int // current record
	pos   int // offset of the next object in it
	row   []any
	err   error
}

// errFallback ends a fast-path COPY: the batch takes the text path.
var errFallback = errors.New("redshift: a value for the text path")

func newRowSource(recs []record.Record, f Format, cols []string, types []uint32) *rowSource {
	lookup := make(map[string]int, len(cols))
	for i, c := range cols {
		if f.IgnoreCase {
			c = strings.ToLower(c)
		}
		lookup[c] = i
	}
	return &rowSource{recs: recs, types: types, sc: newAutoScanner(lookup, len(cols), f.IgnoreCase), row: make([]any, len(cols))}
}

// Next implements pgx.CopyFromSource.
func (r *rowSource) Next() bool {
	for r.err == nil && r.rec < len(r.recs) {
		data := r.recs[r.rec].Data
		i := skipSpace(data, r.pos)
		if i >= len(data) {
			r.rec, r.pos = r.rec+1, 0
			continue
		}
		if data[i] != '{' {
			r.err = errFallback
			return false
		}
		end, ok := r.sc.object(data, i)
		if !ok {
			r.err = errFallback
			return false
		}
		r.pos = end
		for c, v := range r.sc.vals {
			r.row[c] = nil
			if v == nil {
				continue
			}
			val, ok := convert(v, r.sc.plain[c], r.types[c])
			if !ok {
				r.err = errFallback
				return false
			}
			r.row[c] = val
		}
		return true
	}
	return false
}

// Values implements pgx.CopyFromSource (pgx encodes them before the next Next).
func (r *rowSource) Values() ([]any, error) { return r.row, nil }

// Err implements pgx.CopyFromSource.
func (r *rowSource) Err() error { return r.err }

// convert turns one JSON value into the Go value pgx encodes for oid, exactly as the text
// path's value would be read by the server; false when that is not certain. nil is NULL.
func convert(v []byte, plain bool, oid uint32) (any, bool) {
	if string(v) == "null" {
		return nil, true
	}
	isString := v[0] == '"'
	var str []byte // the text the text path would send (before COPY escaping)
	switch {
	case isString && plain:
		str = v[1 : len(v)-1]
	case isString:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, false
		}
		str = []byte(s)
	case v[0] == '{' || v[0] == '[':
		var buf bytes.Buffer
		if json.Compact(&buf, v) != nil {
			return nil, false
		}
		str = buf.Bytes()
	default:
		str = v // a number, true or false
	}
	switch oid {
	case oidText, oidVarchar, oidBPChar, oidJSON, oidJSONB:
		if bytes.IndexByte(str, 0) >= 0 {
			return nil, false
		}
		return str, true
	case oidInt2, oidInt4, oidInt8:
		bits := map[uint32]int{oidInt2: 16, oidInt4: 32, oidInt8: 64}[oid]
		n, err := strconv.ParseInt(string(str), 10, bits)
		if err != nil {
			return nil, false
		}
		switch oid {
		case oidInt2:
			return int16(n), true
		case oidInt4:
			return int32(n), true
		}
		return n, true
	case oidFloat4, oidFloat8:
		s := string(str)
		if strings.ContainsAny(s, "_xXpPiInN") { // hex, underscores, Inf, NaN: the server decides
			return nil, false
		}
		bits := 64
		if oid == oidFloat4 {
			bits = 32
		}
		x, err := strconv.ParseFloat(s, bits)
		if err != nil || math.IsInf(x, 0) {
			return nil, false
		}
		if oid == oidFloat4 {
			return float32(x), true
		}
		return x, true
	case oidBool:
		switch string(str) {
		case "true", "t":
			return true, true
		case "false", "f":
			return false, true
		}
		return nil, false
	case oidTimestamptz, oidTimestamp:
		if !isString {
			return nil, false
		}
		return parseTimestamp(string(str), oid == oidTimestamptz)
	}
	return nil, false
}

var (
	zonedLayouts = []string{"2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05Z07", "2006-01-02 15:04:05Z07"}
	localLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05"}
)

// parseTimestamp reads the common ISO 8601 forms: with a zone for timestamptz (without one
// the server's TimeZone would decide), without one for timestamp (the server ignores a zone
// there); at most microseconds (the server rounds finer fractions).
func parseTimestamp(s string, zoned bool) (any, bool) {
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		n := 0
		for j := dot + 1; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
			n++
		}
		if n > 6 {
			return nil, false
		}
	}
	layouts := localLayouts
	if zoned {
		layouts = zonedLayouts
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Year() < 1 || t.Year() > 9999 {
				return nil, false
			}
			return t, true
		}
	}
	return nil, false
}

// writeBinary loads the whole batch with one binary COPY (and its positions) in one
// transaction. errFallback means: take the text path (a bad row, or a value pgx could not
// encode); other errors fail the batch.
func (s *Sink) writeBinary(ctx context.Context, pool *pgxpool.Pool, b sinks.Batch, cols []string, rows *rowSource) error {
	schema, table, found := strings.Cut(s.cfg.Table, ".")
	ident := pgx.Identifier{schema}
	if found {
		ident = pgx.Identifier{schema, table}
	}
	return s.commitWith(ctx, pool, b, func(tx pgx.Tx) ([]rejectedRow, error) {
		_, err := tx.CopyFrom(ctx, ident, cols, rows)
		switch {
		case err == nil, errors.Is(err, errFallback):
			return nil, err
		case isTransport(err) && !rowError(err):
			s.forgetTypes()
			return nil, err
		}
		s.forgetTypes()
		return nil, errFallback
	})
}
