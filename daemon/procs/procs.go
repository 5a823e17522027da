// Package procs sets the number of Go processors (GOMAXPROCS) Sluice serves with. It is
// its own package so that the API benchmarks measure with the same setting as the daemon.
package procs

import (
	"os"
	"runtime"
)

// Set sets GOMAXPROCS for serving and returns it. With the GOMAXPROCS environment
// variable set, Go's own value stands. Otherwise the daemon runs more Ps than usable CPUs
// (For): every durable write ends in an fsync, and a goroutine coming back from
// one, or woken by one, needs a free P. With one P per CPU it waits behind request
// decoding for up to a scheduler time slice (milliseconds), which showed up directly in
// PutRecord latency; with spare Ps the kernel schedules the threads, and it runs woken,
// mostly sleeping threads promptly.
func Set() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := For(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(n)
	return n
}

// For is the P count for cpus usable CPUs: twice as many up to 8 extra, at least 4.
func For(cpus int) int {
	return max(4, cpus+min(cpus, 8))
}
