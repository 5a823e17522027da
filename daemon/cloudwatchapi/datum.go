package cloudwatchapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

type dimension struct{ Name, Value string }

type statSet struct{ SampleCount, Sum, Minimum, Maximum float64 }

// datum is one MetricDatum of PutMetricData.
type datum struct {
	MetricName string
	Dimensions []dimension
	Value      *float64
	Stats      *statSet
	Values     []float64
	Counts     []float64
	Unit       string
}

// samples returns how many samples the datum stands for and their sum.
func (d datum) samples() (count, sum float64) {
	switch {
	case d.Value != nil:
		return 1, *d.Value
	case d.Stats != nil:
		return d.Stats.SampleCount, d.Stats.Sum
	}
	for i, v := range d.Values {
		c := 1.0
		if i < len(d.Counts) {
			c = d.Counts[i]
		}
		count += c
		sum += v * c
	}
	return count, sum
}

// apiErr is a CloudWatch error: the query-protocol code (InvalidParameterValue, …) and
// the message; the JSON/CBOR type is Code+"Exception" (MissingParameter →
// MissingRequiredParameterException).
type apiErr struct {
	Code, Msg string
	Status    int
}

func (e *apiErr) Error() string { return e.Code + ": " + e.Msg }

func invalid(format string, args ...any) *apiErr {
	return &apiErr{Code: "InvalidParameterValue", Msg: fmt.Sprintf(format, args...), Status: 400}
}

func missingParam(name string) *apiErr {
	return &apiErr{Code: "MissingParameter", Msg: "The parameter " + name + " is required.", Status: 400}
}

func combination(msg string) *apiErr {
	return &apiErr{Code: "InvalidParameterCombination", Msg: msg, Status: 400}
}

func (e *apiErr) jsonType() string {
	if e.Code == "MissingParameter" {
		return "MissingRequiredParameterException"
	}
	if strings.HasSuffix(e.Code, "Exception") {
		return e.Code
	}
	return e.Code + "Exception"
}

const (
	maxData   = 1000
	maxDims   = 30
	maxValues = 150
)

// validate checks a PutMetricData request as CloudWatch does.
func validate(namespace string, hasNS bool, data []datum) *apiErr {
	if !hasNS {
		return missingParam("Namespace")
	}
	if l := len(namespace); l < 1 || l > 255 {
		return invalid("The parameter Namespace must be between 1 and 255 characters long.")
	}
	if strings.HasPrefix(namespace, "AWS/") {
		return invalid("The value AWS/ for parameter Namespace is invalid.")
	}
	if len(data) == 0 {
		return missingParam("MetricData")
	}
	if len(data) > maxData {
		return invalid("The collection MetricData must not have a size greater than %d.", maxData)
	}
	for i, d := range data {
		at := fmt.Sprintf("MetricData.member.%d", i+1)
		if d.MetricName == "" {
			return missingParam(at + ".MetricName")
		}
		if len(d.MetricName) > 255 {
			return invalid("The parameter %s.MetricName must be between 1 and 255 characters long.", at)
		}
		if len(d.Dimensions) > maxDims {
			return invalid("The collection %s.Dimensions must not have a size greater than %d.", at, maxDims)
		}
		for j, x := range d.Dimensions {
			if x.Name == "" || x.Value == "" {
				return missingParam(fmt.Sprintf("%s.Dimensions.member.%d.%s", at, j+1, map[bool]string{true: "Name", false: "Value"}[x.Name == ""]))
			}
		}
		n := 0
		if d.Value != nil {
			n++
		}
		if d.Stats != nil {
			n++
		}
		if len(d.Values) > 0 {
			n++
		}
		if n > 1 {
			return combination("The parameters " + at + ".Value, " + at + ".StatisticValues and " + at + ".Values are mutually exclusive and you have specified more than one.")
		}
		if n == 0 {
			return combination("At least one of the parameters " + at + ".Value, " + at + ".StatisticValues or " + at + ".Values must be specified.")
		}
		if len(d.Values) > maxValues {
			return invalid("The collection %s.Values must not have a size greater than %d.", at, maxValues)
		}
		if len(d.Counts) > 0 && len(d.Counts) != len(d.Values) {
			return combination("The parameters " + at + ".Values and " + at + ".Counts must be of the same size.")
		}
		for _, v := range append(append([]float64{}, d.Values...), d.Counts...) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return invalid("The value %v for parameter %s is invalid.", v, at)
			}
		}
		if d.Value != nil && (math.IsNaN(*d.Value) || math.IsInf(*d.Value, 0)) {
			return invalid("The value %v for parameter %s.Value is invalid.", *d.Value, at)
		}
		if d.Stats != nil && d.Stats.SampleCount <= 0 {
			return invalid("The value %v for parameter %s.StatisticValues.SampleCount is invalid.", d.Stats.SampleCount, at)
		}
	}
	return nil
}

// fromForm decodes the query protocol's PutMetricData members.
func fromForm(q url.Values) (string, bool, []datum, *apiErr) {
	ns, hasNS := q["Namespace"]
	namespace := ""
	if hasNS && len(ns) > 0 {
		namespace = ns[0]
	}
	byIndex := map[int]*datum{}
	maxIx := 0
	num := func(k, v string) (float64, *apiErr) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, invalid("The value %s for parameter %s is invalid.", v, k)
		}
		return f, nil
	}
	for k, vs := range q {
		rest, ok := strings.CutPrefix(k, "MetricData.member.")
		if !ok || len(vs) == 0 {
			continue
		}
		v := vs[0]
		ixs, field, _ := strings.Cut(rest, ".")
		ix, err := strconv.Atoi(ixs)
		if err != nil || ix < 1 || ix > maxData {
			return "", false, nil, invalid("The parameter %s is not valid.", k)
		}
		d := byIndex[ix]
		if d == nil {
			d = &datum{}
			byIndex[ix] = d
			maxIx = max(maxIx, ix)
		}
		switch {
		case field == "MetricName":
			d.MetricName = v
		case field == "Unit":
			d.Unit = v
		case field == "Value":
			f, e := num(k, v)
			if e != nil {
				return "", false, nil, e
			}
			d.Value = &f
		case field == "Timestamp", field == "StorageResolution":
		case strings.HasPrefix(field, "StatisticValues."):
			f, e := num(k, v)
			if e != nil {
				return "", false, nil, e
			}
			if d.Stats == nil {
				d.Stats = &statSet{}
			}
			switch strings.TrimPrefix(field, "StatisticValues.") {
			case "SampleCount":
				d.Stats.SampleCount = f
			case "Sum":
				d.Stats.Sum = f
			case "Minimum":
				d.Stats.Minimum = f
			case "Maximum":
				d.Stats.Maximum = f
			}
		case strings.HasPrefix(field, "Dimensions.member."):
			ds, part, _ := strings.Cut(strings.TrimPrefix(field, "Dimensions.member."), ".")
			j, err := strconv.Atoi(ds)
			if err != nil || j < 1 || j > maxDims {
				return "", false, nil, invalid("The collection %s.Dimensions must not have a size greater than %d.", "MetricData.member."+ixs, maxDims)
			}
			for len(d.Dimensions) < j {
				d.Dimensions = append(d.Dimensions, dimension{})
			}
			if part == "Name" {
				d.Dimensions[j-1].Name = v
			} else if part == "Value" {
				d.Dimensions[j-1].Value = v
			}
		case strings.HasPrefix(field, "Values.member."), strings.HasPrefix(field, "Counts.member."):
			list, js, _ := strings.Cut(field, ".member.")
			j, err := strconv.Atoi(js)
			if err != nil || j < 1 || j > maxValues {
				return "", false, nil, invalid("The collection %s.%s must not have a size greater than %d.", "MetricData.member."+ixs, list, maxValues)
			}
			f, e := num(k, v)
			if e != nil {
				return "", false, nil, e
			}
			dst := &d.Values
			if list == "Counts" {
				dst = &d.Counts
			}
			for len(*dst) < j {
				*dst = append(*dst, 0)
			}
			(*dst)[j-1] = f
		}
	}
	data := make([]datum, 0, len(byIndex))
	for i := 1; i <= maxIx; i++ {
		if d := byIndex[i]; d != nil {
			data = append(data, *d)
		}
	}
	return namespace, hasNS, data, nil
}

// fromTree decodes the JSON 1.0 / RPC v2 CBOR request (decoded into maps and lists).
func fromTree(v any) (string, bool, []datum, *apiErr) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false, nil, &apiErr{Code: "SerializationException", Msg: "the request body is not a structure", Status: 400}
	}
	namespace, hasNS := str(m["Namespace"])
	list, _ := m["MetricData"].([]any)
	data := make([]datum, 0, len(list))
	for i, e := range list {
		dm, ok := e.(map[string]any)
		if !ok {
			return "", false, nil, invalid("The parameter MetricData.member.%d is not a structure.", i+1)
		}
		var d datum
		d.MetricName, _ = str(dm["MetricName"])
		d.Unit, _ = str(dm["Unit"])
		if f, ok := float(dm["Value"]); ok {
			d.Value = &f
		}
		if sm, ok := dm["StatisticValues"].(map[string]any); ok {
			d.Stats = &statSet{}
			d.Stats.SampleCount, _ = float(sm["SampleCount"])
			d.Stats.Sum, _ = float(sm["Sum"])
			d.Stats.Minimum, _ = float(sm["Minimum"])
			d.Stats.Maximum, _ = float(sm["Maximum"])
		}
		for _, x := range asList(dm["Values"]) {
			f, _ := float(x)
			d.Values = append(d.Values, f)
		}
		for _, x := range asList(dm["Counts"]) {
			f, _ := float(x)
			d.Counts = append(d.Counts, f)
		}
		for _, x := range asList(dm["Dimensions"]) {
			xm, _ := x.(map[string]any)
			name, _ := str(xm["Name"])
			val, _ := str(xm["Value"])
			d.Dimensions = append(d.Dimensions, dimension{name, val})
		}
		data = append(data, d)
	}
	return namespace, hasNS, data, nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

func str(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

func float(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string: // JSON "NaN"/"Infinity"
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}
