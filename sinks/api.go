package sinks

import (
	"encoding/json"
	"regexp"
	"strconv"

	"github.com/sluice-io/sluice/sources/processors"
)

// Members every Firehose destination configuration shares, in the API's shapes.

// BufferingHints is the Firehose BufferingHints shape.
type BufferingHints struct {
	SizeInMBs         *int `json:"SizeInMBs,omitempty"`
	IntervalInSeconds *int `json:"IntervalInSeconds,omitempty"`
}

// Hints returns the effective hints: defSize MiB and defInterval seconds when absent (a
// lone member takes the other's default).
func (h *BufferingHints) Hints(defSize, defInterval int) (sizeMiB, intervalSec int) {
	sizeMiB, intervalSec = defSize, defInterval
	if h != nil {
		if h.SizeInMBs != nil {
			sizeMiB = *h.SizeInMBs
		}
		if h.IntervalInSeconds != nil {
			intervalSec = *h.IntervalInSeconds
		}
	}
	return sizeMiB, intervalSec
}

// CheckAPI records the model constraints of BufferingHints at path. Sluice accepts sizes
// up to maxMiB (AWS stops at 128; reference §4).
func (h *BufferingHints) CheckAPI(v APIChecks, path string, maxMiB, maxInterval int64) {
	if h == nil {
		return
	}
	if h.SizeInMBs != nil {
		v.Range(path+".sizeInMBs", int64(*h.SizeInMBs), 1, maxMiB)
	}
	if h.IntervalInSeconds != nil {
		v.Range(path+".intervalInSeconds", int64(*h.IntervalInSeconds), 0, maxInterval)
	}
}

// ProcessingConfiguration is the Firehose processor list.
type ProcessingConfiguration struct {
	Enabled    *bool       `json:"Enabled,omitempty"`
	Processors []Processor `json:"Processors,omitempty"`
}

// Processor is one Firehose processor.
type Processor struct {
	Type       string               `json:"Type"`
	Parameters []ProcessorParameter `json:"Parameters,omitempty"`
}

// ProcessorParameter is one processor parameter.
type ProcessorParameter struct {
	ParameterName  string `json:"ParameterName"`
	ParameterValue string `json:"ParameterValue"`
}

// Running returns the processors that run (none when processing is disabled).
func (pc *ProcessingConfiguration) Running() []Processor {
	if pc == nil || (pc.Enabled != nil && !*pc.Enabled) {
		return nil
	}
	if pc.Enabled == nil && len(pc.Processors) == 0 {
		return nil
	}
	return pc.Processors
}

// Chain converts the running processors to the processors package's configuration.
func (pc *ProcessingConfiguration) Chain() processors.Config {
	ps := pc.Running()
	cfg := processors.Config{Enabled: len(ps) > 0}
	for _, p := range ps {
		c := processors.ProcessorConfig{Type: p.Type, Parameters: map[string]string{}}
		for _, kv := range p.Parameters {
			c.Parameters[kv.ParameterName] = kv.ParameterValue
		}
		cfg.Processors = append(cfg.Processors, c)
	}
	return cfg
}

// CheckAPI records the model constraints of ProcessingConfiguration at path.
func (pc *ProcessingConfiguration) CheckAPI(v APIChecks, path string) {
	if pc == nil {
		return
	}
	for i, p := range pc.Processors {
		pp := path + ".processors." + strconv.Itoa(i+1) + ".member"
		if v.Required(pp+".type", p.Type != "") {
			v.Enum(pp+".type", p.Type, "RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "Lambda",
				"MetadataExtraction", "AppendDelimiterToRecord")
		}
		for j, kv := range p.Parameters {
			kp := pp + ".parameters." + strconv.Itoa(j+1) + ".member"
			v.Required(kp+".parameterName", kv.ParameterName != "")
			v.Length(kp+".parameterValue", kv.ParameterValue, 1, 5120)
		}
	}
}

// RetryOptions is the Firehose RetryOptions shape.
type RetryOptions struct {
	DurationInSeconds *int `json:"DurationInSeconds,omitempty"`
}

// Seconds is DurationInSeconds, or def when r or it is absent.
func (r *RetryOptions) Seconds(def int) int {
	if r == nil || r.DurationInSeconds == nil {
		return def
	}
	return *r.DurationInSeconds
}

// RetryFor is the RetryOptions of seconds (nil for nil), as Adopt sets it.
func RetryFor(seconds *int) *RetryOptions {
	if seconds == nil {
		return nil
	}
	s := *seconds
	return &RetryOptions{DurationInSeconds: &s}
}

// MaxRetrySeconds is the largest RetryOptions.DurationInSeconds.
const MaxRetrySeconds = 7200

// Model patterns the destinations share.
var (
	RoleARNRE = regexp.MustCompile(`^arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+$`)
)

// RoleARNPattern is RoleARNRE as the API model writes it.
const RoleARNPattern = `arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+`

// CloneJSON returns a deep copy of v, a plain-data configuration, through its JSON form
// (what Merge starts from, so an update never changes the current configuration).
func CloneJSON[T any](v *T) *T {
	b, _ := json.Marshal(v) // plain data: cannot fail
	out := new(T)
	_ = json.Unmarshal(b, out)
	return out
}

// AdoptInto sets a destination's API members from the config file's settings, as
// Config.Adopt does: the role (when st has one and roleARN is not nil), the buffering
// hints, the processors and the retry duration (when st sets one).
func (st Settings) AdoptInto(roleARN *string, hints **BufferingHints, proc **ProcessingConfiguration, retry **RetryOptions) {
	if roleARN != nil && st.RoleARN != "" {
		*roleARN = st.RoleARN
	}
	size, interval := st.SizeMiB, st.IntervalSec
	*hints = &BufferingHints{SizeInMBs: &size, IntervalInSeconds: &interval}
	*proc = st.Processing
	if st.RetrySeconds != nil {
		*retry = RetryFor(st.RetrySeconds)
	}
}
