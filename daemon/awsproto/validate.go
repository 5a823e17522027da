package awsproto

import (
	"regexp"
	"strconv"
	"strings"
)

// Validation collects constraint violations in model order and renders AWS's
// ValidationException text: "<N> validation error(s) detected: " followed by at most ten
// "Value <v> at '<path>' failed to satisfy constraint: <rule>" items joined by "; ".
type Validation struct {
	items []string
	n     int
}

// Add records one violation. value is the already rendered value (see Quote, Null, BlobValue).
func (v *Validation) Add(value, path, rule string) {
	v.n++
	if len(v.items) < 10 {
		v.items = append(v.items, "Value "+value+" at '"+path+"' failed to satisfy constraint: "+rule)
	}
}

// Count is the number of violations so far.
func (v *Validation) Count() int { return v.n }

// Err returns the ValidationException, or nil when nothing was recorded.
func (v *Validation) Err() *Error {
	if v.n == 0 {
		return nil
	}
	head := "1 validation error detected: "
	if v.n > 1 {
		head = strconv.Itoa(v.n) + " validation errors detected: "
	}
	return NewError(TypeValidation, head+strings.Join(v.items, "; "))
}

// Null is how an absent value is shown.
const Null = "null"

// Quote shows a present value: '<value>'.
func Quote(s string) string { return "'" + s + "'" }

// BlobValue shows a blob of n bytes the way the Java service does.
func BlobValue(n int) string {
	s := strconv.Itoa(n)
	return "'java.nio.HeapByteBuffer[pos=0 lim=" + s + " cap=" + s + "]'"
}

// Rule texts.
const RuleNotNull = "Member must not be null"

func RuleMaxLen(n int) string {
	return "Member must have length less than or equal to " + strconv.Itoa(n)
}
func RuleMinLen(n int) string {
	return "Member must have length greater than or equal to " + strconv.Itoa(n)
}
func RuleMax(n int64) string {
	return "Member must have value less than or equal to " + strconv.FormatInt(n, 10)
}
func RuleMin(n int64) string {
	return "Member must have value greater than or equal to " + strconv.FormatInt(n, 10)
}
func RulePattern(re string) string {
	return "Member must satisfy regular expression pattern: " + re
}
func RuleEnum(vals ...string) string {
	return "Member must satisfy enum value set: [" + strings.Join(vals, ", ") + "]"
}

// Required records "must not be null" when !present and reports present.
func (v *Validation) Required(path string, present bool) bool {
	if !present {
		v.Add(Null, path, RuleNotNull)
	}
	return present
}

// Length checks a string's length in characters (UTF-16 units approximated by runes).
func (v *Validation) Length(path, s string, min, max int) {
	n := len([]rune(s))
	if n < min {
		v.Add(Quote(s), path, RuleMinLen(min))
	} else if max >= 0 && n > max {
		v.Add(Quote(s), path, RuleMaxLen(max))
	}
}

// Pattern checks s against re (anchored), shown as pattern in the message.
func (v *Validation) Pattern(path, s string, re *regexp.Regexp, pattern string) {
	if !re.MatchString(s) {
		v.Add(Quote(s), path, RulePattern(pattern))
	}
}

// Range checks an integer.
func (v *Validation) Range(path string, n, min, max int64) {
	if n < min {
		v.Add(Quote(strconv.FormatInt(n, 10)), path, RuleMin(min))
	} else if n > max {
		v.Add(Quote(strconv.FormatInt(n, 10)), path, RuleMax(max))
	}
}

// Enum checks s is one of vals.
func (v *Validation) Enum(path, s string, vals ...string) {
	for _, x := range vals {
		if s == x {
			return
		}
	}
	v.Add(Quote(s), path, RuleEnum(vals...))
}
