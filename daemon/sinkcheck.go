package daemon

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/sinks"
)

// SinkCheck is the result of dialing one delivery destination endpoint.
type SinkCheck struct {
	Path     string // delivery_streams[i]
	Name     string // the delivery stream's name
	Endpoint string // as configured
	Addr     string // host:port dialled
	Err      error  // nil = a TCP connection was established (or the destination's own check passed)

	// Checked says Err is the outcome of the destination's own check (sinks.Checker:
	// connected, and what it needs exists), not of a TCP dial.
	Checked bool

	deep func(ctx context.Context) error
}

// CheckSinks dials every network endpoint of every delivery stream's destination (TCP
// connect only, each within timeout, all at once) and reports the outcome in
// configuration order. Endpoints come from DeliveryStream.SinkEndpoints when it exists,
// else from string fields tagged endpoint/url/endpoints/urls/hosts.
func CheckSinks(ctx context.Context, cfg *config.Config, timeout time.Duration) []SinkCheck {
	var checks []SinkCheck
	for i := range cfg.DeliveryStreams {
		ds := &cfg.DeliveryStreams[i]
		if ck, ok := ds.Destination.Config.(sinks.Checker); ok {
			var conn sinks.S3Conn
			if ds.Destination.Conn != nil {
				conn = *ds.Destination.Conn
			}
			checks = append(checks, SinkCheck{Path: fmt.Sprintf("delivery_streams[%d]", i), Name: ds.Name, Endpoint: ck.Endpoint(),
				Checked: true, deep: func(ctx context.Context) error { return ck.Check(ctx, conn) }})
			continue
		}
		for _, ep := range sinkEndpoints(ds) {
			checks = append(checks, SinkCheck{Path: fmt.Sprintf("delivery_streams[%d]", i), Name: ds.Name, Endpoint: ep})
		}
	}
	if ep := cfg.Firehose.S3.Endpoint; ep != "" {
		checks = append(checks, SinkCheck{Path: "firehose.s3", Name: "(API-created delivery streams)", Endpoint: ep})
	}
	for _, arn := range slices.Sorted(maps.Keys(cfg.Firehose.LambdaFunctions)) {
		checks = append(checks, SinkCheck{Path: "firehose.lambda_functions", Name: arn, Endpoint: cfg.Firehose.LambdaFunctions[arn]})
	}
	var wg sync.WaitGroup
	for i := range checks {
		wg.Add(1)
		go func(c *SinkCheck) {
			defer wg.Done()
			if c.deep != nil {
				dctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				c.Err = c.deep(dctx)
				return
			}
			addr, err := dialAddr(c.Endpoint)
			if err != nil {
				c.Err = err
				return
			}
			c.Addr = addr
			dctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
			if err != nil {
				c.Err = err
				return
			}
			conn.Close()
		}(&checks[i])
	}
	wg.Wait()
	return checks
}

func sinkEndpoints(ds *config.DeliveryStream) []string {
	if e, ok := any(ds).(config.SinkEndpointer); ok {
		return e.SinkEndpoints()
	}
	var out []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			t := v.Type()
			for i := 0; i < t.NumField(); i++ {
				if !t.Field(i).IsExported() {
					continue
				}
				name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
				f := v.Field(i)
				switch name {
				case "endpoint", "url":
					if f.Kind() == reflect.String && f.String() != "" {
						out = append(out, f.String())
						continue
					}
				case "endpoints", "urls", "hosts":
					if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String {
						for j := 0; j < f.Len(); j++ {
							out = append(out, f.Index(j).String())
						}
						continue
					}
				}
				walk(f)
			}
		case reflect.Slice:
			for j := 0; j < v.Len(); j++ {
				walk(v.Index(j))
			}
		}
	}
	walk(reflect.ValueOf(ds))
	return out
}

// dialAddr turns an endpoint (URL or host:port) into host:port, defaulting the port
// from the scheme.
func dialAddr(ep string) (string, error) {
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return "", fmt.Errorf("not a URL: %w", err)
		}
		if u.Host == "" {
			return "", fmt.Errorf("URL %q has no host", ep)
		}
		if u.Port() != "" {
			return u.Host, nil
		}
		port := map[string]string{"http": "80", "https": "443", "postgres": "5432", "postgresql": "5432"}[u.Scheme]
		if port == "" {
			return "", fmt.Errorf("URL %q has no port and scheme %q has no default", ep, u.Scheme)
		}
		return net.JoinHostPort(u.Hostname(), port), nil
	}
	if _, _, err := net.SplitHostPort(ep); err != nil {
		return "", fmt.Errorf("%q is neither a URL nor host:port", ep)
	}
	return ep, nil
}
