package filestore

import (
	"io"
	"io/fs"
	"os"
)

// FS is the filesystem seam under the logs. OSFS is the real one; FaultFS wraps any FS
// and injects faults for tests. Implementations must be safe for concurrent use.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(name string) error
	ReadDir(name string) ([]fs.DirEntry, error)
	MkdirAll(name string, perm fs.FileMode) error
	Rename(oldName, newName string) error
	// SyncDir makes directory entries (created, renamed, removed files) durable.
	SyncDir(name string) error
}

// File is an open file. WriteAt and ReadAt take explicit offsets, so a Truncate never
// leaves the next write at a stale position. ReadAt may run concurrently with WriteAt.
type File interface {
	io.WriterAt
	io.ReaderAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
}

// prefetcher is an optional File method: start reading a range ahead of need.
type prefetcher interface {
	Prefetch(off, n int64)
}

// cacheDropper is an optional File method: tell the kernel that a synced range will
// not be needed soon, so its page-cache pages are freed now.
type cacheDropper interface {
	DropCache(off, n int64)
}

// writerOut is an optional File method: write a range's dirty pages to the device and
// wait, without the metadata commit of a sync.
type writerOut interface {
	WriteOut(off, n int64) error
}

// OSFS is the operating system's filesystem.
type OSFS struct{}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// OpenFile opens name with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove removes a file or an empty directory.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// RemoveAll removes a directory tree.
func (OSFS) RemoveAll(name string) error { return os.RemoveAll(name) }

// ReadDir lists a directory sorted by name.
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll creates a directory and its parents.
func (OSFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }

// Rename renames a file atomically.
func (OSFS) Rename(oldName, newName string) error { return os.Rename(oldName, newName) }

// SyncDir fsyncs a directory.
func (OSFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
