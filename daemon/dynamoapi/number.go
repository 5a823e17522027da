package dynamoapi

import (
	"math/big"
	"strings"
)

// number is a DynamoDB Number: coef × 10^exp with coef's decimal digits (no leading or
// trailing zeros; "" for zero) and a sign. DynamoDB keeps up to 38 significant digits and
// magnitudes from 1e-130 to 1e125; arithmetic is exact (no binary floating point).
type number struct {
	neg  bool
	coef string
	exp  int
}

const (
	maxNumberDigits = 38
	maxNumberExp    = 125
	minNumberExp    = -130
)

// parseNumber parses a DynamoDB number string ("-12.50", "1e3"). The error text is
// DynamoDB's.
func parseNumber(s string) (number, string) {
	bad := "The parameter cannot be converted to a numeric value: " + s
	var n number
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		n.neg = s[i] == '-'
		i++
	}
	var digits strings.Builder
	frac, seenDigit, seenDot := 0, false, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits.WriteByte(c)
			seenDigit = true
			if seenDot {
				frac++
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			goto exponent
		}
	}
exponent:
	if !seenDigit {
		return number{}, bad
	}
	e := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return number{}, bad
		}
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return number{}, bad
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return number{}, bad
			}
			if e < 100000 {
				e = e*10 + int(c-'0')
			}
		}
		if eneg {
			e = -e
		}
	}
	c := strings.TrimLeft(digits.String(), "0")
	exp := e - frac
	trimmed := strings.TrimRight(c, "0")
	exp += len(c) - len(trimmed)
	n.coef, n.exp = trimmed, exp
	if n.coef == "" {
		return number{}, ""
	}
	if len(n.coef) > maxNumberDigits {
		return number{}, "Attempting to store more than 38 significant digits in a Number"
	}
	if mag := len(n.coef) + n.exp - 1; mag > maxNumberExp {
		return number{}, "Number overflow. Attempting to store a number with magnitude larger than supported range"
	} else if mag < minNumberExp {
		return number{}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"
	}
	return n, ""
}

// String is the canonical form DynamoDB returns: no exponent, no redundant zeros.
func (n number) String() string {
	if n.coef == "" {
		return "0"
	}
	var b strings.Builder
	if n.neg {
		b.WriteByte('-')
	}
	switch {
	case n.exp >= 0:
		b.WriteString(n.coef)
		b.WriteString(strings.Repeat("0", n.exp))
	case len(n.coef) > -n.exp:
		k := len(n.coef) + n.exp
		b.WriteString(n.coef[:k])
		b.WriteByte('.')
		b.WriteString(n.coef[k:])
	default:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n.exp-len(n.coef)))
		b.WriteString(n.coef)
	}
	return b.String()
}

// scaled returns n as an integer at exponent exp (exp <= n.exp).
func (n number) scaled(exp int) *big.Int {
	v := new(big.Int)
	if n.coef == "" {
		return v
	}
	v.SetString(n.coef+strings.Repeat("0", n.exp-exp), 10)
	if n.neg {
		v.Neg(v)
	}
	return v
}

func fromScaled(v *big.Int, exp int) number {
	var n number
	if v.Sign() < 0 {
		n.neg = true
		v = new(big.Int).Neg(v)
	}
	s := v.String()
	c := strings.TrimLeft(s, "0")
	t := strings.TrimRight(c, "0")
	n.coef, n.exp = t, exp+len(c)-len(t)
	if n.coef == "" {
		n.neg, n.exp = false, 0
	}
	return n
}

// add returns a+b (sub: a-b), or DynamoDB's error text when the result is out of range.
func addNumbers(a, b number, sub bool) (number, string) {
	exp := min(a.exp, b.exp)
	if a.coef == "" {
		exp = b.exp
	} else if b.coef == "" {
		exp = a.exp
	}
	x, y := a.scaled(exp), b.scaled(exp)
	if sub {
		x.Sub(x, y)
	} else {
		x.Add(x, y)
	}
	r := fromScaled(x, exp)
	if r.coef == "" {
		return r, ""
	}
	if len(r.coef) > maxNumberDigits {
		return number{}, "Number overflow. Attempting to store a number with magnitude larger than supported range"
	}
	if mag := len(r.coef) + r.exp - 1; mag > maxNumberExp {
		return number{}, "Number overflow. Attempting to store a number with magnitude larger than supported range"
	}
	return r, ""
}

// cmpNumbers compares a and b: -1, 0 or 1.
func cmpNumbers(a, b number) int {
	exp := min(a.exp, b.exp)
	if a.coef == "" {
		exp = b.exp
	} else if b.coef == "" {
		exp = a.exp
	}
	return a.scaled(exp).Cmp(b.scaled(exp))
}

// canonicalNumber parses s and returns its canonical string.
func canonicalNumber(s string) (string, string) {
	n, msg := parseNumber(s)
	if msg != "" {
		return "", msg
	}
	return n.String(), ""
}
