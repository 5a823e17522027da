package s3

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file implements the subset of Java's DateTimeFormatter patterns that Firehose prefixes
// use in !{timestamp:<pattern>} (firehose.md §5.2): letters y u Y M L d D H h k K m s S E a w e
// with Java's count rules and English names, '…' literals and '' for a quote. Week fields (Y,
// w, e) follow ISO-8601 (weeks start Monday, week 1 holds 4 January), as Firehose does.
// Other letters are rejected, as are the reserved characters # { }.

type tfKind uint8

const (
	tfLit tfKind = iota
	tfField
)

type tfItem struct {
	kind  tfKind
	lit   string
	field byte
	count int
}

// timeFormat is a compiled pattern.
type timeFormat []tfItem

// compileTimeFormat parses a Java DateTimeFormatter pattern.
func compileTimeFormat(p string) (timeFormat, error) {
	var out timeFormat
	lit := func(s string) {
		if n := len(out); n > 0 && out[n-1].kind == tfLit {
			out[n-1].lit += s
			return
		}
		out = append(out, tfItem{kind: tfLit, lit: s})
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			// quoted literal up to the closing quote; '' inside is a quote
			j := i + 1
			var sb strings.Builder
			closed := false
			for j < len(p) {
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						sb.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					break
				}
				sb.WriteByte(p[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("pattern ends with an incomplete string literal: %q", p)
			}
			if sb.Len() > 0 {
				lit(sb.String())
			}
			i = j + 1
		case c == '[' || c == ']':
			// optional section markers: every field is available, so the content always prints
			i++
		case c == '#' || c == '{' || c == '}':
			return nil, fmt.Errorf("pattern includes reserved character %q", c)
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			n := j - i
			if err := checkCount(c, n); err != nil {
				return nil, err
			}
			out = append(out, tfItem{kind: tfField, field: c, count: n})
			i = j
		default:
			lit(string(c))
			i++
		}
	}
	return out, nil
}

func checkCount(c byte, n int) error {
	max := 0
	switch c {
	case 'y', 'u', 'Y':
		max = 19
	case 'M', 'L', 'E', 'e':
		max = 5
	case 'd', 'H', 'h', 'k', 'K', 'm', 's', 'w':
		max = 2
	case 'D':
		max = 3
	case 'S':
		max = 9
	case 'a':
		max = 1
	default:
		return fmt.Errorf("unsupported pattern letter %q", c)
	}
	if n > max {
		return fmt.Errorf("too many pattern letters: %s", strings.Repeat(string(c), n))
	}
	return nil
}

var (
	monthLong  = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayLong    = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	dayISOFrom = func(t time.Time) int { // Monday=1 … Sunday=7
		wd := int(t.Weekday())
		if wd == 0 {
			return 7
		}
		return wd
	}
)

func pad(b []byte, v int64, width int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendYear(b []byte, y int64, n int) []byte {
	switch {
	case n == 2:
		r := y % 100
		if r < 0 {
			r += 100
		}
		return pad(b, r, 2)
	case n >= 4 && y > 9999 && n == 4:
		b = append(b, '+')
		return pad(b, y, n)
	default:
		return pad(b, y, n)
	}
}

func appendText(b []byte, full string, n int) []byte {
	switch {
	case n == 4:
		return append(b, full...)
	case n == 5:
		return append(b, full[:1]...)
	default:
		return append(b, full[:3]...)
	}
}

// append formats t.
func (f timeFormat) append(b []byte, t time.Time) []byte {
	for _, it := range f {
		if it.kind == tfLit {
			b = append(b, it.lit...)
			continue
		}
		n := it.count
		switch it.field {
		case 'y':
			y := int64(t.Year())
			if y <= 0 { // year of era
				y = 1 - y
			}
			b = appendYear(b, y, n)
		case 'u':
			b = appendYear(b, int64(t.Year()), n)
		case 'Y':
			wy, _ := t.ISOWeek()
			b = appendYear(b, int64(wy), n)
		case 'M', 'L':
			m := int(t.Month())
			if n <= 2 {
				b = pad(b, int64(m), n)
			} else {
				b = appendText(b, monthLong[m-1], n)
			}
		case 'd':
			b = pad(b, int64(t.Day()), n)
		case 'D':
			b = pad(b, int64(t.YearDay()), n)
		case 'H':
			b = pad(b, int64(t.Hour()), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b = pad(b, int64(h), n)
		case 'K':
			b = pad(b, int64(t.Hour()%12), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = pad(b, int64(h), n)
		case 'm':
			b = pad(b, int64(t.Minute()), n)
		case 's':
			b = pad(b, int64(t.Second()), n)
		case 'S':
			s := fmt.Sprintf("%09d", t.Nanosecond())
			b = append(b, s[:n]...)
		case 'E':
			b = appendText(b, dayLong[dayISOFrom(t)-1], n)
		case 'e':
			d := dayISOFrom(t)
			if n <= 2 {
				b = pad(b, int64(d), n)
			} else {
				b = appendText(b, dayLong[d-1], n)
			}
		case 'a':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'w':
			_, w := t.ISOWeek()
			b = pad(b, int64(w), n)
		}
	}
	return b
}
