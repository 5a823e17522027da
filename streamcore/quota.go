package streamcore

import "time"

// Per-shard defaults of reference §6.
const (
	defWriteBytesPerSec   = 1 << 20
	defWriteRecordsPerSec = 1000
	defReadBytesPerSec    = 2 << 20
	defReadCallsPerSec    = 5
)

// bucket is a token bucket: tokens refill at rate per second up to capacity.
type bucket struct {
	tokens, rate, capacity float64
	last                   time.Time
}

func newBucket(rate, capacity float64, now time.Time) bucket {
	return bucket{tokens: capacity, rate: rate, capacity: capacity, last: now}
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens += d * b.rate
		if b.tokens > b.capacity {
			b.tokens = b.capacity
		}
		b.last = now
	}
}

// take removes n tokens if they are there.
func (b *bucket) take(n float64, now time.Time) bool {
	b.refill(now)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// effective fills in the defaults of q.
func (q Quotas) effective() Quotas {
	if q.WriteBytesPerSec <= 0 {
		q.WriteBytesPerSec = defWriteBytesPerSec
	}
	if q.WriteRecordsPerSec <= 0 {
		q.WriteRecordsPerSec = defWriteRecordsPerSec
	}
	if q.ReadBytesPerSec <= 0 {
		q.ReadBytesPerSec = defReadBytesPerSec
	}
	if q.ReadCallsPerSec <= 0 {
		q.ReadCallsPerSec = defReadCallsPerSec
	}
	return q
}

// shardQuota holds a shard's buckets; guarded by shardRT.qmu.
type shardQuota struct {
	init                              bool
	writeBytes, writeRecs, calls, its bucket
	debt                              float64 // read bytes owed, drains at read rate
	debtAt                            time.Time
	readRate                          float64
}

func (q *shardQuota) setup(qs Quotas, maxRecordKiB int, now time.Time) {
	qs = qs.effective()
	tank := float64(qs.WriteBytesPerSec)
	if m := float64(maxRecordKiB) * 1024; m > tank {
		tank = m
	}
	q.writeBytes = newBucket(float64(qs.WriteBytesPerSec), tank, now)
	q.writeRecs = newBucket(float64(qs.WriteRecordsPerSec), float64(qs.WriteRecordsPerSec), now)
	q.calls = newBucket(float64(qs.ReadCallsPerSec), float64(qs.ReadCallsPerSec), now)
	q.its = newBucket(float64(qs.ReadCallsPerSec), float64(qs.ReadCallsPerSec), now)
	q.readRate = float64(qs.ReadBytesPerSec)
	q.debtAt = now
	q.init = true
}

// admitWrite takes one record of size bytes from both write buckets, or neither. A full
// byte tank admits any record, even one larger than the tank (a maximum-size Data plus
// its partition key): the tank then goes negative and refills from there, so the record
// still costs its full size in time.
func (q *shardQuota) admitWrite(size int, now time.Time) bool {
	q.writeBytes.refill(now)
	q.writeRecs.refill(now)
	full := q.writeBytes.tokens >= q.writeBytes.capacity
	if (q.writeBytes.tokens < float64(size) && !full) || q.writeRecs.tokens < 1 {
		return false
	}
	q.writeBytes.tokens -= float64(size)
	q.writeRecs.tokens--
	return true
}

// admitRead takes a GetRecords call token; it needs zero read debt too.
func (q *shardQuota) admitRead(now time.Time) bool {
	if d := now.Sub(q.debtAt).Seconds(); d > 0 {
		q.debt -= d * q.readRate
		if q.debt < 0 {
			q.debt = 0
		}
		q.debtAt = now
	}
	if q.debt > 0 {
		return false
	}
	return q.calls.take(1, now)
}

func (q *shardQuota) chargeRead(bytes int) { q.debt += float64(bytes) }
