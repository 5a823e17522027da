package firehose

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/delivery"
	"github.com/sluice-io/sluice/sinks"
)

// Metrics are the Firehose metrics of firehose.md §11 (prefix sluice_firehose_): the
// delivery runner's, plus those of the API, DirectPut intake and the S3 destination,
// labelled by delivery stream (`stream`).
type Metrics struct {
	*delivery.Metrics
	IncomingBytes       *prometheus.CounterVec
	IncomingRecords     *prometheus.CounterVec
	IncomingPutRequests *prometheus.CounterVec
	ThrottledRecords    *prometheus.CounterVec
	APIRequests         *prometheus.CounterVec
	APIDuration         *prometheus.HistogramVec
	APIBytes            *prometheus.CounterVec
	APIRecords          *prometheus.CounterVec
	S3Objects           *prometheus.CounterVec
	WALBytes            *prometheus.GaugeVec
	LimitRecords        *prometheus.GaugeVec
	LimitRequests       *prometheus.GaugeVec
	LimitBytes          *prometheus.GaugeVec
	// ConversionRecords and ConversionBytes count record format conversion by result
	// (ok, failed): SucceedConversion/FailedConversion.Records and .Bytes.
	ConversionRecords *prometheus.CounterVec
	ConversionBytes   *prometheus.CounterVec

	// HTTPProcessedRecords and HTTPProcessedBytes count what HTTP endpoint requests
	// carried, retries included (DeliveryToHttpEndpoint.ProcessedRecords/ProcessedBytes).
	HTTPProcessedRecords, HTTPProcessedBytes *prometheus.CounterVec
}

const ns = delivery.Namespace

// NewMetrics builds the metrics and registers them with reg (nil = not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + name, Help: help}, labels)
	}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + name, Help: help}, labels)
	}
	m := &Metrics{
		Metrics:             delivery.NewMetrics(),
		IncomingBytes:       c("incoming_bytes_total", "Bytes accepted by PutRecord/PutRecordBatch (IncomingBytes).", "stream"),
		IncomingRecords:     c("incoming_records_total", "Records accepted by PutRecord/PutRecordBatch (IncomingRecords).", "stream"),
		IncomingPutRequests: c("incoming_put_requests_total", "PutRecord/PutRecordBatch requests (IncomingPutRequests).", "stream"),
		ThrottledRecords:    c("throttled_records_total", "Records refused by throttling (ThrottledRecords).", "stream"),
		APIRequests:         c("api_requests_total", "Firehose API requests by operation and result code.", "operation", "code"),
		APIDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "api_request_duration_seconds",
			Help: "Firehose API request latency.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"operation"}),
		APIBytes:          c("api_bytes_total", "Record bytes per Firehose operation.", "operation"),
		APIRecords:        c("api_records_total", "Records per Firehose operation.", "operation"),
		S3Objects:         c("s3_objects_total", "Objects written to S3 by kind (data, error).", "stream", "kind"),
		WALBytes:          g("wal_bytes", "Bytes accepted by Put* and not yet delivered (checked against firehose.wal_high_water).", "stream"),
		LimitRecords:      g("limit_records_per_second", "Direct PUT records per second quota (RecordsPerSecondLimit).", "stream"),
		LimitRequests:     g("limit_put_requests_per_second", "Direct PUT requests per second quota (PutRequestsPerSecondLimit).", "stream"),
		LimitBytes:        g("limit_bytes_per_second", "Direct PUT bytes per second quota (BytesPerSecondLimit).", "stream"),
		ConversionRecords: c("conversion_records_total", "Records through record format conversion by result (SucceedConversion.Records, FailedConversion.Records).", "stream", "result"),
		ConversionBytes:   c("conversion_bytes_total", "JSON bytes through record format conversion by result (SucceedConversion.Bytes, FailedConversion.Bytes).", "stream", "result"),
	}
	m.HTTPProcessedRecords = c("http_processed_records_total", "Records sent to an HTTP endpoint, retries included (DeliveryToHttpEndpoint.ProcessedRecords).", "stream")
	m.HTTPProcessedBytes = c("http_processed_bytes_total", "Record bytes sent to an HTTP endpoint, retries included (DeliveryToHttpEndpoint.ProcessedBytes).", "stream")
	if reg != nil {
		for _, col := range append(append(m.own(), m.Metrics.Collectors()...), kindCollectors()...) {
			if err := reg.Register(col); err != nil {
				// Already registered (a second manager in one process, e.g. tests): keep
				// counting on our own copy rather than failing the daemon.
				continue
			}
		}
	}
	return m
}

func (m *Metrics) own() []prometheus.Collector {
	return []prometheus.Collector{m.IncomingBytes, m.IncomingRecords, m.IncomingPutRequests, m.ThrottledRecords,
		m.APIRequests, m.APIDuration, m.APIBytes, m.APIRecords, m.S3Objects, m.WALBytes, m.LimitRecords,
		m.LimitRequests, m.LimitBytes, m.ConversionRecords, m.ConversionBytes, m.HTTPProcessedRecords, m.HTTPProcessedBytes}
}

// countConversion counts one batch's record format conversion.
func (m *Metrics) countConversion(stream string, ok, okBytes, failed, failedBytes int) {
	if ok > 0 {
		m.ConversionRecords.WithLabelValues(stream, "ok").Add(float64(ok))
		m.ConversionBytes.WithLabelValues(stream, "ok").Add(float64(okBytes))
	}
	if failed > 0 {
		m.ConversionRecords.WithLabelValues(stream, "failed").Add(float64(failed))
		m.ConversionBytes.WithLabelValues(stream, "failed").Add(float64(failedBytes))
	}
}

// forget drops the series of a deleted delivery stream.
func (m *Metrics) forget(stream string) {
	m.Metrics.Forget(stream)
	l := prometheus.Labels{"stream": stream}
	for _, c := range append(m.own(), kindCollectors()...) {
		if v, ok := c.(interface {
			DeletePartialMatch(prometheus.Labels) int
		}); ok {
			v.DeletePartialMatch(l)
		}
	}
}

// kindCollectors are the destinations' own metrics (sinks.Kind.Collectors).
func kindCollectors() []prometheus.Collector {
	var out []prometheus.Collector
	for _, k := range sinks.Kinds() {
		out = append(out, k.Collectors...)
	}
	return out
}
