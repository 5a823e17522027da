package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/streamcore"
)

// streamKey is the engine key of a declared stream.
func streamKey(s config.Stream) streamcore.StreamKey {
	return streamcore.StreamKey{Account: s.Account, Region: s.Region, Name: s.Name}
}

// createOptions maps a declared stream onto CreateStream's inputs.
func createOptions(s config.Stream) streamcore.CreateOptions {
	o := streamcore.CreateOptions{
		ShardCount:       s.Shards,
		Mode:             streamcore.ModeProvisioned,
		RetentionHours:   int(s.Retention.D() / time.Hour),
		MaxRecordSizeKiB: int(s.MaxRecordSize / config.KiB),
		Tags:             s.Tags,
		Quotas: streamcore.Quotas{
			Unlimited:          s.Quotas.Unlimited,
			WriteBytesPerSec:   int64(s.Quotas.WriteBytesPerSec),
			WriteRecordsPerSec: s.Quotas.WriteRecordsPerSec,
			ReadBytesPerSec:    int64(s.Quotas.ReadBytesPerSec),
			ReadCallsPerSec:    s.Quotas.ReadCallsPerSec,
		},
	}
	if s.OnDemand {
		o.Mode, o.ShardCount = streamcore.ModeOnDemand, 0
	}
	return o
}

// declareStreams creates every declared stream that does not exist yet. For a stream that
// exists, the file's quotas are applied (only the file sets them); its other settings are
// left as they are (they may have been changed through the API) and a difference from the
// file is logged. With wait, it returns once the new streams are ACTIVE, so a client that
// sees the daemon ready can write to them at once.
func (d *Daemon) declareStreams(ctx context.Context, streams []config.Stream, wait bool) error {
	var created []streamcore.StreamKey
	for _, s := range streams {
		key := streamKey(s)
		err := d.engine.CreateStream(ctx, key, createOptions(s))
		switch {
		case err == nil:
			d.log.Info("declared stream created", "stream", s.Name, "account", s.Account, "region", s.Region,
				"shards", s.Shards, "on_demand", s.OnDemand)
			created = append(created, key)
		case errors.Is(err, streamcore.ErrInUse):
			changed, err := d.engine.SetQuotas(ctx, key, createOptions(s).Quotas)
			if err != nil {
				return fmt.Errorf("declared stream %s: quotas: %w", s.Name, err)
			}
			if changed {
				d.log.Info("declared stream quotas applied", "stream", s.Name, "account", s.Account, "region", s.Region)
			}
			d.noteDrift(ctx, s)
		default:
			return fmt.Errorf("create declared stream %s: %w", s.Name, err)
		}
	}
	if !wait {
		return nil
	}
	deadline := time.Now().Add(d.cfg.Limits.CreateDelay.D() + 30*time.Second)
	for _, key := range created {
		for {
			desc, err := d.engine.DescribeStream(ctx, key)
			if err == nil && desc.Status == streamcore.StatusActive {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("declared stream %s did not become ACTIVE (status %s, err %v)", key.Name, desc.Status, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// noteDrift logs when an existing stream differs from its declaration.
func (d *Daemon) noteDrift(ctx context.Context, s config.Stream) {
	desc, err := d.engine.DescribeStream(ctx, streamKey(s))
	if err != nil {
		return
	}
	want := createOptions(s)
	var diffs []any
	if want.Mode != desc.Mode {
		diffs = append(diffs, "mode", string(desc.Mode))
	}
	if want.Mode == streamcore.ModeProvisioned && desc.OpenShardCount != want.ShardCount {
		diffs = append(diffs, "open_shards", desc.OpenShardCount)
	}
	if desc.RetentionHours != want.RetentionHours {
		diffs = append(diffs, "retention_hours", desc.RetentionHours)
	}
	if len(diffs) > 0 {
		d.log.Info("declared stream exists with other settings; keeping the stored ones (change them through the API)",
			append([]any{"stream", s.Name}, diffs...)...)
	}
}
