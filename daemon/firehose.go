package daemon

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/buffer"
	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/daemon/firehose"
	"github.com/sluice-io/sluice/daemon/firehoseapi"
	_ "github.com/sluice-io/sluice/sinks/all" // the destinations linked into the daemon register themselves
	"github.com/sluice-io/sluice/streamcore"
)

// Firehose is what the daemon needs from the Firehose side (the delivery manager of
// daemon/firehose behind the API handler of daemon/firehoseapi): an HTTP handler for
// `X-Amz-Target: Firehose_20150804.*` requests and the delivery pipelines behind it.
type Firehose interface {
	http.Handler
	// Apply makes the delivery streams declared in the configuration exist: it is called
	// after SIGHUP with the new `delivery_streams` (the factory gets the first set). It
	// creates new ones and reports, without failing, what it could not change live.
	Apply(ctx context.Context, streams []config.DeliveryStream) error
	// Close stops the pipelines after flushing their buffers to the destinations,
	// within ctx's deadline; records not delivered stay in the source streams.
	Close(ctx context.Context) error
}

// FirehoseDeps are the daemon-owned resources handed to the Firehose side.
type FirehoseDeps struct {
	Engine     *streamcore.Engine
	Config     *config.Config // Server (region, account, data_dir, max_request_size), Auth, Firehose, DeliveryStreams
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Limits bound request time and memory; shared with the Kinesis API.
	Limits *awsproto.Limits
}

// FirehoseFactory starts the Firehose side with the configuration's delivery streams.
type FirehoseFactory func(ctx context.Context, deps FirehoseDeps) (Firehose, error)

// Environment variables kept from before the `firehose.s3` config keys: they fill only
// what the config leaves empty (the config wins).
const (
	EnvFirehoseS3Endpoint  = "SLUICE_FIREHOSE_S3_ENDPOINT"
	EnvFirehoseS3Region    = "SLUICE_FIREHOSE_S3_REGION"
	EnvFirehoseS3PathStyle = "SLUICE_FIREHOSE_S3_PATH_STYLE"
)

// firehoseDefaultS3 is the S3 connection of API-created delivery streams: the
// `firehose.s3` section, then the SLUICE_FIREHOSE_S3_* variables, then AWS_ENDPOINT_URL_S3
// / AWS_ENDPOINT_URL and the standard AWS chain. A non-AWS endpoint turns path-style
// addressing on (MinIO) unless path_style says otherwise.
func firehoseDefaultS3(f config.FirehoseS3) firehose.S3Conn {
	c := firehose.S3Conn{Endpoint: f.Endpoint, Region: f.Region, AccessKeyID: f.AccessKeyID,
		SecretAccessKey: f.SecretAccessKey.Reveal(), InstanceMetadata: f.InstanceMetadata}
	for _, env := range []string{EnvFirehoseS3Endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if c.Endpoint == "" {
			c.Endpoint = os.Getenv(env)
		}
	}
	if c.Region == "" {
		c.Region = os.Getenv(EnvFirehoseS3Region)
	}
	ps := f.PathStyle
	if ps == nil && f.Endpoint == "" { // the variable goes with an endpoint from the environment
		switch strings.ToLower(os.Getenv(EnvFirehoseS3PathStyle)) {
		case "true", "1", "yes":
			ps = new(true)
		case "false", "0", "no":
			ps = new(false)
		}
	}
	f.Endpoint, f.PathStyle = c.Endpoint, ps
	c.PathStyle = f.PathStyleOn()
	return c
}

// firehoseService is the built-in Firehose side: the API handler over the delivery
// manager. It implements Firehose.
type firehoseService struct {
	http.Handler
	mgr *firehose.Manager
	cfg *config.Config
}

// defaultFirehose is the built-in Firehose factory, the composition root of the Firehose
// side: it builds the delivery manager from the config (the shared buffer budget, the S3
// defaults with their environment fallbacks, the high-water mark, the throttling quotas,
// the Lambda mapping), restores the API-created delivery streams, starts the declared
// ones, and puts the API handler (with the SigV4 credentials) in front.
func defaultFirehose(ctx context.Context, deps FirehoseDeps) (Firehose, error) {
	cfg := deps.Config
	fh := cfg.Firehose
	lim := fh.Limits()
	mgr, err := firehose.NewManager(firehose.Options{
		Engine:            deps.Engine,
		DataDir:           cfg.Server.DataDir,
		Account:           cfg.Server.Account,
		Region:            cfg.Server.Region,
		Budget:            buffer.NewBudget(int64(fh.BufferBudget)),
		DefaultS3:         firehoseDefaultS3(fh.S3),
		WALHighWater:      int64(fh.WALHighWater),
		Throttle:          firehose.Limits{Records: lim.Records, Requests: lim.Requests, Bytes: lim.Bytes},
		LambdaFunctions:   fh.LambdaFunctions,
		OpenSearchDomains: fh.OpenSearchDomains,
		AllowInsecure:     fh.AllowInsecureEndpoints,
		Catalog:           fh.Tables(),
		Logger:            deps.Logger,
		Registerer:        deps.Registerer,
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.Start(ctx, firehose.FromConfig(cfg)); err != nil {
		mgr.Close(ctx)
		return nil, err
	}
	var creds []awsproto.Credential
	if cfg.Auth.SigV4 {
		for _, k := range cfg.Auth.Credentials {
			creds = append(creds, awsproto.Credential{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey.Reveal(),
				Actions: k.Actions, Resources: k.Streams})
		}
	}
	h := firehoseapi.New(mgr, firehoseapi.HandlerOptions{Credentials: creds, Logger: deps.Logger, Limits: deps.Limits})
	return &firehoseService{Handler: h, mgr: mgr, cfg: cfg}, nil
}

// Apply reconciles the config-declared delivery streams after a reload.
func (s *firehoseService) Apply(ctx context.Context, streams []config.DeliveryStream) error {
	c := *s.cfg
	c.DeliveryStreams = streams
	return s.mgr.Apply(ctx, firehose.FromConfig(&c))
}

// Close drains the pipelines within ctx's deadline.
func (s *firehoseService) Close(ctx context.Context) error { return s.mgr.Close(ctx) }
