package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// openShardLog recovers (or creates) the log in dir and starts its writer. It records
// what it repaired in rep, which belongs to the caller. A log with no segment file gets
// none here (its active segment has no file, l.w.f is nil, until the first append).
func openShardLog(st *Store, id, dir string, rep *RecoveryReport) (*shardLog, error) {
	fsys := st.opt.FS
	l := &shardLog{st: st, id: id, dir: dir, opt: &st.opt}
	if err := fsys.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("filestore: log %q: %w", id, err)
	}
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: log %q: %w", id, err)
	}
	type segFile struct {
		base uint64
		size int64
	}
	var files []segFile
	idxFiles := map[uint64]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tmpExt):
			_ = fsys.Remove(filepath.Join(dir, name))
			rep.RemovedTempFiles++
		case strings.HasSuffix(name, SegmentExt), strings.HasSuffix(name, IndexExt):
			base, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSuffix(name, SegmentExt), IndexExt), 10, 64)
			if err != nil || base == 0 || (fmt.Sprintf(SegmentNameFormat, base) != name && fmt.Sprintf(IndexNameFormat, base) != name) {
				st.log.Warn("ignoring unexpected file in log directory", "log", id, "file", name)
				continue
			}
			if strings.HasSuffix(name, IndexExt) {
				idxFiles[base] = true
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("filestore: log %q: %w", id, err)
			}
			files = append(files, segFile{base: base, size: info.Size()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].base < files[j].base })
	for base := range idxFiles { // an index whose segment is gone (trim interrupted)
		if i := sort.Search(len(files), func(i int) bool { return files[i].base >= base }); i == len(files) || files[i].base != base {
			_ = fsys.Remove(filepath.Join(dir, fmt.Sprintf(IndexNameFormat, base)))
		}
	}
	if len(files) == 0 {
		// The first segment file is created by the first append, not here: opening an
		// empty log writes nothing but its directory, so it works on a full disk.
		seg := l.segmentFor(1, 0)
		l.segs = []*segment{seg}
		l.w.active, l.w.off, l.w.ckptOff, l.w.dirSync = seg, SegmentHeaderSize, SegmentHeaderSize, true
		rep.Logs++
		l.start()
		return l, nil
	}

	var prevLast uint64
	var prevMs int64
	for i, sf := range files[:len(files)-1] {
		seg := l.segmentFor(sf.base, prevMs)
		seg.size = sf.size
		if i > 0 && sf.base != prevLast+1 {
			return nil, &CorruptError{Path: seg.segPath, Kind: ErrBadSequence,
				Detail: fmt.Sprintf("segment starts at %d, previous ends at %d", sf.base, prevLast)}
		}
		if err := st.recoverSealed(l, seg, prevMs, idxFiles[sf.base], rep); err != nil {
			return nil, err
		}
		l.segs = append(l.segs, seg)
		prevLast, prevMs = seg.last, seg.lastMs
	}

	// The active segment: full scan, cut a torn or corrupt tail.
	sf := files[len(files)-1]
	seg := l.segmentFor(sf.base, prevMs)
	if len(files) > 1 && sf.base != prevLast+1 {
		return nil, &CorruptError{Path: seg.segPath, Kind: ErrBadSequence,
			Detail: fmt.Sprintf("segment starts at %d, previous ends at %d", sf.base, prevLast)}
	}
	f, err := fsys.OpenFile(seg.segPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("filestore: log %q: %w", id, err)
	}
	r := st.scanTrusting(f, seg, sf.size, prevMs, idxFiles[sf.base])
	if r.bad != nil {
		t := Truncation{Log: id, Segment: seg.segPath, Offset: r.goodEnd, DroppedBytes: sf.size - r.goodEnd,
			Kind: r.bad.Kind, Detail: r.bad.Error()}
		var err error
		if r.goodEnd == 0 { // the header itself is torn: the segment was being created
			t.Offset = SegmentHeaderSize
			err = f.Truncate(0)
			if err == nil {
				_, err = f.WriteAt(segmentHeader(seg.base), 0)
			}
			r.goodEnd = SegmentHeaderSize
		} else {
			err = f.Truncate(r.goodEnd)
		}
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("filestore: log %q: truncating torn tail: %w", id, err)
		}
		st.log.Warn("truncated torn tail", "log", id, "segment", seg.segPath, "offset", t.Offset,
			"dropped_bytes", t.DroppedBytes, "kind", t.Kind.Error(), "detail", r.bad.Detail)
		rep.Truncations = append(rep.Truncations, t)
	}
	seg.last, seg.firstMs, seg.lastMs, seg.size, seg.idx = r.last, r.firstMs, r.lastMs, r.goodEnd, r.idx
	l.segs = append(l.segs, seg)
	l.last, l.lastMs = seg.last, seg.lastMs
	l.w.active, l.w.off, l.w.hasFile, l.w.dirSync = seg, r.goodEnd, true, true
	if st.jr != nil { // the handle cache holds it, bounded
		st.cache.addActive(seg, f)
		st.cache.release(seg)
	} else {
		st.cache.add(seg, f)
		l.w.f = f
	}
	if r.bad == nil && haveCheckpoint(st, seg, r.goodEnd) {
		l.w.ckptOff = r.goodEnd
	}
	l.w.last, l.w.lastMs = seg.last, seg.lastMs
	l.w.sinceRecs, l.w.sinceBytes = r.sinceRecs, r.sinceBytes
	rep.Logs++
	rep.Segments += len(files)
	if first := l.firstLocked(); l.last >= first {
		rep.Records += l.last - first + 1
	}
	l.start()
	return l, nil
}

// recoverSealed fills a sealed segment's summary from its index file, or rebuilds the
// index by scanning the segment. A bad frame in a sealed segment fails the open.
func (st *Store) recoverSealed(l *shardLog, seg *segment, prevMs int64, haveIdx bool, rep *RecoveryReport) error {
	if haveIdx {
		if b, err := readWhole(st.opt.FS, seg.idxPath); err == nil {
			if sum, _, err := decodeIndex(b, seg.base, seg.size, false); err == nil {
				seg.last, seg.firstMs, seg.lastMs = sum.last, sum.firstMs, sum.lastMs
				return nil
			}
		}
	}
	f, err := st.opt.FS.OpenFile(seg.segPath, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("filestore: log %q: %w", l.id, err)
	}
	defer f.Close()
	r := st.scanTrusting(f, seg, seg.size, prevMs, haveIdx)
	if r.bad != nil {
		return fmt.Errorf("filestore: log %q: sealed segment is damaged: %w", l.id, r.bad)
	}
	seg.last, seg.firstMs, seg.lastMs = r.last, r.firstMs, r.lastMs
	if err := writeIndexFile(st.opt.FS, l.dir, seg, r.idx, true); err != nil {
		st.log.Warn("rewriting segment index failed", "log", l.id, "segment", seg.segPath, "err", err)
	}
	rep.IndexRebuilt++
	return nil
}

var _ = errors.New

// scanTrusting scans a segment, starting after the prefix its index file (a checkpoint of
// the active segment, or a stale index) vouches for, if there is a usable one. Data up to
// a checkpoint's size was synced before the checkpoint was written.
func (st *Store) scanTrusting(f File, seg *segment, size, prevMs int64, haveIdx bool) scanResult {
	if haveIdx {
		if b, err := readWhole(st.opt.FS, seg.idxPath); err == nil {
			if sum, idx, err := decodeIndexPrefix(b, seg.base, size); err == nil {
				r := scanResult{last: sum.last, firstMs: sum.firstMs, lastMs: sum.lastMs, goodEnd: sum.size, idx: idx}
				if sum.last < seg.base {
					r.lastMs = prevMs
				}
				return scanFrames(f, seg.segPath, seg.base, size, r, &st.opt)
			}
		}
	}
	return scanSegment(f, seg.segPath, seg.base, size, prevMs, &st.opt)
}

// haveCheckpoint reports whether seg's index file already describes exactly size bytes.
func haveCheckpoint(st *Store, seg *segment, size int64) bool {
	b, err := readWhole(st.opt.FS, seg.idxPath)
	if err != nil {
		return false
	}
	_, _, err = decodeIndex(b, seg.base, size, false)
	return err == nil
}
