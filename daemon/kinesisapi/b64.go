package kinesisapi

import asmb64 "github.com/segmentio/asm/base64"

// strictB64 decodes padded standard base64 and refuses non-zero trailing bits, as
// encoding/base64's strict decoder does (which it falls back to for the final quanta and
// on CPUs without AVX2 or NEON); the bulk of each value is decoded with vector
// instructions, about five times faster than table lookups.
var strictB64 = asmb64.StdEncoding.Strict()

// decodeB64 decodes one Data value. dst must hold base64.StdEncoding.DecodedLen(len(src))
// bytes. ok=false means the input is not valid strict base64 (the caller falls back to
// the generic decoder, which reports why).
func decodeB64(dst, src []byte) (n int, ok bool) {
	n, err := strictB64.Decode(dst, src)
	return n, err == nil
}
