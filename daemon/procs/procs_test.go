package procs

import "testing"

func TestProcsFor(t *testing.T) {
	for _, c := range []struct{ cpus, want int }{{1, 4}, {2, 4}, {3, 6}, {4, 8}, {8, 16}, {16, 24}, {64, 72}} {
		if got := For(c.cpus); got != c.want {
			t.Errorf("For(%d) = %d, want %d", c.cpus, got, c.want)
		}
	}
}
