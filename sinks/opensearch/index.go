package opensearch

import (
	"fmt"
	"time"
)

// IndexRotationPeriod values (firehose.md §7).
const (
	NoRotation = "NoRotation"
	OneHour    = "OneHour"
	OneDay     = "OneDay"
	OneWeek    = "OneWeek"
	OneMonth   = "OneMonth"
)

// Rotations are the IndexRotationPeriod values, in the API model's order.
var Rotations = []string{NoRotation, OneHour, OneDay, OneWeek, OneMonth}

// DefaultRotation is AWS's IndexRotationPeriod when the member is absent.
const DefaultRotation = OneDay

// IndexName returns the index a record that arrived at arrivalMs (Unix ms) goes to: name
// followed by the UTC arrival time in the rotation's format — OneHour `-yyyy-MM-dd-HH`,
// OneDay `-yyyy-MM-dd`, OneMonth `-yyyy-MM`, OneWeek `-<ISO week-year>-w<ISO week, 2
// digits>` (2016-01-01 → `-2015-w53`, the ISO rule AWS's documented example follows);
// NoRotation and unknown values add nothing.
func IndexName(name, rotation string, arrivalMs int64) string {
	t := time.UnixMilli(arrivalMs).UTC()
	switch rotation {
	case OneHour:
		return name + t.Format("-2006-01-02-15")
	case OneDay:
		return name + t.Format("-2006-01-02")
	case OneMonth:
		return name + t.Format("-2006-01")
	case OneWeek:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%s-%d-w%02d", name, y, w)
	}
	return name
}
