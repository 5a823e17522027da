package streamcore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

const maxConsumers = 20

func consumerARN(key StreamKey, c *consumerMeta) string {
	return fmt.Sprintf("%s/consumer/%s:%d", key.ARN(), c.Name, c.CreatedMs/1000)
}

func (m *streamMeta) consumer(name string) *consumerMeta {
	for i := range m.Consumers {
		if m.Consumers[i].Name == name {
			return &m.Consumers[i]
		}
	}
	return nil
}

func toConsumer(key StreamKey, c *consumerMeta) Consumer {
	return Consumer{Name: c.Name, ARN: consumerARN(key, c), Status: c.Status, CreatedAt: time.UnixMilli(c.CreatedMs).UTC(), StreamARN: key.ARN()}
}

func errConsumerNotFound(arn string) *Error {
	return newErr(CodeResourceNotFound, "Consumer %s not found.", arn)
}

// RegisterConsumer registers a named consumer (CREATING, then ACTIVE after ConsumerDelay).
func (e *Engine) RegisterConsumer(ctx context.Context, key StreamKey, name string) (Consumer, error) {
	var out Consumer
	err := e.modify(ctx, key, func(m *streamMeta) error {
		if m.Status == StatusCreating || m.Status == StatusDeleting {
			return errNotActive(key, m.Status)
		}
		if m.consumer(name) != nil {
			return newErr(CodeResourceInUse, "Consumer %s already exists for stream %s under account %s.", name, key.Name, key.Account)
		}
		if len(m.Consumers) >= maxConsumers {
			return newErr(CodeLimitExceeded, "Consumer limit of %d reached for stream %s under account %s.", maxConsumers, key.Name, key.Account)
		}
		c := consumerMeta{Name: name, CreatedMs: e.nowMs(), Status: "ACTIVE"}
		if e.opts.ConsumerDelay > 0 {
			c.Status = "CREATING"
			if m.ConsumerDue == nil {
				m.ConsumerDue = map[string]int64{}
			}
			m.ConsumerDue[name] = dueIn(e.opts.ConsumerDelay)
		}
		m.Consumers = append(m.Consumers, c)
		out = toConsumer(key, &c)
		return nil
	})
	return out, err
}

// DeregisterConsumer removes a consumer (DELETING first when ConsumerDelay > 0).
func (e *Engine) DeregisterConsumer(ctx context.Context, key StreamKey, name string) error {
	return e.modify(ctx, key, func(m *streamMeta) error {
		c := m.consumer(name)
		if c == nil {
			return errConsumerNotFound(key.ARN() + "/consumer/" + name)
		}
		if e.opts.ConsumerDelay > 0 {
			if c.Status == "DELETING" {
				return nil
			}
			c.Status = "DELETING"
			if m.ConsumerDue == nil {
				m.ConsumerDue = map[string]int64{}
			}
			m.ConsumerDue[name] = dueIn(e.opts.ConsumerDelay)
			return nil
		}
		for i := range m.Consumers {
			if m.Consumers[i].Name == name {
				m.Consumers = append(m.Consumers[:i], m.Consumers[i+1:]...)
				break
			}
		}
		delete(m.ConsumerDue, name)
		return nil
	})
}

// DescribeConsumer returns one consumer of the stream.
func (e *Engine) DescribeConsumer(ctx context.Context, key StreamKey, name string) (Consumer, error) {
	_, sn, err := e.snapshot(key)
	if err != nil {
		return Consumer{}, err
	}
	c := sn.meta.consumer(name)
	if c == nil {
		return Consumer{}, errConsumerNotFound(key.ARN() + "/consumer/" + name)
	}
	return toConsumer(key, c), nil
}

// parseConsumerARN splits arn:aws:kinesis:<region>:<account>:stream/<s>/consumer/<name>:<epoch>.
func parseConsumerARN(arn string) (StreamKey, string, bool) {
	key, rest, ok := parseStreamARN(arn)
	if !ok || !strings.HasPrefix(rest, "/consumer/") {
		return StreamKey{}, "", false
	}
	rest = rest[len("/consumer/"):]
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return StreamKey{}, "", false
	}
	if _, err := strconv.ParseInt(rest[i+1:], 10, 64); err != nil {
		return StreamKey{}, "", false
	}
	return key, rest[:i], true
}

// parseStreamARN splits a stream ARN; rest is what follows the stream name.
func parseStreamARN(arn string) (StreamKey, string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" || !strings.HasPrefix(parts[5], "stream/") {
		return StreamKey{}, "", false
	}
	res := parts[5][len("stream/"):]
	name, rest := res, ""
	if i := strings.IndexByte(res, '/'); i >= 0 {
		name, rest = res[:i], res[i:]
	}
	if name == "" {
		return StreamKey{}, "", false
	}
	// A consumer ARN's last colon-separated field belongs to rest.
	if rest == "" && strings.Contains(name, ":") {
		return StreamKey{}, "", false
	}
	return StreamKey{Account: parts[4], Region: parts[3], Name: name}, rest, true
}

// ConsumerByARN finds a consumer by its ARN.
func (e *Engine) ConsumerByARN(ctx context.Context, arn string) (StreamKey, Consumer, error) {
	key, name, ok := parseConsumerARN(arn)
	if !ok {
		return StreamKey{}, Consumer{}, errConsumerNotFound(arn)
	}
	// the ARN's epoch is after the last colon of the whole ARN
	if i := strings.LastIndexByte(arn, ':'); i > 0 {
		name = arn[strings.Index(arn, "/consumer/")+len("/consumer/") : i]
	}
	_, sn, err := e.snapshot(key)
	if err != nil {
		return StreamKey{}, Consumer{}, errConsumerNotFound(arn)
	}
	c := sn.meta.consumer(name)
	if c == nil || consumerARN(key, c) != arn {
		return StreamKey{}, Consumer{}, errConsumerNotFound(arn)
	}
	return key, toConsumer(key, c), nil
}

// ListConsumers lists the stream's consumers by creation time.
func (e *Engine) ListConsumers(ctx context.Context, key StreamKey) ([]Consumer, error) {
	_, sn, err := e.snapshot(key)
	if err != nil {
		return nil, err
	}
	out := []Consumer{}
	for i := range sn.meta.Consumers {
		out = append(out, toConsumer(key, &sn.meta.Consumers[i]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// CommitCheckpoints stores the group's positions in several shards in one transaction.
func (e *Engine) CommitCheckpoints(ctx context.Context, key StreamKey, group string, cps []Checkpoint) error {
	_, sn, err := e.snapshot(key)
	if err != nil {
		return err
	}
	m := sn.meta
	for _, cp := range cps {
		idx, ok := parseShardID(cp.ShardID)
		if !ok || m.shard(idx) == nil {
			return errNoShard(key, cp.ShardID)
		}
		sm := m.shard(idx)
		n, kind := parseSeqNum(cp.SequenceNumber)
		if kind != seqOK || n.Index != idx || n.CreatedSec != sm.CreatedSec {
			return newErr(CodeInvalidArgument, "Checkpoint %s for shard %s in stream %s under account %s is not a sequence number of that shard.", cp.SequenceNumber, sm.id(), key.Name, key.Account)
		}
	}
	err = e.store.Update(ctx, func(tx MetaTx) error {
		for _, cp := range cps {
			idx, _ := parseShardID(cp.ShardID)
			if err := tx.Put(bucketCheckpoints, m.ID+"/"+group+"/"+shardIDOf(idx), []byte(cp.SequenceNumber)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return internalErr(err)
	}
	return nil
}

// Checkpoints returns the group's committed positions: shard id → sequence number.
func (e *Engine) Checkpoints(ctx context.Context, key StreamKey, group string) (map[string]string, error) {
	_, sn, err := e.snapshot(key)
	if err != nil {
		return nil, err
	}
	prefix := sn.meta.ID + "/" + group + "/"
	out := map[string]string{}
	err = e.store.View(ctx, func(tx MetaTx) error {
		return tx.ForEach(bucketCheckpoints, func(k string, v []byte) error {
			if strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "/") {
				out[k[len(prefix):]] = string(v)
			}
			return nil
		})
	})
	if err != nil {
		return nil, internalErr(err)
	}
	return out, nil
}

// --- tags and resource policies (stream or consumer ARN) ---------------------------

// onResource runs fn on the stream or consumer an ARN names; write=false skips the commit.
func (e *Engine) onResource(ctx context.Context, arn string, write bool, fn func(m *streamMeta, tags *map[string]string, policy *string) error) error {
	key, rest, ok := parseStreamARN(arn)
	if !ok {
		return newErr(CodeInvalidArgument, "Invalid ARN %s.", arn)
	}
	isConsumer := rest != ""
	apply := func(m *streamMeta) error {
		if !isConsumer {
			return fn(m, &m.Tags, &m.Policy)
		}
		_, name, ok := parseConsumerARN(arn)
		if !ok {
			return errConsumerNotFound(arn)
		}
		name = arn[strings.Index(arn, "/consumer/")+len("/consumer/") : strings.LastIndexByte(arn, ':')]
		c := m.consumer(name)
		if c == nil || consumerARN(key, c) != arn {
			return errConsumerNotFound(arn)
		}
		return fn(m, &c.Tags, &c.Policy)
	}
	if !write {
		_, sn, err := e.snapshot(key)
		if err != nil {
			if isConsumer {
				return errConsumerNotFound(arn)
			}
			return err
		}
		return apply(sn.meta.clone())
	}
	err := e.modify(ctx, key, apply)
	if isConsumer && CodeOf(err) == CodeResourceNotFound {
		return errConsumerNotFound(arn)
	}
	return err
}

// AddTags adds or overwrites tags (50 at most per resource).
func (e *Engine) AddTags(ctx context.Context, arn string, tags map[string]string) error {
	return e.onResource(ctx, arn, true, func(m *streamMeta, t *map[string]string, _ *string) error {
		if err := checkTags(m.key(), *t, tags); err != nil {
			return err
		}
		if *t == nil {
			*t = map[string]string{}
		}
		for k, v := range tags {
			(*t)[k] = v
		}
		return nil
	})
}

// RemoveTags removes tag keys; unknown keys are ignored.
func (e *Engine) RemoveTags(ctx context.Context, arn string, keys []string) error {
	return e.onResource(ctx, arn, true, func(m *streamMeta, t *map[string]string, _ *string) error {
		for _, k := range keys {
			delete(*t, k)
		}
		return nil
	})
}

// ListTags returns the resource's tags.
func (e *Engine) ListTags(ctx context.Context, arn string) (map[string]string, error) {
	out := map[string]string{}
	err := e.onResource(ctx, arn, false, func(m *streamMeta, t *map[string]string, _ *string) error {
		for k, v := range *t {
			out[k] = v
		}
		return nil
	})
	return out, err
}

// PutResourcePolicy stores a policy document verbatim.
func (e *Engine) PutResourcePolicy(ctx context.Context, arn, policy string) error {
	return e.onResource(ctx, arn, true, func(_ *streamMeta, _ *map[string]string, p *string) error {
		*p = policy
		return nil
	})
}

// GetResourcePolicy returns the policy, "" when none.
func (e *Engine) GetResourcePolicy(ctx context.Context, arn string) (string, error) {
	var out string
	err := e.onResource(ctx, arn, false, func(_ *streamMeta, _ *map[string]string, p *string) error {
		out = *p
		return nil
	})
	return out, err
}

// DeleteResourcePolicy removes the policy. A resource without one is ResourceNotFound, as
// on AWS (the message is Sluice's: AWS's text is not on record).
func (e *Engine) DeleteResourcePolicy(ctx context.Context, arn string) error {
	return e.onResource(ctx, arn, true, func(_ *streamMeta, _ *map[string]string, p *string) error {
		if *p == "" {
			return newErr(CodeResourceNotFound, "No resource policy is attached to %s.", arn)
		}
		*p = ""
		return nil
	})
}
