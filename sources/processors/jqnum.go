package processors

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// formatJQNumber prints a number the way jq 1.6 does (jv_dump_term → jvp_dtoa_fmt): the
// shortest round-trip digits of the double; exponent form "d.ddde±XX" (at least two exponent
// digits) when the decimal point position is ≤ -4 or more than 15 places past the last
// digit; otherwise plain digits, with a leading "0." for fractions. Infinities print as
// ±DBL_MAX and NaN as null, as jq does.
func formatJQNumber(x float64) string {
	if math.IsNaN(x) {
		return "null"
	}
	if math.IsInf(x, 1) {
		x = math.MaxFloat64
	} else if math.IsInf(x, -1) {
		x = -math.MaxFloat64
	}
	var b strings.Builder
	if math.Signbit(x) {
		b.WriteByte('-')
		x = -x
	}
	if x == 0 {
		b.WriteByte('0')
		return b.String()
	}
	e := strconv.FormatFloat(x, 'e', -1, 64) // d[.ddd]e±XX
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	ex, _ := strconv.Atoi(exp)
	decpt := ex + 1 // position of the decimal point relative to the digits
	nd := len(digits)
	switch {
	case decpt <= -4 || decpt > nd+15:
		b.WriteByte(digits[0])
		if nd > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		d := decpt - 1
		if d < 0 {
			b.WriteByte('-')
			d = -d
		} else {
			b.WriteByte('+')
		}
		if d < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.Itoa(d))
	case decpt <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -decpt))
		b.WriteString(digits)
	default:
		if decpt >= nd {
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", decpt-nd))
		} else {
			b.WriteString(digits[:decpt])
			b.WriteByte('.')
			b.WriteString(digits[decpt:])
		}
	}
	return b.String()
}

// jqNumber converts a gojq number value to float64 (jq 1.6 numbers are doubles).
func jqNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// numbersToFloat replaces json.Number values (decoded with UseNumber) by doubles, clamping
// out-of-range values to ±DBL_MAX like jq's parser.
func numbersToFloat(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64) // ±Inf on overflow, 0 on underflow
		if math.IsInf(f, 1) {
			f = math.MaxFloat64
		} else if math.IsInf(f, -1) {
			f = -math.MaxFloat64
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbersToFloat(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersToFloat(e)
		}
	}
	return v
}
