// Package bench is `sluice bench`, a load generator for any Kinesis endpoint (Sluice,
// kinesalite, LocalStack, AWS) built on aws-sdk-go-v2, in the spirit of `nats bench` and
// kafka-producer-perf-test. It shows a live progress line on stderr and prints a summary
// (records/s, MB/s, p50/p99 request latency) on stdout.
//
//	sluice bench put -endpoint http://127.0.0.1:4600 -stream bench -records 1000000 -size 1KiB -batch 500 -concurrency 8
//	sluice bench get -endpoint http://127.0.0.1:4600 -stream bench -duration 30s
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Main runs `sluice bench <put|get> [flags]` and returns the exit code.
func Main(args []string) int {
	return run(context.Background(), args, os.Stdout, os.Stderr)
}

type config struct {
	mode        string
	endpoint    string
	region      string
	stream      string
	records     int64
	size        int
	batch       int
	concurrency int
	duration    time.Duration
	create      int
	accessKey   string
	secretKey   string
	from        string
	progress    bool
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: sluice bench put|get [flags]")
	fmt.Fprintln(w, "  put: PutRecords load; get: read every shard with GetShardIterator/GetRecords")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func parseArgs(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("sluice bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.endpoint, "endpoint", "http://127.0.0.1:4600", "Kinesis endpoint URL (empty = the AWS endpoint of -region)")
	fs.StringVar(&c.region, "region", envOr("AWS_REGION", "us-east-1"), "region to sign for")
	fs.StringVar(&c.stream, "stream", "bench", "stream name")
	fs.Int64Var(&c.records, "records", 0, "stop after this many records (0 = run for -duration)")
	size := fs.String("size", "1KiB", "record size for put (B, KiB, MiB)")
	fs.IntVar(&c.batch, "batch", 500, "records per PutRecords call (1..500)")
	fs.IntVar(&c.concurrency, "concurrency", 8, "concurrent clients")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long (0 = until -records; both 0: put runs 10s, get drains the stream)")
	fs.IntVar(&c.create, "create", 0, "create the stream with this many shards if it does not exist (put only)")
	fs.StringVar(&c.accessKey, "access-key", envOr("AWS_ACCESS_KEY_ID", "sluicebench"), "access key id")
	fs.StringVar(&c.secretKey, "secret-key", envOr("AWS_SECRET_ACCESS_KEY", "sluicebench"), "secret access key")
	fs.StringVar(&c.from, "from", "TRIM_HORIZON", "get: where to start reading (TRIM_HORIZON or LATEST)")
	fs.BoolVar(&c.progress, "progress", true, "show a live progress line on stderr")
	if len(args) == 0 || (args[0] != "put" && args[0] != "get") {
		usage(stderr, fs)
		return c, errors.New("first argument must be put or get")
	}
	c.mode = args[0]
	if err := fs.Parse(args[1:]); err != nil {
		usage(stderr, fs)
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	n, err := parseSize(*size)
	if err != nil {
		return c, err
	}
	c.size = n
	switch {
	case c.batch < 1 || c.batch > 500:
		return c, fmt.Errorf("-batch %d is outside 1..500", c.batch)
	case c.concurrency < 1:
		return c, fmt.Errorf("-concurrency must be at least 1")
	case c.size < 1 || c.size > 10<<20:
		return c, fmt.Errorf("-size %s is outside 1B..10MiB", *size)
	case c.records < 0 || c.duration < 0:
		return c, fmt.Errorf("-records and -duration must not be negative")
	case c.from != "TRIM_HORIZON" && c.from != "LATEST":
		return c, fmt.Errorf("-from must be TRIM_HORIZON or LATEST")
	}
	if c.mode == "put" && c.records == 0 && c.duration == 0 {
		c.duration = 10 * time.Second
	}
	return c, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// parseSize reads 1024, 512B, 1KiB, 1KB (= KiB), 2MiB.
func parseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		m      int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional B/KiB/MiB suffix", s)
	}
	return n * mult, nil
}

func client(c config) *kinesis.Client {
	o := kinesis.Options{
		Region:      c.region,
		Credentials: credentials.NewStaticCredentialsProvider(c.accessKey, c.secretKey, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 1 // the bench counts failures itself
		}),
	}
	if c.endpoint != "" {
		o.BaseEndpoint = aws.String(c.endpoint)
	}
	return kinesis.New(o)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseArgs(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "sluice bench:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}
	kc := client(c)
	st := newStats(c.mode)
	done := make(chan struct{})
	if c.progress {
		go st.progressLoop(stderr, done)
	}
	switch c.mode {
	case "put":
		err = runPut(ctx, kc, c, st)
	default:
		err = runGet(ctx, kc, c, st)
	}
	close(done)
	if c.progress {
		fmt.Fprint(stderr, "\r\033[K")
	}
	st.summary(stdout, c)
	if err != nil {
		fmt.Fprintln(stderr, "sluice bench:", err)
		return 1
	}
	return 0
}

// stats collects counts and request latencies.
type stats struct {
	mode    string
	start   time.Time
	records atomic.Int64
	bytes   atomic.Int64
	failed  atomic.Int64 // records (put) or calls (get) that failed
	calls   atomic.Int64
	mu      sync.Mutex
	lat     []time.Duration
	lastErr atomic.Value // string
}

func newStats(mode string) *stats { return &stats{mode: mode, start: time.Now()} }

func (s *stats) observe(d time.Duration) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
}

func (s *stats) percentiles(ps ...float64) []time.Duration {
	s.mu.Lock()
	l := append([]time.Duration(nil), s.lat...)
	s.mu.Unlock()
	out := make([]time.Duration, len(ps))
	if len(l) == 0 {
		return out
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	for i, p := range ps {
		out[i] = l[int(p*float64(len(l)-1))]
	}
	return out
}

func (s *stats) progressLoop(w io.Writer, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastRecs, lastBytes int64
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			r, b := s.records.Load(), s.bytes.Load()
			dt := now.Sub(last).Seconds()
			p := s.percentiles(0.5, 0.99)
			fmt.Fprintf(w, "\r\033[K%s %6.0fs  %12d records  %10.0f rec/s  %8.2f MB/s  p50 %s  p99 %s  failed %d",
				s.mode, now.Sub(s.start).Seconds(), r, float64(r-lastRecs)/dt, float64(b-lastBytes)/dt/1e6, ms(p[0]), ms(p[1]), s.failed.Load())
			lastRecs, lastBytes, last = r, b, now
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func (s *stats) summary(w io.Writer, c config) {
	el := time.Since(s.start).Seconds()
	r, b := s.records.Load(), s.bytes.Load()
	p := s.percentiles(0.5, 0.9, 0.99, 1)
	fmt.Fprintf(w, "sluice bench %s: %s stream %q, %d clients", s.mode, endpointName(c), c.stream, c.concurrency)
	if s.mode == "put" {
		fmt.Fprintf(w, ", %d × %d B per call", c.batch, c.size)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  records   %d in %.2fs (%d failed)\n", r, el, s.failed.Load())
	fmt.Fprintf(w, "  rate      %.0f records/s, %.2f MB/s\n", float64(r)/el, float64(b)/el/1e6)
	fmt.Fprintf(w, "  calls     %d, latency p50 %s  p90 %s  p99 %s  max %s\n", s.calls.Load(), ms(p[0]), ms(p[1]), ms(p[2]), ms(p[3]))
	if e, ok := s.lastErr.Load().(string); ok && e != "" {
		fmt.Fprintf(w, "  last error: %s\n", e)
	}
}

func endpointName(c config) string {
	if c.endpoint == "" {
		return "AWS " + c.region
	}
	return c.endpoint
}
