package convert

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Timestamps (firehose.md §5.5): without TimestampFormats both deserializers take
// yyyy-MM-dd'T'HH:mm:ss[.S…]'Z' (up to 9 fraction digits; also a ±HH:mm offset),
// yyyy-[M]M-[d]d HH:mm:ss[.S…], epoch seconds (1518033528), epoch milliseconds
// (1518033528123: integers of 12 digits or more) and fractional epoch seconds
// (1518033528.123). The Hive JSON SerDe's TimestampFormats (Joda-Time patterns, or
// "millis" for epoch milliseconds) are tried first. Values are stored as microseconds
// since the epoch (UTC); finer fractions are truncated.

// MillisThreshold: an integer epoch at or above it is read as milliseconds.
const MillisThreshold = 100_000_000_000

var errTimestamp = errors.New("is not a timestamp in an accepted format")

// timestamp parses s (number is true when it was a JSON number).
func (c *Converter) timestamp(s []byte, number bool) (int64, error) {
	for _, f := range c.tsForms {
		if us, ok := f.parse(s); ok {
			return us, nil
		}
	}
	if us, ok := epoch(s); ok {
		return us, nil
	}
	if number {
		return 0, errTimestamp
	}
	if us, ok := parseDefault(s); ok {
		return us, nil
	}
	return 0, errTimestamp
}

// epoch reads seconds, milliseconds (≥ MillisThreshold) or fractional seconds.
func epoch(s []byte) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	integer := true
	for k, b := range s {
		switch {
		case b >= '0' && b <= '9':
		case (b == '-' || b == '+') && k == 0:
		case b == '.' || b == 'e' || b == 'E' || b == '-' || b == '+':
			integer = false
		default:
			return 0, false
		}
	}
	if integer {
		x, ok := atoi(s)
		if !ok {
			return 0, false
		}
		if x >= MillisThreshold || x <= -MillisThreshold {
			if x > math.MaxInt64/1000 || x < math.MinInt64/1000 {
				return 0, false
			}
			return x * 1000, true
		}
		return x * 1_000_000, true
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.Abs(f) > 9e12 {
		return 0, false
	}
	return int64(math.Round(f * 1e6)), true
}

// atoi parses a decimal integer with an optional sign, refusing overflow.
func atoi(s []byte) (int64, bool) {
	if len(s) > 0 && len(s) <= 18 {
		i, neg := 0, false
		if s[0] == '-' || s[0] == '+' {
			neg, i = s[0] == '-', 1
		}
		if i == len(s) {
			return 0, false
		}
		var x int64
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int64(c-'0')
		}
		if neg {
			x = -x
		}
		return x, true
	}
	x, err := strconv.ParseInt(string(s), 10, 64)
	return x, err == nil
}

// digits reads between min and max ASCII digits at s[*i].
func digits(s []byte, i *int, min, max int) (int, bool) {
	j, n := *i, 0
	for *i < len(s) && *i-j < max && s[*i] >= '0' && s[*i] <= '9' {
		n = n*10 + int(s[*i]-'0')
		*i++
	}
	return n, *i-j >= min
}

// parseDefault reads yyyy-[M]M-[d]d('T'| )HH:mm:ss[.fraction][Z|±HH:mm].
func parseDefault(s []byte) (int64, bool) {
	i := 0
	at := func(c byte) bool {
		if i < len(s) && s[i] == c {
			i++
			return true
		}
		return false
	}
	y, ok := digits(s, &i, 4, 4)
	if !ok || !at('-') {
		return 0, false
	}
	mo, ok := digits(s, &i, 1, 2)
	if !ok || !at('-') {
		return 0, false
	}
	d, ok := digits(s, &i, 1, 2)
	if !ok || !(at('T') || at(' ')) {
		return 0, false
	}
	h, ok := digits(s, &i, 2, 2)
	if !ok || !at(':') {
		return 0, false
	}
	mi, ok := digits(s, &i, 2, 2)
	if !ok || !at(':') {
		return 0, false
	}
	sec, ok := digits(s, &i, 2, 2)
	if !ok {
		return 0, false
	}
	ns := 0
	if at('.') {
		j := i
		f, _ := digits(s, &i, 1, 9)
		if i == j || (i < len(s) && s[i] >= '0' && s[i] <= '9') {
			return 0, false
		}
		for w := i - j; w < 9; w++ {
			f *= 10
		}
		ns = f
	}
	off := 0
	switch {
	case i == len(s):
	case at('Z'):
	case s[i] == '+' || s[i] == '-':
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		i++
		oh, ok := digits(s, &i, 2, 2)
		at(':')
		om, ok2 := digits(s, &i, 2, 2)
		if !ok || !ok2 {
			return 0, false
		}
		off = sign * (oh*3600 + om*60)
	default:
		return 0, false
	}
	if i != len(s) {
		return 0, false
	}
	return civil(y, mo, d, h, mi, sec, ns, off)
}

// civil converts fields to microseconds since the epoch, refusing out-of-range fields.
func civil(y, mo, d, h, mi, sec, ns, off int) (int64, bool) {
	if y < 0 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 {
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
	if t.Day() != d {
		return 0, false // 31 April
	}
	return t.UnixMicro() - int64(off)*1_000_000, true
}

// parseDate reads yyyy-[M]M-[d]d as days since the epoch.
func parseDate(s []byte) (int64, bool) {
	i := 0
	y, ok := digits(s, &i, 4, 4)
	if !ok || i >= len(s) || s[i] != '-' {
		return 0, false
	}
	i++
	mo, ok := digits(s, &i, 1, 2)
	if !ok || i >= len(s) || s[i] != '-' {
		return 0, false
	}
	i++
	d, ok := digits(s, &i, 1, 2)
	if !ok || i != len(s) {
		return 0, false
	}
	us, ok := civil(y, mo, d, 0, 0, 0, 0, 0)
	if !ok {
		return 0, false
	}
	return floorDiv(us, 86_400_000_000), true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// tsFormat is a compiled Joda-Time pattern (letters y Y M d H h m s S a Z, 'quoted'
// literals, other characters literal) or "millis".
type tsFormat struct {
	millis bool
	elems  []tsElem
}

type tsElem struct {
	letter byte // 0 for a literal
	count  int
	lit    string
}

func parseTSFormat(f string) (*tsFormat, error) {
	if f == "millis" {
		return &tsFormat{millis: true}, nil
	}
	if f == "" {
		return nil, errors.New("empty pattern")
	}
	tf := &tsFormat{}
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(f[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quote")
			}
			lit := f[i+1 : i+1+j]
			if lit == "" {
				lit = "'"
			}
			tf.elems = append(tf.elems, tsElem{lit: lit})
			i += j + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(f) && f[j] == c {
				j++
			}
			if !strings.ContainsRune("yYMdHhmsSaZ", rune(c)) {
				return nil, fmt.Errorf("pattern letter %q is not supported (use y M d H h m s S a Z)", c)
			}
			tf.elems = append(tf.elems, tsElem{letter: c, count: j - i})
			i = j
		default:
			tf.elems = append(tf.elems, tsElem{lit: string(c)})
			i++
		}
	}
	return tf, nil
}

var monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}

func (f *tsFormat) parse(s []byte) (int64, bool) {
	if f.millis {
		x, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || x > math.MaxInt64/1000 || x < math.MinInt64/1000 {
			return 0, false
		}
		return x * 1000, true
	}
	y, mo, d, h, mi, sec, ns, off := 1970, 1, 1, 0, 0, 0, 0, 0
	pm, half := false, false
	i := 0
	for k, e := range f.elems {
		if e.letter == 0 {
			if !strings.HasPrefix(string(s[i:]), e.lit) {
				return 0, false
			}
			i += len(e.lit)
			continue
		}
		adjacent := k+1 < len(f.elems) && f.elems[k+1].letter != 0 && f.elems[k+1].letter != 'a' && f.elems[k+1].letter != 'Z'
		maxw := map[byte]int{'y': 9, 'Y': 9, 'M': 2, 'd': 2, 'H': 2, 'h': 2, 'm': 2, 's': 2, 'S': 9}[e.letter]
		if adjacent {
			maxw = e.count
		}
		switch e.letter {
		case 'a':
			switch {
			case len(s)-i >= 2 && strings.EqualFold(string(s[i:i+2]), "am"):
			case len(s)-i >= 2 && strings.EqualFold(string(s[i:i+2]), "pm"):
				pm = true
			default:
				return 0, false
			}
			i += 2
			continue
		case 'Z':
			if i < len(s) && s[i] == 'Z' {
				i++
				continue
			}
			if i >= len(s) || (s[i] != '+' && s[i] != '-') {
				return 0, false
			}
			sign := 1
			if s[i] == '-' {
				sign = -1
			}
			i++
			digits := func() (int, bool) {
				if len(s)-i < 2 || s[i] < '0' || s[i] > '9' || s[i+1] < '0' || s[i+1] > '9' {
					return 0, false
				}
				n := int(s[i]-'0')*10 + int(s[i+1]-'0')
				i += 2
				return n, true
			}
			oh, ok := digits()
			if i < len(s) && s[i] == ':' {
				i++
			}
			om, ok2 := digits()
			if !ok || !ok2 {
				return 0, false
			}
			off = sign * (oh*3600 + om*60)
			continue
		case 'M':
			if e.count >= 3 {
				found := false
				for m, name := range monthNames {
					w := name
					if e.count == 3 {
						w = name[:3]
					}
					if len(s)-i >= len(w) && strings.EqualFold(string(s[i:i+len(w)]), w) {
						mo, i, found = m+1, i+len(w), true
						break
					}
				}
				if !found {
					return 0, false
				}
				continue
			}
		}
		j := i
		for i < len(s) && i-j < maxw && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return 0, false
		}
		n, _ := strconv.Atoi(string(s[j:i]))
		switch e.letter {
		case 'y', 'Y':
			y = n
		case 'M':
			mo = n
		case 'd':
			d = n
		case 'H':
			h = n
		case 'h':
			h, half = n, true
		case 'm':
			mi = n
		case 's':
			sec = n
		case 'S':
			w := i - j
			ns, _ = strconv.Atoi(string(s[j:i]) + strings.Repeat("0", 9-w))
		}
	}
	if i != len(s) {
		return 0, false
	}
	if half {
		if h < 1 || h > 12 {
			return 0, false
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	return civil(y, mo, d, h, mi, sec, ns, off)
}

// CheckTimestampFormat reports whether f is a pattern TimestampFormats accepts.
func CheckTimestampFormat(f string) error {
	_, err := parseTSFormat(f)
	return err
}
