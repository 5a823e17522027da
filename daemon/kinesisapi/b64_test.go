package kinesisapi

import (
	"bytes"
	"encoding/base64"
	"testing"
)

var stdStrict = base64.StdEncoding.Strict()

// guarded returns a dst of n bytes whose backing array has guard bytes on both sides,
// and a check that they are untouched (the vector decoder must not store outside dst).
func guarded(t *testing.T, n int) ([]byte, func()) {
	const pad = 64
	back := bytes.Repeat([]byte{0xA5}, n+2*pad)
	return back[pad : pad+n : pad+n], func() {
		t.Helper()
		for i, c := range back {
			if (i < pad || i >= pad+n) && c != 0xA5 {
				t.Fatalf("byte %d outside dst (len %d) was overwritten", i-pad, n)
			}
		}
	}
}

// decodeB64 accepts exactly what the standard library's strict decoder accepts (for text
// without line breaks, which the JSON fast path never passes it), yields the same bytes
// and writes nothing outside dst.
func FuzzDecodeB64(f *testing.F) {
	for _, s := range []string{"", "AA==", "AAA=", "AAAA", "AB==", "AAB=", "QUJDREVGR0g=", "QUJDREVGR0hJ",
		"QUJD=EVG", "QUJDREVGR0hJSktM", "QUJDREVGR0hJSktMTU5P", "////++++", "AA==AAAA", "QUJ\x00REVG", "QUJDRE\xffG",
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("sluice!"), 40)),
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("sluice!"), 40))[:100] + "A=AA" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xt",
		"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw-_"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if bytes.ContainsAny(src, "\r\n") {
			return
		}
		want := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		m, err := stdStrict.Decode(want, src)
		got, check := guarded(t, base64.StdEncoding.DecodedLen(len(src)))
		n, ok := decodeB64(got, src)
		check()
		if ok != (err == nil) {
			t.Fatalf("%q: ok=%v, strict decoder err=%v", src, ok, err)
		}
		if ok && !bytes.Equal(got[:n], want[:m]) {
			t.Fatalf("%q: decoded %x, want %x", src, got[:n], want[:m])
		}
	})
}

// Every length around the vector decoder's block sizes round-trips, and a bad character
// or a non-zero trailing bit anywhere is refused.
func TestDecodeB64(t *testing.T) {
	for n := 0; n < 300; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*131 + n)
		}
		src := []byte(base64.StdEncoding.EncodeToString(data))
		dst, check := guarded(t, base64.StdEncoding.DecodedLen(len(src)))
		m, ok := decodeB64(dst, src)
		check()
		if !ok || !bytes.Equal(dst[:m], data) {
			t.Fatalf("%d bytes: ok=%v got %x want %x", n, ok, dst[:m], data)
		}
		for at := 0; at < len(src); at += 7 {
			bad := bytes.Clone(src)
			bad[at] = '*'
			if _, ok := decodeB64(make([]byte, len(dst)), bad); ok {
				t.Fatalf("%d bytes: '*' at %d accepted", n, at)
			}
		}
		if n%3 != 0 {
			bad := bytes.Clone(src)
			i := bytes.IndexByte(bad, '=') - 1
			bad[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[63] // all low bits set
			if _, ok := decodeB64(make([]byte, len(dst)), bad); ok {
				t.Fatalf("%d bytes: non-zero trailing bits accepted: %s", n, bad[max(0, i-4):])
			}
		}
	}
}

func BenchmarkDecodeB64(b *testing.B) {
	data := make([]byte, 1024)
	for i := range data {
		data[i] = byte(i*i*131 + i>>3) // every character of the alphabet shows up
	}
	src := []byte(base64.StdEncoding.EncodeToString(data))
	dst := make([]byte, len(data)+3)
	b.Run("vector", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			decodeB64(dst, src)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			stdStrict.Decode(dst, src)
		}
	})
}
