package awsproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	asmb64 "github.com/segmentio/asm/base64"
)

// Codec is the body encoding of a request and of its reply.
type Codec uint8

const (
	// JSON is AWS JSON 1.1 (application/x-amz-json-1.1).
	JSON Codec = iota
	// CBOR is application/x-amz-cbor-1.1, the Java SDK's default for Kinesis.
	CBOR
)

// Content types.
const (
	ContentTypeJSON   = "application/x-amz-json-1.1"
	ContentTypeCBOR   = "application/x-amz-cbor-1.1"
	ContentTypeLegacy = "application/json"
)

// ContentType is the Content-Type of replies in c.
func (c Codec) ContentType() string {
	if c == CBOR {
		return ContentTypeCBOR
	}
	return ContentTypeJSON
}

func (c Codec) String() string {
	if c == CBOR {
		return "cbor"
	}
	return "json"
}

// MediaType returns the Content-Type header without parameters, lower-cased.
func MediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// Timestamp is a point in time in epoch milliseconds. It encodes as AWS JSON 1.1 epoch
// seconds with three decimals and as CBOR tag 1 with an integer of epoch milliseconds
// (what the Java SDK expects). Zero is "absent" for omitempty.
type Timestamp int64

// TS converts t to a Timestamp.
func TS(t time.Time) Timestamp {
	if t.IsZero() {
		return 0
	}
	return Timestamp(t.UnixMilli())
}

// AppendJSONTimestamp appends ms as epoch seconds with three decimals.
func AppendJSONTimestamp(b []byte, ms int64) []byte {
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	f := ms % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// AppendCBORTimestamp appends tag 1 followed by the integer ms.
func AppendCBORTimestamp(b []byte, ms int64) []byte {
	b = append(b, 0xc1)
	if ms < 0 {
		return AppendCBORHead(b, 1, uint64(-ms-1))
	}
	return AppendCBORHead(b, 0, uint64(ms))
}

func (t Timestamp) MarshalJSON() ([]byte, error) { return AppendJSONTimestamp(nil, int64(t)), nil }

func (t Timestamp) MarshalCBOR() ([]byte, error) { return AppendCBORTimestamp(nil, int64(t)), nil }

// Time converts back to time.Time.
func (t Timestamp) Time() time.Time { return time.UnixMilli(int64(t)) }

// AppendCBORHead appends a CBOR item head of major type major with argument n, in the
// shortest form.
func AppendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// AppendCBORText appends a definite-length text string.
func AppendCBORText(b []byte, s string) []byte {
	return append(AppendCBORHead(b, 3, uint64(len(s))), s...)
}

// AppendCBORBytes appends a definite-length byte string.
func AppendCBORBytes(b []byte, p []byte) []byte {
	return append(AppendCBORHead(b, 2, uint64(len(p))), p...)
}

// AppendCBORInt appends a signed integer in the shortest form.
func AppendCBORInt(b []byte, n int64) []byte {
	if n < 0 {
		return AppendCBORHead(b, 1, uint64(-n-1))
	}
	return AppendCBORHead(b, 0, uint64(n))
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendJSONBase64 appends p as a padded standard base64 JSON string (GetRecords' Data),
// encoded with vector instructions where the CPU has them.
func AppendJSONBase64(b []byte, p []byte) []byte {
	b = append(b, '"')
	n, m := len(b), asmb64.StdEncoding.EncodedLen(len(p))
	b = slices.Grow(b, m+1)[:n+m]
	asmb64.StdEncoding.Encode(b[n:], p)
	return append(b, '"')
}

var cborEnc = func() cbor.EncMode {
	m, err := cbor.EncOptions{
		Sort:          cbor.SortNone,
		ShortestFloat: cbor.ShortestFloat16,
		IndefLength:   cbor.IndefLengthForbidden,
		OmitEmpty:     cbor.OmitEmptyGoValue,
		Time:          cbor.TimeUnixMicro,
	}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

var cborDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		MaxNestedLevels:  64,
		UTF8:             cbor.UTF8DecodeInvalid,
		IntDec:           cbor.IntDecConvertSigned,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// Marshal encodes v (a struct with json tags, omitempty for optional members; []byte
// for blobs; Timestamp for timestamps) in codec c. CBOR output uses definite lengths
// and the shortest integer forms.
func Marshal(c Codec, v any) ([]byte, error) {
	if c == CBOR {
		return cborEnc.Marshal(v)
	}
	return json.Marshal(v)
}

// WriteReply writes a 200 reply with v encoded in c. A nil v writes an empty body.
func WriteReply(w http.ResponseWriter, c Codec, v any) {
	if v == nil {
		WriteBody(w, c, nil)
		return
	}
	b, err := Marshal(c, v)
	if err != nil {
		WriteError(w, c, Internal())
		return
	}
	WriteBody(w, c, b)
}

// WriteBody writes a 200 reply with a body already encoded in c.
func WriteBody(w http.ResponseWriter, c Codec, body []byte) {
	h := w.Header()
	h.Set("Content-Type", c.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if len(body) > 0 {
		w.Write(body)
	}
}

// DecodeCBOR decodes a CBOR body into generic values (maps are map[string]any, byte
// strings []byte, tag-1 times time.Time).
func DecodeCBOR(body []byte) (any, error) {
	var v any
	if err := cborDec.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeJSON decodes a JSON body into generic values with json.Number numbers.
func DecodeJSON(body []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}
