package filestore

import (
	"bufio"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync"
)

// indexEntry points at the frame of record seq.
type indexEntry struct {
	seq uint64
	off int64
	ms  int64
}

// segment is one .seg file. The summary fields (last, firstMs, lastMs, size) are
// immutable once the segment is sealed; while it is active the log's writer updates them
// under log.mu. The handle fields are guarded by the store's handle cache.
type segment struct {
	base    uint64
	segPath string
	idxPath string

	last    uint64 // SeqIx of the last durable record; base-1 when empty
	firstMs int64
	lastMs  int64
	size    int64 // end offset of the last durable frame

	// idx: active segment — maintained by the writer under log.mu; sealed segment —
	// loaded with the handle, immutable while refs > 0, dropped when the handle closes.
	idx []indexEntry

	// guarded by handleCache.mu
	f       File
	refs    int
	pinned  bool // active segment without a journal: never evicted
	active  bool // active segment with a journal: evictable, opened read-write, idx kept in memory
	dropped bool // deleted or log closed: close when refs reach 0
	elem    *list.Element
}

func (s *segment) empty() bool { return s.last < s.base }

// searchIdx returns the best starting point for reading seq: the last index entry at or
// below seq, or the first frame of the segment.
func searchIdx(idx []indexEntry, base uint64, seq uint64) (uint64, int64) {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].seq > seq })
	if i == 0 {
		return base, SegmentHeaderSize
	}
	return idx[i-1].seq, idx[i-1].off
}

// searchIdxTime returns a starting point for SeekTime: the last index entry whose
// arrival is before ms.
func searchIdxTime(idx []indexEntry, base uint64, ms int64) (uint64, int64) {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].ms >= ms })
	if i == 0 {
		return base, SegmentHeaderSize
	}
	return idx[i-1].seq, idx[i-1].off
}

// handleCache bounds the number of open sealed-segment files across the store.
type handleCache struct {
	fs  FS
	max int

	mu  sync.Mutex
	lru list.List // sealed segments with an open handle and no reader, most recent first
}

// acquire returns seg's open file (opening it and loading its index if needed). The
// caller must release it.
func (c *handleCache) acquire(seg *segment, st *Store) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seg.dropped && seg.f == nil {
		return nil, fmt.Errorf("filestore: segment %s: %w", seg.segPath, ErrClosed)
	}
	if seg.f == nil && seg.active {
		f, err := c.fs.OpenFile(seg.segPath, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("filestore: open segment: %w", err)
		}
		seg.f = f
	} else if seg.f == nil {
		f, err := c.fs.OpenFile(seg.segPath, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("filestore: open segment: %w", err)
		}
		idx, err := st.loadIndex(seg, f)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		seg.f, seg.idx = f, idx
	}
	if seg.elem != nil {
		c.lru.Remove(seg.elem)
		seg.elem = nil
	}
	seg.refs++
	return seg.f, nil
}

func (c *handleCache) release(seg *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seg.refs--
	if seg.refs > 0 || seg.pinned {
		return
	}
	if seg.dropped {
		c.closeLocked(seg)
		return
	}
	seg.elem = c.lru.PushFront(seg)
	c.evictLocked()
}

// add registers an open, pinned (active) segment file.
func (c *handleCache) add(seg *segment, f File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seg.f, seg.pinned = f, true
}

// addActive registers the open file of a journal-mode active segment, held by the
// caller (release it).
func (c *handleCache) addActive(seg *segment, f File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seg.f, seg.active = f, true
	seg.refs++
}

// deactivate marks a journal-mode active segment sealed: its index is loaded from its
// file from now on.
func (c *handleCache) deactivate(seg *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seg.active = false
}

// unpin makes a sealed segment evictable.
func (c *handleCache) unpin(seg *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seg.pinned = false
	if seg.refs == 0 && seg.f != nil && seg.elem == nil {
		seg.elem = c.lru.PushFront(seg)
	}
	c.evictLocked()
}

// drop closes seg's handle now or when its last reader releases it.
func (c *handleCache) drop(seg *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seg.dropped, seg.pinned = true, false
	if seg.refs == 0 {
		c.closeLocked(seg)
	}
}

func (c *handleCache) evictLocked() {
	for c.lru.Len() > c.max {
		seg := c.lru.Back().Value.(*segment)
		c.closeLocked(seg)
	}
}

func (c *handleCache) closeLocked(seg *segment) {
	if seg.elem != nil {
		c.lru.Remove(seg.elem)
		seg.elem = nil
	}
	if seg.f != nil {
		_ = seg.f.Close()
		seg.f = nil
	}
	if !seg.pinned && !seg.active {
		seg.idx = nil
	}
}

// ---- index files ----

func encodeIndex(seg *segment, idx []indexEntry) []byte {
	b := make([]byte, 0, indexHeaderSize+indexEntrySize*len(idx)+4)
	b = append(b, IndexMagic...)
	b = binary.LittleEndian.AppendUint16(b, IndexVersion)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, seg.base)
	b = binary.LittleEndian.AppendUint64(b, seg.last)
	b = binary.LittleEndian.AppendUint64(b, uint64(seg.firstMs))
	b = binary.LittleEndian.AppendUint64(b, uint64(seg.lastMs))
	b = binary.LittleEndian.AppendUint64(b, uint64(seg.size))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(idx)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	for _, e := range idx {
		b = binary.LittleEndian.AppendUint64(b, e.seq)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.off))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.ms))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errStaleIndex = errors.New("stale or damaged index file")

// decodeIndexPrefix accepts an index written when the segment was at most size bytes
// long (a checkpoint of the active segment): it describes the segment's prefix.
func decodeIndexPrefix(b []byte, base uint64, size int64) (segment, []indexEntry, error) {
	if len(b) < indexHeaderSize+4 {
		return segment{}, nil, errStaleIndex
	}
	at := int64(binary.LittleEndian.Uint64(b[40:]))
	if at > size || at < SegmentHeaderSize {
		return segment{}, nil, errStaleIndex
	}
	return decodeIndex(b, base, at, true)
}

// decodeIndex parses an index file of the segment starting at base whose file is size
// bytes long. withEntries=false skips building the entry slice.
func decodeIndex(b []byte, base uint64, size int64, withEntries bool) (sum segment, idx []indexEntry, err error) {
	if len(b) < indexHeaderSize+4 || string(b[:4]) != IndexMagic {
		return sum, nil, errStaleIndex
	}
	body, crc := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != crc || binary.LittleEndian.Uint16(b[4:]) != IndexVersion {
		return sum, nil, errStaleIndex
	}
	sum.base = binary.LittleEndian.Uint64(b[8:])
	sum.last = binary.LittleEndian.Uint64(b[16:])
	sum.firstMs = int64(binary.LittleEndian.Uint64(b[24:]))
	sum.lastMs = int64(binary.LittleEndian.Uint64(b[32:]))
	sum.size = int64(binary.LittleEndian.Uint64(b[40:]))
	n := int(binary.LittleEndian.Uint32(b[48:]))
	if sum.base != base || sum.size != size || sum.last+1 < base || len(body) != indexHeaderSize+n*indexEntrySize {
		return sum, nil, errStaleIndex
	}
	if withEntries {
		idx = make([]indexEntry, n)
		for i := range idx {
			p := body[indexHeaderSize+i*indexEntrySize:]
			idx[i] = indexEntry{
				seq: binary.LittleEndian.Uint64(p),
				off: int64(binary.LittleEndian.Uint64(p[8:])),
				ms:  int64(binary.LittleEndian.Uint64(p[16:])),
			}
		}
	}
	return sum, idx, nil
}

func readWhole(fsys FS, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && len(b) == 0) {
		return nil, err
	}
	return b, nil
}

// writeIndexFile writes seg's index atomically (temp file, rename). With durable it also
// syncs the file and the directory; a checkpoint skips both, because losing it or finding
// it damaged after a crash only costs a longer scan (the CRC catches a torn one).
func writeIndexFile(fsys FS, dir string, seg *segment, idx []indexEntry, durable bool) error {
	b := encodeIndex(seg, idx)
	tmp := seg.idxPath + tmpExt
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, seg.idxPath)
	}
	if err == nil && durable {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		_ = fsys.Remove(tmp)
	}
	return err
}

// ---- scanning ----

// scanResult is what a full scan of a segment found.
type scanResult struct {
	last    uint64
	firstMs int64
	lastMs  int64
	goodEnd int64 // end of the last valid frame
	idx     []indexEntry
	// index spacing counters after the last frame, so the writer continues the pattern
	sinceRecs  int
	sinceBytes int64
	bad        *CorruptError // first invalid frame, nil if the segment is clean to its end
}

// scanSegment reads every frame of a segment from the header on, stopping at the first
// invalid one. prevMs is the last arrival time before this segment.
func scanSegment(f File, path string, base uint64, size int64, prevMs int64, opt *Options) scanResult {
	r := scanResult{last: base - 1, lastMs: prevMs, goodEnd: SegmentHeaderSize}
	hdr := make([]byte, SegmentHeaderSize)
	if size < SegmentHeaderSize {
		r.goodEnd = 0
		r.bad = &CorruptError{Path: path, Offset: 0, Kind: ErrBadHeader, Detail: "segment header torn"}
		return r
	}
	if _, err := f.ReadAt(hdr, 0); err != nil {
		r.goodEnd = 0
		r.bad = &CorruptError{Path: path, Kind: ErrBadHeader, Detail: err.Error()}
		return r
	}
	if err := checkSegmentHeader(hdr, base); err != nil {
		r.goodEnd = 0
		r.bad = &CorruptError{Path: path, Kind: err}
		return r
	}
	return scanFrames(f, path, base, size, r, opt)
}

// scanFrames continues a scan from r.goodEnd, expecting SeqIx r.last+1.
func scanFrames(f File, path string, base uint64, size int64, r scanResult, opt *Options) scanResult {
	off := r.goodEnd
	br := bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), 256<<10)
	fh := make([]byte, FrameHeaderSize)
	var body []byte
	var sinceRecs int
	var sinceBytes int64
	expect := r.last + 1
	for off < size {
		bad := func(kind error, detail string) scanResult {
			r.bad = &CorruptError{Path: path, Offset: off, Kind: kind, Detail: detail}
			return r
		}
		if size-off < FrameHeaderSize {
			return bad(ErrTornFrame, fmt.Sprintf("%d bytes left, frame header needs %d", size-off, FrameHeaderSize))
		}
		if _, err := io.ReadFull(br, fh); err != nil {
			return bad(ErrTornFrame, err.Error())
		}
		n, err := checkLength(fh)
		if err != nil {
			return bad(err, fmt.Sprintf("length %d", binary.LittleEndian.Uint32(fh)))
		}
		if int64(n) > size-off-FrameHeaderSize {
			return bad(ErrTornFrame, fmt.Sprintf("frame of %d bytes, %d left", n, size-off-FrameHeaderSize))
		}
		if cap(body) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return bad(ErrTornFrame, err.Error())
		}
		h, err := decodeBody(fh, body)
		if err != nil {
			return bad(err, "")
		}
		if h.seq != expect {
			return bad(ErrBadSequence, fmt.Sprintf("SeqIx %d, want %d", h.seq, expect))
		}
		if h.ms < r.lastMs {
			return bad(ErrBadSequence, fmt.Sprintf("arrival %d before %d", h.ms, r.lastMs))
		}
		if sinceRecs >= opt.IndexEveryRecords || sinceBytes >= opt.IndexEveryBytes {
			r.idx = append(r.idx, indexEntry{seq: h.seq, off: off, ms: h.ms})
			sinceRecs, sinceBytes = 0, 0
		}
		if expect == base {
			r.firstMs = h.ms
		}
		sinceRecs++
		sinceBytes += int64(FrameHeaderSize + n)
		r.last, r.lastMs = h.seq, h.ms
		r.sinceRecs, r.sinceBytes = sinceRecs, sinceBytes
		expect++
		off += int64(FrameHeaderSize + n)
		r.goodEnd = off
	}
	return r
}
