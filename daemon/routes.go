package daemon

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/cloudwatchapi"
	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/daemon/dynamoapi"
	"github.com/sluice-io/sluice/daemon/httpsource"
	"github.com/sluice-io/sluice/daemon/kinesisapi"
	"github.com/sluice-io/sluice/streamcore"
)

// routes mounts every endpoint on the one port:
//
//	GET /healthz            200 while the process is alive
//	GET /readyz             200 once storage is recovered and until stopping, else 503;
//	                        a full disk keeps it 200 (reads are served) and adds a
//	                        "storage: full …" line to the body
//	GET /metrics            Prometheus exposition of the daemon's registry
//	/debug/pprof/           Go profiler, only with server.pprof: true
//	/v1/streams/            NDJSON ingest (kinesisapi)
//	http_endpoint_sources   each path: Firehose HTTP endpoint deliveries into a stream (httpsource)
//	X-Amz-Target: Firehose_20150804.*   Firehose API
//	X-Amz-Target: DynamoDB_20120810.*   the DynamoDB operations KCL uses (dynamoapi)
//	CloudWatch PutMetricData            X-Amz-Target GraniteServiceVersion20100801.*,
//	                                    POST /service/GraniteServiceVersion20100801/operation/*
//	                                    (RPC v2 CBOR), or a form post without X-Amz-Target
//	                                    (query protocol) (cloudwatchapi)
//	everything else         Kinesis API (any path, as AWS)
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !d.isReady() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready\n"))
			return
		}
		w.Write([]byte("ready\n"))
		if dir, err := d.storageFull(); err != nil {
			fmt.Fprintf(w, "storage: full (ENOSPC, no space left on device) in %s: writes are refused until space is freed; reads are served\n", dir)
		}
	})
	guard := d.operatorAuth()
	mux.Handle("GET /metrics", guard(promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg})))
	if d.cfg.Server.Pprof {
		mux.Handle("/debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", guard(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	}

	kin := kinesisapi.New(d.engine, d.kinesisOptions())
	mux.Handle("/v1/streams/", kinesisapi.NewIngest(d.engine, d.kinesisOptions()))
	for _, src := range d.cfg.HTTPEndpointSources {
		rt := httpsource.Route{Path: src.Path, Stream: streamcore.StreamKey{Account: src.Account, Region: src.Region, Name: src.Stream},
			Anonymous: src.AllowAnonymous, ByRequest: src.PartitionKey == config.PartitionByRequest}
		for _, k := range src.AccessKeys {
			rt.AccessKeys = append(rt.AccessKeys, k.Reveal())
		}
		mux.Handle(src.Path, httpsource.New(d.engine, rt, httpsource.Options{Limits: d.limits, Logger: d.log, Registerer: d.reg}))
	}

	var fh http.Handler = http.HandlerFunc(firehoseMissing)
	if d.firehose != nil {
		fh = d.firehose
	}
	ddb := dynamoapi.New(d.ddb, d.dynamoOptions())
	k := d.kinesisOptions()
	cw := cloudwatchapi.New(cloudwatchapi.Options{
		Region: k.Region, Account: k.Account, Credentials: k.Credentials,
		MaxBodyBytes: k.MaxBodyBytes, Limits: k.Limits, Logger: d.log,
		MaxSeries: d.cfg.CloudWatch.MaxSeries, Registerer: d.reg,
	})
	mux.Handle("/", byTarget(fh, kin, ddb, cw))
	return mux
}

// operatorAuth guards the operator endpoints (/metrics, /debug/pprof/): with
// server.metrics_auth on (the default with auth.sigv4), a request needs HTTP Basic
// credentials that are an access key id and secret of auth.credentials; else 401.
func (d *Daemon) operatorAuth() func(http.Handler) http.Handler {
	if !d.cfg.MetricsAuthOn() {
		return func(h http.Handler) http.Handler { return h }
	}
	creds := awsCredentials(d.cfg)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if user, pass, ok := r.BasicAuth(); ok && awsproto.BasicCredential(creds, user, pass) != nil {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="sluice"`)
			http.Error(w, "metrics need the HTTP Basic credentials of an auth.credentials entry (server.metrics_auth)", http.StatusUnauthorized)
		})
	}
}

// byTarget sends Firehose requests to fh, DynamoDB requests to ddb, CloudWatch requests
// (by target, RPC v2 path, or a form post without a target) to cw and everything else
// to kin.
func byTarget(fh, kin, ddb, cw http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		switch {
		case cloudwatchapi.Is(r):
			cw.ServeHTTP(w, r)
		case strings.HasPrefix(target, "Firehose_20150804."):
			fh.ServeHTTP(w, r)
		case strings.HasPrefix(target, dynamoapi.TargetPrefix):
			ddb.ServeHTTP(w, r)
		default:
			kin.ServeHTTP(w, r)
		}
	})
}

func (d *Daemon) dynamoOptions() dynamoapi.Options {
	k := d.kinesisOptions()
	return dynamoapi.Options{
		Region:       k.Region,
		Account:      k.Account,
		Credentials:  k.Credentials,
		MaxBodyBytes: k.MaxBodyBytes,
		Limits:       k.Limits,
		Logger:       d.log,
		Registerer:   d.reg,
	}
}

func (d *Daemon) kinesisOptions() kinesisapi.Options {
	c := d.cfg
	var creds []awsproto.Credential
	if c.Auth.SigV4 {
		creds = awsCredentials(c)
	}
	return kinesisapi.Options{
		Region:       c.Server.Region,
		Account:      c.Server.Account,
		Credentials:  creds,
		MaxBodyBytes: int64(c.Server.MaxRequestSize),
		Limits:       d.limits,
		Logger:       d.log,
		Registerer:   d.reg,
	}
}

// awsCredentials maps `auth.credentials` onto the verifier's shape; the `streams`
// patterns become resource patterns (the verifier matches them against stream names).
func awsCredentials(c *config.Config) []awsproto.Credential {
	out := make([]awsproto.Credential, 0, len(c.Auth.Credentials))
	for _, k := range c.Auth.Credentials {
		out = append(out, awsproto.Credential{
			AccessKeyID:     k.AccessKeyID,
			SecretAccessKey: k.SecretAccessKey.Reveal(),
			Actions:         k.Actions,
			Resources:       k.Streams,
		})
	}
	return out
}

// firehoseMissing answers Firehose calls while the Firehose side is not linked in.
func firehoseMissing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-ErrorType", "UnknownOperationException")
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte(`{"__type":"UnknownOperationException","message":"the Firehose API is not available in this build"}`))
}
