package daemon

import (
	"context"
	"log/slog"
	"reflect"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/daemon/config"
)

// Reload re-reads the configuration file (on SIGHUP) and applies what can change
// live: the log level, new declared streams, TLS certificate files (same paths, new
// contents) and the delivery streams (handed to the Firehose side). Everything else
// that changed is logged as needing a restart. An invalid file is logged problem by
// problem and changes nothing.
func (d *Daemon) Reload(ctx context.Context) {
	old := d.Config()
	var (
		next *config.Config
		err  error
	)
	if old.File == config.DefaultName {
		next = config.Default()
	} else {
		next, err = config.Load(old.File)
	}
	if err != nil {
		for _, p := range config.Problems(err) {
			d.log.Error("reload: invalid configuration, keeping the running one", "problem", p.Error())
		}
		if len(config.Problems(err)) == 0 {
			d.log.Error("reload: invalid configuration, keeping the running one", "err", err)
		}
		return
	}

	var applied, restart []string
	if next.Log.Level != old.Log.Level {
		if d.level != nil {
			d.level.Set(ParseLevel(next.Log.Level))
			applied = append(applied, "log.level")
		} else {
			restart = append(restart, "log.level")
		}
	}
	if next.Log.Format != old.Log.Format {
		restart = append(restart, "log.format")
	}

	srvOld, srvNew := old.Server, next.Server
	if srvNew.TLS == srvOld.TLS && srvNew.TLS.Enabled() {
		if err := d.loadCert(srvNew.TLS); err != nil {
			d.log.Error("reload: keeping the previous TLS certificate", "err", err)
		} else {
			applied = append(applied, "server.tls (files re-read)")
		}
	}
	restart = append(restart, diffFields("server", srvOld, srvNew)...)
	if !reflect.DeepEqual(old.Auth, next.Auth) {
		restart = append(restart, "auth")
	}
	restart = append(restart, diffFields("limits", old.Limits, next.Limits)...)
	restart = append(restart, diffFields("firehose", old.Firehose, next.Firehose)...)
	if !reflect.DeepEqual(old.HTTPEndpointSources, next.HTTPEndpointSources) {
		restart = append(restart, "http_endpoint_sources") // routes are mounted at start
	}

	// Streams: new names are created now; changed ones get the file's quotas (their other
	// settings belong to the API); removed ones are not touched.
	oldStreams := map[string]config.Stream{}
	for _, s := range old.Streams {
		oldStreams[s.Account+"/"+s.Region+"/"+s.Name] = s
	}
	var added, changed []config.Stream
	for _, s := range next.Streams {
		prev, ok := oldStreams[s.Account+"/"+s.Region+"/"+s.Name]
		switch {
		case !ok:
			added = append(added, s)
		case !reflect.DeepEqual(prev, s):
			changed = append(changed, s)
		}
	}
	if len(added)+len(changed) > 0 {
		if err := d.declareStreams(ctx, append(added, changed...), false); err != nil {
			d.log.Error("reload: declared streams", "err", err)
		} else {
			applied = append(applied, "streams (+"+itoa(len(added))+", ~"+itoa(len(changed))+")")
		}
	}

	if !reflect.DeepEqual(old.DeliveryStreams, next.DeliveryStreams) {
		if d.firehose != nil {
			if err := d.firehose.Apply(ctx, next.DeliveryStreams); err != nil {
				d.log.Error("reload: delivery streams", "err", err)
			} else {
				applied = append(applied, "delivery_streams")
			}
		} else {
			restart = append(restart, "delivery_streams")
		}
	}

	// Keep the old values of what needs a restart, so the daemon reports and behaves
	// consistently: only live-applied parts of next take effect.
	eff := *old
	eff.Log.Level = next.Log.Level
	eff.Streams = next.Streams
	if d.firehose != nil {
		eff.DeliveryStreams = next.DeliveryStreams
	}
	d.mu.Lock()
	d.cfg = &eff
	d.mu.Unlock()

	d.log.Info("configuration reloaded", "file", old.File, "applied", strings.Join(applied, ", "))
	if len(restart) > 0 {
		d.log.Warn("configuration changes need a restart to take effect", "keys", strings.Join(restart, ", "))
	}
}

// diffFields lists section.key for every top-level field that differs.
func diffFields(section string, a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		if !va.Type().Field(i).IsExported() {
			continue // derived state (firehose's checked catalog), compared through its keys
		}
		if reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("yaml"), ",")
		out = append(out, section+"."+name)
	}
	return out
}

// ParseLevel maps log.level onto a slog level.
func ParseLevel(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func itoa(n int) string { return strconv.Itoa(n) }
