package cloudwatchapi

import (
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Series exposition (documented in the README):
//
//	sluice_client_metric{namespace,name,dimensions}          gauge: the mean of the newest datum
//	                                                          (Value, Sum/SampleCount, or the
//	                                                          weighted mean of Values/Counts)
//	sluice_client_metric_sum_total{namespace,name,dimensions} counter: sum of every sample received
//	sluice_client_metric_samples_total{…}                     counter: samples received
//	sluice_client_metric_dropped_total                        data dropped over cloudwatch.max_series
//
// dimensions is the datum's dimensions sorted by name, "Name=Value" joined by ",".
// Rates over the counters give what CloudWatch's Sum and SampleCount statistics would.

type seriesKey struct{ namespace, name, dims string }

type series struct {
	last, sum, samples float64
}

// store keeps the series, at most max of them. Safe for concurrent use.
type store struct {
	mu      sync.Mutex
	max     int
	series  map[seriesKey]*series
	dropped float64

	descLast, descSum, descCount, descDropped *prometheus.Desc
}

func newStore(max int) *store {
	labels := []string{"namespace", "name", "dimensions"}
	return &store{
		max:    max,
		series: map[seriesKey]*series{},
		descLast: prometheus.NewDesc("sluice_client_metric",
			"The newest value a client sent with CloudWatch PutMetricData (its mean for statistic sets and value lists).", labels, nil),
		descSum: prometheus.NewDesc("sluice_client_metric_sum_total",
			"Sum of every sample clients sent with CloudWatch PutMetricData.", labels, nil),
		descCount: prometheus.NewDesc("sluice_client_metric_samples_total",
			"Samples clients sent with CloudWatch PutMetricData.", labels, nil),
		descDropped: prometheus.NewDesc("sluice_client_metric_dropped_total",
			"PutMetricData data points dropped because cloudwatch.max_series series exist already.", nil, nil),
	}
}

// dimString renders dimensions canonically.
func dimString(dims []dimension) string {
	d := append([]dimension(nil), dims...)
	sort.Slice(d, func(i, j int) bool { return d[i].Name < d[j].Name })
	var b strings.Builder
	for i, x := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x.Name)
		b.WriteByte('=')
		b.WriteString(x.Value)
	}
	return b.String()
}

// add records the data of one PutMetricData call.
func (s *store) add(namespace string, data []datum) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range data {
		k := seriesKey{namespace, d.MetricName, dimString(d.Dimensions)}
		se := s.series[k]
		if se == nil {
			if len(s.series) >= s.max {
				s.dropped++
				continue
			}
			se = &series{}
			s.series[k] = se
		}
		count, sum := d.samples()
		se.sum += sum
		se.samples += count
		if count > 0 {
			se.last = sum / count
		}
	}
}

// Describe sends nothing: the collector is unchecked (its series come and go).
func (s *store) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series.
func (s *store) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, se := range s.series {
		ch <- prometheus.MustNewConstMetric(s.descLast, prometheus.GaugeValue, se.last, k.namespace, k.name, k.dims)
		ch <- prometheus.MustNewConstMetric(s.descSum, prometheus.CounterValue, se.sum, k.namespace, k.name, k.dims)
		ch <- prometheus.MustNewConstMetric(s.descCount, prometheus.CounterValue, se.samples, k.namespace, k.name, k.dims)
	}
	ch <- prometheus.MustNewConstMetric(s.descDropped, prometheus.CounterValue, s.dropped)
}
