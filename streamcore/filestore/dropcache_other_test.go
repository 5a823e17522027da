//go:build !linux

package filestore

import "testing"

// dropCache is a no-op where posix_fadvise is missing: "cold" reads are warm there.
func dropCache(tb testing.TB, dir string) {}
