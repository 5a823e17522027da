package firehoseapi

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
	"github.com/sluice-io/sluice/streamcore"
)

// Deps are the daemon-owned resources of the Firehose side; the fields match
// daemon.FirehoseDeps so the daemon can convert one into the other.
type Deps struct {
	Engine     *streamcore.Engine
	Config     *config.Config
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Service is the Firehose side of a daemon: the API handler plus the delivery manager.
// It implements daemon.Firehose (ServeHTTP, Apply, Close).
type Service struct {
	http.Handler
	Manager *firehose.Manager
	cfg     *config.Config
}

// Environment variables kept from before the `firehose.s3` config keys: they fill
// only what the config leaves empty (the config wins).
const (
	EnvS3Endpoint  = "SLUICE_FIREHOSE_S3_ENDPOINT"
	EnvS3Region    = "SLUICE_FIREHOSE_S3_REGION"
	EnvS3PathStyle = "SLUICE_FIREHOSE_S3_PATH_STYLE"
)

// DefaultS3 is the S3 connection of API-created delivery streams: the `firehose.s3`
// section, then the SLUICE_FIREHOSE_S3_* variables, then AWS_ENDPOINT_URL_S3 /
// AWS_ENDPOINT_URL and the standard AWS chain. A non-AWS endpoint turns path-style
// addressing on (MinIO) unless path_style says otherwise.
func DefaultS3(f config.FirehoseS3) firehose.S3Conn {
	c := firehose.S3Conn{Endpoint: f.Endpoint, Region: f.Region, AccessKeyID: f.AccessKeyID,
		SecretAccessKey: f.SecretAccessKey.Reveal()}
	for _, env := range []string{EnvS3Endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if c.Endpoint == "" {
			c.Endpoint = os.Getenv(env)
		}
	}
	if c.Region == "" {
		c.Region = os.Getenv(EnvS3Region)
	}
	ps := f.PathStyle
	if ps == nil && f.Endpoint == "" { // the variable goes with an endpoint from the environment
		switch strings.ToLower(os.Getenv(EnvS3PathStyle)) {
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

// Start builds the manager, restores API-created delivery streams, starts the declared
// ones, and returns the service.
func Start(ctx context.Context, deps Deps) (*Service, error) {
	cfg := deps.Config
	fh := cfg.Firehose
	lim := fh.Limits()
	mgr, err := firehose.NewManager(firehose.Options{
		Engine:          deps.Engine,
		DataDir:         cfg.Server.DataDir,
		Account:         cfg.Server.Account,
		Region:          cfg.Server.Region,
		Budget:          buffer.NewBudget(int64(fh.BufferBudget)),
		DefaultS3:       DefaultS3(fh.S3),
		WALHighWater:    int64(fh.WALHighWater),
		Throttle:        firehose.Limits{Records: lim.Records, Requests: lim.Requests, Bytes: lim.Bytes},
		LambdaFunctions: fh.LambdaFunctions,
		Logger:          deps.Logger,
		Registerer:      deps.Registerer,
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
	h := New(mgr, HandlerOptions{Credentials: creds, Logger: deps.Logger})
	return &Service{Handler: h, Manager: mgr, cfg: cfg}, nil
}

// Apply reconciles the config-declared delivery streams after a reload.
func (s *Service) Apply(ctx context.Context, streams []config.DeliveryStream) error {
	c := *s.cfg
	c.DeliveryStreams = streams
	return s.Manager.Apply(ctx, firehose.FromConfig(&c))
}

// Close drains the pipelines within ctx's deadline.
func (s *Service) Close(ctx context.Context) error { return s.Manager.Close(ctx) }
