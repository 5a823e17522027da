package storetest_test

import (
	"testing"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/storetest"
)

// The in-memory twin passes the same suite as the file store.
func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) streamcore.Store {
		s := streamcore.NewMemStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
