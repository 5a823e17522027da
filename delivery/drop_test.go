package delivery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources"
	"github.com/sluice-io/sluice/sources/record"
	"github.com/sluice-io/sluice/sources/retry"
)

// dropSink answers records holding "drop" with sinks.Dropped and fails the others whole.
type dropSink struct{ memSink }

func (d *dropSink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	if strings.Contains(string(b.Records[0].Data), "drop") {
		return sinks.Failed(sinks.Dropped("http_413", "HttpEndpoint.DestinationException", errors.New("413")))
	}
	return sinks.Failed(sinks.Retryable("HttpEndpoint.DestinationException", errors.New("500")))
}

// Records a sink drops (sinks.Dropped) are acknowledged and counted under their reason,
// never written to the error output nor the backup; records of a whole-batch failure get
// the destination's failure fields (Config.FailureFields) when their retries run out.
func TestDroppedRecordsAndFailureFields(t *testing.T) {
	for _, data := range []string{"drop me", "fail me"} {
		ctx, cancel := context.WithCancel(context.Background())
		eng, key := engineWith(t, data)
		src := sources.NewStreamSource(eng, sources.Options{Stream: key, Group: "g"})
		errs, backup, m := &memErrors{}, &memSink{}, NewMetrics()
		r := New(Config{Name: "p", Destination: "http", Source: src, Sink: &dropSink{}, Errors: errs, Backup: backup, Metrics: m,
			FailedType: "http-endpoint-failed", RetryDuration: 20 * time.Millisecond, RetryClock: FromFirstFailure,
			FailureFields: func(r record.Record) []record.Field {
				return []record.Field{{Key: "dataId", Value: r.SequenceNumber + ".0"}}
			},
			Hints: buffer.Hints{Size: 1 << 20, Interval: 0}, Backoff: retry.Backoff{Base: 2 * time.Millisecond, Max: 2 * time.Millisecond, Jitter: -1}})
		go r.Run(ctx)
		waitFor(t, "the checkpoint", func() bool { cps, _ := eng.Checkpoints(ctx, key, "g"); return len(cps) == 1 })
		cancel()
		dropped := testutil.ToFloat64(m.DroppedRecords.WithLabelValues("p", "http_413"))
		failed := errs.of("http-endpoint-failed")
		switch data {
		case "drop me":
			if dropped != 1 || len(failed) != 0 || backup.count() != 0 {
				t.Errorf("dropped: counted %v, %d failure records, %d backed up; want 1, 0, 0", dropped, len(failed), backup.count())
			}
		default:
			if dropped != 0 || len(failed) != 1 || len(failed[0].Extra) != 1 || failed[0].Extra[0].Key != "dataId" {
				t.Errorf("failed: dropped %v, failure records %+v", dropped, failed)
			}
		}
	}
}
