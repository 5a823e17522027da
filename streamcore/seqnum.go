package streamcore

import (
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// Sequence numbers (reference §3.3) are 56-digit decimals of a 47-hex-digit layout:
//
//	2 | shard creation epoch s (9) | low nibble of shard index (1) | seqIx (16) | 00 |
//	arrival epoch s (9) | shard index (8) | 2 (version)
//
// seqIx 0 is a shard's StartingSequenceNumber, seqIxEnd its EndingSequenceNumber.

const seqIxEnd = uint64(0x7fffffffffffffff)

// seqNum is a decoded version-2 sequence number.
type seqNum struct {
	CreatedSec int64  // shard creation, epoch seconds
	Index      int    // shard index
	SeqIx      uint64 // position inside the shard
	ArrivalSec int64  // record arrival, epoch seconds
}

// String encodes s as its 56-digit decimal form. It is on the write path, so it works on
// three 64-bit words instead of math/big.
func (s seqNum) String() string {
	l := s.limbs()
	return string(appendLimbs(make([]byte, 0, 57), strconv.AppendUint(nil, l[2], 10), l))
}

// seqChunk is the base of limbs: 10^19, the largest power of ten in a uint64.
const seqChunk = 10000000000000000000

// limbs returns s's 188-bit value in base 10^19, least significant first.
func (s seqNum) limbs() [3]uint64 {
	var w [3]uint64 // little-endian words of the 188-bit value
	put := func(v uint64, off, width uint) {
		v &= (1 << width) - 1
		i, sh := off/64, off%64
		w[i] |= v << sh
		if sh+width > 64 {
			w[i+1] |= v >> (64 - sh)
		}
	}
	put(2, 0, 4)
	put(uint64(uint32(s.Index)), 4, 32)
	put(uint64(s.ArrivalSec), 36, 36)
	put(s.SeqIx, 80, 64)
	put(uint64(s.Index&0xf), 144, 4)
	put(uint64(s.CreatedSec), 148, 36)
	put(2, 184, 4)
	var parts [3]uint64
	for p := 0; p < 3; p++ {
		var rem uint64
		for i := 2; i >= 0; i-- {
			w[i], rem = bits.Div64(rem, w[i], seqChunk)
		}
		parts[p] = rem
	}
	return parts
}

// appendLimbs appends the decimal digits of l: top (the digits of l[2], formatted by the
// caller, which may reuse them), then l[1] and l[0] padded to 19 digits each.
func appendLimbs(buf, top []byte, l [3]uint64) []byte {
	buf = append(buf, top...)
	n := len(buf)
	buf = append(buf, make([]byte, 38)...)
	put19(buf[n:n+19], l[1])
	put19(buf[n+19:n+38], l[0])
	return buf
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// put19 writes v (< 10^19) as exactly 19 digits into d, two at a time.
func put19(d []byte, v uint64) {
	_ = d[18]
	for i := 18; i >= 2; i -= 2 {
		q := v / 100
		r := v - q*100
		d[i], d[i-1] = digitPairs[2*r+1], digitPairs[2*r]
		v = q
	}
	d[0] = byte('0' + v)
}

// seqStep is 2^80 in base 10^19 limbs: the sequence numbers of consecutive SeqIx with
// the same shard and arrival second differ by it (SeqIx sits at bit 80).
var seqStep = [3]uint64{5819614629174706176, 120892, 0}

// run returns the sequence numbers of n consecutive records from s.SeqIx on, all with
// s's shard and arrival second, sharing one backing string. The first is converted
// like String; each next adds 2^80 to the previous limbs (PutRecords and GetRecords
// number hundreds of records a call, and String's divisions showed in their profiles).
func (s seqNum) run(n int) []string {
	out := make([]string, n)
	if n == 0 {
		return out
	}
	l := s.limbs()
	buf := make([]byte, 0, 57*n)
	ends := make([]int, n)
	top, topVal := strconv.AppendUint(nil, l[2], 10), l[2]
	for k := 0; k < n; k++ {
		if k > 0 {
			var c uint64
			for i := range l {
				l[i] += seqStep[i] + c
				c = 0
				if l[i] >= seqChunk {
					l[i] -= seqChunk
					c = 1
				}
			}
			if l[2] != topVal {
				top, topVal = strconv.AppendUint(top[:0], l[2], 10), l[2]
			}
		}
		buf = appendLimbs(buf, top, l)
		ends[k] = len(buf)
	}
	all := string(buf)
	prev := 0
	for k, e := range ends {
		out[k], prev = all[prev:e], e
	}
	return out
}

// seqErrKind says why a sequence number could not be decoded.
type seqErrKind int

const (
	seqOK        seqErrKind = iota
	seqMalformed            // not 0|([1-9]\d{0,128})
	seqForeign              // well-formed decimal, but not a version-2 number
)

// parseSeqNum decodes a version-2 sequence number.
func parseSeqNum(s string) (seqNum, seqErrKind) {
	if s == "" || len(s) > 129 || (len(s) > 1 && s[0] == '0') {
		return seqNum{}, seqMalformed
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return seqNum{}, seqMalformed
		}
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return seqNum{}, seqMalformed
	}
	h := b.Text(16)
	if len(h) != 47 || h[0] != '2' || h[46] != '2' || strings.IndexByte("01234567", h[11]) < 0 || h[27:29] != "00" {
		return seqNum{}, seqForeign
	}
	var n seqNum
	var nib uint64
	var created, arrival, idx uint64
	if _, err := fmt.Sscanf(h[1:10], "%x", &created); err != nil {
		return seqNum{}, seqForeign
	}
	fmt.Sscanf(h[10:11], "%x", &nib)
	fmt.Sscanf(h[11:27], "%x", &n.SeqIx)
	fmt.Sscanf(h[29:38], "%x", &arrival)
	fmt.Sscanf(h[38:46], "%x", &idx)
	if idx&0xf != nib || idx > 2147483647 {
		return seqNum{}, seqForeign
	}
	n.CreatedSec, n.ArrivalSec, n.Index = int64(created), int64(arrival), int(idx)
	return n, seqOK
}

// compareSeq compares two decimal sequence numbers numerically (both well-formed).
func compareSeq(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// CompareSequenceNumbers orders two sequence numbers of one shard as the stream does: -1,
// 0 or +1. Both must be well-formed (as read from the stream).
func CompareSequenceNumbers(a, b string) int { return compareSeq(a, b) }
