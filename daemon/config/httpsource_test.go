package config

import (
	"strings"
	"testing"
)

func TestHTTPEndpointSources(t *testing.T) {
	c, err := Parse("s.yaml", []byte(`http_endpoint_sources:
  - path: /firehose/orders
    stream: orders
    access_keys: [k1, k2]
  - path: /open
    stream: logs
    region: eu-west-1
    allow_anonymous: true
    partition_key: request
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.HTTPEndpointSources
	if len(s) != 2 || s[0].Account != DefaultAccount || s[0].Region != DefaultRegion || s[0].PartitionKey != PartitionByRecord ||
		len(s[0].AccessKeys) != 2 || s[0].AccessKeys[1].Reveal() != "k2" || s[1].Region != "eu-west-1" || s[1].PartitionKey != PartitionByRequest {
		t.Errorf("decoded %+v", s)
	}
	_, err = Parse("s.yaml", []byte(`http_endpoint_sources:
  - path: metrics
    stream: "bad name"
  - path: /metrics
    stream: a
    access_keys: [k]
    allow_anonymous: true
  - path: /x
    stream: a
    access_keys: [k]
    partition_key: shard
  - path: /x
    stream: a
    access_keys: [""]
  - path: /
    stream: a
    allow_anonymous: true
    colour: red
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`http_endpoint_sources[0].path: "metrics" must start with /`,
		`http_endpoint_sources[0].stream: "bad name" is not a stream name`,
		`http_endpoint_sources[0].access_keys: at least one key is required`,
		`http_endpoint_sources[1].path: "/metrics" is taken`,
		`http_endpoint_sources[1].allow_anonymous: cannot be combined with access_keys`,
		`http_endpoint_sources[2].partition_key`,
		`http_endpoint_sources[3].path: "/x" is also the path of http_endpoint_sources[2]`,
		`http_endpoint_sources[3].access_keys[0]: is 0 characters long`,
		`http_endpoint_sources[4].path: "/" is the AWS API's route`,
		`http_endpoint_sources[4].colour: unknown key`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
