//go:build linux

package filestore

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to forget the cached pages of every segment under dir, so
// the next read comes from the disk.
func dropCache(tb testing.TB, dir string) {
	segs, _ := filepath.Glob(filepath.Join(dir, logsDirName, "*", "*"))
	for _, p := range segs {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
}
