//go:build linux

package filestore

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// Prefetch asks the kernel to start reading [off, off+n) into the page cache without
// waiting for it, so the next ReadAt overlaps with decoding the current chunk.
func (f osFile) Prefetch(off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED)
}

// DropCache frees the page cache of [off, off+n) (clean pages only: call it after a sync).
func (f osFile) DropCache(off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}

// WriteOut writes the dirty pages of [off, off+n) and waits for them (sync_file_range).
func (f osFile) WriteOut(off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}

// noSpaceLeft reports whether the filesystem holding dir has no blocks left for an
// unprivileged writer (statfs f_bavail is 0). False when it cannot tell.
func noSpaceLeft(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Bavail == 0
}

// SyncFS makes every written file of the filesystem holding dir durable (syncfs(2)):
// one call for all the segment files a journal checkpoint covers.
func (OSFS) SyncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &fs.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}
