package kinesisapi

import (
	"sync"
	"time"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

// Control-plane call quotas per account, region and operation per second (reference §6);
// ListShards is counted per stream. Over the quota → LimitExceededException "Rate exceeded".
var controlRates = map[string]float64{
	"CreateStream": 5, "DeleteStream": 5, "MergeShards": 5, "SplitShard": 5, "UpdateShardCount": 5,
	"AddTagsToStream": 5, "RemoveTagsFromStream": 5, "ListTagsForStream": 5,
	"TagResource": 5, "UntagResource": 5, "ListTagsForResource": 5,
	"RegisterStreamConsumer": 5, "DeregisterStreamConsumer": 5,
	"DescribeStream": 10, "DescribeStreamSummary": 20, "DescribeStreamConsumer": 20,
	"ListStreams": 5, "DescribeLimits": 1, "ListShards": 1000,
}

type bucket struct {
	tokens float64
	last   time.Time
}

type rateLimiter struct {
	mu sync.Mutex
	m  map[string]*bucket
}

// allow takes one token from the bucket named key refilling at rate per second.
func (l *rateLimiter) allow(key string, rate float64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*bucket{}
	}
	b, ok := l.m[key]
	if !ok {
		if len(l.m) > 100000 { // forget idle buckets rather than grow without bound
			l.m = map[string]*bucket{}
		}
		b = &bucket{tokens: rate, last: now}
		l.m[key] = b
	}
	b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// controlQuota applies the control-plane quota of op; resource names the stream for
// ListShards.
func (rc *reqCtx) controlQuota(op, resource string) *awsproto.Error {
	rate, ok := controlRates[op]
	if !ok || rc.h == nil || rc.h.opts.NoControlPlaneLimits {
		return nil
	}
	key := rc.id.Account + "/" + rc.id.Region + "/" + op
	if op == "ListShards" {
		key += "/" + resource
	}
	if !rc.h.limiter.allow(key, rate, time.Now()) {
		return awsproto.NewError("LimitExceededException", "Rate exceeded")
	}
	return nil
}
