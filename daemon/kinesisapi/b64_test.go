package kinesisapi

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// decodeB64 accepts exactly what the strict standard decoder accepts (for text without
// line breaks, which the JSON fast path never passes it) and yields the same bytes.
func FuzzDecodeB64(f *testing.F) {
	for _, s := range []string{"", "AA==", "AAA=", "AAAA", "AB==", "AAB=", "QUJDREVGR0g=", "QUJDREVGR0hJ",
		"QUJD=EVG", "QUJDREVGR0hJSktM", "QUJDREVGR0hJSktMTU5P", "////++++", "AA==AAAA", "QUJ\x00REVG", "QUJDRE\xffG"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if bytes.ContainsAny(src, "\r\n") {
			return
		}
		want := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		m, err := strictB64.Decode(want, src)
		got := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		n, ok := decodeB64(got, src)
		if ok != (err == nil) {
			t.Fatalf("%q: ok=%v, strict decoder err=%v", src, ok, err)
		}
		if ok && !bytes.Equal(got[:n], want[:m]) {
			t.Fatalf("%q: decoded %x, want %x", src, got[:n], want[:m])
		}
	})
}

func TestDecodeB64RoundTrip(t *testing.T) {
	for n := 0; n < 200; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*131 + n)
		}
		src := []byte(base64.StdEncoding.EncodeToString(data))
		dst := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		m, ok := decodeB64(dst, src)
		if !ok || !bytes.Equal(dst[:m], data) {
			t.Fatalf("%d bytes: ok=%v got %x want %x", n, ok, dst[:m], data)
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
	b.SetBytes(int64(len(data)))
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			decodeB64(dst, src)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			strictB64.Decode(dst, src)
		}
	})
}
