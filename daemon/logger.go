package daemon

import (
	"io"
	"log/slog"

	"github.com/sluice-io/sluice/daemon/config"
)

// NewLogger builds the process logger from the `log` section. The returned LevelVar
// lets Reload change the level live (pass it with WithLevelVar).
func NewLogger(c config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	lv.Set(ParseLevel(c.Level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), lv
}
