package httpsource

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	asmb64 "github.com/segmentio/asm/base64"
)

// strictB64 decodes padded standard base64 with vector instructions where the CPU has
// them; what it refuses goes to encoding/base64.
var strictB64 = asmb64.StdEncoding.Strict()

// MaxRecords is the most records one request may carry (firehose.md §3).
const MaxRecords = 10_000

// Request is a parsed Firehose HTTP endpoint request body.
type Request struct {
	RequestID string
	Timestamp int64 // epoch ms, as sent
	// Records are the decoded data of the records, in order. They share one buffer.
	Records [][]byte
}

// Parse reads a request body: one JSON object with exactly the members requestId (a
// string), timestamp (an integer) and records (an array of at most MaxRecords objects
// with exactly one member, data, a standard base64 string), in any order, each once.
// Whitespace between tokens is allowed, nothing after the object. The error says what is
// wrong in words fit for the reply's errorMessage. Parse allocates the decoded records
// (at most three quarters of the body) and small bookkeeping, never more.
func Parse(body []byte) (Request, error) {
	var req Request
	p := parser{b: body}
	p.ws()
	if err := p.expect('{'); err != nil {
		return req, err
	}
	var (
		seenID, seenTS, seenRecs bool
		raw                      [][]byte // the records' base64 text
	)
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.ws()
			key, err := p.str()
			if err != nil {
				return req, fmt.Errorf("a member name: %w", err)
			}
			p.ws()
			if err := p.expect(':'); err != nil {
				return req, err
			}
			p.ws()
			switch string(key) {
			case "requestId":
				if seenID {
					return req, errors.New("requestId is given twice")
				}
				seenID = true
				s, err := p.str()
				if err != nil {
					return req, fmt.Errorf("requestId: %w", err)
				}
				if !utf8.Valid(s) {
					return req, errors.New("requestId is not valid UTF-8")
				}
				req.RequestID = string(s)
			case "timestamp":
				if seenTS {
					return req, errors.New("timestamp is given twice")
				}
				seenTS = true
				if req.Timestamp, err = p.integer(); err != nil {
					return req, fmt.Errorf("timestamp: %w", err)
				}
			case "records":
				if seenRecs {
					return req, errors.New("records is given twice")
				}
				seenRecs = true
				if raw, err = p.records(); err != nil {
					return req, err
				}
			default:
				return req, fmt.Errorf("unexpected member %q (a request has requestId, timestamp and records)", truncate(key))
			}
			p.ws()
			if p.peek() == ',' {
				p.i++
				continue
			}
			if err := p.expect('}'); err != nil {
				return req, err
			}
			break
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return req, fmt.Errorf("unexpected data after the JSON object at byte %d", p.i)
	}
	switch {
	case !seenID:
		return req, errors.New("requestId is missing")
	case req.RequestID == "":
		return req, errors.New("requestId is empty")
	case !seenTS:
		return req, errors.New("timestamp is missing")
	case !seenRecs:
		return req, errors.New("records is missing")
	}
	n := 0
	for _, r := range raw {
		n += base64.StdEncoding.DecodedLen(len(r))
	}
	buf := make([]byte, n)
	req.Records = make([][]byte, len(raw))
	off := 0
	for i, r := range raw {
		m, err := strictB64.Decode(buf[off:], r)
		if err != nil { // the generic decoder says why (and takes what strict refuses: stray bits)
			if hasControl(r) {
				return Request{}, fmt.Errorf("records[%d].data holds a control character", i)
			}
			if m, err = base64.StdEncoding.Decode(buf[off:], r); err != nil {
				return Request{}, fmt.Errorf("records[%d].data is not standard base64: %v", i, err)
			}
		}
		req.Records[i] = buf[off : off+m : off+m]
		off += m
	}
	return req, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) expect(c byte) error {
	if p.i >= len(p.b) {
		return fmt.Errorf("the body ends where %q was expected", c)
	}
	if p.b[p.i] != c {
		return fmt.Errorf("%q found at byte %d where %q was expected", p.b[p.i], p.i, c)
	}
	p.i++
	return nil
}

// str reads a JSON string and returns its value: a slice of the body when it has no
// escapes, else an unescaped copy.
func (p *parser) str() ([]byte, error) { return p.string(true) }

// string is str; without control, control characters are left for the caller to refuse
// (a record's data: its base64 decoding refuses them, without a second pass here).
func (p *parser) string(control bool) ([]byte, error) {
	if p.peek() != '"' {
		return nil, fmt.Errorf("a string was expected at byte %d", p.i)
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		// jump to the next quote or backslash; control characters in the span are refused
		k := indexQuoteOrBackslash(p.b[p.i:])
		if k < 0 {
			break
		}
		if control && hasControl(p.b[p.i:p.i+k]) {
			return nil, fmt.Errorf("a control character in the string at byte %d", start)
		}
		p.i += k
		if p.b[p.i] == '\\' {
			escaped = true
			p.i += 2
			continue
		}
		p.i++
		if !escaped {
			return p.b[start+1 : p.i-1], nil
		}
		var s string
		if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
			return nil, fmt.Errorf("the string at byte %d is not valid JSON", start)
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("the string at byte %d is not closed", start)
}

// indexQuoteOrBackslash is the index of the first '"' or '\\' in b, or -1.
func indexQuoteOrBackslash(b []byte) int {
	q := bytes.IndexByte(b, '"')
	if q < 0 {
		q = len(b)
	}
	if e := bytes.IndexByte(b[:q], '\\'); e >= 0 {
		return e
	}
	if q == len(b) {
		return -1
	}
	return q
}

// hasControl reports whether b holds a byte below 0x20 (not allowed in JSON strings).
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// integer reads a JSON number that is an integer (no fraction, no exponent).
func (p *parser) integer() (int64, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i-digits > 1 && p.b[digits] == '0' {
		return 0, fmt.Errorf("the number at byte %d has a leading zero", start)
	}
	switch c := p.peek(); {
	case c == '.' || c == 'e' || c == 'E':
		return 0, errors.New("must be an integer of epoch milliseconds")
	case p.i == start || (p.i == start+1 && p.b[start] == '-'):
		return 0, fmt.Errorf("a number was expected at byte %d", start)
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		return 0, errors.New("is out of range")
	}
	return n, nil
}

// records reads the records array and returns each record's base64 text.
func (p *parser) records() ([][]byte, error) {
	if err := p.expect('['); err != nil {
		return nil, fmt.Errorf("records must be an array: %w", err)
	}
	var out [][]byte
	p.ws()
	if p.peek() == ']' {
		p.i++
		return out, nil
	}
	for {
		if len(out) == MaxRecords {
			return nil, fmt.Errorf("records holds more than %d records", MaxRecords)
		}
		p.ws()
		if err := p.expect('{'); err != nil {
			return nil, fmt.Errorf("records[%d] must be an object: %w", len(out), err)
		}
		p.ws()
		key, err := p.str()
		if err != nil {
			return nil, fmt.Errorf("records[%d]: %w", len(out), err)
		}
		if string(key) != "data" {
			return nil, fmt.Errorf("records[%d] has the member %q; a record has only data", len(out), truncate(key))
		}
		p.ws()
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		p.ws()
		d, err := p.string(false)
		if err != nil {
			return nil, fmt.Errorf("records[%d].data: %w", len(out), err)
		}
		p.ws()
		if err := p.expect('}'); err != nil {
			return nil, fmt.Errorf("records[%d] has more than data: %w", len(out), err)
		}
		out = append(out, d)
		p.ws()
		if p.peek() == ',' {
			p.i++
			continue
		}
		if err := p.expect(']'); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// truncate shortens a member name quoted back to the sender.
func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
