package s3

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// Framing constants of the two snappy container formats (firehose.md §5.4).
const (
	// SnappyBlockSize is the input size per snappy block in both framings.
	SnappyBlockSize = 32 * 1024
)

// SnappyJavaMagic starts a snappy-java (xerial) stream; it is followed by int32BE version 1
// and int32BE compatible-version 1.
var SnappyJavaMagic = [8]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// NewEncoder returns a streaming compressor for f writing to w. Close flushes everything and
// writes trailers but does not close w. Memory stays bounded (one block or the compressor's
// window) whatever the object size.
func NewEncoder(w io.Writer, f CompressionFormat) (io.WriteCloser, error) {
	switch f {
	case "", Uncompressed:
		return nopCloser{w}, nil
	case GZIP:
		return gzip.NewWriterLevel(w, gzip.BestSpeed)
	case ZIP:
		return newZipEncoder(w)
	case Snappy:
		return &snappyWriter{w: w, java: true}, nil
	case HadoopSnappy:
		return &snappyWriter{w: w}, nil
	case ZSTD:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	}
	return nil, fmt.Errorf("unknown compression format %q", f)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// zipEncoder writes one deflated entry named by a random UUID.
type zipEncoder struct {
	zw    *zip.Writer
	entry io.Writer
}

func newZipEncoder(w io.Writer) (*zipEncoder, error) {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	e, err := zw.CreateHeader(&zip.FileHeader{Name: uuid.NewString(), Method: zip.Deflate, Modified: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	return &zipEncoder{zw: zw, entry: e}, nil
}

func (z *zipEncoder) Write(p []byte) (int, error) { return z.entry.Write(p) }
func (z *zipEncoder) Close() error                { return z.zw.Close() }

// snappyWriter frames raw snappy blocks of up to SnappyBlockSize input bytes, either as
// snappy-java (header, then int32BE compressed length + block) or Hadoop (int32BE raw length,
// int32BE compressed length, block).
type snappyWriter struct {
	w          io.Writer
	java       bool
	headerDone bool
	buf        []byte // pending input, < SnappyBlockSize
	out        []byte // scratch for one framed block
	err        error
}

func (s *snappyWriter) header() error {
	if s.headerDone || !s.java {
		s.headerDone = true
		return nil
	}
	s.headerDone = true
	var h [16]byte
	copy(h[:], SnappyJavaMagic[:])
	binary.BigEndian.PutUint32(h[8:], 1)
	binary.BigEndian.PutUint32(h[12:], 1)
	_, err := s.w.Write(h[:])
	return err
}

func (s *snappyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.err = s.header(); s.err != nil {
		return 0, s.err
	}
	n := len(p)
	for len(p) > 0 {
		if len(s.buf) == 0 && len(p) >= SnappyBlockSize {
			if s.err = s.block(p[:SnappyBlockSize]); s.err != nil {
				return 0, s.err
			}
			p = p[SnappyBlockSize:]
			continue
		}
		if s.buf == nil {
			s.buf = make([]byte, 0, SnappyBlockSize)
		}
		c := min(SnappyBlockSize-len(s.buf), len(p))
		s.buf = append(s.buf, p[:c]...)
		p = p[c:]
		if len(s.buf) == SnappyBlockSize {
			if s.err = s.block(s.buf); s.err != nil {
				return 0, s.err
			}
			s.buf = s.buf[:0]
		}
	}
	return n, nil
}

func (s *snappyWriter) block(in []byte) error {
	hdr := 4
	if !s.java {
		hdr = 8
	}
	need := hdr + snappy.MaxEncodedLen(len(in))
	if cap(s.out) < need {
		s.out = make([]byte, need)
	}
	enc := snappy.Encode(s.out[hdr:need], in)
	if s.java {
		binary.BigEndian.PutUint32(s.out, uint32(len(enc)))
	} else {
		binary.BigEndian.PutUint32(s.out, uint32(len(in)))
		binary.BigEndian.PutUint32(s.out[4:], uint32(len(enc)))
	}
	_, err := s.w.Write(s.out[:hdr+len(enc)])
	return err
}

func (s *snappyWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	if s.err = s.header(); s.err != nil {
		return s.err
	}
	if len(s.buf) > 0 {
		if s.err = s.block(s.buf); s.err != nil {
			return s.err
		}
		s.buf = s.buf[:0]
	}
	s.err = errClosed
	return nil
}

var errClosed = fmt.Errorf("encoder closed")
