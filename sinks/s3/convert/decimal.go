package convert

import (
	"encoding/binary"
	"math/big"
	"strconv"
)

// decimal converts the number text s into decimal leaf n: the exact decimal value (no
// binary floating point on the way), rounded half-up to the column's scale as Hive does;
// a value with more than precision − scale integer digits does not fit and is an error.
func (c *Converter) decimal(st *state, n *node, s []byte, rep int) error {
	p, sc := n.t.Precision, n.t.Scale
	digits, neg, ok := unscaled(s, sc, st.dec[:0])
	st.dec = digits[:0]
	if !ok {
		return malformed("column %s (%s): %s is not a number", n.name, n.t, clip(s))
	}
	if len(digits) > p {
		return malformed("column %s (%s): %s does not fit (at most %d digits before the decimal point)", n.name, n.t, clip(s), p-sc)
	}
	switch n.phys {
	case pInt32, pInt64:
		var x int64
		for _, d := range digits {
			x = x*10 + int64(d-'0')
		}
		if neg {
			x = -x
		}
		if n.phys == pInt32 {
			st.vals[n.leaf] = binary.LittleEndian.AppendUint32(st.put(n, rep), uint32(int32(x)))
		} else {
			st.vals[n.leaf] = binary.LittleEndian.AppendUint64(st.put(n, rep), uint64(x))
		}
		return nil
	}
	var x big.Int
	if len(digits) > 0 {
		x.SetString(string(digits), 10)
	}
	if neg {
		x.Neg(&x)
	}
	st.vals[n.leaf] = append(st.put(n, rep), twosComplement(&x, n.fixed)...)
	return nil
}

// twosComplement is x as a big-endian two's-complement number of size bytes.
func twosComplement(x *big.Int, size int) []byte {
	out := make([]byte, size)
	if x.Sign() >= 0 {
		x.FillBytes(out)
		return out
	}
	// -x = ^(x-1) for the magnitude
	var m big.Int
	m.Neg(x)
	m.Sub(&m, big.NewInt(1))
	m.FillBytes(out)
	for i := range out {
		out[i] = ^out[i]
	}
	return out
}

// unscaled parses a decimal number (-?digits[.digits][e±digits]) and returns the digits
// of its value times 10^scale, rounded half-up, without leading zeros, appended to buf.
func unscaled(s []byte, scale int, buf []byte) (digits []byte, neg, ok bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var intPart, frac []byte
	j := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart = s[j:i]
	if i < len(s) && s[i] == '.' {
		i++
		j = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac = s[j:i]
	}
	if len(intPart)+len(frac) == 0 {
		return nil, false, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		e, err := strconv.Atoi(string(s[i+1:]))
		if err != nil || e > 400 || e < -400 {
			return nil, false, false
		}
		exp = e
		i = len(s)
	}
	if i != len(s) {
		return nil, false, false
	}
	// all digits, and the position of the decimal point after shifting by exp+scale
	buf = append(buf, intPart...)
	buf = append(buf, frac...)
	point := len(intPart) + exp + scale
	var round bool
	switch {
	case point < 0:
		buf, round = buf[:0], false
	case point >= len(buf):
		for len(buf) < point {
			buf = append(buf, '0')
		}
	default:
		round = buf[point] >= '5'
		buf = buf[:point]
	}
	if round {
		k := len(buf) - 1
		for k >= 0 && buf[k] == '9' {
			buf[k] = '0'
			k--
		}
		if k < 0 {
			buf = append([]byte{'1'}, buf...)
		} else {
			buf[k]++
		}
	}
	z := 0
	for z < len(buf) && buf[z] == '0' {
		z++
	}
	buf = buf[z:]
	if len(buf) == 0 {
		neg = false
	}
	return buf, neg, true
}
