package config

import (
	"fmt"
	"regexp"
	"strings"
)

// HTTPEndpointSource is one entry of the `http_endpoint_sources` section: a route on
// server.listen that takes Firehose HTTP endpoint deliveries (firehose.md §9) — from AWS
// Firehose, Vector, or another Sluice's http_endpoint destination — and appends their
// records to a stream (daemon/httpsource).
//
//	http_endpoint_sources:
//	  - path: /firehose/orders      # the route; the URL a sender posts to is http(s)://<listen><path>
//	    stream: orders              # a stream (streams section or API-created) of account/region
//	    access_keys: [s3cr3t]       # X-Amz-Firehose-Access-Key values accepted; never logged
//	    partition_key: record       # record (default): records spread over the shards | request: one shard per request
type HTTPEndpointSource struct {
	Path    string `yaml:"path"`
	Stream  string `yaml:"stream"`
	Account string `yaml:"account"` // default server.account
	Region  string `yaml:"region"`  // default server.region
	// AccessKeys are the accepted X-Amz-Firehose-Access-Key values (any one of them). At
	// least one is required unless AllowAnonymous.
	AccessKeys []Secret `yaml:"access_keys"`
	// AllowAnonymous accepts requests without a key (no access_keys).
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// PartitionKey picks the Kinesis partition key of each record: `record` (default) gives
	// each record `<requestId>-<index>` (spread over the shards); `request` gives every record
	// of a request the requestId (one shard, in order).
	PartitionKey string `yaml:"partition_key"`
}

// Partition keys of HTTPEndpointSource.
const (
	PartitionByRecord  = "record"
	PartitionByRequest = "request"
)

// reservedPaths are the daemon's own routes: a source may not shadow them.
var reservedPaths = []string{"/healthz", "/readyz", "/metrics", "/debug/", "/v1/streams/"}

var sourcePathRE = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$`)

// validateHTTPSources checks the section; streams are the declared streams (by
// account/region/name) — a source may also name an API-created stream, found at run time.
func (c *Config) validateHTTPSources(v *Validator) {
	seen := map[string]int{}
	for i := range c.HTTPEndpointSources {
		s := &c.HTTPEndpointSources[i]
		p := fmt.Sprintf("http_endpoint_sources[%d]", i)
		if s.Account == "" {
			s.Account = c.Server.Account
		}
		if s.Region == "" {
			s.Region = c.Server.Region
		}
		if s.PartitionKey == "" {
			s.PartitionKey = PartitionByRecord
		}
		if v.Required(p+".path", s.Path) {
			switch {
			case !sourcePathRE.MatchString(s.Path) || len(s.Path) > 1024:
				v.Errorf(p+".path", "%q must start with / and be a URL path of at most 1024 characters", s.Path)
			case s.Path == "/":
				v.Errorf(p+".path", `"/" is the AWS API's route; give a path of its own, e.g. /firehose/%s`, s.Stream)
			default:
				for _, r := range reservedPaths {
					if s.Path == strings.TrimSuffix(r, "/") || strings.HasPrefix(s.Path, r) {
						v.Errorf(p+".path", "%q is taken by the daemon's %s route", s.Path, r)
					}
				}
			}
			if j, dup := seen[s.Path]; dup {
				v.Errorf(p+".path", "%q is also the path of http_endpoint_sources[%d]", s.Path, j)
			}
			seen[s.Path] = i
		}
		if v.Required(p+".stream", s.Stream) && !nameRE.MatchString(s.Stream) {
			v.Errorf(p+".stream", "%q is not a stream name (1..128 of a-z A-Z 0-9 _ . -)", s.Stream)
		}
		if !accountRE.MatchString(s.Account) {
			v.Errorf(p+".account", "%q is not a 12-digit account id", s.Account)
		}
		if !regionRE.MatchString(s.Region) {
			v.Errorf(p+".region", "%q is not a region name", s.Region)
		}
		switch {
		case len(s.AccessKeys) == 0 && !s.AllowAnonymous:
			v.Errorf(p+".access_keys", "at least one key is required (or allow_anonymous: true to accept requests without one)")
		case len(s.AccessKeys) > 0 && s.AllowAnonymous:
			v.Errorf(p+".allow_anonymous", "cannot be combined with access_keys")
		}
		for k, key := range s.AccessKeys {
			if n := len(key); n == 0 || n > 4096 {
				v.Errorf(fmt.Sprintf("%s.access_keys[%d]", p, k), "is %d characters long (allowed 1..4096)", n)
			}
		}
		v.OneOf(p+".partition_key", s.PartitionKey, PartitionByRecord, PartitionByRequest)
	}
}
