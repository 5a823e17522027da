package splunk

import (
	"fmt"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/record"
)

// batchOf is a batch of records with sequence numbers 4900<i> and subsequence i%2.
func batchOf(data ...string) sinks.Batch {
	var b sinks.Batch
	at := time.Date(2026, 7, 13, 14, 5, 9, 123e6, time.UTC).UnixMilli()
	for i, d := range data {
		b.Records = append(b.Records, record.Record{Data: []byte(d), ArrivalMs: at, SequenceNumber: fmt.Sprintf("4900%d", i), SubSequence: i % 2})
	}
	return b
}
