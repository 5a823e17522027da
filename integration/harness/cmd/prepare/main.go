// Command prepare builds or fetches, into the harness cache, the server binaries that the
// integration tests need, so that CI pays for it once before the tests run.
package main

import (
	"fmt"
	"os"

	"github.com/sluice-io/sluice/integration/harness"
)

func main() {
	p, err := harness.MinIOBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
	fmt.Println("minio:", p)
	py, err := harness.PrepareParquetPython()
	if err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
	fmt.Println("python with pyarrow and duckdb:", py)
}
