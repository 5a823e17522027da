package kinesisapi

import "encoding/binary"

// b64Tab[k][c] is the 6-bit value of standard base64 character c placed for position k
// of a 4-character quantum (shifted left by 18, 12, 6, 0), or b64Bad for a character
// outside the alphabet (including '=' and whitespace).
var b64Tab = func() (t [4][256]uint32) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for k := range t {
		for c := range t[k] {
			t[k][c] = b64Bad
		}
		for v := range len(alphabet) {
			t[k][alphabet[v]] = uint32(v) << (18 - 6*k)
		}
	}
	return t
}()

const b64Bad = 1 << 31

// decodeB64 decodes padded standard base64 exactly as strictB64.Decode does for input
// without line breaks, with table lookups for every quantum but the last (the stdlib
// decoder checks and shifts one character at a time). dst must hold
// base64.StdEncoding.DecodedLen(len(src)) bytes. ok=false means the input is not valid
// strict base64 (the caller falls back to the generic decoder, which reports why).
func decodeB64(dst, src []byte) (n int, ok bool) {
	if len(src) == 0 {
		return 0, true
	}
	if len(src)%4 != 0 || len(dst) < len(src)/4*3 {
		return 0, false
	}
	body := src[:len(src)-4]
	t0, t1, t2, t3 := &b64Tab[0], &b64Tab[1], &b64Tab[2], &b64Tab[3]
	// 8 characters → 6 bytes, stored with one 8-byte write: the 2 extra bytes land in
	// the room reserved for the last quantum, which is decoded afterwards.
	for len(body) >= 16 {
		s := body[:16:16]
		a := t0[s[0]] | t1[s[1]] | t2[s[2]] | t3[s[3]]
		b := t0[s[4]] | t1[s[5]] | t2[s[6]] | t3[s[7]]
		c := t0[s[8]] | t1[s[9]] | t2[s[10]] | t3[s[11]]
		d := t0[s[12]] | t1[s[13]] | t2[s[14]] | t3[s[15]]
		if (a|b|c|d)&b64Bad != 0 {
			return 0, false
		}
		o := dst[n : n+12 : n+12]
		binary.BigEndian.PutUint64(o, uint64(a)<<40|uint64(b)<<16|uint64(c>>8))
		binary.BigEndian.PutUint32(o[8:], c<<24|d)
		n += 12
		body = body[16:]
	}
	for len(body) >= 8 {
		s := body[:8:8]
		x := t0[s[0]] | t1[s[1]] | t2[s[2]] | t3[s[3]]
		y := t0[s[4]] | t1[s[5]] | t2[s[6]] | t3[s[7]]
		if (x|y)&b64Bad != 0 {
			return 0, false
		}
		binary.BigEndian.PutUint64(dst[n:], uint64(x)<<40|uint64(y)<<16)
		n += 6
		body = body[8:]
	}
	if len(body) == 4 {
		x := t0[body[0]] | t1[body[1]] | t2[body[2]] | t3[body[3]]
		if x&b64Bad != 0 {
			return 0, false
		}
		d := dst[n : n+3 : n+3]
		d[0], d[1], d[2] = byte(x>>16), byte(x>>8), byte(x)
		n += 3
	}
	m, err := strictB64.Decode(dst[n:], src[len(src)-4:])
	if err != nil {
		return 0, false
	}
	return n + m, true
}
