package streamcore

import (
	"context"
	"sort"
	"time"
	"unicode"
)

const (
	minRetentionHours = 24
	maxRetentionHours = 8760
	onDemandShards    = 4
)

func checkRetentionRange(h int) error {
	if h < minRetentionHours {
		return newErr(CodeInvalidArgument, "Minimum allowed retention period is 24 hours. Requested retention period (%d hours) is too short.", h)
	}
	if h > maxRetentionHours {
		return newErr(CodeInvalidArgument, "Maximum allowed retention period is 8760 hours. Requested retention period (%d hours) is too long.", h)
	}
	return nil
}

func checkMaxRecordSize(kib int) error {
	if kib < 1024 || kib > 10240 {
		return newErr(CodeInvalidArgument, "MaxRecordSizeInKiB %d is out of range: it must be between 1024 and 10240.", kib)
	}
	return nil
}

// CreateStream creates a stream in CREATING; it turns ACTIVE after Options.CreateDelay.
func (e *Engine) CreateStream(ctx context.Context, key StreamKey, o CreateOptions) error {
	if o.RetentionHours == 0 {
		o.RetentionHours = minRetentionHours
	}
	if err := checkRetentionRange(o.RetentionHours); err != nil {
		return err
	}
	if o.MaxRecordSizeKiB == 0 {
		o.MaxRecordSizeKiB = 1024
	}
	if err := checkMaxRecordSize(o.MaxRecordSizeKiB); err != nil {
		return err
	}
	if o.Mode == "" {
		o.Mode = ModeProvisioned
		if o.ShardCount == 0 {
			o.Mode = ModeOnDemand
		}
	}
	n := o.ShardCount
	if o.Mode == ModeOnDemand {
		n = onDemandShards
	}
	switch o.Distribution {
	case "", DistributeByKey:
		o.Distribution = ""
	case DistributeAuto:
		if o.Mode != ModeOnDemand {
			return errAutoNeedsOnDemand(key)
		}
	default:
		return newErr(CodeInvalidArgument, "Unknown record distribution strategy %s.", o.Distribution)
	}
	if n < 1 {
		return newErr(CodeInvalidArgument, "ShardCount must be at least 1 for stream %s under account %s in PROVISIONED capacity mode.", key.Name, key.Account)
	}
	if err := checkTags(key, nil, o.Tags); err != nil {
		return err
	}
	e.ctl.Lock()
	defer e.ctl.Unlock()
	if e.lookup(key) != nil {
		return newErr(CodeResourceInUse, "Stream %s under account %s already exists.", key.Name, key.Account)
	}
	if err := e.checkShardLimit(key, n); err != nil {
		return err
	}
	if o.Mode == ModeOnDemand {
		if _, od := e.accountOpenShards(key.Account, key.Region); od >= e.opts.OnDemandStreamLimit {
			return newErr(CodeLimitExceeded, "This request would exceed the on-demand stream limit for the account %s in %s. Current on-demand stream count for the account: %d. Limit: %d.", key.Account, key.Region, od, e.opts.OnDemandStreamLimit)
		}
	}
	nowMs := e.nowMs()
	m := &streamMeta{
		Account: key.Account, Region: key.Region, Name: key.Name, ID: newStreamID(),
		Mode: o.Mode, CreatedMs: nowMs, RetentionHours: o.RetentionHours, MaxRecordSizeKiB: o.MaxRecordSizeKiB,
		EncryptionType: "NONE", Quotas: o.Quotas, WarmMiBps: o.WarmMiBps, Distribution: o.Distribution,
	}
	if len(o.Tags) > 0 {
		m.Tags = map[string]string{}
		for k, v := range o.Tags {
			m.Tags[k] = v
		}
	}
	for _, r := range EvenRanges(n) {
		m.addShard(r, -1, -1, nowMs, nowMs/1000)
	}
	e.begin(m, pendingOp{Kind: "create"}, StatusCreating, e.opts.CreateDelay)
	rt := &streamRT{key: key, label: streamKeyID(key), shards: map[int]*shardRT{}}
	if err := e.commitLocked(ctx, rt, m, nil); err != nil {
		return err
	}
	e.mu.Lock()
	e.streams[rt.label] = rt
	e.mu.Unlock()
	return nil
}

// DeleteStream deletes a stream (after Options.DeleteDelay in DELETING).
func (e *Engine) DeleteStream(ctx context.Context, key StreamKey, enforceConsumerDeletion bool) error {
	e.ctl.Lock()
	defer e.ctl.Unlock()
	rt := e.lookup(key)
	if rt == nil {
		return errStreamNotFound(key)
	}
	m := rt.snap.Load().meta.clone()
	if m.Status == StatusDeleting {
		return errStreamNotFound(key)
	}
	if len(m.Consumers) > 0 && !enforceConsumerDeletion {
		return newErr(CodeResourceInUse, "Stream %s under account %s has registered consumers; set EnforceConsumerDeletion to delete it.", key.Name, key.Account)
	}
	if e.opts.DeleteDelay <= 0 {
		return e.removeStreamLocked(ctx, rt, m)
	}
	m.Status = StatusDeleting
	m.Pending = &pendingOp{Kind: "delete", DueMs: dueIn(e.opts.DeleteDelay)}
	return e.commitLocked(ctx, rt, m, nil)
}

// DescribeStream returns the stream with all its unexpired shards.
func (e *Engine) DescribeStream(ctx context.Context, key StreamKey) (StreamDescription, error) {
	_, sn, err := e.snapshot(key)
	if err != nil {
		return StreamDescription{}, err
	}
	return sn.meta.describe(e.nowMs()), nil
}

// ListStreams lists the streams of account in region by name; Shards is nil.
func (e *Engine) ListStreams(ctx context.Context, account, region string) ([]StreamDescription, error) {
	e.mu.RLock()
	var out []StreamDescription
	for _, rt := range e.streams {
		if rt.key.Account == account && rt.key.Region == region {
			d := rt.snap.Load().meta.describe(e.nowMs())
			d.Shards = nil
			out = append(out, d)
		}
	}
	e.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key.Name < out[j].Key.Name })
	return out, nil
}

// ListShards lists unexpired shards matching f, in index order (reference §7).
func (e *Engine) ListShards(ctx context.Context, key StreamKey, f ShardFilter) ([]Shard, error) {
	_, sn, err := e.snapshot(key)
	if err != nil {
		return nil, err
	}
	m := sn.meta
	if m.Status == StatusCreating {
		return nil, errNotActive(key, m.Status)
	}
	nowMs := e.nowMs()
	openAt := func(s *shardMeta, t int64) bool { return s.CreatedMs <= t && (s.open() || s.ClosedMs > t) }
	t0 := nowMs - m.retentionMs()
	if t0 < m.CreatedMs {
		t0 = m.CreatedMs
	}
	var keep func(s *shardMeta) bool
	switch f.Type {
	case "", "FROM_TRIM_HORIZON":
		keep = func(*shardMeta) bool { return true }
	case "AT_LATEST":
		keep = func(s *shardMeta) bool { return s.open() }
	case "AT_TRIM_HORIZON":
		keep = func(s *shardMeta) bool { return openAt(s, t0) }
	case "AT_TIMESTAMP", "FROM_TIMESTAMP":
		if f.Timestamp.IsZero() {
			return nil, newErr(CodeInvalidArgument, "ShardFilter %s requires Timestamp.", f.Type)
		}
		t := f.Timestamp.UnixMilli()
		if t < m.CreatedMs {
			t = m.CreatedMs
		}
		if f.Type == "AT_TIMESTAMP" {
			keep = func(s *shardMeta) bool { return openAt(s, t) }
		} else {
			keep = func(s *shardMeta) bool { return openAt(s, t) || s.CreatedMs > t }
		}
	case "AFTER_SHARD_ID":
		if f.ShardID == "" {
			return nil, newErr(CodeInvalidArgument, "ShardFilter AFTER_SHARD_ID requires ShardId.")
		}
		after, ok := parseShardID(f.ShardID)
		if !ok {
			return nil, errNoShard(key, f.ShardID)
		}
		keep = func(s *shardMeta) bool { return s.Index > after }
	default:
		return nil, newErr(CodeInvalidArgument, "ShardFilter type %s is not supported.", f.Type)
	}
	out := []Shard{}
	for i := range m.Shards {
		s := &m.Shards[i]
		if !m.expired(s, nowMs) && keep(s) {
			out = append(out, m.toShard(s))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

func (e *Engine) settable(m *streamMeta) error {
	if m.Status != StatusActive {
		return errNotActive(m.key(), m.Status)
	}
	return nil
}

// UpdateStreamMode switches capacity mode, keeping the shards.
func (e *Engine) UpdateStreamMode(ctx context.Context, key StreamKey, mode StreamMode) error {
	if mode != ModeProvisioned && mode != ModeOnDemand {
		return newErr(CodeInvalidArgument, "Unknown stream mode %s.", mode)
	}
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.settable(m); err != nil {
			return err
		}
		if mode == ModeProvisioned && m.distribution() == DistributeAuto {
			return newErr(CodeInvalidArgument, "Stream %s under account %s uses the AUTO record distribution strategy, which needs ON_DEMAND capacity mode: set it to USER_PARTITION_KEY with UpdateStreamRecordDistributionStrategy first.", key.Name, key.Account)
		}
		if mode == ModeOnDemand && m.Mode != ModeOnDemand {
			if _, od := e.accountOpenShards(key.Account, key.Region); od >= e.opts.OnDemandStreamLimit {
				return newErr(CodeLimitExceeded, "This request would exceed the on-demand stream limit for the account %s in %s. Current on-demand stream count for the account: %d. Limit: %d.", key.Account, key.Region, od, e.opts.OnDemandStreamLimit)
			}
		}
		e.begin(m, pendingOp{Kind: "mode", Mode: string(mode)}, StatusUpdating, e.opts.UpdateDelay)
		return nil
	})
}

// IncreaseRetention raises the retention period; immediate, the stream stays ACTIVE.
func (e *Engine) IncreaseRetention(ctx context.Context, key StreamKey, hours int) error {
	return e.setRetention(ctx, key, hours, true)
}

// DecreaseRetention lowers the retention period; immediate.
func (e *Engine) DecreaseRetention(ctx context.Context, key StreamKey, hours int) error {
	return e.setRetention(ctx, key, hours, false)
}

func (e *Engine) setRetention(ctx context.Context, key StreamKey, hours int, increase bool) error {
	if err := checkRetentionRange(hours); err != nil {
		return err
	}
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.settable(m); err != nil {
			return err
		}
		if increase && hours < m.RetentionHours {
			return newErr(CodeInvalidArgument, "Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", hours, key.Name, m.RetentionHours)
		}
		if !increase && hours > m.RetentionHours {
			return newErr(CodeInvalidArgument, "Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", hours, key.Name, m.RetentionHours)
		}
		m.RetentionHours = hours
		return nil
	})
}

func errAutoNeedsOnDemand(key StreamKey) error {
	return newErr(CodeInvalidArgument, "The AUTO record distribution strategy is supported only for streams in ON_DEMAND capacity mode; stream %s under account %s is PROVISIONED.", key.Name, key.Account)
}

// UpdateRecordDistribution sets how put records find their shard from now on; immediate,
// the stream stays ACTIVE. DistributeAuto needs an ON_DEMAND stream.
func (e *Engine) UpdateRecordDistribution(ctx context.Context, key StreamKey, d Distribution) error {
	if d != DistributeByKey && d != DistributeAuto {
		return newErr(CodeInvalidArgument, "Unknown record distribution strategy %s.", d)
	}
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.settable(m); err != nil {
			return err
		}
		if d == DistributeAuto && m.Mode != ModeOnDemand {
			return errAutoNeedsOnDemand(key)
		}
		m.Distribution = d
		if d == DistributeByKey {
			m.Distribution = ""
		}
		return nil
	})
}

// UpdateMaxRecordSize changes the largest accepted record; immediate.
func (e *Engine) UpdateMaxRecordSize(ctx context.Context, key StreamKey, kib int) error {
	if err := checkMaxRecordSize(kib); err != nil {
		return err
	}
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.settable(m); err != nil {
			return err
		}
		m.MaxRecordSizeKiB = kib
		return nil
	})
}

// StartEncryption seals new records with keyID (a keyring entry) from now on.
func (e *Engine) StartEncryption(ctx context.Context, key StreamKey, keyID string) error {
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.settable(m); err != nil {
			return err
		}
		if !e.seal.has(keyID) {
			return newErr(CodeKMSNotFound, "Key '%s' does not exist in the keyring.", keyID)
		}
		e.begin(m, pendingOp{Kind: "encrypt", Encrypt: true, KeyID: keyID}, StatusUpdating, e.opts.UpdateDelay)
		return nil
	})
}

// StopEncryption stops sealing new records; existing ones stay readable.
func (e *Engine) StopEncryption(ctx context.Context, key StreamKey) error {
	return e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.settable(m); err != nil {
			return err
		}
		e.begin(m, pendingOp{Kind: "encrypt"}, StatusUpdating, e.opts.UpdateDelay)
		return nil
	})
}

// AllShardLevelMetrics is what "ALL" stands for.
var AllShardLevelMetrics = []string{"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"}

// SetShardLevelMetrics enables or disables enhanced-monitoring metrics (stored only).
func (e *Engine) SetShardLevelMetrics(ctx context.Context, key StreamKey, enable bool, metrics []string) (current, desired []string, err error) {
	err = e.modify(ctx, key, func(m *streamMeta) error {
		if err := e.settable(m); err != nil {
			return err
		}
		current = append([]string{}, m.Metrics...)
		set := map[string]bool{}
		for _, x := range m.Metrics {
			set[x] = true
		}
		for _, x := range metrics {
			names := []string{x}
			if x == "ALL" {
				names = AllShardLevelMetrics
			}
			for _, n := range names {
				set[n] = enable
			}
		}
		m.Metrics = nil
		for _, n := range AllShardLevelMetrics {
			if set[n] {
				m.Metrics = append(m.Metrics, n)
			}
		}
		desired = append([]string{}, m.Metrics...)
		return nil
	})
	return current, desired, err
}

// SetQuotas replaces the stream's per-shard quotas (a Sluice setting from the config file;
// Kinesis has no API for it). The shards' buckets take the new limits on their next use.
// changed is false when q equals the quotas in force.
func (e *Engine) SetQuotas(ctx context.Context, key StreamKey, q Quotas) (changed bool, err error) {
	err = e.modify(ctx, key, func(m *streamMeta) error {
		if m.Quotas == q {
			return errNoChange
		}
		m.Quotas = q
		return nil
	})
	if err == errNoChange {
		return false, nil
	}
	return err == nil, err
}

// SetWarmThroughput stores UpdateStreamWarmThroughput's target (it has no effect: Sluice
// does not pre-warm).
func (e *Engine) SetWarmThroughput(ctx context.Context, key StreamKey, mibps int64) error {
	return e.modify(ctx, key, func(m *streamMeta) error {
		m.WarmMiBps = mibps
		return nil
	})
}

// SetAccountSetting stores an account-level setting (UpdateAccountSettings; stored only).
func (e *Engine) SetAccountSetting(ctx context.Context, account, name, value string) error {
	return e.store.Update(ctx, func(tx MetaTx) error {
		return tx.Put(bucketSettings, account+"/"+name, []byte(value))
	})
}

// AccountSetting returns a stored account setting, ok=false when it was never set.
func (e *Engine) AccountSetting(ctx context.Context, account, name string) (value string, ok bool, err error) {
	err = e.store.View(ctx, func(tx MetaTx) error {
		if v := tx.Get(bucketSettings, account+"/"+name); v != nil {
			value, ok = string(v), true
		}
		return nil
	})
	return value, ok, err
}

// DescribeLimits reports the account's shard and on-demand limits in region.
func (e *Engine) DescribeLimits(ctx context.Context, account, region string) (Limits, error) {
	open, od := e.accountOpenShards(account, region)
	return Limits{ShardLimit: e.opts.ShardLimit, OpenShardCount: open, OnDemandStreamCount: od, OnDemandStreamCountLimit: e.opts.OnDemandStreamLimit}, nil
}

func checkTags(key StreamKey, existing, add map[string]string) error {
	n := len(existing)
	for k := range add {
		if _, ok := existing[k]; !ok {
			n++
		}
	}
	if n > 50 {
		return newErr(CodeInvalidArgument, "Failed to add tags to stream %s under account %s because a given stream cannot have more than 50 tags associated with it.", key.Name, key.Account)
	}
	for k, v := range add {
		if !tagText(k) || !tagText(v) {
			return newErr(CodeInvalidArgument, "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - %% @.")
		}
	}
	return nil
}

func tagText(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) {
			continue
		}
		switch r {
		case '_', '.', '/', '=', '+', '-', '%', '@', ',', ':': // AWS's set, plus ',' and ':' that Sluice took before
			continue
		}
		return false
	}
	return true
}

var _ = time.Second
