package filestore

import (
	"io"
	"log/slog"
	"testing"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openT(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// The conformance suite under several configurations: defaults, tiny segments with a
// dense index (many rolls, index files, trims) whose page cache is dropped right behind
// the writer, the interval sync policy, and a handle cache of one file.
func TestConformance(t *testing.T) {
	configs := map[string]Options{
		"default":       {},
		"tiny-segments": {SegmentBytes: 4 << 10, IndexEveryRecords: 3, IndexEveryBytes: 1 << 10, CacheWindow: 1},
		"interval":      {Sync: SyncInterval, SegmentBytes: 16 << 10},
		"one-handle":    {SegmentBytes: 2 << 10, MaxOpenFiles: 1, IndexEveryRecords: 5},
	}
	for name, o := range configs {
		for _, mode := range []JournalMode{JournalOn, JournalOff} {
			o.Journal = mode
			t.Run(name+"/journal="+string(mode), func(t *testing.T) {
				storetest.RunPersistent(t, func(t *testing.T, dir string) streamcore.Store {
					return openT(t, dir, o)
				})
			})
		}
	}
}
