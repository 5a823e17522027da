package opensearch

import (
	"testing"
	"time"
)

func TestIndexName(t *testing.T) {
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	for _, c := range []struct{ time, rotation, want string }{
		{"2016-02-25T13:00:00Z", NoRotation, "myindex"},
		{"2016-02-25T13:00:00Z", OneHour, "myindex-2016-02-25-13"},
		{"2016-02-25T13:00:00Z", OneDay, "myindex-2016-02-25"},
		{"2016-02-25T13:00:00Z", OneMonth, "myindex-2016-02"},
		{"2016-02-25T13:00:00Z", OneWeek, "myindex-2016-w08"},
		{"2016-01-01T00:00:00Z", OneWeek, "myindex-2015-w53"},
		{"2016-01-03T23:59:59Z", OneWeek, "myindex-2015-w53"},
		{"2016-01-04T00:00:00Z", OneWeek, "myindex-2016-w01"},
		{"2024-12-30T08:00:00Z", OneWeek, "myindex-2025-w01"}, // week-year ahead of the calendar year
		{"2020-12-31T12:00:00Z", OneWeek, "myindex-2020-w53"},
		{"2026-07-13T05:09:00+02:00", OneHour, "myindex-2026-07-13-03"}, // UTC, not the offset
		{"2026-07-01T00:30:00+01:00", OneDay, "myindex-2026-06-30"},
		{"2026-07-01T00:30:00+01:00", OneMonth, "myindex-2026-06"},
	} {
		if got := IndexName("myindex", c.rotation, at(c.time)); got != c.want {
			t.Errorf("IndexName(%s, %s) = %q, want %q", c.time, c.rotation, got, c.want)
		}
	}
}
