package firehoseapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"

	asmb64 "github.com/segmentio/asm/base64"
)

// fastBatch decodes the common shape of a PutRecordBatch body without reflection:
//
//	{"DeliveryStreamName":"<name>","Records":[{"Data":"<base64>"},…]}
//
// Members may come in any order with any whitespace; unknown members are skipped. It
// returns ok=false for anything unusual (escapes, wrong types, nulls, bad base64, trailing
// data), and the caller then decodes with encoding/json, which also produces the error
// replies. All record data share one allocation.
func fastBatch(body []byte) (name string, hasName bool, recs [][]byte, hasRecs bool, ok bool) {
	p := &scanner{b: body}
	if !p.consume('{') {
		return
	}
	var datas [][]byte // base64 text of each record
	first := true
	for {
		p.ws()
		if p.peek() == '}' {
			p.i++
			break
		}
		if !first && !p.consume(',') {
			return
		}
		first = false
		key, kok := p.str()
		if !kok || !p.consume(':') {
			return
		}
		switch string(key) {
		case "DeliveryStreamName":
			v, vok := p.str()
			if !vok {
				return
			}
			name, hasName = string(v), true
		case "Records":
			if !p.consume('[') {
				return
			}
			hasRecs = true
			datas = make([][]byte, 0, 500)
			p.ws()
			if p.peek() == ']' {
				p.i++
				break
			}
			for {
				d, dok := p.record()
				if !dok {
					return
				}
				datas = append(datas, d)
				p.ws()
				if p.peek() == ',' {
					p.i++
					continue
				}
				if !p.consume(']') {
					return
				}
				break
			}
		default:
			if !p.skip() {
				return
			}
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return
	}
	total := 0
	for _, d := range datas {
		total += base64.StdEncoding.DecodedLen(len(d))
	}
	arena := make([]byte, total)
	recs = make([][]byte, len(datas))
	off := 0
	for i, d := range datas {
		n, err := asmb64.StdEncoding.Decode(arena[off:], d) // encoding/base64's rules, vectorised
		if err != nil {
			return "", false, nil, false, false
		}
		recs[i] = arena[off : off+n : off+n]
		off += n
	}
	return name, hasName, recs, hasRecs, true
}

type scanner struct {
	b []byte
	i int
}

func (p *scanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *scanner) consume(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes and returns its raw bytes.
func (p *scanner) str() ([]byte, bool) {
	if !p.consume('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			return s, true
		}
		if c == '\\' || c < 0x20 {
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// b64str reads a string expected to hold base64, using vectorised scans: it declines
// escapes and the line breaks the base64 decoder would skip (encoding/json rejects raw
// control characters); any other control character fails base64 decoding later.
func (p *scanner) b64str() ([]byte, bool) {
	if !p.consume('"') {
		return nil, false
	}
	end := bytes.IndexByte(p.b[p.i:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+end]
	if bytes.IndexByte(s, '\\') >= 0 || bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0 {
		return nil, false
	}
	p.i += end + 1
	return s, true
}

// record reads {"Data":"…"} (other members skipped) and returns the base64 text.
func (p *scanner) record() ([]byte, bool) {
	if !p.consume('{') {
		return nil, false
	}
	var data []byte
	has := false
	first := true
	for {
		p.ws()
		if p.peek() == '}' {
			p.i++
			return data, has
		}
		if !first && !p.consume(',') {
			return nil, false
		}
		first = false
		key, ok := p.str()
		if !ok || !p.consume(':') {
			return nil, false
		}
		if string(key) == "Data" {
			if data, ok = p.b64str(); !ok {
				return nil, false
			}
			has = true
			continue
		}
		if !p.skip() {
			return nil, false
		}
	}
}

// skip skips a simple scalar value (string, number, true/false); anything else is
// left to the slow path.
func (p *scanner) skip() bool {
	p.ws()
	switch c := p.peek(); {
	case c == '"':
		_, ok := p.str()
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		for p.i < len(p.b) && (p.b[p.i] == '-' || p.b[p.i] == '+' || p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E' || (p.b[p.i] >= '0' && p.b[p.i] <= '9')) {
			p.i++
		}
		return json.Valid(p.b[start:p.i]) // strict number grammar
	case c == 't' || c == 'f':
		for _, lit := range []string{"true", "false"} {
			if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				return true
			}
		}
	}
	return false
}
