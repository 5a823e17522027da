package filestore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unsafe"
)

func leUint64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// bytesToString makes a string sharing b's memory. b must never be written again: Read
// only uses it for partition keys carved from a private slab.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func fmtSeg(base uint64) string { return fmt.Sprintf(SegmentNameFormat, base) }
