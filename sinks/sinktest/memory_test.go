package sinktest

import "testing"

// The suite against the in-memory destination, at least once and exactly once: the
// runner's side of the contract is checked here without any server.
func TestMemory(t *testing.T) {
	for _, eo := range []bool{false, true} {
		name := "AtLeastOnce"
		if eo {
			name = "ExactlyOnce"
		}
		t.Run(name, func(t *testing.T) {
			h := NewMemory(eo).Harness()
			Run(t, h)
			RunDelivery(t, h)
		})
	}
}
