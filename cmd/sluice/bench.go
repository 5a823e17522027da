package main

import "github.com/sluice-io/sluice/daemon/bench"

// `sluice bench` is the load generator of package daemon/bench.
func runBench(args []string) int { return bench.Main(args) }
