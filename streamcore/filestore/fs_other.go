//go:build !linux

package filestore

// Prefetch is a no-op where posix_fadvise is not available.
func (f osFile) Prefetch(off, n int64) {}

// DropCache is a no-op where posix_fadvise is not available.
func (f osFile) DropCache(off, n int64) {}

// WriteOut is a no-op where sync_file_range is not available (the sync does it all).
func (f osFile) WriteOut(off, n int64) error { return nil }

// noSpaceLeft cannot tell here: a full disk shows on the first failed write.
func noSpaceLeft(dir string) bool { return false }
