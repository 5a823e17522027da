package kinesisapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/streamcore"
)

// metrics are the API-level Prometheus series. Per-shard CloudWatch-style series
// (IncomingBytes, GetRecords.IteratorAgeMilliseconds, …) are the engine's; these add
// request counts and latency per operation and result code, and per-stream put/get
// totals as the API saw them.
type metrics struct {
	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	incomingRecords *prometheus.CounterVec
	incomingBytes   *prometheus.CounterVec
	writeThrottled  *prometheus.CounterVec
	getRecords      prometheus.Counter
	getBytes        prometheus.Counter
	iteratorAge     prometheus.Histogram
}

func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kinesis_api_requests_total",
			Help: "Kinesis API requests by operation and result (OK or the AWS error type).",
		}, []string{"operation", "code"})),
		latency: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_kinesis_api_request_duration_seconds",
			Help:    "Kinesis API request latency by operation (SubscribeToShard: the whole subscription).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60, 300},
		}, []string{"operation"})),
		incomingRecords: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kinesis_api_incoming_records_total",
			Help: "Records accepted by PutRecord/PutRecords (CloudWatch IncomingRecords).",
		}, []string{"stream"})),
		incomingBytes: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kinesis_api_incoming_bytes_total",
			Help: "Data bytes accepted by PutRecord/PutRecords (CloudWatch IncomingBytes).",
		}, []string{"stream"})),
		writeThrottled: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kinesis_api_write_provisioned_throughput_exceeded_total",
			Help: "Records rejected with ProvisionedThroughputExceededException (CloudWatch WriteProvisionedThroughputExceeded).",
		}, []string{"stream"})),
		getRecords: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_kinesis_api_get_records_records_total",
			Help: "Records returned by GetRecords (CloudWatch GetRecords.Records).",
		})),
		getBytes: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_kinesis_api_get_records_bytes_total",
			Help: "Data bytes returned by GetRecords (CloudWatch GetRecords.Bytes).",
		})),
		iteratorAge: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sluice_kinesis_api_get_records_iterator_age_milliseconds",
			Help:    "MillisBehindLatest of GetRecords replies (CloudWatch GetRecords.IteratorAgeMilliseconds).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 12),
		})),
	}
}

func (m *metrics) observe(op string, w http.ResponseWriter, start time.Time) {
	code := w.Header().Get("x-amzn-ErrorType")
	if code == "" {
		code = "OK"
	}
	m.requests.WithLabelValues(op, code).Inc()
	m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (m *metrics) incoming(k streamcore.StreamKey, entries []streamcore.PutEntry, res []streamcore.PutResult) {
	var recs, bytes, throttled int
	for i, r := range res {
		if r.Err == nil {
			recs++
			if i < len(entries) {
				bytes += len(entries[i].Data)
			}
		} else if streamcore.CodeOf(r.Err) == streamcore.CodeThroughputExceeded {
			throttled++
		}
	}
	m.incomingRecords.WithLabelValues(k.Name).Add(float64(recs))
	m.incomingBytes.WithLabelValues(k.Name).Add(float64(bytes))
	if throttled > 0 {
		m.writeThrottled.WithLabelValues(k.Name).Add(float64(throttled))
	}
}

func (m *metrics) outgoing(recs []streamcore.Record, behind int64, _ time.Time) {
	n := 0
	for i := range recs {
		n += len(recs[i].Data)
	}
	m.getRecords.Add(float64(len(recs)))
	m.getBytes.Add(float64(n))
	m.iteratorAge.Observe(float64(behind))
}
