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
	const chunk = 10000000000000000000 // 10^19
	var parts [3]uint64
	for p := 0; p < 3; p++ {
		var rem uint64
		for i := 2; i >= 0; i-- {
			w[i], rem = bits.Div64(rem, w[i], chunk)
		}
		parts[p] = rem
	}
	buf := make([]byte, 0, 57)
	buf = strconv.AppendUint(buf, parts[2], 10)
	for p := 1; p >= 0; p-- {
		d := strconv.AppendUint(make([]byte, 0, 19), parts[p], 10)
		for i := len(d); i < 19; i++ {
			buf = append(buf, '0')
		}
		buf = append(buf, d...)
	}
	return string(buf)
}

// seqStep is 2^80 in decimal: the sequence numbers of consecutive SeqIx with the same
// shard and arrival second differ by it (SeqIx sits at bit 80).
const seqStep = "1208925819614629174706176"

// run returns the sequence numbers of n consecutive records from s.SeqIx on, all with
// s's shard and arrival second. The first is String's; each next adds 2^80 to the
// previous digits, and all share one backing string (PutRecords numbers hundreds of
// records per shard, and the divisions of String were a visible share of a call).
func (s seqNum) run(n int) []string {
	out := make([]string, n)
	if n == 0 {
		return out
	}
	first := s.String()
	w := len(first)
	buf := make([]byte, 0, w*n)
	buf = append(buf, first...)
	for k := 1; k < n; k++ {
		prev := buf[len(buf)-w:]
		buf = append(buf, prev...)
		d := buf[len(buf)-w:]
		carry := byte(0)
		for i := 0; i < w && (i < len(seqStep) || carry != 0); i++ {
			sum := d[w-1-i] + carry
			if i < len(seqStep) {
				sum += seqStep[len(seqStep)-1-i] - '0'
			}
			carry = 0
			if sum > '9' {
				sum, carry = sum-10, 1
			}
			d[w-1-i] = sum
		}
		if carry != 0 { // cannot happen below seqIxEnd; stay exact regardless
			s.SeqIx += uint64(k)
			for j := k; j < n; j++ {
				out[j] = s.String()
				s.SeqIx++
			}
			n = k
			break
		}
	}
	all := string(buf)
	for k := 0; k < n; k++ {
		out[k] = all[k*w : (k+1)*w]
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
