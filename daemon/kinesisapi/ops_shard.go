package kinesisapi

import (
	"regexp"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

var reHashKey = regexp.MustCompile(`^(0|([1-9]\d{0,38}))$`)

const patHashKey = `0|([1-9]\d{0,38})`

// validateShardID checks a required shard id member.
func validateShardID(v *awsproto.Validation, path, id string, has bool) {
	if v.Required(path, has) {
		checkShardID(v, path, id)
	}
}

// checkShardID checks the length and pattern of a shard id member that is present.
func checkShardID(v *awsproto.Validation, path, id string) {
	v.Length(path, id, 1, 128)
	v.Pattern(path, id, reName, patName) // "" breaks the pattern too, as AWS lists
}

func opSplitShard(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	shard, hasShard := f.Str("ShardToSplit")
	hk, hasHK := f.Str("NewStartingHashKey")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	validateShardID(&v, "shardToSplit", shard, hasShard)
	if v.Required("newStartingHashKey", hasHK) {
		v.Pattern("newStartingHashKey", hk, reHashKey, patHashKey)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "SplitShard")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.SplitShard(rc.ctx, k, shard, hk))
}

func opMergeShards(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	s1, has1 := f.Str("ShardToMerge")
	s2, has2 := f.Str("AdjacentShardToMerge")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	validateShardID(&v, "shardToMerge", s1, has1)
	validateShardID(&v, "adjacentShardToMerge", s2, has2)
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "MergeShards")
	if e != nil {
		return nil, e
	}
	return nil, engErr(h.eng.MergeShards(rc.ctx, k, s1, s2))
}

func opUpdateShardCount(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	target, hasTarget := f.Int("TargetShardCount")
	scaling, hasScaling := f.Str("ScalingType")
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	if v.Required("targetShardCount", hasTarget) {
		v.Range("targetShardCount", target, 1, 1<<31-1)
	}
	if v.Required("scalingType", hasScaling) {
		v.Enum("scalingType", scaling, "UNIFORM_SCALING")
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "UpdateShardCount")
	if e != nil {
		return nil, e
	}
	cur, err := h.eng.UpdateShardCount(rc.ctx, k, int(target))
	if err != nil {
		return nil, engErr(err)
	}
	return struct {
		StreamName        string `json:"StreamName"`
		StreamARN         string `json:"StreamARN"`
		CurrentShardCount int    `json:"CurrentShardCount"`
		TargetShardCount  int    `json:"TargetShardCount"`
	}{k.Name, k.ARN(), cur, int(target)}, nil
}
