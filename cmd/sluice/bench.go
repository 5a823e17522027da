package main

import (
	"fmt"
	"io"
)

// bench runs the load generator. TODO(bench): call daemon/bench.Main(args) once the
// package is committed.
func bench(args []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "sluice bench: not built yet")
	return 2
}
