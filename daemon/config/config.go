// Package config is Sluice's configuration: one YAML file with the sections `server`,
// `auth`, `log`, `limits`, `streams`, `delivery_streams`, `firehose` and
// `http_endpoint_sources`.
//
// Loading is strict: unknown keys, duplicate keys and wrong types are errors, and every
// problem in a file is reported at once, each as `FILE:LINE:COL: yaml.path: what is wrong
// (and the allowed range)`. Keys the file leaves out take the defaults documented in
// reference.yaml (see Reference), which also lists every key and its range.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

//go:embed reference.yaml
var referenceYAML []byte

// DefaultName is the file name reported for the embedded default configuration.
const DefaultName = "(embedded default.yaml)"

// Reference returns the commented example of every key, its default and its range.
func Reference() []byte { return append([]byte(nil), referenceYAML...) }

// DefaultYAML returns the embedded default configuration file.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Config is a whole configuration file, decoded, defaulted and validated.
type Config struct {
	Server          Server           `yaml:"server"`
	Auth            Auth             `yaml:"auth"`
	Log             Log              `yaml:"log"`
	Limits          Limits           `yaml:"limits"`
	Streams         []Stream         `yaml:"streams"`
	DeliveryStreams []DeliveryStream `yaml:"delivery_streams"`
	Firehose        Firehose         `yaml:"firehose"`
	// HTTPEndpointSources are routes taking Firehose HTTP endpoint deliveries into streams.
	HTTPEndpointSources []HTTPEndpointSource `yaml:"http_endpoint_sources"`
	CloudWatch          CloudWatch           `yaml:"cloudwatch"`

	// File is where the configuration was read from (DefaultName for the embedded one).
	File string `yaml:"-"`
	// Warnings are what validation found valid but unwise (sluice validate prints them).
	Warnings []*Problem `yaml:"-"`
}

// Default returns the embedded default configuration.
func Default() *Config {
	c, err := Parse(DefaultName, defaultYAML)
	if err != nil {
		panic("config: embedded default.yaml is invalid: " + err.Error()) // a build defect
	}
	return c
}

// Load reads, decodes, defaults and validates the file at path. On failure the error
// joins every problem found (see Problems).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Problem{File: path, Msg: "cannot read config: " + unwrapPathErr(err)}
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates data; file names it in problems.
func Parse(file string, data []byte) (*Config, error) {
	v := newValidator(file)
	c := defaults()
	c.File = file

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxProblem(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		v.ErrorAt(&extra, "", "only one YAML document is allowed (found a second one)")
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxProblem(file, err)
	}
	if len(doc.Content) > 0 {
		v.Decode(&doc, "", c)
	}
	c.applyDefaults(v)
	c.validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	c.Warnings = v.warnings
	return c, nil
}

// syntaxProblem turns a yaml.v3 parse error ("yaml: line 3: did not find expected key")
// into a Problem with the line.
func syntaxProblem(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := &Problem{File: file, Msg: "invalid YAML: " + msg}
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		p.Line, p.Col = line, 1
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			p.Msg = "invalid YAML: " + rest
		}
	}
	return errors.Join(p)
}

func unwrapPathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
