package convert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Parquet compression codecs (ParquetSerDe.Compression; ZSTD is Sluice's).
const (
	Uncompressed = "UNCOMPRESSED"
	GZIP         = "GZIP"
	Snappy       = "SNAPPY"
	ZSTD         = "ZSTD"
)

// WriterOptions are the ParquetSerDe settings.
type WriterOptions struct {
	Compression string // "" = SNAPPY
	// BlockSize is the row-group size: a row group is closed once the encoded rows written
	// into it reach it (0 = 256 MiB).
	BlockSize int64
	// PageSize is the page buffer size (0 = 1 MiB).
	PageSize int64
	// V2 writes data pages v2 (WriterVersion V2).
	V2 bool
	// Dictionary enables dictionary encoding of string columns.
	Dictionary bool
}

func codec(name string) (compress.Codec, error) {
	switch name {
	case "", Snappy:
		return &snappy.Codec{}, nil
	case GZIP:
		return &gzip.Codec{Level: gzip.BestSpeed}, nil
	case ZSTD:
		return &zstd.Codec{Level: zstd.SpeedFastest}, nil
	case Uncompressed:
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("unknown Parquet compression %q", name)
}

// FileWriter writes one Parquet file of a converter's table. Not safe for concurrent use.
// Memory: one row group (its pages, compressed) plus one batch of decoded rows.
type FileWriter struct {
	c       *Converter
	w       *parquet.Writer
	block   int64
	inGroup int64
	rows    []parquet.Row
	vals    []parquet.Value
	n       int64
}

// Schema returns the converter's Parquet schema.
func (c *Converter) Schema(dict bool) *parquet.Schema { return Schema(c.table, dict) }

// NewFileWriter starts a Parquet file on w.
func (c *Converter) NewFileWriter(w io.Writer, o WriterOptions) (*FileWriter, error) {
	cd, err := codec(o.Compression)
	if err != nil {
		return nil, err
	}
	if o.BlockSize <= 0 {
		o.BlockSize = 256 << 20
	}
	if o.PageSize <= 0 {
		o.PageSize = 1 << 20
	}
	ver := 1
	if o.V2 {
		ver = 2
	}
	pw := parquet.NewWriter(w, c.Schema(o.Dictionary), parquet.Compression(cd), parquet.PageBufferSize(int(min(o.PageSize, math.MaxInt32))),
		parquet.DataPageVersion(ver), parquet.CreatedBy("sluice", "", ""))
	return &FileWriter{c: c, w: pw, block: o.BlockSize}, nil
}

// rowsPerWrite is how many decoded rows are handed to the Parquet writer at once.
const rowsPerWrite = 256

// Write adds the rows of one encoded record (Converter.Convert's output).
func (fw *FileWriter) Write(enc []byte) error {
	for len(enc) > 0 {
		start := len(enc)
		row, rest, err := fw.decodeRow(enc)
		if err != nil {
			return err
		}
		enc = rest
		fw.rows = append(fw.rows, row)
		fw.inGroup += int64(start - len(enc))
		if len(fw.rows) == rowsPerWrite {
			if err := fw.writeRows(); err != nil {
				return err
			}
		}
		if fw.inGroup >= fw.block {
			if err := fw.writeRows(); err != nil {
				return err
			}
			if err := fw.w.Flush(); err != nil { // closes the row group
				return err
			}
			fw.inGroup = 0
		}
	}
	return nil
}

func (fw *FileWriter) writeRows() error {
	if len(fw.rows) == 0 {
		return nil
	}
	_, err := fw.w.WriteRows(fw.rows)
	fw.n += int64(len(fw.rows))
	fw.rows, fw.vals = fw.rows[:0], fw.vals[:0]
	return err
}

// Rows returns the number of rows written so far.
func (fw *FileWriter) Rows() int64 { return fw.n + int64(len(fw.rows)) }

// Close writes the last row group and the footer. It does not close the underlying writer.
func (fw *FileWriter) Close() error {
	if err := fw.writeRows(); err != nil {
		return err
	}
	return fw.w.Close()
}

// ErrCorrupt is returned by FileWriter.Write for bytes that are not encoded rows.
var ErrCorrupt = errors.New("convert: corrupt encoded row")

// decodeRow decodes one row; byte values alias enc.
func (fw *FileWriter) decodeRow(enc []byte) (parquet.Row, []byte, error) {
	vals := fw.vals
	start := len(vals)
	leaves := fw.c.leaves
	for l := range leaves {
		li := &leaves[l]
		cnt, k := binary.Uvarint(enc)
		if k <= 0 || cnt > uint64(len(enc)) {
			return nil, nil, ErrCorrupt
		}
		enc = enc[k:]
		for range cnt {
			if len(enc) < 2 {
				return nil, nil, ErrCorrupt
			}
			rep, def := int(enc[0]), int(enc[1])
			enc = enc[2:]
			var v parquet.Value
			if def == li.maxDef {
				var ok bool
				if v, enc, ok = decodeValue(li, enc); !ok {
					return nil, nil, ErrCorrupt
				}
			}
			vals = append(vals, v.Level(rep, def, l))
		}
	}
	fw.vals = vals
	return parquet.Row(vals[start:len(vals):len(vals)]), enc, nil
}

// decodeValue decodes the payload of one present value of leaf li.
func decodeValue(li *leafInfo, enc []byte) (parquet.Value, []byte, bool) {
	switch li.phys {
	case pBool:
		if len(enc) < 1 {
			return parquet.Value{}, nil, false
		}
		return parquet.BooleanValue(enc[0] != 0), enc[1:], true
	case pInt32, pFloat:
		if len(enc) < 4 {
			return parquet.Value{}, nil, false
		}
		x := binary.LittleEndian.Uint32(enc)
		if li.phys == pFloat {
			return parquet.FloatValue(math.Float32frombits(x)), enc[4:], true
		}
		return parquet.Int32Value(int32(x)), enc[4:], true
	case pInt64, pDouble:
		if len(enc) < 8 {
			return parquet.Value{}, nil, false
		}
		x := binary.LittleEndian.Uint64(enc)
		if li.phys == pDouble {
			return parquet.DoubleValue(math.Float64frombits(x)), enc[8:], true
		}
		return parquet.Int64Value(int64(x)), enc[8:], true
	case pFixed:
		if len(enc) < li.fixed {
			return parquet.Value{}, nil, false
		}
		return parquet.FixedLenByteArrayValue(enc[:li.fixed]), enc[li.fixed:], true
	}
	n, k := binary.Uvarint(enc)
	if k <= 0 || n > uint64(len(enc)-k) {
		return parquet.Value{}, nil, false
	}
	end := k + int(n)
	return parquet.ByteArrayValue(enc[k:end:end]), enc[end:], true
}
