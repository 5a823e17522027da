package kinesisapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sync"
	"unicode/utf8"
)

// A small, strict JSON scanner for the hot operations (PutRecords, PutRecord,
// GetRecords). It accepts exactly the JSON that encoding/json accepts for these fixed
// shapes and reports ok=false for anything it does not handle (wrong member types,
// syntax errors); the caller then falls back to the generic decoder, which produces
// AWS's exact SerializationException texts.

type jscan struct {
	b []byte
	i int
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jscan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jscan) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// str scans a string at s.i (after ws). raw is the content between the quotes; esc says
// whether it holds escapes or non-ASCII bytes (then use unquote).
func (s *jscan) str() (raw []byte, esc bool, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		for s.i < len(s.b) && plain[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, esc, true
		case c == '\\':
			esc = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return nil, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				s.i += 5
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			esc = true
			s.i++
		default:
			s.i++
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unquote returns the Go string of a scanned string.
func unquote(raw []byte, esc bool) string {
	if !esc {
		return string(raw)
	}
	if utf8.Valid(raw) {
		hasBS := false
		for _, c := range raw {
			if c == '\\' {
				hasBS = true
				break
			}
		}
		if !hasBS {
			return string(raw)
		}
	}
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var out string
	if json.Unmarshal(q, &out) != nil {
		return ""
	}
	return out
}

// number scans a JSON number and returns its text.
func (s *jscan) number() ([]byte, bool) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return nil, false
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if s.b[s.i] >= '1' && s.b[s.i] <= '9' {
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	} else {
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

// skip scans any value.
func (s *jscan) skip(depth int) bool {
	if depth > 64 {
		return false
	}
	switch s.peek() {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{':
		return s.object(func(_ []byte, _ bool) bool { return s.skip(depth + 1) })
	case '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// object scans an object, calling member for each key with s positioned at its value.
func (s *jscan) object(member func(key []byte, esc bool) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		k, esc, ok := s.str()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !member(k, esc) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *jscan) array(elem func() bool) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		s.ws()
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// optString reads a string or null member value.
func (s *jscan) optString(dst *string, has *bool) bool {
	if s.peek() == 'n' {
		if !s.lit("null") {
			return false
		}
		*dst, *has = "", false
		return true
	}
	raw, esc, ok := s.str()
	if !ok {
		return false
	}
	*dst, *has = unquote(raw, esc), true
	return true
}

// end checks nothing but whitespace follows the top-level value.
func (s *jscan) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// keyIs compares a scanned key with a member name. Keys with escapes never match (the
// generic decoder handles them).
func keyIs(k []byte, esc bool, name string) bool { return !esc && string(k) == name }

// putEntryIn is one decoded PutRecords entry (or the PutRecord request's record).
type putEntryIn struct {
	data          []byte
	hasData       bool
	pk, ehk       string
	hasPK, hasEHK bool
}

type putRecordsIn struct {
	stream     streamArgs
	records    []putEntryIn
	hasRecords bool
	data       *[]byte // pooled buffer the records' Data point into (release)
}

// slabPool recycles the buffers PutRecords bodies are decoded into: one call decodes up
// to several MiB, and allocating (and zeroing) that afresh for every call was most of
// the API's garbage.
var slabPool sync.Pool

// release returns the decode buffer once the records are stored (the store copies Data
// before Append returns); in's records must not be used afterwards.
func (in *putRecordsIn) release() {
	if in.data != nil && cap(*in.data) <= 16<<20 {
		slabPool.Put(in.data)
	}
	in.data, in.records = nil, nil
}

// slab hands out decoded Data buffers from one allocation per request.
type slab struct{ buf []byte }

func (sl *slab) decode(raw []byte) ([]byte, bool) {
	n := base64.StdEncoding.DecodedLen(len(raw))
	if len(sl.buf) < n {
		sl.buf = make([]byte, max(n, 64<<10))
	}
	m, ok := decodeB64(sl.buf, raw)
	if !ok {
		return nil, false
	}
	out := sl.buf[:m:m]
	sl.buf = sl.buf[m:]
	return out, true
}

// blob reads a base64 Data value or null.
func (s *jscan) blob(sl *slab, dst *[]byte, has *bool) bool {
	if s.peek() == 'n' {
		if !s.lit("null") {
			return false
		}
		*dst, *has = nil, false
		return true
	}
	// Base64 text never holds quotes, escapes or control characters: find the closing
	// quote with a vectorised search and let the base64 decoder reject anything else
	// (the generic path then reports the exact error).
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	j := bytes.IndexByte(s.b[s.i+1:], '"')
	if j < 0 {
		return false
	}
	raw := s.b[s.i+1 : s.i+1+j]
	if len(raw)%4 != 0 || bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 {
		return false
	}
	s.i += j + 2
	d, ok := sl.decode(raw)
	if !ok {
		return false
	}
	*dst, *has = d, true
	return true
}

func (s *jscan) entry(sl *slab, e *putEntryIn, withStream *streamArgs, extra func(k []byte, esc bool) (bool, bool)) bool {
	return s.object(func(k []byte, esc bool) bool {
		switch {
		case keyIs(k, esc, "Data"):
			return s.blob(sl, &e.data, &e.hasData)
		case keyIs(k, esc, "PartitionKey"):
			return s.optString(&e.pk, &e.hasPK)
		case keyIs(k, esc, "ExplicitHashKey"):
			return s.optString(&e.ehk, &e.hasEHK)
		case esc:
			return false
		}
		if withStream != nil {
			switch string(k) {
			case "StreamName":
				return s.optString(&withStream.name, &withStream.hasName)
			case "StreamARN":
				return s.optString(&withStream.arn, &withStream.hasARN)
			case "StreamId":
				return s.optString(&withStream.streamID, &withStream.hasStreamID)
			}
		}
		if extra != nil {
			if handled, ok := extra(k, esc); handled {
				return ok
			}
		}
		return s.skip(0)
	})
}

// decodePutRecordsJSON is the hand-written decoder of a PutRecords JSON body.
// ok=false means "not handled here" (use the generic path), never "valid".
func decodePutRecordsJSON(body []byte) (in putRecordsIn, ok bool) {
	s := &jscan{b: body}
	need := base64.StdEncoding.DecodedLen(len(body))
	buf, _ := slabPool.Get().(*[]byte)
	if buf == nil || cap(*buf) < need {
		b := make([]byte, need)
		buf = &b
	}
	*buf = (*buf)[:cap(*buf)]
	in.data = buf
	sl := &slab{buf: *buf}
	ok = s.object(func(k []byte, esc bool) bool {
		switch {
		case esc:
			return false
		case string(k) == "Records":
			if s.peek() == 'n' {
				in.records, in.hasRecords = nil, false
				return s.lit("null")
			}
			in.hasRecords = true
			in.records = make([]putEntryIn, 0, 500)
			return s.array(func() bool {
				if s.peek() == 'n' {
					if !s.lit("null") {
						return false
					}
					in.records = append(in.records, putEntryIn{})
					return true
				}
				in.records = append(in.records, putEntryIn{})
				return s.entry(sl, &in.records[len(in.records)-1], nil, nil)
			})
		case string(k) == "StreamName":
			return s.optString(&in.stream.name, &in.stream.hasName)
		case string(k) == "StreamARN":
			return s.optString(&in.stream.arn, &in.stream.hasARN)
		case string(k) == "StreamId":
			return s.optString(&in.stream.streamID, &in.stream.hasStreamID)
		}
		return s.skip(0)
	})
	if !ok || !s.end() {
		in.release()
		return putRecordsIn{}, false
	}
	return in, true
}

type putRecordIn struct {
	stream      streamArgs
	rec         putEntryIn
	seqOrder    string
	hasSeqOrder bool
}

func decodePutRecordJSON(body []byte) (in putRecordIn, ok bool) {
	s := &jscan{b: body}
	sl := &slab{buf: make([]byte, base64.StdEncoding.DecodedLen(len(body)))}
	ok = s.entry(sl, &in.rec, &in.stream, func(k []byte, esc bool) (bool, bool) {
		if string(k) == "SequenceNumberForOrdering" {
			return true, s.optString(&in.seqOrder, &in.hasSeqOrder)
		}
		return false, false
	})
	if !ok || !s.end() {
		return putRecordIn{}, false
	}
	return in, true
}

type getRecordsIn struct {
	iterator    string
	hasIterator bool
	limit       int64
	hasLimit    bool
	streamARN   string
	hasARN      bool
	streamID    string
	hasStreamID bool
}

func decodeGetRecordsJSON(body []byte) (in getRecordsIn, ok bool) {
	s := &jscan{b: body}
	ok = s.object(func(k []byte, esc bool) bool {
		switch {
		case esc:
			return false
		case string(k) == "ShardIterator":
			return s.optString(&in.iterator, &in.hasIterator)
		case string(k) == "StreamARN":
			return s.optString(&in.streamARN, &in.hasARN)
		case string(k) == "StreamId":
			return s.optString(&in.streamID, &in.hasStreamID)
		case string(k) == "Limit":
			if s.peek() == 'n' {
				in.limit, in.hasLimit = 0, false
				return s.lit("null")
			}
			num, ok := s.number()
			if !ok {
				return false
			}
			n, ok := smallInt(num)
			if !ok {
				return false
			}
			in.limit, in.hasLimit = n, true
			return true
		}
		return s.skip(0)
	})
	if !ok || !s.end() {
		return getRecordsIn{}, false
	}
	return in, true
}

// smallInt parses a plain integer of at most 18 digits (anything else goes generic).
func smallInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// plain marks bytes that need no attention inside a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
