package streamcore

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"math/bits"
	"math/rand/v2"
)

// HashKey is a point of the 128-bit hash-key space as an unsigned big-endian integer.
type HashKey struct {
	Hi, Lo uint64
}

// MaxHashKey is 2^128-1, the end of the hash-key space.
var MaxHashKey = HashKey{Hi: ^uint64(0), Lo: ^uint64(0)}

var maxHashBig = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// ParseHashKey parses a decimal hash key 0..2^128-1 (pattern 0|([1-9]\d{0,38})).
// Out of range or malformed input gives the reference's InvalidArgument text.
func ParseHashKey(s string) (HashKey, error) {
	bad := newErr(CodeInvalidArgument, "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", s)
	if s == "" || len(s) > 39 || (len(s) > 1 && s[0] == '0') {
		return HashKey{}, bad
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return HashKey{}, bad
		}
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.Cmp(maxHashBig) > 0 {
		return HashKey{}, bad
	}
	return hashFromBig(b), nil
}

func hashFromBig(b *big.Int) HashKey {
	var buf [16]byte
	b.FillBytes(buf[:])
	return HashKey{Hi: binary.BigEndian.Uint64(buf[:8]), Lo: binary.BigEndian.Uint64(buf[8:])}
}

func (h HashKey) big() *big.Int {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], h.Hi)
	binary.BigEndian.PutUint64(buf[8:], h.Lo)
	return new(big.Int).SetBytes(buf[:])
}

// String formats h in decimal.
func (h HashKey) String() string { return h.big().String() }

// Cmp returns -1, 0 or 1 as h is below, equal to or above o.
func (h HashKey) Cmp(o HashKey) int {
	switch {
	case h.Hi < o.Hi:
		return -1
	case h.Hi > o.Hi:
		return 1
	case h.Lo < o.Lo:
		return -1
	case h.Lo > o.Lo:
		return 1
	}
	return 0
}

// Add returns h+n modulo 2^128.
func (h HashKey) Add(n uint64) HashKey {
	lo, c := bits.Add64(h.Lo, n, 0)
	return HashKey{Hi: h.Hi + c, Lo: lo}
}

// Sub returns h-n modulo 2^128.
func (h HashKey) Sub(n uint64) HashKey {
	lo, b := bits.Sub64(h.Lo, n, 0)
	return HashKey{Hi: h.Hi - b, Lo: lo}
}

// PartitionHash is the MD5 of the UTF-8 partition key as a big-endian 128-bit integer.
func PartitionHash(partitionKey string) HashKey {
	sum := md5.Sum([]byte(partitionKey))
	return HashKey{Hi: binary.BigEndian.Uint64(sum[:8]), Lo: binary.BigEndian.Uint64(sum[8:])}
}

// randomHashKey is a uniformly random point of the hash-key space (the AUTO record
// distribution strategy's placement).
func randomHashKey() HashKey { return HashKey{Hi: rand.Uint64(), Lo: rand.Uint64()} }

// Contains reports whether k lies in the inclusive range r.
func (r HashKeyRange) Contains(k HashKey) bool {
	return r.Start.Cmp(k) <= 0 && k.Cmp(r.End) <= 0
}

// overlap is the number of keys r and o share, saturated at 2^64-1.
func (r HashKeyRange) overlap(o HashKeyRange) *big.Int {
	lo, hi := r.Start, r.End
	if o.Start.Cmp(lo) > 0 {
		lo = o.Start
	}
	if o.End.Cmp(hi) < 0 {
		hi = o.End
	}
	if lo.Cmp(hi) > 0 {
		return new(big.Int)
	}
	d := new(big.Int).Sub(hi.big(), lo.big())
	return d.Add(d, big.NewInt(1))
}

// EvenRanges splits the space into n ranges of width floor(2^128/n); the last one ends
// at 2^128-1.
func EvenRanges(n int) []HashKeyRange {
	if n < 1 {
		return nil
	}
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	w := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([]HashKeyRange, n)
	for i := 0; i < n; i++ {
		start := new(big.Int).Mul(w, big.NewInt(int64(i)))
		end := new(big.Int).Add(start, w)
		end.Sub(end, big.NewInt(1))
		if i == n-1 {
			end = maxHashBig
		}
		out[i] = HashKeyRange{Start: hashFromBig(start), End: hashFromBig(end)}
	}
	return out
}
