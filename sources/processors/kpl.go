package processors

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"

	"github.com/sluice-io/sluice/sources/record"
)

// KPL aggregated record format (kinesis.md §8):
//
//	Data = F3 89 9A C2 ‖ protobuf AggregatedRecord ‖ MD5(protobuf) (16 bytes)
//
//	AggregatedRecord { repeated string partition_key_table = 1;
//	                   repeated string explicit_hash_key_table = 2;
//	                   repeated Record records = 3; }
//	Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//	         required bytes data = 3; repeated Tag tags = 4; }
//
// The decoder below is hand-written: varints and length-delimited fields only, unknown
// fields skipped, every bound checked.

// KPLMagic starts a KPL aggregated record.
var KPLMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

const kplMinLen = 4 + md5.Size // > this many bytes is required

// KPLRecord is one user record of an aggregate.
type KPLRecord struct {
	PartitionKey    string
	ExplicitHashKey string // "" when not indexed
	Data            []byte // aliases the aggregate's bytes
}

// DeaggregateKPL splits a KPL aggregated record. ok is false — and the caller passes the
// record through whole — unless the data is longer than 20 bytes, starts with the magic,
// ends with the MD5 of the protobuf, parses, has every index in range and holds at least one
// record.
func DeaggregateKPL(data []byte) (recs []KPLRecord, ok bool) {
	if len(data) <= kplMinLen || !bytes.HasPrefix(data, KPLMagic) {
		return nil, false
	}
	pb := data[4 : len(data)-md5.Size]
	sum := md5.Sum(pb)
	if !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return nil, false
	}
	recs, err := parseAggregated(pb)
	if err != nil || len(recs) == 0 {
		return nil, false
	}
	return recs, true
}

var errPB = errors.New("malformed protobuf")

type rawKPL struct {
	pk, ehk    uint64
	hasPK, has bool
	data       []byte
	hasData    bool
}

func parseAggregated(b []byte) ([]KPLRecord, error) {
	var pkt, ehkt []string
	var raws []rawKPL
	for len(b) > 0 {
		field, wt, n := readTag(b)
		if n <= 0 {
			return nil, errPB
		}
		b = b[n:]
		if field == 0 {
			return nil, errPB
		}
		if wt == 2 && field <= 3 {
			v, n := readBytes(b)
			if n <= 0 {
				return nil, errPB
			}
			b = b[n:]
			switch field {
			case 1:
				pkt = append(pkt, string(v))
			case 2:
				ehkt = append(ehkt, string(v))
			case 3:
				r, err := parseRecord(v)
				if err != nil {
					return nil, err
				}
				raws = append(raws, r)
			}
			continue
		}
		if field <= 3 {
			return nil, errPB // known field with the wrong wire type
		}
		n = skipField(b, wt)
		if n < 0 {
			return nil, errPB
		}
		b = b[n:]
	}
	out := make([]KPLRecord, len(raws))
	for i, r := range raws {
		if !r.hasPK || !r.hasData || r.pk >= uint64(len(pkt)) {
			return nil, errPB
		}
		out[i] = KPLRecord{PartitionKey: pkt[r.pk], Data: r.data}
		if r.has {
			if r.ehk >= uint64(len(ehkt)) {
				return nil, errPB
			}
			out[i].ExplicitHashKey = ehkt[r.ehk]
		}
	}
	return out, nil
}

func parseRecord(b []byte) (rawKPL, error) {
	var r rawKPL
	for len(b) > 0 {
		field, wt, n := readTag(b)
		if n <= 0 || field == 0 {
			return r, errPB
		}
		b = b[n:]
		switch {
		case (field == 1 || field == 2) && wt == 0:
			v, n := readVarint(b)
			if n <= 0 {
				return r, errPB
			}
			b = b[n:]
			if field == 1 {
				r.pk, r.hasPK = v, true
			} else {
				r.ehk, r.has = v, true
			}
		case field == 3 && wt == 2:
			v, n := readBytes(b)
			if n <= 0 {
				return r, errPB
			}
			b = b[n:]
			r.data, r.hasData = v, true
		case field <= 4 && !(field == 4 && wt == 2):
			return r, errPB
		default: // tags (validated only as length-delimited) and unknown fields
			n := skipField(b, wt)
			if n < 0 {
				return r, errPB
			}
			b = b[n:]
		}
	}
	return r, nil
}

// readVarint returns the value and bytes used (0 if truncated, -1 if overlong).
func readVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v, i + 1
		}
	}
	if len(b) >= 10 {
		return 0, -1
	}
	return 0, 0
}

func readTag(b []byte) (field uint64, wt int, n int) {
	v, n := readVarint(b)
	if n <= 0 {
		return 0, 0, n
	}
	return v >> 3, int(v & 7), n
}

func readBytes(b []byte) ([]byte, int) {
	l, n := readVarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, -1
	}
	end := n + int(l)
	return b[n:end:end], end
}

// skipField returns the length of a field's value with wire type wt, or -1.
func skipField(b []byte, wt int) int {
	switch wt {
	case 0:
		_, n := readVarint(b)
		if n <= 0 {
			return -1
		}
		return n
	case 1:
		if len(b) < 8 {
			return -1
		}
		return 8
	case 2:
		_, n := readBytes(b)
		return n
	case 5:
		if len(b) < 4 {
			return -1
		}
		return 4
	}
	return -1
}

type kplStage struct{}

func (kplStage) name() string { return "KPLDeaggregation" }

func (kplStage) apply(_ context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	recs, ok := DeaggregateKPL(r.Data)
	if !ok {
		return append(out, r), fail
	}
	for i, k := range recs {
		sub := r
		sub.Data = k.Data
		sub.SubSequence = i
		out = append(out, sub)
	}
	return out, fail
}
