package delivery

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Firehose metrics of firehose.md §11 (prefix sluice_firehose_), labelled by
// delivery stream (`stream`) and, for delivery, `destination`.
type Metrics struct {
	IncomingBytes       *prometheus.CounterVec
	IncomingRecords     *prometheus.CounterVec
	IncomingPutRequests *prometheus.CounterVec
	ThrottledRecords    *prometheus.CounterVec
	APIRequests         *prometheus.CounterVec
	APIDuration         *prometheus.HistogramVec
	APIBytes            *prometheus.CounterVec
	APIRecords          *prometheus.CounterVec
	KinesisReadBytes    *prometheus.CounterVec
	KinesisReadRecords  *prometheus.CounterVec
	KinesisBehind       *prometheus.GaugeVec
	DeliveryBytes       *prometheus.CounterVec
	DeliveryRecords     *prometheus.CounterVec
	DeliveryAttempts    *prometheus.CounterVec
	DataFreshness       *prometheus.GaugeVec
	S3Objects           *prometheus.CounterVec
	ActivePartitions    *prometheus.GaugeVec
	PartitionsLimit     *prometheus.GaugeVec
	PartitionsExceeded  *prometheus.GaugeVec
	FailedRecords       *prometheus.CounterVec
	DroppedRecords      *prometheus.CounterVec
	BufferBytes         *prometheus.GaugeVec
	DeliveryPaused      *prometheus.GaugeVec
	ProcessingDuration  *prometheus.HistogramVec
	ProcessingRecords   *prometheus.CounterVec
	WALBytes            *prometheus.GaugeVec
	LimitRecords        *prometheus.GaugeVec
	LimitRequests       *prometheus.GaugeVec
	LimitBytes          *prometheus.GaugeVec
}

const ns = "sluice_firehose_"

// NewMetrics builds the metrics and registers them with reg (nil = not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + name, Help: help}, labels)
	}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + name, Help: help}, labels)
	}
	m := &Metrics{
		IncomingBytes:       c("incoming_bytes_total", "Bytes accepted by PutRecord/PutRecordBatch (IncomingBytes).", "stream"),
		IncomingRecords:     c("incoming_records_total", "Records accepted by PutRecord/PutRecordBatch (IncomingRecords).", "stream"),
		IncomingPutRequests: c("incoming_put_requests_total", "PutRecord/PutRecordBatch requests (IncomingPutRequests).", "stream"),
		ThrottledRecords:    c("throttled_records_total", "Records refused by throttling (ThrottledRecords).", "stream"),
		APIRequests:         c("api_requests_total", "Firehose API requests by operation and result code.", "operation", "code"),
		APIDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "api_request_duration_seconds",
			Help: "Firehose API request latency.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"operation"}),
		APIBytes:           c("api_bytes_total", "Record bytes per Firehose operation.", "operation"),
		APIRecords:         c("api_records_total", "Records per Firehose operation.", "operation"),
		KinesisReadBytes:   c("kinesis_read_bytes_total", "Bytes read from the source stream (DataReadFromKinesisStream.Bytes).", "stream"),
		KinesisReadRecords: c("kinesis_read_records_total", "Records read from the source stream (DataReadFromKinesisStream.Records).", "stream"),
		KinesisBehind:      g("kinesis_behind_latest_seconds", "How far the source reader is behind the stream tip (KinesisMillisBehindLatest).", "stream"),
		DeliveryBytes:      c("delivery_bytes_total", "Bytes delivered (DeliveryToS3.Bytes).", "stream", "destination"),
		DeliveryRecords:    c("delivery_records_total", "Records delivered (DeliveryToS3.Records).", "stream", "destination"),
		DeliveryAttempts:   c("delivery_attempts_total", "Delivery attempts by outcome (DeliveryToS3.Success).", "stream", "destination", "outcome"),
		DataFreshness:      g("data_freshness_seconds", "Age of the oldest record not yet delivered (DeliveryToS3.DataFreshness).", "stream", "destination"),
		S3Objects:          c("s3_objects_total", "Objects written to S3 by kind (data, error).", "stream", "kind"),
		ActivePartitions:   g("active_partitions", "Open dynamic partitions (PartitionCount).", "stream"),
		PartitionsLimit:    g("active_partitions_limit", "Limit of open dynamic partitions (ActivePartitionsLimit).", "stream"),
		PartitionsExceeded: g("partition_count_exceeded", "1 while new partitions are refused (PartitionCountExceeded).", "stream"),
		FailedRecords:      c("failed_records_total", "Records written to the error output, by error code.", "stream", "error_code"),
		DroppedRecords:     c("dropped_records_total", "Records dropped, by reason.", "stream", "reason"),
		BufferBytes:        g("buffer_bytes", "Bytes held in buffers and in flight to the destination.", "stream"),
		DeliveryPaused:     g("delivery_paused", "1 while reading from the source is paused (memory budget full or destination waiting).", "stream"),
		ProcessingDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "processing_duration_seconds",
			Help: "Time to run the processor chain (processor=\"chain\") or one processor over one source batch (ExecuteProcessing.Duration).", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)},
			[]string{"stream", "processor"}),
		ProcessingRecords: c("processing_records_total", "Records out of the processor chain (processor=\"chain\") or of one processor, by result (SucceedProcessing.Records).", "stream", "processor", "result"),
		WALBytes:          g("wal_bytes", "Bytes accepted by Put* and not yet delivered (checked against firehose.wal_high_water).", "stream"),
		LimitRecords:      g("limit_records_per_second", "Direct PUT records per second quota (RecordsPerSecondLimit).", "stream"),
		LimitRequests:     g("limit_put_requests_per_second", "Direct PUT requests per second quota (PutRequestsPerSecondLimit).", "stream"),
		LimitBytes:        g("limit_bytes_per_second", "Direct PUT bytes per second quota (BytesPerSecondLimit).", "stream"),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{m.IncomingBytes, m.IncomingRecords, m.IncomingPutRequests,
			m.ThrottledRecords, m.APIRequests, m.APIDuration, m.APIBytes, m.APIRecords, m.KinesisReadBytes,
			m.KinesisReadRecords, m.KinesisBehind, m.DeliveryBytes, m.DeliveryRecords, m.DeliveryAttempts,
			m.DataFreshness, m.S3Objects, m.ActivePartitions, m.PartitionsLimit, m.PartitionsExceeded,
			m.FailedRecords, m.DroppedRecords, m.BufferBytes, m.DeliveryPaused, m.ProcessingDuration, m.ProcessingRecords,
			m.WALBytes, m.LimitRecords, m.LimitRequests, m.LimitBytes} {
			if err := reg.Register(col); err != nil {
				// Already registered (a second manager in one process, e.g. tests): keep
				// counting on our own copy rather than failing the daemon.
				continue
			}
		}
	}
	return m
}

// forget drops the series of a deleted delivery stream.
func (m *Metrics) forget(stream string) {
	l := prometheus.Labels{"stream": stream}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.IncomingBytes, m.IncomingRecords, m.IncomingPutRequests, m.ThrottledRecords, m.KinesisReadBytes,
		m.KinesisReadRecords, m.KinesisBehind, m.DeliveryBytes, m.DeliveryRecords, m.DeliveryAttempts,
		m.DataFreshness, m.S3Objects, m.ActivePartitions, m.PartitionsLimit, m.PartitionsExceeded,
		m.FailedRecords, m.DroppedRecords, m.BufferBytes, m.DeliveryPaused, m.ProcessingRecords,
		m.WALBytes, m.LimitRecords, m.LimitRequests, m.LimitBytes} {
		v.DeletePartialMatch(l)
	}
	m.ProcessingDuration.DeletePartialMatch(l)
}
