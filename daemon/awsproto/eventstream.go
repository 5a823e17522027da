package awsproto

import (
	"encoding/binary"
	"hash/crc32"
)

// EventHeader is one string-valued header of an event-stream message.
type EventHeader struct {
	Name, Value string
}

// AppendEventMessage appends one application/vnd.amazon.eventstream message:
// total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | message_crc u32
// (big-endian, CRC-32 IEEE). Header values are strings (type 7).
func AppendEventMessage(dst []byte, headers []EventHeader, payload []byte) []byte {
	hlen := 0
	for _, h := range headers {
		hlen += 1 + len(h.Name) + 1 + 2 + len(h.Value)
	}
	total := 16 + hlen + len(payload)
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(hlen))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+8]))
	for _, h := range headers {
		dst = append(dst, byte(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = append(dst, 7)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// EventMessage is a decoded event-stream message (for tests and clients).
type EventMessage struct {
	Headers map[string]string
	Payload []byte
}

// ParseEventMessage decodes one message from the front of b and returns the rest.
// ok is false when b holds no complete, valid message.
func ParseEventMessage(b []byte) (m EventMessage, rest []byte, ok bool) {
	if len(b) < 16 {
		return m, b, false
	}
	total := int(binary.BigEndian.Uint32(b))
	hlen := int(binary.BigEndian.Uint32(b[4:]))
	if total < 16 || hlen > total-16 || len(b) < total {
		return m, b, false
	}
	if crc32.ChecksumIEEE(b[:8]) != binary.BigEndian.Uint32(b[8:]) ||
		crc32.ChecksumIEEE(b[:total-4]) != binary.BigEndian.Uint32(b[total-4:]) {
		return m, b, false
	}
	m.Headers = map[string]string{}
	h := b[12 : 12+hlen]
	for len(h) > 0 {
		nl := int(h[0])
		if len(h) < 1+nl+1 {
			return m, b, false
		}
		name := string(h[1 : 1+nl])
		typ := h[1+nl]
		h = h[2+nl:]
		if typ != 7 || len(h) < 2 {
			return m, b, false
		}
		vl := int(binary.BigEndian.Uint16(h))
		if len(h) < 2+vl {
			return m, b, false
		}
		m.Headers[name] = string(h[2 : 2+vl])
		h = h[2+vl:]
	}
	m.Payload = b[12+hlen : total-4]
	return m, b[total:], true
}
