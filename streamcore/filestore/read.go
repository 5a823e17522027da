package filestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/sluice-io/sluice/streamcore"
)

// readerPool serves SeekTime, which only peeks at frame headers.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// chunkReader reads a segment in large chunks straight into fresh memory and hands
// out frames as slices of it, so records returned by Read share a few chunks instead of
// being copied one by one. A chunk is never reused: records may point into it.
type chunkReader struct {
	f    File
	off  int64 // file offset of buf[0]
	end  int64 // durable end of the segment
	buf  []byte
	pos  int
	next int // size of the next chunk
}

const maxChunk = 1 << 20

// at is the file offset of the next frame.
func (c *chunkReader) at() int64 { return c.off + int64(c.pos) }

// ensure makes k bytes from pos available, reading a new chunk if needed.
func (c *chunkReader) ensure(k int) error {
	avail := len(c.buf) - c.pos
	if avail >= k {
		return nil
	}
	fileLeft := c.end - (c.off + int64(len(c.buf)))
	if int64(k-avail) > fileLeft {
		return io.ErrUnexpectedEOF
	}
	size := max(k, int(min(int64(c.next), int64(avail)+fileLeft)))
	c.next = min(c.next*2, maxChunk)
	nb := make([]byte, size)
	copy(nb, c.buf[c.pos:])
	m := int(min(int64(size-avail), fileLeft))
	at := c.off + int64(len(c.buf))
	if _, err := c.f.ReadAt(nb[avail:avail+m], at); err != nil {
		return err
	}
	if p, ok := c.f.(prefetcher); ok && size >= maxChunk/2 && fileLeft > int64(m) {
		p.Prefetch(at+int64(m), min(int64(2*maxChunk), fileLeft-int64(m)))
	}
	c.off += int64(c.pos)
	c.buf, c.pos = nb[:avail+m], 0
	return nil
}

// frame returns the next frame's header and body, both slices of chunk memory.
func (c *chunkReader) frame() (fh, body []byte, err error) {
	if err := c.ensure(FrameHeaderSize); err != nil {
		return nil, nil, err
	}
	n, err := checkLength(c.buf[c.pos:])
	if err != nil {
		return nil, nil, err
	}
	if err := c.ensure(FrameHeaderSize + n); err != nil {
		return nil, nil, err
	}
	end := c.pos + FrameHeaderSize + n
	fr := c.buf[c.pos:end:end]
	c.pos = end
	return fr[:FrameHeaderSize], fr[FrameHeaderSize:], nil
}

// Read returns durable records from SeqIx from on (see streamcore.ShardLog).
func (l *shardLog) Read(ctx context.Context, from uint64, maxRecords, maxBytes int) ([]streamcore.LogRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	maxRecords = max(maxRecords, 1)
	for attempt := 0; ; attempt++ {
		out, err := l.read(from, maxRecords, maxBytes)
		// A segment trimmed between the snapshot and opening it: start again from the
		// new oldest record.
		if errors.Is(err, errTrimmed) && attempt < 3 {
			continue
		}
		return out, err
	}
}

var errTrimmed = errors.New("segment trimmed during read")

func (l *shardLog) read(from uint64, maxRecords, maxBytes int) ([]streamcore.LogRecord, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	last, segs, first := l.last, l.segs, l.firstLocked()
	l.mu.RUnlock()
	from = max(from, first)
	if from > last {
		return nil, nil
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > from }) - 1
	if i < 0 {
		return nil, nil
	}
	out := make([]streamcore.LogRecord, 0, min(uint64(maxRecords), last-from+1, 4096))
	rs := readState{from: from, maxRecords: maxRecords, maxBytes: maxBytes, out: out, next: 64 << 10}
	if maxRecords > 100 {
		rs.next = 256 << 10
	}
	for ; i < len(segs) && rs.from <= last; i++ {
		done, err := l.readSegment(segs[i], &rs)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	return rs.out, nil
}

type readState struct {
	from       uint64
	maxRecords int
	maxBytes   int
	bytes      int
	out        []streamcore.LogRecord
	next       int // chunk size to start the next segment with
}

// readSegment appends records of seg to rs.out; done reports that a limit was reached.
func (l *shardLog) readSegment(seg *segment, rs *readState) (done bool, err error) {
	f, err := l.st.cache.acquire(seg, l.st)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return false, errTrimmed
		}
		return false, err
	}
	defer l.st.cache.release(seg)
	l.mu.RLock()
	end, segLast := seg.size, seg.last
	seq, off := searchIdx(seg.idx, seg.base, rs.from)
	l.mu.RUnlock()
	if rs.from > segLast {
		return false, nil
	}
	slot := -1
	if hs, hoff, hslot, ok := l.hint(seg, rs.from); ok && hs >= seq {
		seq, off, slot = hs, hoff, hslot
	}
	c := chunkReader{f: f, off: off, end: end, next: rs.next}
	defer func() { rs.next = c.next }()
	for c.at() < end {
		at := c.at()
		if len(rs.out) >= rs.maxRecords {
			l.setHint(slot, seg, seq, at)
			return true, nil
		}
		fh, body, err := c.frame()
		if err != nil {
			kind := err
			if !errors.Is(err, ErrBadLength) {
				kind = ErrTornFrame
			}
			return false, l.corrupt(seg, at, kind, err.Error())
		}
		if seq < rs.from {
			seq++
			continue
		}
		h, err := decodeBody(fh, body)
		if err != nil {
			return false, l.corrupt(seg, at, err, "")
		}
		if h.seq != seq {
			return false, l.corrupt(seg, at, ErrBadSequence, fmt.Sprintf("SeqIx %d, want %d", h.seq, seq))
		}
		dataLen := len(body) - FrameBodyFixed - h.pkLen
		if len(rs.out) > 0 && rs.bytes+dataLen > rs.maxBytes {
			l.setHint(slot, seg, seq, at)
			return true, nil
		}
		rs.out = append(rs.out, streamcore.LogRecord{
			SeqIx:        h.seq,
			ArrivalMs:    h.ms,
			PartitionKey: bytesToString(body[FrameBodyFixed : FrameBodyFixed+h.pkLen]),
			Data:         body[FrameBodyFixed+h.pkLen:],
			Flags:        h.flags,
		})
		rs.bytes += dataLen
		seq++
		rs.from = seq
	}
	l.setHint(slot, seg, seq, c.at())
	return false, nil
}

func (l *shardLog) corrupt(seg *segment, off int64, kind error, detail string) error {
	return &CorruptError{Path: seg.segPath, Offset: off, Kind: kind, Detail: detail}
}

// hint returns where a previous Read of seg stopped, if it stopped exactly at seq.
func (l *shardLog) hint(seg *segment, seq uint64) (uint64, int64, int, bool) {
	l.hintMu.Lock()
	defer l.hintMu.Unlock()
	for i, h := range l.hints {
		if h.seg == seg && h.seq == seq {
			return h.seq, h.off, i, true
		}
	}
	return 0, 0, -1, false
}

func (l *shardLog) setHint(slot int, seg *segment, seq uint64, off int64) {
	l.hintMu.Lock()
	defer l.hintMu.Unlock()
	if slot < 0 {
		slot = l.hintNext
		l.hintNext = (l.hintNext + 1) % len(l.hints)
	}
	l.hints[slot] = readHint{seg: seg, seq: seq, off: off}
}

// SeekTime returns the SeqIx of the first record with ArrivalMs >= ms, or Last()+1.
func (l *shardLog) SeekTime(ctx context.Context, ms int64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		seq, err := l.seekTime(ms)
		if errors.Is(err, errTrimmed) && attempt < 3 {
			continue
		}
		return seq, err
	}
}

func (l *shardLog) seekTime(ms int64) (uint64, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	last, segs := l.last, l.segs
	// An empty segment carries the previous segment's last arrival, so this is monotonic.
	i := sort.Search(len(segs), func(i int) bool { return segs[i].lastMs >= ms })
	l.mu.RUnlock()
	if i == len(segs) {
		return last + 1, nil
	}
	seg := segs[i]
	if seg.empty() { // only the active segment, which may have no file yet
		return seg.base, nil
	}
	f, err := l.st.cache.acquire(seg, l.st)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return 0, errTrimmed
		}
		return 0, err
	}
	defer l.st.cache.release(seg)
	l.mu.RLock()
	end := seg.size
	seq, off := searchIdxTime(seg.idx, seg.base, ms)
	l.mu.RUnlock()
	rd := readerPool.Get().(*bufio.Reader)
	defer readerPool.Put(rd)
	rd.Reset(io.NewSectionReader(f, off, end-off))
	var fh [FrameHeaderSize]byte
	body := make([]byte, FrameBodyFixed)
	for off < end {
		if _, err := io.ReadFull(rd, fh[:]); err != nil {
			return 0, l.corrupt(seg, off, ErrTornFrame, err.Error())
		}
		n, err := checkLength(fh[:])
		if err != nil {
			return 0, l.corrupt(seg, off, err, "")
		}
		// The arrival time sits in the fixed part; the crc is checked by Read.
		if _, err := io.ReadFull(rd, body); err != nil {
			return 0, l.corrupt(seg, off, ErrTornFrame, err.Error())
		}
		if int64(leUint64(body[10:18])) >= ms {
			return leUint64(body[2:10]), nil
		}
		if _, err := rd.Discard(n - FrameBodyFixed); err != nil {
			return 0, l.corrupt(seg, off, ErrTornFrame, err.Error())
		}
		off += int64(FrameHeaderSize + n)
		seq++
	}
	return seq, nil
}
