package delivery

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runner's metrics (prefix sluice_firehose_, names after Firehose's
// CloudWatch metrics, firehose.md §11), labelled by delivery stream (`stream`) and, for
// delivery, `destination`. NewMetrics builds them unregistered; register Collectors.
type Metrics struct {
	KinesisReadBytes   *prometheus.CounterVec
	KinesisReadRecords *prometheus.CounterVec
	KinesisBehind      *prometheus.GaugeVec
	DeliveryBytes      *prometheus.CounterVec
	DeliveryRecords    *prometheus.CounterVec
	DeliveryAttempts   *prometheus.CounterVec
	DataFreshness      *prometheus.GaugeVec
	ActivePartitions   *prometheus.GaugeVec
	PartitionsLimit    *prometheus.GaugeVec
	PartitionsExceeded *prometheus.GaugeVec
	FailedRecords      *prometheus.CounterVec
	DroppedRecords     *prometheus.CounterVec
	BackupRecords      *prometheus.CounterVec
	BufferBytes        *prometheus.GaugeVec
	DeliveryPaused     *prometheus.GaugeVec
	ProcessingDuration *prometheus.HistogramVec
	ProcessingRecords  *prometheus.CounterVec
}

// Namespace prefixes every Firehose metric name.
const Namespace = "sluice_firehose_"

// NewMetrics builds the runner's metrics, not registered anywhere.
func NewMetrics() *Metrics {
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: Namespace + name, Help: help}, labels)
	}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Namespace + name, Help: help}, labels)
	}
	return &Metrics{
		KinesisReadBytes:   c("kinesis_read_bytes_total", "Bytes read from the source stream (DataReadFromKinesisStream.Bytes).", "stream"),
		KinesisReadRecords: c("kinesis_read_records_total", "Records read from the source stream (DataReadFromKinesisStream.Records).", "stream"),
		KinesisBehind:      g("kinesis_behind_latest_seconds", "How far the source reader is behind the stream tip (KinesisMillisBehindLatest).", "stream"),
		DeliveryBytes:      c("delivery_bytes_total", "Bytes delivered (DeliveryToS3.Bytes and its twins of the other destinations).", "stream", "destination"),
		DeliveryRecords:    c("delivery_records_total", "Records delivered (DeliveryToS3.Records, …).", "stream", "destination"),
		DeliveryAttempts:   c("delivery_attempts_total", "Write attempts by outcome: success, retry, rejected, failure (DeliveryToS3.Success, …).", "stream", "destination", "outcome"),
		DataFreshness:      g("data_freshness_seconds", "Age of the oldest record not yet delivered (DeliveryToS3.DataFreshness, …).", "stream", "destination"),
		ActivePartitions:   g("active_partitions", "Open dynamic partitions (PartitionCount).", "stream"),
		PartitionsLimit:    g("active_partitions_limit", "Limit of open dynamic partitions (ActivePartitionsLimit).", "stream"),
		PartitionsExceeded: g("partition_count_exceeded", "1 while new partitions are refused (PartitionCountExceeded).", "stream"),
		FailedRecords:      c("failed_records_total", "Records written to the error output, by error code.", "stream", "error_code"),
		DroppedRecords:     c("dropped_records_total", "Records dropped, by reason.", "stream", "reason"),
		BackupRecords:      c("backup_records_total", "Records written to the S3 backup of an AllData delivery stream (BackupToS3.Records).", "stream"),
		BufferBytes:        g("buffer_bytes", "Bytes held in buffers and in flight to the destination.", "stream"),
		DeliveryPaused:     g("delivery_paused", "1 while reading from the source is paused (memory budget full or destination waiting).", "stream"),
		ProcessingDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: Namespace + "processing_duration_seconds",
			Help: "Time to run the processor chain (processor=\"chain\") or one processor over one source batch (ExecuteProcessing.Duration).", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)},
			[]string{"stream", "processor"}),
		ProcessingRecords: c("processing_records_total", "Records out of the processor chain (processor=\"chain\") or of one processor, by result (SucceedProcessing.Records).", "stream", "processor", "result"),
	}
}

// Collectors lists every metric, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.KinesisReadBytes, m.KinesisReadRecords, m.KinesisBehind, m.DeliveryBytes,
		m.DeliveryRecords, m.DeliveryAttempts, m.DataFreshness, m.ActivePartitions, m.PartitionsLimit,
		m.PartitionsExceeded, m.FailedRecords, m.DroppedRecords, m.BackupRecords, m.BufferBytes, m.DeliveryPaused,
		m.ProcessingDuration, m.ProcessingRecords}
}

// Forget drops the series of a deleted delivery stream.
func (m *Metrics) Forget(stream string) {
	l := prometheus.Labels{"stream": stream}
	for _, c := range m.Collectors() {
		if v, ok := c.(interface {
			DeletePartialMatch(prometheus.Labels) int
		}); ok {
			v.DeletePartialMatch(l)
		}
	}
}
