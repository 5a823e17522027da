package redshift

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// Redshift mode ("Firehose's own path", firehose.md §6) loads each batch the way Firehose
// loads a Redshift cluster, with PostgreSQL standing in for Redshift:
//
//  1. the batch becomes one data object in the intermediate bucket (Config.Stage, with its
//     Prefix and CompressionFormat, GZIP or UNCOMPRESSED), named like any S3 delivery;
//  2. a manifest naming that object is written next to it, at
//     <Prefix>manifests/yyyy/MM/dd/HH/<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>
//     (UTC arrival time of the batch's oldest record; no file extension), holding
//     {"entries":[{"url":"s3://<bucket>/<key>","mandatory":true}]};
//  3. in one transaction, every entry of the manifest is read back from S3 (gunzipped with
//     CopyOptions GZIP), turned into COPY input for the CopyOptions (IGNOREHEADER n skips n
//     lines of each object) and streamed into COPY … FROM STDIN. Any error rolls the whole
//     load back: unlike copy mode no row is set apart, the batch fails as a whole, as a
//     Redshift COPY does. A mandatory entry whose object is missing fails the load with
//     Redshift.MissingS3File.
//
// The COPY a real Redshift would get (RedshiftSQL) is logged at debug level for every load.
// The runner retries a failed batch until its retry duration ends; the sink keeps what the
// batch staged (data object and manifest) across those attempts and loads the same manifest
// again. When a load fails and the retry duration is over (counted from the start of the
// batch's first attempt), or the failure is permanent, the manifest is copied to
// <Prefix>errors/manifests/yyyy/MM/dd/HH/<same name>, as Firehose does. Nothing is ever
// deleted. Sluice writes one manifest per batch; loads of different batches may run at the
// same time, each in its own transaction.

const (
	// manifestDir and errorManifestDir are the folders, under Prefix, of the manifests and
	// of the copies of the manifests whose load gave up.
	manifestDir      = "manifests/"
	errorManifestDir = "errors/manifests/"
	// manifestContentType is the Content-Type of the manifests.
	manifestContentType = "application/json"
	// maxStagedObject bounds what one manifest entry may hold, as stored and once gunzipped
	// (a batch is at most 128 MiB).
	maxStagedObject = 256 << 20
	// stagingIdle is how long the staging of a batch is kept without an attempt: a batch
	// the runner stopped retrying (shutdown) is forgotten after it.
	stagingIdle = time.Hour
)

// manifest is a Redshift COPY manifest.
type manifest struct {
	Entries []manifestEntry `json:"entries"`
}

type manifestEntry struct {
	URL       string `json:"url"`
	Mandatory bool   `json:"mandatory"`
}

// manifestJSON is the manifest listing urls, all mandatory, exactly as Firehose writes it:
// {"entries":[{"url":"s3://b/k","mandatory":true}]} (no HTML escaping, no newline).
func manifestJSON(urls ...string) []byte {
	m := manifest{Entries: make([]manifestEntry, len(urls))}
	for i, u := range urls {
		m.Entries[i] = manifestEntry{URL: u, Mandatory: true}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m) // strings and bools: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// manifestKey is <prefix>manifests/yyyy/MM/dd/HH/<name> for a batch whose oldest record
// arrived at t (formatted in UTC).
func manifestKey(prefix string, t time.Time, name string) string {
	return prefix + manifestDir + t.UTC().Format("2006/01/02/15/") + name
}

// errorManifestKey is where the manifest at key (under prefix) is copied when its load
// gives up: <prefix>errors/manifests/yyyy/MM/dd/HH/<same name>.
func errorManifestKey(prefix, key string) string {
	return prefix + errorManifestDir + strings.TrimPrefix(strings.TrimPrefix(key, prefix), manifestDir)
}

// manifestName is the manifest's object name: the data object's naming without the file
// extension, <stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>, at t in UTC.
func manifestName(stage *s3.Sink, t time.Time) string {
	c := stage.Config()
	ext := c.FileExtension
	if ext == "" {
		ext = c.CompressionFormat.Extension()
	}
	return strings.TrimSuffix(stage.Keys().Name(t.UTC()), ext)
}

func s3URL(bucket, key string) string { return "s3://" + bucket + "/" + key }

// staging is what one batch staged. It is used by one attempt at a time (the runner
// retries a batch only after its previous attempt returned).
type staging struct {
	first    time.Time // start of the first attempt (reset while S3 is down)
	last     time.Time // start of the latest attempt
	dataKey  string    // the data object, once written
	manKey   string    // the manifest, once written
	manifest []byte
}

// stagings holds the staging of every batch with a pending attempt, by batch identity.
// Its zero value is ready; it is safe for concurrent use.
type stagings struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[batchID]*staging
}

// batchID identifies a batch across its attempts: its first and last records' positions,
// how many it holds, and a hash of their data (records without sequence numbers, as in
// tests, are told apart too).
type batchID struct {
	first, last string
	n           int
	sum         uint64
}

func (ss *stagings) id(b sinks.Batch) batchID {
	pos := func(r record.Record) string { return r.SequenceNumber + "/" + strconv.Itoa(r.SubSequence) }
	var h maphash.Hash
	h.SetSeed(ss.seed)
	for i := range b.Records {
		_, _ = h.Write(b.Records[i].Data)
		_ = h.WriteByte(0)
	}
	return batchID{first: pos(b.Records[0]), last: pos(b.Records[len(b.Records)-1]), n: len(b.Records), sum: h.Sum64()}
}

// get returns the staging of b, starting a new one on its first attempt (or when it was
// forgotten), and drops the ones idle for stagingIdle.
func (ss *stagings) get(b sinks.Batch, now time.Time) (batchID, *staging) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.seed = maphash.MakeSeed()
		ss.m = map[batchID]*staging{}
	}
	id := ss.id(b)
	st := ss.m[id]
	if st == nil || b.Attempt <= 1 {
		st = &staging{first: now}
		ss.m[id] = st
		for k, o := range ss.m {
			if now.Sub(o.last) > stagingIdle && o != st {
				delete(ss.m, k)
			}
		}
	}
	st.last = now
	return id, st
}

func (ss *stagings) drop(id batchID) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

// pending is how many batches have a staging kept (tests).
func (ss *stagings) pending() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// writeStaged is Redshift mode (see above): stage, manifest, one transaction per manifest.
// It fails the batch as a whole, with the error wrap classifies (the S3 sink's own errors
// for staging: S3 down is sinks.Unavailable).
func (s *Sink) writeStaged(ctx context.Context, pool *pgxpool.Pool, b sinks.Batch) sinks.Result {
	if s.cfg.Stage == nil {
		return sinks.Failed(sinks.Permanent(CodeInternalError, errors.New("redshift mode needs the intermediate bucket (S3Configuration)")))
	}
	if len(b.Records) == 0 {
		return sinks.Done()
	}
	id, st := s.staged.get(b, time.Now())
	err := s.stage(ctx, b, st)
	if err == nil {
		err = s.load(ctx, pool, st)
	}
	if err == nil {
		s.staged.drop(id)
		return sinks.Done()
	}
	err = wrap(err)
	switch {
	case ctx.Err() != nil:
		// shutting down: the runner leaves the records in the source, no give-up
	case sinks.Held(err):
		st.first = time.Now() // the runner stops its retry clock while the destination is down
	case sinks.Classify(err) == sinks.Rejected || time.Since(st.first) >= s.cfg.RetryDuration:
		s.giveUp(ctx, st, err)
		s.staged.drop(id)
	}
	return sinks.Failed(err)
}

// stage writes what b's staging does not have yet: the data object, then the manifest.
func (s *Sink) stage(ctx context.Context, b sinks.Batch, st *staging) error {
	stage := s.cfg.Stage
	if st.dataKey == "" {
		key, err := stage.Put(ctx, b)
		if err != nil {
			return err
		}
		st.dataKey = key
	}
	if st.manKey == "" {
		bucket := stage.Config().Bucket
		t := time.UnixMilli(b.Oldest()).UTC()
		key := manifestKey(stage.Config().Prefix, t, manifestName(stage, t))
		data := manifestJSON(s3URL(bucket, st.dataKey))
		if err := stage.PutObject(ctx, key, data, manifestContentType); err != nil {
			return err
		}
		st.manKey, st.manifest = key, data
		s.log.Debug("manifest written", "manifest", s3URL(bucket, key), "data", st.dataKey, "records", len(b.Records))
	}
	return nil
}

// giveUp copies the manifest of a load that will not be retried under errors/manifests/.
// A failure to do so is logged: the records go to the error output all the same.
func (s *Sink) giveUp(ctx context.Context, st *staging, cause error) {
	if st.manKey == "" {
		return
	}
	c := s.cfg.Stage.Config()
	key := errorManifestKey(c.Prefix, st.manKey)
	if err := s.cfg.Stage.PutObject(context.WithoutCancel(ctx), key, st.manifest, manifestContentType); err != nil {
		s.log.Error("copying the manifest of a failed load under errors/manifests/", "manifest", st.manKey, "to", key, "err", err)
		return
	}
	s.log.Warn("load gave up; manifest copied", "manifest", s3URL(c.Bucket, key), "code", sinks.ErrorCode(cause, CodeInternalError), "err", cause)
}

// load runs the staging's manifest: every entry into the table, in one transaction.
func (s *Sink) load(ctx context.Context, pool *pgxpool.Pool, st *staging) error {
	cols, paths, err := s.columns(ctx, pool)
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(st.manifest, &m); err != nil {
		return sinks.Permanent(CodeInternalError, fmt.Errorf("manifest %s: %v", st.manKey, err))
	}
	f := s.cfg.Format
	url := s3URL(s.cfg.Stage.Config().Bucket, st.manKey)
	sql := stdinSQL(s.cfg.Table, cols, f)
	s.log.Debug("loading manifest", "manifest", url, "redshift_sql", redactSQL(RedshiftSQL(s.cfg.Table, cols, url, s.cfg.RoleARN, f)), "sql", sql)
	start := time.Now()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	size := 0
	for _, e := range m.Entries {
		data, err := s.readEntry(ctx, e)
		if err != nil {
			return err
		}
		if data == nil {
			continue // an optional entry that is not there
		}
		size += len(data)
		enc := encode(objectRecords(data, f), f, cols, paths)
		if len(enc.bad) > 0 { // JSON modes: the object is one record
			return sinks.Retryable(CodeDataLoadFailed, fmt.Errorf("loading %s: %v", e.URL, enc.bad[0]))
		}
		idx := make([]int, len(enc.lines))
		for i := range idx {
			idx[i] = i
		}
		if err := copyIn(ctx, tx, sql, enc, idx); err != nil {
			return &loadError{url: e.URL, err: err}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.Debug("manifest loaded", "manifest", url, "entries", len(m.Entries), "bytes", size, "took", time.Since(start))
	return nil
}

// readEntry reads the object of a manifest entry, gunzipped with CopyOptions GZIP; nil for
// an optional entry that does not exist. A mandatory one that does not exist is
// Redshift.MissingS3File.
func (s *Sink) readEntry(ctx context.Context, e manifestEntry) ([]byte, error) {
	bucket, key, ok := splitS3URL(e.URL)
	if !ok {
		return nil, sinks.Permanent(CodeMissingS3File, fmt.Errorf("manifest entry %q is not an s3://bucket/key URL", e.URL))
	}
	data, err := s.cfg.Stage.GetObject(ctx, bucket, key, maxStagedObject)
	switch {
	case err != nil && s3.Code(err) == "S3.NoSuchKey":
		if !e.Mandatory {
			return nil, nil
		}
		return nil, sinks.Retryable(CodeMissingS3File, fmt.Errorf("the manifest's mandatory file %s does not exist: %w", e.URL, err))
	case errors.Is(err, s3.ErrTooLarge):
		return nil, sinks.Retryable(CodeDataLoadFailed, err)
	case err != nil:
		return nil, err
	}
	if !s.cfg.Format.GZIP {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, sinks.Retryable(CodeDataLoadFailed, fmt.Errorf("%s is not gzip (CopyOptions GZIP): %v", e.URL, err))
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxStagedObject+1))
	if err != nil {
		return nil, sinks.Retryable(CodeDataLoadFailed, fmt.Errorf("gunzip %s: %v", e.URL, err))
	}
	if len(out) > maxStagedObject {
		return nil, sinks.Retryable(CodeDataLoadFailed, fmt.Errorf("%s holds over %d bytes once gunzipped", e.URL, maxStagedObject))
	}
	return out, nil
}

// objectRecords is an object as the input of encode: one record for the delimited and JSON
// formats (encode splits it into rows and skips IGNOREHEADER lines at its start), one per
// line for RAW (the object no longer knows where its records ended: records are taken to be
// lines, IGNOREHEADER lines skipped).
func objectRecords(data []byte, f Format) []record.Record {
	if !f.Raw() {
		return []record.Record{{Data: data}}
	}
	var out []record.Record
	skip := f.IgnoreHeader
	for len(data) > 0 {
		line := data
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl], data[nl+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if skip > 0 {
			skip--
			continue
		}
		if len(line) > 0 {
			out = append(out, record.Record{Data: line})
		}
	}
	return out
}

// loadError is a failed COPY of one manifest entry: the PostgreSQL error (code, detail,
// line) stays in its chain for codeOf.
type loadError struct {
	url string
	err error
}

func (e *loadError) Error() string { return "loading " + e.url + ": " + message(e.err) }
func (e *loadError) Unwrap() error { return e.err }

var secretRE = regexp.MustCompile(`(?i)((?:aws_secret_access_key|token|password)\s*=\s*)[^;']*`)

// redactSQL hides the secrets CopyOptions may carry (CREDENTIALS
// 'aws_access_key_id=…;aws_secret_access_key=…;token=…') before the SQL is logged.
func redactSQL(sql string) string { return secretRE.ReplaceAllString(sql, "${1}REDACTED") }
