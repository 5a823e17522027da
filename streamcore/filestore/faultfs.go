package filestore

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// ErrInjected is the default error FaultFS returns for an injected fault.
var ErrInjected = errors.New("filestore: injected fault")

// ErrNoSpace is what a full disk returns (ENOSPC).
var ErrNoSpace error = syscall.ENOSPC

// FaultFS wraps an FS and injects faults into the files it opens: short or failed writes
// (e.g. ENOSPC), failing fsyncs and failing truncates; and into creating files and
// directories. Faults stay armed until cleared (or,
// with a count, for that many calls). It is meant for tests but safe for concurrent use.
type FaultFS struct {
	Base FS

	mu        sync.Mutex
	writeErr  error
	writeLeft int // calls left to fail; <0 means until cleared
	writeSkip int // calls to let through before the write fault applies
	shortN    int // bytes actually written before a failed write returns
	syncErr   error
	syncLeft  int
	truncErr  error
	createErr error
	writes    int
	syncs     int
	readBytes int64
}

// NewFaultFS wraps base (OSFS if nil).
func NewFaultFS(base FS) *FaultFS {
	if base == nil {
		base = OSFS{}
	}
	return &FaultFS{Base: base}
}

// FailWrites makes the next count WriteAt calls (count < 0: all, until Clear) write at
// most short bytes and then return err.
func (f *FaultFS) FailWrites(err error, short int, count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr, f.shortN, f.writeLeft = err, short, count
}

// FailWritesAfter is FailWrites that first lets skip WriteAt calls succeed.
func (f *FaultFS) FailWritesAfter(skip int, err error, short int, count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr, f.shortN, f.writeLeft, f.writeSkip = err, short, count, skip
}

// FailSyncs makes the next count Sync calls (count < 0: all, until Clear) return err.
func (f *FaultFS) FailSyncs(err error, count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncErr, f.syncLeft = err, count
}

// FailTruncates makes every Truncate return err until Clear.
func (f *FaultFS) FailTruncates(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncErr = err
}

// FailCreates makes every OpenFile with O_CREATE and every MkdirAll of a directory that
// does not exist yet return err until Clear — what a full disk does to new files and
// directories (with ErrNoSpace).
func (f *FaultFS) FailCreates(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createErr = err
}

// Clear disarms every fault.
func (f *FaultFS) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr, f.syncErr, f.truncErr, f.createErr = nil, nil, nil, nil
}

func (f *FaultFS) createFault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.createErr
}

// Counts returns how many WriteAt and Sync calls reached the wrapper.
func (f *FaultFS) Counts() (writes, syncs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.syncs
}

// ReadBytes returns how many bytes ReadAt calls asked for.
func (f *FaultFS) ReadBytes() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readBytes
}

func (f *FaultFS) writeFault() (error, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.writeErr == nil || f.writeLeft == 0 {
		return nil, 0
	}
	if f.writeSkip > 0 {
		f.writeSkip--
		return nil, 0
	}
	if f.writeLeft > 0 {
		f.writeLeft--
	}
	return f.writeErr, f.shortN
}

func (f *FaultFS) syncFault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	if f.syncErr == nil || f.syncLeft == 0 {
		return nil
	}
	if f.syncLeft > 0 {
		f.syncLeft--
	}
	return f.syncErr
}

func (f *FaultFS) truncFault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.truncErr
}

// OpenFile opens a file whose writes, syncs and truncates go through the fault switches.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 {
		if err := f.createFault(); err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
	file, err := f.Base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

// Remove passes through.
func (f *FaultFS) Remove(name string) error { return f.Base.Remove(name) }

// RemoveAll passes through.
func (f *FaultFS) RemoveAll(name string) error { return f.Base.RemoveAll(name) }

// ReadDir passes through.
func (f *FaultFS) ReadDir(name string) ([]fs.DirEntry, error) { return f.Base.ReadDir(name) }

// MkdirAll fails while creates fail, unless the directory exists.
func (f *FaultFS) MkdirAll(name string, perm fs.FileMode) error {
	if err := f.createFault(); err != nil {
		if _, rerr := f.Base.ReadDir(name); rerr != nil {
			return &fs.PathError{Op: "mkdir", Path: name, Err: err}
		}
	}
	return f.Base.MkdirAll(name, perm)
}

// Rename passes through.
func (f *FaultFS) Rename(oldName, newName string) error { return f.Base.Rename(oldName, newName) }

// SyncDir fails like Sync when sync faults are armed.
func (f *FaultFS) SyncDir(name string) error {
	if err := f.syncFault(); err != nil {
		return err
	}
	return f.Base.SyncDir(name)
}

type faultFile struct {
	File
	fs *FaultFS
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	err, short := f.fs.writeFault()
	if err == nil {
		return f.File.WriteAt(p, off)
	}
	if short > len(p) {
		short = len(p)
	}
	n := 0
	if short > 0 {
		n, _ = f.File.WriteAt(p[:short], off)
	}
	return n, err
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	f.fs.readBytes += int64(len(p))
	f.fs.mu.Unlock()
	return f.File.ReadAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.syncFault(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.truncFault(); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
