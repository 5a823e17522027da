package streamcore

import "github.com/prometheus/client_golang/prometheus"

// metrics are named after the CloudWatch metrics of Kinesis Data Streams. Labels stay
// bounded: stream (account/region/name) and, for per-shard series, shard.
type metrics struct {
	incomingBytes, incomingRecords     *prometheus.CounterVec
	getRecordsBytes, getRecordsRecords *prometheus.CounterVec
	writeThrottled, readThrottled      *prometheus.CounterVec
	iteratorAge                        *prometheus.GaugeVec
	trimmedRecords, trimRuns           *prometheus.CounterVec
	openShards                         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Subsystem: "kinesis", Name: name, Help: help}, labels)
	}
	m := &metrics{
		incomingBytes:     cv("incoming_bytes_total", "Bytes successfully put (IncomingBytes).", "stream"),
		incomingRecords:   cv("incoming_records_total", "Records successfully put (IncomingRecords).", "stream"),
		getRecordsBytes:   cv("get_records_bytes_total", "Bytes returned by GetRecords and readers (GetRecords.Bytes).", "stream"),
		getRecordsRecords: cv("get_records_records_total", "Records returned by GetRecords and readers (GetRecords.Records).", "stream"),
		writeThrottled:    cv("write_provisioned_throughput_exceeded_total", "Records rejected by write quotas (WriteProvisionedThroughputExceeded).", "stream", "shard"),
		readThrottled:     cv("read_provisioned_throughput_exceeded_total", "GetRecords calls rejected by read quotas (ReadProvisionedThroughputExceeded).", "stream", "shard"),
		iteratorAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sluice", Subsystem: "kinesis", Name: "iterator_age_milliseconds",
			Help: "MillisBehindLatest of the last read (GetRecords.IteratorAgeMilliseconds)."}, []string{"stream", "shard"}),
		trimmedRecords: cv("retention_trimmed_records_total", "Records deleted by retention.", "stream"),
		trimRuns:       cv("retention_trims_total", "Retention trims of a shard log that deleted at least one whole segment.", "stream"),
		openShards: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sluice", Subsystem: "kinesis", Name: "open_shards",
			Help: "Open shards of a stream (OpenShardCount)."}, []string{"stream"}),
	}
	if reg != nil {
		m.incomingBytes = register(reg, m.incomingBytes)
		m.incomingRecords = register(reg, m.incomingRecords)
		m.getRecordsBytes = register(reg, m.getRecordsBytes)
		m.getRecordsRecords = register(reg, m.getRecordsRecords)
		m.writeThrottled = register(reg, m.writeThrottled)
		m.readThrottled = register(reg, m.readThrottled)
		m.iteratorAge = register(reg, m.iteratorAge)
		m.trimmedRecords = register(reg, m.trimmedRecords)
		m.trimRuns = register(reg, m.trimRuns)
		m.openShards = register(reg, m.openShards)
	}
	return m
}

func (m *metrics) forget(stream string) {
	for _, v := range []*prometheus.CounterVec{m.incomingBytes, m.incomingRecords, m.getRecordsBytes, m.getRecordsRecords,
		m.writeThrottled, m.readThrottled, m.trimmedRecords, m.trimRuns} {
		v.DeletePartialMatch(prometheus.Labels{"stream": stream})
	}
	m.iteratorAge.DeletePartialMatch(prometheus.Labels{"stream": stream})
	m.openShards.DeleteLabelValues(stream)
}

// register adds c to reg; when an engine in the same process registered it already,
// the existing collector is shared.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}
