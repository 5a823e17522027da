package daemon

import (
	"os"
	"runtime"
)

// SetProcs sets GOMAXPROCS for serving and returns it. With the GOMAXPROCS environment
// variable set, Go's own value stands. Otherwise the daemon runs more Ps than usable CPUs
// (procsFor): every durable write ends in an fsync, and a goroutine coming back from
// one, or woken by one, needs a free P. With one P per CPU it waits behind request
// decoding for up to a scheduler time slice (milliseconds), which showed up directly in
// PutRecord latency; with spare Ps the kernel schedules the threads, and it runs woken,
// mostly sleeping threads promptly.
func SetProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := procsFor(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(n)
	return n
}

// procsFor is the P count for cpus usable CPUs: twice as many up to 8 extra, at least 4.
func procsFor(cpus int) int {
	return max(4, cpus+min(cpus, 8))
}
