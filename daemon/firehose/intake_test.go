package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	s3sink "github.com/sluice-io/sluice/sinks/s3"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
	"github.com/sluice-io/sluice/streamcore"
)

func newIntakeManager(t *testing.T, sink *fakeSink, opts Options) (*Manager, *streamcore.Engine) {
	t.Helper()
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	return newManagerOn(t, eng, sink, opts), eng
}

// newManagerOn starts a Manager over eng, as a daemon (re)start does.
func newManagerOn(t *testing.T, eng Engine, sink *fakeSink, opts Options) *Manager {
	t.Helper()
	opts.Engine, opts.DirectPutShards = eng, 2
	opts.Backoff = retry.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond, Jitter: -1}
	opts.NewDestination = func(def *Definition, _ S3Conn) (*Built, error) {
		return &Built{Sink: sink, Errors: sink}, nil
	}
	mgr, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSoon(mgr) })
	return mgr
}

// putUntilRefused puts batches of 10 records (90 bytes) into name until one is refused
// with "Slow down." and returns how many batches were acknowledged.
func putUntilRefused(t *testing.T, mgr *Manager, name string, from int) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		res, _, err := mgr.Put(context.Background(), name, recs(from+i*10, 10))
		if err != nil {
			t.Fatal(err)
		}
		if res[0].ErrorCode == ErrTypeServiceUnavailable {
			return i
		}
		if res[0].ErrorCode != "" {
			t.Fatalf("batch %d: %+v", i, res[0])
		}
	}
	t.Fatal("never refused")
	return 0
}

// After a restart, records accepted before it and not yet delivered count against the
// WAL high-water mark from the start, and delivering them brings the count back to 0.
func TestHighWaterMarkCountsBacklogAfterRestart(t *testing.T) {
	sink := &fakeSink{}
	sink.set(sinks.Unavailable("S3.NoSuchBucket", errors.New("the bucket does not exist")), nil)
	dir := t.TempDir()
	mgr, eng := newIntakeManager(t, sink, Options{WALHighWater: 900, DataDir: dir})
	if err := mgr.Create(context.Background(), s3def("hw", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // 450 bytes waiting
		if res, _, err := mgr.Put(context.Background(), "hw", recs(i*10, 10)); err != nil || res[0].ErrorCode != "" {
			t.Fatalf("put: %v %+v", err, res)
		}
	}
	closeSoon(mgr)

	mgr = newManagerOn(t, eng, sink, Options{WALHighWater: 900, DataDir: dir})
	if got := metricValue(mgr.metrics.WALBytes.WithLabelValues("hw")); got != 450 {
		t.Fatalf("wal_bytes after the restart = %v, want the 450 bytes accepted before it", got)
	}
	// 450 + 6 × 90 = 990 > 900: the seventh batch is refused (with nothing counted, the
	// twelfth would be)
	if n := putUntilRefused(t, mgr, "hw", 1000); n != 6 {
		t.Fatalf("%d batches acknowledged before the refusal, want 6", n)
	}
	sink.set(nil, nil)
	waitFor(t, "all 110 records delivered", func() bool { return len(sink.delivered()) >= 110 })
	waitFor(t, "undelivered back to 0", func() bool {
		return mgr.lookup("hw").intake.Load().Undelivered() == 0
	})
}

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("rec-%05d", from+i)) // 9 bytes
	}
	return out
}

// A destination that is down (missing bucket, waited on forever) lets undelivered data
// grow to the WAL high-water mark; then Put refuses with "Slow down." until delivery
// catches up, and every acknowledged record arrives.
func TestHighWaterMarkRefusesThenResumes(t *testing.T) {
	sink := &fakeSink{}
	sink.set(sinks.Unavailable("S3.NoSuchBucket", errors.New("the bucket does not exist")), nil)
	mgr, _ := newIntakeManager(t, sink, Options{WALHighWater: 900})
	if err := mgr.Create(context.Background(), s3def("hw", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	var acked []string
	refused := 0
	for i := 0; i < 20 && refused == 0; i++ {
		res, _, err := mgr.Put(context.Background(), "hw", recs(i*10, 10))
		if err != nil {
			t.Fatal(err)
		}
		for j, r := range res {
			switch {
			case r.ErrorCode == "":
				acked = append(acked, fmt.Sprintf("rec-%05d", i*10+j))
			case r.ErrorCode == ErrTypeServiceUnavailable && r.ErrorMessage == "Slow down.":
				refused++
			default:
				t.Fatalf("record %d: %+v", j, r)
			}
		}
	}
	// 9 bytes a record: ten batches of 90 bytes reach 900, the eleventh is over the mark
	if refused != 10 || len(acked) != 110 {
		t.Fatalf("acked %d, refused %d; want 110 acknowledged then a refused batch", len(acked), refused)
	}
	if got := metricValue(mgr.metrics.ThrottledRecords.WithLabelValues("hw")); got != 10 {
		t.Fatalf("throttled_records_total = %v, want 10", got)
	}
	if snap, _ := mgr.Describe("hw"); !snap.Health.Failing {
		waitFor(t, "failing status", func() bool { s, _ := mgr.Describe("hw"); return s.Health.Failing })
	}
	// the bucket appears: delivery catches up, the mark clears, intake resumes
	sink.set(nil, nil)
	waitFor(t, "acknowledged records delivered", func() bool { return len(sink.delivered()) >= len(acked) })
	waitFor(t, "intake resumed", func() bool {
		res, _, err := mgr.Put(context.Background(), "hw", recs(5000, 1))
		if err == nil && res[0].ErrorCode == "" {
			acked = append(acked, "rec-05000")
			return true
		}
		return false
	})
	waitFor(t, "every acknowledged record", func() bool { return len(sink.delivered()) >= len(acked) })
	got := map[string]bool{}
	for _, r := range sink.delivered() {
		got[r] = true
	}
	for _, a := range acked {
		if !got[a] {
			t.Fatalf("acknowledged record %s lost", a)
		}
	}
	if sink.failed(record.DeliveryFailed) != 0 {
		t.Fatal("records went to the error output while the bucket was missing")
	}
}

// aws-small-like quotas scaled down: a batch is admitted in order while the record and
// byte buckets last; an empty request bucket refuses the whole request.
func TestThrottlingProfileTokenBuckets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	sink := &fakeSink{}
	mgr, _ := newIntakeManager(t, sink, Options{Throttle: Limits{Records: 25, Requests: 3, Bytes: 1 << 20}, Now: clock})
	if err := mgr.Create(context.Background(), s3def("th", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	if g := metricValue(mgr.metrics.LimitRecords.WithLabelValues("th")); g != 25 {
		t.Fatalf("limit_records_per_second = %v", g)
	}
	if g := metricValue(mgr.metrics.LimitRequests.WithLabelValues("th")); g != 3 {
		t.Fatalf("limit_put_requests_per_second = %v", g)
	}
	codes := func(res []PutResult) (ok, slow int) {
		for _, r := range res {
			if r.ErrorCode == "" {
				ok++
			} else if r.ErrorCode == ErrTypeServiceUnavailable && r.ErrorMessage == "Slow down." {
				slow++
			}
		}
		return
	}
	res, _, err := mgr.Put(context.Background(), "th", recs(0, 20))
	if ok, slow := codes(res); err != nil || ok != 20 || slow != 0 {
		t.Fatalf("first batch: ok %d slow %d err %v", ok, slow, err)
	}
	res, _, err = mgr.Put(context.Background(), "th", recs(20, 10))
	if ok, slow := codes(res); err != nil || ok != 5 || slow != 5 || res[4].ErrorCode != "" || res[5].ErrorCode == "" {
		t.Fatalf("second batch: ok %d slow %d err %v; want the first 5 admitted", ok, slow, err)
	}
	_, _, err = mgr.Put(context.Background(), "th", recs(30, 1))
	if err != nil {
		t.Fatalf("third request (bucket has 1 request left): %v", err)
	}
	_, _, err = mgr.Put(context.Background(), "th", recs(31, 1))
	var de *Error
	if !errors.As(err, &de) || de.Type != ErrTypeServiceUnavailable || de.Msg != "Slow down." {
		t.Fatalf("fourth request in the same second: %v, want ServiceUnavailableException Slow down.", err)
	}
	if got := metricValue(mgr.metrics.ThrottledRecords.WithLabelValues("th")); got != 5+1+1 {
		t.Fatalf("throttled_records_total = %v, want 7", got)
	}
	now = now.Add(time.Second) // buckets refill within one second
	res, _, err = mgr.Put(context.Background(), "th", recs(40, 25))
	if ok, _ := codes(res); err != nil || ok != 25 {
		t.Fatalf("after a second: ok %d err %v", ok, err)
	}
	waitFor(t, "admitted records delivered", func() bool { return len(sink.delivered()) >= 20+5+25 })
	got := sink.delivered()
	sort.Strings(got)
	if len(got) != 50 {
		t.Fatalf("delivered %d records, want exactly the 50 admitted", len(got))
	}
}

// metricValue reads one counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		return -1
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

func TestFromConfigTakesMissingS3KeysFromFirehoseSection(t *testing.T) {
	y := "firehose:\n  s3: {endpoint: 'http://minio:9000', region: eu-west-1, access_key_id: AK, secret_access_key: SK}\n" +
		"delivery_streams:\n  - name: a\n    destination: {s3: {bucket: b}}\n" +
		"  - name: own\n    destination: {s3: {bucket: b, endpoint: 'https://s3.amazonaws.com', region: us-east-2, access_key_id: X, secret_access_key: Y}}\n"
	c, err := config.Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	defs := FromConfig(c)
	if got := *defs[0].Conn; got != (S3Conn{Endpoint: "http://minio:9000", Region: "eu-west-1", PathStyle: true, AccessKeyID: "AK", SecretAccessKey: "SK"}) {
		t.Fatalf("entry without a connection: %+v", got)
	}
	if got := *defs[1].Conn; got != (S3Conn{Endpoint: "https://s3.amazonaws.com", Region: "us-east-2", AccessKeyID: "X", SecretAccessKey: "Y"}) {
		t.Fatalf("entry with its own connection: %+v", got)
	}
}

// A Lambda processor calls the HTTP function Options.LambdaFunctions maps its ARN to,
// with the Firehose Lambda event, and delivers what the function returns; an ARN that
// is not mapped is refused when the delivery stream is created.
func TestLambdaProcessorCallsTheMappedFunction(t *testing.T) {
	var events atomic.Int32
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			DeliveryStreamArn string `json:"deliveryStreamArn"`
			Region            string `json:"region"`
			Records           []struct {
				RecordID string `json:"recordId"`
				Data     []byte `json:"data"`
			} `json:"records"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.DeliveryStreamArn != "arn:aws:firehose:us-east-1:000000000000:deliverystream/lam" || ev.Region != "us-east-1" {
			t.Errorf("Lambda event: %+v %v", ev, err)
		}
		events.Add(1)
		type rec struct {
			RecordID string `json:"recordId"`
			Result   string `json:"result"`
			Data     []byte `json:"data"`
		}
		out := struct {
			Records []rec `json:"records"`
		}{}
		for _, r := range ev.Records {
			out.Records = append(out.Records, rec{r.RecordID, "Ok", bytes.ToUpper(r.Data)})
		}
		json.NewEncoder(w).Encode(out)
	}))
	defer fn.Close()
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:upper"
	sink := &fakeSink{}
	mgr, _ := newIntakeManager(t, sink, Options{LambdaFunctions: map[string]string{arn: fn.URL}})
	withLambda := func(name, arn string) *Definition {
		d := s3def(name, 1, 0, 60)
		d.Dest.Config.(*s3sink.API).ProcessingConfiguration = &sinks.ProcessingConfiguration{Processors: []sinks.Processor{{Type: "Lambda",
			Parameters: []sinks.ProcessorParameter{{ParameterName: "LambdaArn", ParameterValue: arn}}}}}
		return d
	}
	err := mgr.Create(context.Background(), withLambda("other", "arn:aws:lambda:us-east-1:000000000000:function:unknown"))
	if err == nil || !strings.Contains(err.Error(), "is not mapped to a function") {
		t.Fatalf("unmapped LambdaArn: %v", err)
	}
	if err := mgr.Create(context.Background(), withLambda("lam", arn)); err != nil {
		t.Fatal(err)
	}
	putN(t, mgr, "lam", 0, 20)
	waitFor(t, "20 transformed records", func() bool { return len(sink.delivered()) >= 20 })
	for _, r := range sink.delivered() {
		if !strings.HasPrefix(r, "REC-") {
			t.Fatalf("delivered %q, not the function's output", r)
		}
	}
	if events.Load() == 0 {
		t.Fatal("the function was never called")
	}
	waitFor(t, "per-processor metric", func() bool {
		return metricValue(mgr.metrics.ProcessingRecords.WithLabelValues("lam", "Lambda", "ok")) == 20
	})
	// UpdateDestination rebuilds the chain with the same mapping.
	snap, err := mgr.Describe("lam")
	if err != nil {
		t.Fatal(err)
	}
	err = mgr.Update(context.Background(), "lam", snap.Def.VersionString(), snap.Def.DestinationID, func(d *Definition) error {
		d.RetryDuration = 30
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateDestination of a stream with a Lambda processor: %v", err)
	}
	putN(t, mgr, "lam", 100, 5)
	waitFor(t, "records after the update", func() bool { return len(sink.delivered()) >= 25 })
}

// Closing the manager (SIGTERM, within server.shutdown_timeout) while a Lambda function
// hangs ends when Close's context does: the call is cancelled, and its records are
// neither delivered nor written to processing-failed (they are read again after a
// restart). Before, the chain ran on context.Background() and Close waited for the
// invocation's own 5-minute timeout.
func TestCloseEndsWhileALambdaFunctionHangs(t *testing.T) {
	called := make(chan struct{}, 1)
	release := make(chan struct{})
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case called <- struct{}{}:
		default:
		}
		select { // hang until the caller gives up (or the test ends)
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer fn.Close()
	defer close(release)
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:hang"
	sink := &fakeSink{}
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	mgr, err := NewManager(Options{Engine: eng, DirectPutShards: 1, LambdaFunctions: map[string]string{arn: fn.URL},
		NewDestination: func(*Definition, S3Conn) (*Built, error) { return &Built{Sink: sink, Errors: sink}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	d := s3def("hang", 1, 0, 60)
	d.Dest.Config.(*s3sink.API).ProcessingConfiguration = &sinks.ProcessingConfiguration{Processors: []sinks.Processor{{Type: "Lambda",
		Parameters: []sinks.ProcessorParameter{{ParameterName: "LambdaArn", ParameterValue: arn}}}}}
	if err := mgr.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	putN(t, mgr, "hang", 0, 5)
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("the function was never called")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- mgr.Close(ctx) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after its deadline while the Lambda function hung")
	}
	if n, f := len(sink.delivered()), sink.failed(record.ProcessingFailed); n != 0 || f != 0 {
		t.Fatalf("records of the cancelled invocation: %d delivered, %d in processing-failed", n, f)
	}
}

// Records that expire before delivery (a destination down for longer than the 24-hour
// retention, then fixed with UpdateDestination) leave the high-water count, so intake
// does not stay refused forever.
func TestExpiredRecordsLeaveTheHighWaterCount(t *testing.T) {
	var off atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	eng, err := streamcore.Open(context.Background(), streamcore.Options{Store: streamcore.NewMemStoreClock(clock), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	sink := &fakeSink{}
	sink.set(sinks.Unavailable("S3.NoSuchBucket", errors.New("the bucket does not exist")), nil)
	mgr := newManagerOn(t, eng, sink, Options{WALHighWater: 900, SwitchTimeout: 100 * time.Millisecond})
	if err := mgr.Create(context.Background(), s3def("hw", 1, 0, 60)); err != nil {
		t.Fatal(err)
	}
	if n := putUntilRefused(t, mgr, "hw", 0); n != 11 {
		t.Fatalf("%d batches before the refusal, want 11", n)
	}
	off.Store(int64(25 * time.Hour))
	snap, err := mgr.Describe("hw")
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Update(context.Background(), "hw", snap.Def.VersionString(), snap.Def.DestinationID, func(d *Definition) error {
		d.RetryDuration = 30
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "intake accepts again", func() bool {
		res, _, err := mgr.Put(context.Background(), "hw", recs(5000, 1))
		return err == nil && res[0].ErrorCode == ""
	})
}
