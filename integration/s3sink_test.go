//go:build integration

package integration

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sinks/sinktest"
	"github.com/sluice-io/sluice/sources/retry"
)

// decodeObject reverses one Firehose compression format, checking its framing strictly.
func decodeObject(f s3sink.CompressionFormat, b []byte) ([]byte, error) {
	switch f {
	case s3sink.Uncompressed:
		return b, nil
	case s3sink.GZIP:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return io.ReadAll(zr)
	case s3sink.ZIP:
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, err
		}
		if len(zr.File) != 1 || zr.File[0].Method != zip.Deflate {
			return nil, fmt.Errorf("zip: %d entries", len(zr.File))
		}
		r, err := zr.File[0].Open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	case s3sink.Snappy:
		want := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
		if !bytes.HasPrefix(b, want) {
			return nil, fmt.Errorf("snappy-java header % x", b[:min(16, len(b))])
		}
		var out []byte
		for p := b[16:]; len(p) > 0; {
			if len(p) < 4 {
				return nil, fmt.Errorf("truncated")
			}
			n := int(binary.BigEndian.Uint32(p))
			if 4+n > len(p) {
				return nil, fmt.Errorf("block overruns")
			}
			d, err := snappy.Decode(nil, p[4:4+n])
			if err != nil || len(d) > 32*1024 {
				return nil, fmt.Errorf("block: %v (%d bytes)", err, len(d))
			}
			out = append(out, d...)
			p = p[4+n:]
		}
		return out, nil
	case s3sink.HadoopSnappy:
		var out []byte
		for p := b; len(p) > 0; {
			if len(p) < 8 {
				return nil, fmt.Errorf("truncated")
			}
			raw, n := int(binary.BigEndian.Uint32(p)), int(binary.BigEndian.Uint32(p[4:]))
			if 8+n > len(p) {
				return nil, fmt.Errorf("block overruns")
			}
			d, err := snappy.Decode(nil, p[8:8+n])
			if err != nil || len(d) != raw || raw > 32*1024 {
				return nil, fmt.Errorf("block: %v (%d bytes, header %d)", err, len(d), raw)
			}
			out = append(out, d...)
			p = p[8+n:]
		}
		return out, nil
	case s3sink.ZSTD:
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(b, nil)
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

func minioSinkConfig(m *harness.MinIOServer, bucket string) s3sink.Config {
	return s3sink.Config{
		Bucket: bucket, Endpoint: m.Endpoint, Region: m.Region, PathStyle: true,
		AccessKeyID: m.AccessKey, SecretAccessKey: s3sink.Secret(m.SecretKey),
		DeliveryStreamName: "orders", VersionID: "1",
	}
}

func testRecords(rng *rand.Rand, n int, arrival int64) ([]record.Record, []byte) {
	recs := make([]record.Record, n)
	var all []byte
	for i := range recs {
		pad := make([]byte, rng.IntN(2000))
		for j := range pad {
			pad[j] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(36)]
		}
		recs[i] = record.Record{Data: fmt.Appendf(nil, `{"i":%d,"v":%d,"pad":"%s"}`, i, rng.Int64(), pad), ArrivalMs: arrival + int64(i)}
		all = append(all, recs[i].Data...)
	}
	return recs, all
}

func TestS3SinkEveryCompressionFormat(t *testing.T) {
	m := harness.MinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bucket := m.CreateBucket(t, "s3sink-formats")
	rng := rand.New(rand.NewPCG(7, 7))
	arrival := time.Date(2026, 7, 13, 14, 5, 9, 0, time.UTC).UnixMilli()

	for _, f := range s3sink.CompressionFormats {
		t.Run(string(f), func(t *testing.T) {
			cfg := minioSinkConfig(m, bucket)
			cfg.Prefix = "fmt/" + string(f) + "/"
			cfg.CompressionFormat = f
			cfg.PartSize = 5 << 20 // S3's minimum part size: the big batch goes multipart
			sink, err := s3sink.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sink.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := sink.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			for _, n := range []int{1, 500, 12000} { // ~12 MiB for the last: multipart
				recs, want := testRecords(rng, n, arrival)
				key, err := sink.Put(ctx, sinks.Batch{Records: recs})
				if err != nil {
					t.Fatalf("%d records: %v (classified %v, code %s)", n, err, s3sink.Classify(err), s3sink.Code(err))
				}
				re := regexp.MustCompile(`^fmt/` + string(f) + `/2026/07/13/14/orders-1-2026-07-13-14-05-09-[0-9a-f-]{36}` + regexp.QuoteMeta(f.Extension()) + `$`)
				if !re.MatchString(key) {
					t.Errorf("key %q", key)
				}
				body, out, err := m.Get(ctx, bucket, key)
				if err != nil {
					t.Fatalf("get %s: %v", key, err)
				}
				if aws.ToString(out.ContentType) != "application/octet-stream" || aws.ToString(out.ContentEncoding) != f.ContentEncoding() {
					t.Errorf("headers Content-Type %q Content-Encoding %q", aws.ToString(out.ContentType), aws.ToString(out.ContentEncoding))
				}
				if n == 12000 && f == s3sink.Uncompressed && !strings.Contains(aws.ToString(out.ETag), "-") {
					t.Errorf("12 MiB object was not uploaded in parts (ETag %s)", aws.ToString(out.ETag))
				}
				got, err := decodeObject(f, body)
				if err != nil {
					t.Fatalf("decode %s: %v", key, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%d records: object content differs (%d vs %d bytes)", n, len(got), len(want))
				}
			}
		})
	}
}

func TestS3SinkErrorOutputAndPartitions(t *testing.T) {
	m := harness.MinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bucket := m.CreateBucket(t, "s3sink-errors")
	cfg := minioSinkConfig(m, bucket)
	cfg.Prefix = "p/!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/"
	cfg.ErrorOutputPrefix = "e/!{firehose:error-output-type}/"
	cfg.DynamicPartitioning = true
	cfg.QueryKeys = []string{"customer"}
	cfg.CompressionFormat = s3sink.GZIP
	sink, err := s3sink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	key, err := sink.Put(ctx, sinks.Batch{PartitionKeys: map[string]string{"customer": "acme"},
		Records: []record.Record{{Data: []byte("a\n"), ArrivalMs: 1_780_000_000_000}}})
	if err != nil || !strings.HasPrefix(key, "p/acme/2026/orders-1-") {
		t.Fatalf("key %q err %v", key, err)
	}
	fr := []record.FailureRecord{
		record.NewFailureRecord(record.Record{Data: []byte("not json"), ArrivalMs: 1_780_000_000_000}, 1, record.CodeMetadataExtractionFailed, "Non JSON record provided", 1_780_000_000_500),
		record.NewFailureRecord(record.Record{Data: []byte{0xff, 0}, ArrivalMs: 1_780_000_000_001}, 1, record.CodeMetadataExtractionFailed, "x", 1_780_000_000_500),
	}
	ekey, err := sink.WriteErrors(ctx, record.PartitioningFailed, fr)
	if err != nil || !regexp.MustCompile(`^e/partitioning-failed/orders-1-2026-.*\.gz$`).MatchString(ekey) {
		t.Fatalf("error key %q err %v", ekey, err)
	}
	body, _, err := m.Get(ctx, bucket, ekey)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := decodeObject(s3sink.GZIP, body)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(nd), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 NDJSON lines, got %q", nd)
	}
	for i, l := range lines {
		var got struct {
			AttemptsMade           int    `json:"attemptsMade"`
			ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
			ErrorCode              string `json:"errorCode"`
			ErrorMessage           string `json:"errorMessage"`
			AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
			RawData                string `json:"rawData"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		raw, _ := base64.StdEncoding.DecodeString(got.RawData)
		if got.ErrorCode != record.CodeMetadataExtractionFailed || !bytes.Equal(raw, fr[i].RawData) || got.ArrivalTimestamp != fr[i].ArrivalTimestamp {
			t.Errorf("line %d = %+v", i, got)
		}
	}
}

func TestS3SinkMissingBucketIsRetryable(t *testing.T) {
	m := harness.MinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := minioSinkConfig(m, fmt.Sprintf("no-such-bucket-%d", time.Now().UnixNano()%1e9))
	cfg.CompressionFormat = s3sink.GZIP
	sink, err := s3sink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	batch := sinks.Batch{Records: []record.Record{{Data: []byte("x"), ArrivalMs: time.Now().UnixMilli()}}}
	err = sink.Write(ctx, batch).Err
	if err == nil {
		t.Fatal("write to a missing bucket succeeded")
	}
	if s3sink.Classify(err) != sinks.Errored || s3sink.Code(err) != "S3.NoSuchBucket" {
		t.Fatalf("classified %v code %q: %v", s3sink.Classify(err), s3sink.Code(err), err)
	}
	// the shared retry loop keeps trying until its duration ends, then reports exhaustion
	r := retry.Retrier{Classify: s3sink.Classify, Backoff: retry.Backoff{Base: 50 * time.Millisecond, Max: 100 * time.Millisecond}}
	res := r.Do(ctx, 400*time.Millisecond, func(ctx context.Context) error { return sink.Write(ctx, batch).Err })
	if res.Outcome != sinks.Rejected || !res.Exhausted || res.Attempts < 2 {
		t.Fatalf("retry result %+v", res)
	}

	// once the bucket exists the same sink delivers
	if _, err := m.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, batch).Err; err != nil {
		t.Fatalf("after creating the bucket: %v", err)
	}
}

func TestS3SinkBadCredentialsIsRetryable(t *testing.T) {
	m := harness.MinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket := m.CreateBucket(t, "s3sink-denied")
	cfg := minioSinkConfig(m, bucket)
	cfg.SecretAccessKey = "wrong-secret"
	sink, _ := s3sink.New(cfg)
	if err := sink.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	err := sink.Write(ctx, sinks.Batch{Records: []record.Record{{Data: []byte("x")}}}).Err
	if err == nil || s3sink.Classify(err) != sinks.Errored || !strings.HasPrefix(s3sink.Code(err), "S3.") {
		t.Fatalf("err %v classified %v code %q", err, s3sink.Classify(err), s3sink.Code(err))
	}
	t.Logf("bad credentials → %s", s3sink.Code(err))
}

// BenchmarkS3SinkWrite measures one sink writing 32 MiB batches of 1 KiB JSON records to MinIO
// (MB/s of uncompressed record bytes).
func BenchmarkS3SinkWrite(b *testing.B) {
	m := harness.MinIO(b)
	ctx := context.Background()
	bucket := m.CreateBucket(b, "s3sink-bench")
	rng := rand.New(rand.NewPCG(3, 4))
	var recs []record.Record
	total := 0
	for total < 32<<20 {
		r := fmt.Appendf(nil, `{"ticker_symbol":"T%03d","sector":"TECHNOLOGY","change":%.2f,"price":%.2f,"seq":%d,"note":"`, rng.IntN(500), rng.Float64()*10-5, rng.Float64()*1000, len(recs))
		for len(r) < 1021 {
			r = append(r, "lorem ipsum dolor sit amet "[rng.IntN(27)])
		}
		r = append(r, "\"}\n"...)
		recs = append(recs, record.Record{Data: r, ArrivalMs: time.Now().UnixMilli()})
		total += len(r)
	}
	for _, f := range []s3sink.CompressionFormat{s3sink.GZIP, s3sink.Uncompressed, s3sink.Snappy, s3sink.ZSTD} {
		b.Run(string(f), func(b *testing.B) {
			cfg := minioSinkConfig(m, bucket)
			cfg.Prefix = "bench/"
			cfg.CompressionFormat = f
			sink, err := s3sink.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := sink.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(total))
			for b.Loop() {
				if err := sink.Write(ctx, sinks.Batch{Records: recs}).Err; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The shared sink conformance suite, both halves (the sink alone, and the real runner
// through it with injected faults), against real MinIO.
func TestS3SinkConformanceMinIO(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "s3sink-conformance")
	cfg := minioSinkConfig(m, bucket)
	cfg.Prefix = "conf/"
	cfg.CompressionFormat = s3sink.ZSTD
	dead := cfg
	dead.Endpoint = "http://" + closedLoopback(t)
	h := sinktest.Harness{
		New: func(t testing.TB) sinks.Sink {
			s, err := s3sink.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Unreachable: func(t testing.TB) sinks.Sink {
			s, err := s3sink.New(dead)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Classify: s3sink.Classify,
		Delivered: func(t testing.TB) [][]byte {
			ctx := context.Background()
			keys, err := m.Objects(ctx, bucket, "conf/")
			if err != nil {
				t.Fatal(err)
			}
			var out [][]byte
			for _, k := range keys {
				b, _, err := m.Get(ctx, bucket, k)
				if err != nil {
					t.Fatal(err)
				}
				d, err := decodeObject(s3sink.ZSTD, b)
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				out = append(out, d)
			}
			return out
		},
	}
	sinktest.Run(t, h)
	sinktest.RunDelivery(t, h)
}

// closedLoopback is a loopback address nothing listens on.
func closedLoopback(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
