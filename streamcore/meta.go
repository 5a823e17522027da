package streamcore

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Metadata buckets. A stream is one JSON document (shards, consumers, tags, policy,
// pending transition) so every control operation is one Put in one Update transaction.
const (
	bucketStreams     = "streams"     // streamKeyID(key) → streamMeta JSON
	bucketCheckpoints = "checkpoints" // <stream id>/<group>/<shard id> → sequence number
	bucketSettings    = "settings"    // <account>/<name> → value (account settings, stored only)
)

func streamKeyID(k StreamKey) string { return k.Account + "/" + k.Region + "/" + k.Name }

// shardMeta is the durable description of one shard.
type shardMeta struct {
	Index      int     `json:"i"`
	Parent     int     `json:"p"`  // -1 = none
	Adjacent   int     `json:"ap"` // -1 = none
	Start      HashKey `json:"s"`
	End        HashKey `json:"e"`
	CreatedMs  int64   `json:"c"`
	CreatedSec int64   `json:"cs"` // creation second encoded in its sequence numbers
	ClosedMs   int64   `json:"x,omitempty"`
}

func (s *shardMeta) id() string        { return shardIDOf(s.Index) }
func (s *shardMeta) open() bool        { return s.ClosedMs == 0 }
func (s *shardMeta) rng() HashKeyRange { return HashKeyRange{Start: s.Start, End: s.End} }
func shardIDOf(i int) string           { return fmt.Sprintf("shardId-%012d", i) }
func (s *shardMeta) seq(ix uint64, arrivalMs int64) string {
	return seqNum{CreatedSec: s.CreatedSec, Index: s.Index, SeqIx: ix, ArrivalSec: arrivalMs / 1000}.String()
}

// seqs is seq for the n records from ix on, appended together.
func (s *shardMeta) seqs(ix uint64, n int, arrivalMs int64) []string {
	return seqNum{CreatedSec: s.CreatedSec, Index: s.Index, SeqIx: ix, ArrivalSec: arrivalMs / 1000}.run(n)
}

func (h HashKey) MarshalJSON() ([]byte, error) { return json.Marshal(h.String()) }
func (h *HashKey) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseHashKey(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

type consumerMeta struct {
	Name      string            `json:"n"`
	CreatedMs int64             `json:"c"`
	Status    string            `json:"st"`
	Tags      map[string]string `json:"t,omitempty"`
	Policy    string            `json:"pol,omitempty"`
}

// pendingOp is a control change accepted while the stream is UPDATING/CREATING/DELETING
// and applied, in one transaction, when its timer fires (or on restart).
type pendingOp struct {
	Kind     string `json:"k"`           // split | splits | merge | count | mode | encrypt | noop
	Shards   []int  `json:"s,omitempty"` // splits: each shard split at the middle of its range
	ShardA   int    `json:"a,omitempty"`
	ShardB   int    `json:"b,omitempty"`
	HashKey  string `json:"h,omitempty"`
	Target   int    `json:"n,omitempty"`
	Mode     string `json:"m,omitempty"`
	KeyID    string `json:"key,omitempty"`
	Encrypt  bool   `json:"enc,omitempty"`
	DueMs    int64  `json:"due"`
	Consumer string `json:"cn,omitempty"`
}

type streamMeta struct {
	Account          string            `json:"acct"`
	Region           string            `json:"region"`
	Name             string            `json:"name"`
	ID               string            `json:"id"`
	Status           StreamStatus      `json:"status"`
	Mode             StreamMode        `json:"mode"`
	CreatedMs        int64             `json:"created"`
	RetentionHours   int               `json:"ret"`
	MaxRecordSizeKiB int               `json:"maxrec"`
	Shards           []shardMeta       `json:"shards"`
	NextIndex        int               `json:"next"`
	EncryptionType   string            `json:"enc"`
	KeyID            string            `json:"key,omitempty"`
	Metrics          []string          `json:"metrics,omitempty"`
	WarmMiBps        int64             `json:"warm,omitempty"` // UpdateStreamWarmThroughput (stored only)
	Distribution     Distribution      `json:"dist,omitempty"` // "" = DistributeByKey
	Quotas           Quotas            `json:"quotas"`
	Tags             map[string]string `json:"tags,omitempty"`
	Policy           string            `json:"policy,omitempty"`
	Consumers        []consumerMeta    `json:"consumers,omitempty"`
	Pending          *pendingOp        `json:"pending,omitempty"`
	// Scalings are the times (ms) of recent UpdateShardCount calls (10 per rolling 24 h).
	Scalings []int64 `json:"scalings,omitempty"`
	// ConsumerDue holds consumer transitions: name → due ms.
	ConsumerDue map[string]int64 `json:"cdue,omitempty"`
}

func (m *streamMeta) key() StreamKey {
	return StreamKey{Account: m.Account, Region: m.Region, Name: m.Name}
}

func (m *streamMeta) clone() *streamMeta {
	b, _ := json.Marshal(m)
	var c streamMeta
	_ = json.Unmarshal(b, &c)
	return &c
}

func (m *streamMeta) shard(index int) *shardMeta {
	for i := range m.Shards {
		if m.Shards[i].Index == index {
			return &m.Shards[i]
		}
	}
	return nil
}

func (m *streamMeta) retentionMs() int64 { return int64(m.RetentionHours) * 3600_000 }

// expired reports whether a closed shard has passed close+retention.
func (m *streamMeta) expired(s *shardMeta, nowMs int64) bool {
	return !s.open() && s.ClosedMs+m.retentionMs() <= nowMs
}

// openShards returns the open shards in hash order.
func (m *streamMeta) openShards() []*shardMeta {
	var out []*shardMeta
	for i := range m.Shards {
		if m.Shards[i].open() {
			out = append(out, &m.Shards[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Cmp(out[j].Start) < 0 })
	return out
}

func (m *streamMeta) children(index int) []*shardMeta {
	var out []*shardMeta
	for i := range m.Shards {
		s := &m.Shards[i]
		if s.Parent == index || s.Adjacent == index {
			out = append(out, s)
		}
	}
	return out
}

func (m *streamMeta) toShard(s *shardMeta) Shard {
	out := Shard{
		ShardID:          s.id(),
		Index:            s.Index,
		HashKeyRange:     s.rng(),
		StartingSequence: s.seq(0, s.CreatedSec*1000),
		CreatedAt:        time.UnixMilli(s.CreatedMs).UTC(),
	}
	if s.Parent >= 0 {
		out.ParentShardID = shardIDOf(s.Parent)
	}
	if s.Adjacent >= 0 {
		out.AdjacentParentShardID = shardIDOf(s.Adjacent)
	}
	if !s.open() {
		out.EndingSequence = s.seq(seqIxEnd, s.ClosedMs)
		out.ClosedAt = time.UnixMilli(s.ClosedMs).UTC()
	}
	return out
}

func (m *streamMeta) childShards(index int) []ChildShard {
	var out []ChildShard
	for _, c := range m.children(index) {
		cs := ChildShard{ShardID: c.id(), HashKeyRange: c.rng()}
		if c.Parent >= 0 {
			cs.ParentShards = append(cs.ParentShards, shardIDOf(c.Parent))
		}
		if c.Adjacent >= 0 {
			cs.ParentShards = append(cs.ParentShards, shardIDOf(c.Adjacent))
		}
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShardID < out[j].ShardID })
	return out
}

func (m *streamMeta) describe(nowMs int64) StreamDescription {
	d := StreamDescription{
		Key:               m.key(),
		StreamID:          m.ID,
		Status:            m.Status,
		Mode:              m.Mode,
		CreatedAt:         time.UnixMilli(m.CreatedMs).UTC(),
		RetentionHours:    m.RetentionHours,
		MaxRecordSizeKiB:  m.MaxRecordSizeKiB,
		EncryptionType:    m.EncryptionType,
		KeyID:             m.KeyID,
		ShardLevelMetrics: append([]string(nil), m.Metrics...),
		WarmMiBps:         m.WarmMiBps,
		Distribution:      m.distribution(),
		Quotas:            m.Quotas,
		Shards:            []Shard{},
	}
	for _, c := range m.Consumers {
		if c.Status != "DELETING" {
			d.ConsumerCount++
		}
	}
	if m.Status == StatusCreating {
		return d
	}
	for i := range m.Shards {
		s := &m.Shards[i]
		if s.open() {
			d.OpenShardCount++
		}
		if !m.expired(s, nowMs) {
			d.Shards = append(d.Shards, m.toShard(s))
		}
	}
	sort.Slice(d.Shards, func(i, j int) bool { return d.Shards[i].Index < d.Shards[j].Index })
	return d
}

// distribution is the stream's record distribution strategy ("" in older metadata is
// the default).
func (m *streamMeta) distribution() Distribution {
	if m.Distribution == "" {
		return DistributeByKey
	}
	return m.Distribution
}
