package s3

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3/convert"
)

// ContentType is the Content-Type of every object Sluice writes.
const ContentType = "application/octet-stream"

// Sink writes batches as S3 objects. It implements sinks.Sink; all methods are safe for
// concurrent use once Connect has succeeded.
type Sink struct {
	cfg  Config
	keys *Keys
	log  *slog.Logger

	onObject func(kind string)
	preset   *s3.Client // WithClient: what Connect uses instead of building one

	mu       sync.RWMutex
	client   *s3.Client
	uploader *manager.Uploader
}

var _ sinks.Sink = (*Sink)(nil)

// Option customises a Sink.
type Option func(*Sink)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Sink) { s.log = l } }

// WithObjectHook calls fn after every object written: kind "data" (Put) or "error"
// (WriteErrors). The daemon counts sluice_firehose_s3_objects_total with it.
func WithObjectHook(fn func(kind string)) Option { return func(s *Sink) { s.onObject = fn } }

// WithClient makes Connect use an existing S3 client instead of building one.
func WithClient(c *s3.Client) Option { return func(s *Sink) { s.preset = c } }

// New validates cfg and returns an unconnected sink. It does no I/O.
func New(cfg Config, opts ...Option) (*Sink, error) {
	k, err := NewKeys(cfg)
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, keys: k, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("component", "sink.s3", "stream", cfg.DeliveryStreamName, "bucket", cfg.Bucket)
	return s, nil
}

// Keys returns the sink's key renderer (the pipeline uses it to check evaluated prefixes).
func (s *Sink) Keys() *Keys { return s.keys }

// Config returns the sink's configuration.
func (s *Sink) Config() Config { return s.cfg }

func (s *Sink) setClient(c *s3.Client) {
	ps := s.cfg.PartSize
	if ps <= 0 {
		ps = 8 << 20
	}
	s.mu.Lock()
	s.client = c
	s.uploader = manager.NewUploader(c, func(u *manager.Uploader) {
		u.PartSize = ps
		u.Concurrency = 2
	})
	s.mu.Unlock()
}

// AWSConfig loads the AWS configuration Sluice's clients use: region (empty: the chain's),
// static credentials when keyID and secret are set, else the default AWS chain — without the
// EC2 instance metadata service unless instanceMetadata (self-hosted: 169.254.169.254 is
// never probed unless asked).
func AWSConfig(ctx context.Context, region, keyID string, secret, token Secret, instanceMetadata bool) (aws.Config, error) {
	imdsState := imds.ClientDisabled
	if instanceMetadata {
		imdsState = imds.ClientEnabled
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithEC2IMDSClientEnableState(imdsState)}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if keyID != "" && secret != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(keyID, string(secret), string(token))))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return ac, nil
}

// NewClient builds an S3 client from cfg: BaseEndpoint, region, path-style, static
// credentials when AccessKeyID and SecretAccessKey are set, else the default AWS chain —
// without the EC2 instance metadata service unless cfg.InstanceMetadata.
func NewClient(ctx context.Context, cfg Config) (*s3.Client, error) {
	ac, err := AWSConfig(ctx, cfg.region(), cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken, cfg.InstanceMetadata)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// S3-compatible servers vary in checksum support; only send them when required.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

// Connect builds the S3 client (once). It does not contact the server; use Check for that.
func (s *Sink) Connect(ctx context.Context) error {
	s.mu.RLock()
	done := s.client != nil
	s.mu.RUnlock()
	if done {
		return nil
	}
	if s.preset != nil {
		s.setClient(s.preset)
		return nil
	}
	c, err := NewClient(ctx, s.cfg)
	if err != nil {
		return sinks.Retryable("S3.ClientConfiguration", err)
	}
	s.setClient(c)
	return nil
}

// Check asks the server whether the bucket exists and is reachable (HeadBucket).
func (s *Sink) Check(ctx context.Context) error {
	c, _, err := s.conn()
	if err != nil {
		return err
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	return wrapS3Error(err)
}

func (s *Sink) conn() (*s3.Client, *manager.Uploader, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.client == nil {
		return nil, nil, sinks.NotConnected("S3.NotConnected", nil)
	}
	return s.client, s.uploader, nil
}

// Close releases nothing persistent; the sink holds no buffered data.
func (s *Sink) Close(ctx context.Context) error { return nil }

// Write implements sinks.Sink: the batch becomes one object (see Put), delivered or failed
// as a whole.
func (s *Sink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	_, err := s.Put(ctx, b)
	return sinks.Failed(err)
}

// Put uploads the batch as one object: the records concatenated byte-for-byte, compressed
// per CompressionFormat (with Conversion: one Parquet file of the records' rows), under the evaluated Prefix at the batch's oldest arrival time. It
// returns the key ("" and nil for an empty batch: no object). Errors are *sinks.Error values:
// S3 failures are Errored (retry), and those that mean the server itself is down
// (transport errors, timeouts, 5xx, SlowDown) are sinks.Unavailable, so the runner waits for
// S3 instead of writing to an error output on the same server; a prefix that cannot be
// evaluated (missing partition key, over 512 characters) is Rejected with code
// "S3.InvalidPrefix" (the runner normally checks with Keys().ObjectPrefix first).
func (s *Sink) Put(ctx context.Context, b sinks.Batch) (string, error) {
	if len(b.Records) == 0 {
		return "", nil // Firehose never writes empty objects
	}
	t := s.keys.Time(b.Oldest())
	pk := b.PartitionKeys
	if pk == nil {
		pk = b.Records[0].PartitionKeys // all records of a batch share their keys
	}
	key, err := s.keys.ObjectKey(t, pk)
	if err != nil {
		return "", sinks.Permanent("S3.InvalidPrefix", err)
	}
	fill := func(w io.Writer) error {
		for i := range b.Records {
			if _, err := w.Write(b.Records[i].Data); err != nil {
				return err
			}
		}
		return nil
	}
	if conv := s.cfg.Conversion; conv != nil {
		fill = func(w io.Writer) error { return writeParquet(w, conv, b.Records) }
	}
	if err = s.upload(ctx, key, fill); err != nil {
		return "", err
	}
	s.log.Debug("object written", "key", key, "records", len(b.Records), "bytes", b.Bytes())
	if s.onObject != nil {
		s.onObject("data")
	}
	return key, nil
}

// WriteErrors writes failure records as one NDJSON object (compressed per the config, normal
// suffix) under the error prefix for errorType, timed at the oldest arrivalTimestamp. It
// returns the key. Errors are classified like Write's.
func (s *Sink) WriteErrors(ctx context.Context, errorType string, recs []record.FailureRecord) (string, error) {
	if len(recs) == 0 {
		return "", nil
	}
	oldest := recs[0].ArrivalTimestamp
	for _, r := range recs[1:] {
		oldest = min(oldest, r.ArrivalTimestamp)
	}
	t := s.keys.Time(oldest)
	key, err := s.keys.ErrorKey(t, errorType)
	if err != nil {
		return "", sinks.Permanent("S3.InvalidPrefix", err)
	}
	err = s.upload(ctx, key, func(w io.Writer) error { return record.WriteNDJSON(w, recs) })
	if err != nil {
		return "", err
	}
	s.log.Info("failure records written", "key", key, "type", errorType, "records", len(recs))
	if s.onObject != nil {
		s.onObject("error")
	}
	return key, nil
}

// upload streams fill's output through the encoder into a (multipart when large) upload.
func (s *Sink) upload(ctx context.Context, key string, fill func(io.Writer) error) error {
	_, up, err := s.conn()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	written := make(chan struct{})
	go func() {
		defer close(written)
		// batch small writes: every pipe write is a hand-off to the uploader goroutine
		bw := bufio.NewWriterSize(pw, 256<<10)
		enc, err := NewEncoder(bw, s.cfg.CompressionFormat)
		if err == nil {
			err = fill(enc)
			if cerr := enc.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = bw.Flush()
			}
		}
		pw.CloseWithError(err) // nil → EOF
	}()
	in := &s3.PutObjectInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         aws.String(key),
		Body:        pr,
		ContentType: aws.String(ContentType),
	}
	if ce := s.cfg.CompressionFormat.ContentEncoding(); ce != "" {
		in.ContentEncoding = aws.String(ce)
	}
	if s.cfg.KMSKeyARN != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(s.cfg.KMSKeyARN)
	}
	_, err = up.Upload(ctx, in)
	pr.CloseWithError(errUploadDone) // unblock the writer if the upload stopped early
	<-written                        // the writer reads the batch's records: it ends before we return
	return wrapS3Error(err)
}

var errUploadDone = errors.New("upload finished")

// wrapS3Error turns an SDK error into a *sinks.Error classified by Classify.
func wrapS3Error(err error) error {
	if err == nil {
		return nil
	}
	var se *sinks.Error
	if errors.As(err, &se) {
		return err
	}
	code := errorCode(err)
	if unreachable(code) {
		return sinks.Unavailable(code, err)
	}
	return sinks.Retryable(code, err)
}

// unreachable says which codes mean S3 itself is down (not this bucket or key).
func unreachable(code string) bool {
	switch code {
	case "S3.ConnectionFailed", "S3.Timeout", "S3.InternalError", "S3.ServiceUnavailable", "S3.SlowDown", "S3.RequestTimeout":
		return true
	}
	return false
}

// errorCode maps an error to a Firehose-style code: "S3.<S3 error code>" for server
// replies, "S3.ConnectionFailed" for transport errors, "S3.Timeout" for deadlines,
// "S3.Canceled" when the caller's context ended, else "S3.InternalError".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "" {
		return "S3." + ae.ErrorCode()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "S3.Timeout"
	}
	if errors.Is(err, context.Canceled) {
		return "S3.Canceled"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return "S3.Timeout"
		}
		return "S3.ConnectionFailed"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "S3.ConnectionFailed"
	}
	return "S3.InternalError"
}

// Classify is the S3 sink's retry classifier, which is sinks.Classify over the errors
// wrapS3Error made: Firehose keeps retrying S3 until the records expire, so every S3
// failure — NoSuchBucket, AccessDenied, throttling (SlowDown, 503), 5xx, transport errors,
// timeouts — is sinks.Errored; only a prefix that cannot be evaluated is sinks.Rejected.
var Classify = sinks.Classify

// Code returns the Firehose error code for a Write/WriteErrors error ("" for nil).
func Code(err error) string {
	if err == nil {
		return ""
	}
	return sinks.ErrorCode(err, errorCode(err))
}

// PutObject writes data as it is (no compression) at key of the sink's bucket: manifests
// and other control objects of the destinations that stage data in S3.
func (s *Sink) PutObject(ctx context.Context, key string, data []byte, contentType string) error {
	c, _, err := s.conn()
	if err != nil {
		return err
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String(contentType)})
	return wrapS3Error(err)
}

// ErrTooLarge is returned by GetObject for an object over its limit.
var ErrTooLarge = errors.New("object larger than allowed")

// GetObject reads the object bucket/key whole, refusing one over max bytes (ErrTooLarge).
// A missing object is a *sinks.Error with code S3.NoSuchKey.
func (s *Sink) GetObject(ctx context.Context, bucket, key string, max int64) ([]byte, error) {
	c, _, err := s.conn()
	if err != nil {
		return nil, err
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, wrapS3Error(err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, wrapS3Error(err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("s3://%s/%s: %w (%d bytes)", bucket, key, ErrTooLarge, max)
	}
	return data, nil
}

// Probe implements sinks.Prober: the bucket answers HeadBucket.
func (s *Sink) Probe(ctx context.Context) error { return s.Check(ctx) }

// writeParquet writes the encoded rows of recs as one Parquet file. A record that does
// not decode is a defect, not a transient failure: the batch is Rejected.
func writeParquet(w io.Writer, conv *Conversion, recs []record.Record) error {
	fw, err := conv.Converter.NewFileWriter(w, conv.Writer)
	if err != nil {
		return sinks.Permanent("DataFormatConversion.WriterFailed", err)
	}
	for i := range recs {
		if err := fw.Write(recs[i].Data); err != nil {
			if errors.Is(err, convert.ErrCorrupt) {
				return sinks.Permanent("DataFormatConversion.MalformedData", err)
			}
			return err
		}
	}
	return fw.Close()
}
