package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk format constants (see the package documentation).
const (
	SegmentMagic      = "SLSG"
	SegmentVersion    = 1
	SegmentHeaderSize = 16
	SegmentNameFormat = "%020d.seg"
	IndexNameFormat   = "%020d.idx"
	SegmentExt        = ".seg"
	IndexExt          = ".idx"
	tmpExt            = ".tmp"

	FrameHeaderSize = 8  // length u32 + crc32c u32
	FrameBodyFixed  = 20 // version u8, flags u8, seqIx u64, arrivalMs i64, pkLen u16
	FrameVersion    = 1
	MaxPartitionKey = 1<<16 - 1
	MaxFrameBody    = 64 << 20 // a body over 64 MiB is corrupt by definition

	IndexMagic      = "SLIX"
	IndexVersion    = 1
	indexHeaderSize = 56
	indexEntrySize  = 24

	metaFileName = "meta.db"
	// Stored records may be private: files are not world-readable.
	filePerm    = 0o640
	dirPerm     = 0o750
	logsDirName = "logs"
	// tombstonePrefix marks a log directory being deleted; url.PathEscape never emits '#'.
	tombstonePrefix = "#deleted-"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Each kind of corruption found in a segment is its own error type; errors.Is matches
// the sentinels below, errors.As gives the position.
var (
	// ErrTornFrame: the file ends inside a frame (a write that did not finish).
	ErrTornFrame = errors.New("torn frame")
	// ErrBadLength: a frame length is out of range (zero, too small or over MaxFrameBody).
	ErrBadLength = errors.New("bad frame length")
	// ErrBadCRC: a frame body does not match its checksum.
	ErrBadCRC = errors.New("bad frame checksum")
	// ErrBadVersion: unknown frame or segment format version.
	ErrBadVersion = errors.New("unknown frame version")
	// ErrBadSequence: a frame's SeqIx is not the previous one + 1, or time went backwards.
	ErrBadSequence = errors.New("frame out of sequence")
	// ErrBadHeader: a segment header is missing, torn or does not match the file name.
	ErrBadHeader = errors.New("bad segment header")
	// ErrClosed: the store or log was closed.
	ErrClosed = errors.New("filestore: closed")
)

// CorruptError locates a corruption: which file, at which offset, of which kind.
type CorruptError struct {
	Path   string
	Offset int64
	Kind   error // one of the sentinels above
	Detail string
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("filestore: %s at %s offset %d", e.Kind, e.Path, e.Offset)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap lets errors.Is match the kind.
func (e *CorruptError) Unwrap() error { return e.Kind }

func frameSize(pkLen, dataLen int) int { return FrameHeaderSize + FrameBodyFixed + pkLen + dataLen }

// appendFrame encodes one record onto buf.
func appendFrame(buf []byte, flags uint8, seq uint64, ms int64, pk string, data []byte) []byte {
	start := len(buf)
	bodyLen := FrameBodyFixed + len(pk) + len(data)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(bodyLen))
	buf = binary.LittleEndian.AppendUint32(buf, 0) // crc, patched below
	buf = append(buf, FrameVersion, flags)
	buf = binary.LittleEndian.AppendUint64(buf, seq)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(ms))
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(pk)))
	buf = append(buf, pk...)
	buf = append(buf, data...)
	crc := crc32.Checksum(buf[start+FrameHeaderSize:], castagnoli)
	binary.LittleEndian.PutUint32(buf[start+4:], crc)
	return buf
}

// frameHead is the decoded fixed part of a frame.
type frameHead struct {
	bodyLen int
	version uint8
	flags   uint8
	seq     uint64
	ms      int64
	pkLen   int
}

// checkLength validates the length field of a frame header.
func checkLength(hdr []byte) (int, error) {
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if n < FrameBodyFixed || n > MaxFrameBody {
		return 0, ErrBadLength
	}
	return int(n), nil
}

// decodeBody checks a frame body against the header's crc and decodes its fixed part.
func decodeBody(hdr, body []byte) (frameHead, error) {
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return frameHead{}, ErrBadCRC
	}
	h := frameHead{
		bodyLen: len(body),
		version: body[0],
		flags:   body[1],
		seq:     binary.LittleEndian.Uint64(body[2:10]),
		ms:      int64(binary.LittleEndian.Uint64(body[10:18])),
		pkLen:   int(binary.LittleEndian.Uint16(body[18:20])),
	}
	if h.version != FrameVersion {
		return h, ErrBadVersion
	}
	if FrameBodyFixed+h.pkLen > len(body) {
		return h, ErrBadLength
	}
	return h, nil
}

func segmentHeader(base uint64) []byte {
	b := make([]byte, SegmentHeaderSize)
	copy(b, SegmentMagic)
	binary.LittleEndian.PutUint16(b[4:], SegmentVersion)
	binary.LittleEndian.PutUint64(b[8:], base)
	return b
}

func checkSegmentHeader(b []byte, base uint64) error {
	if len(b) < SegmentHeaderSize || string(b[:4]) != SegmentMagic {
		return ErrBadHeader
	}
	if binary.LittleEndian.Uint16(b[4:]) != SegmentVersion {
		return ErrBadVersion
	}
	if binary.LittleEndian.Uint64(b[8:]) != base {
		return ErrBadHeader
	}
	return nil
}
