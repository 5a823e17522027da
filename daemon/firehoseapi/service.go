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
	"github.com/sluice-io/sluice/daemon/delivery"
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
	Manager *delivery.Manager
	cfg     *config.Config
}

// Environment variables that address S3 for API-created delivery streams (the config's
// delivery streams carry their own endpoint). Unset: the standard AWS chain
// (AWS_ENDPOINT_URL_S3, AWS_REGION, credentials…).
const (
	EnvS3Endpoint  = "SLUICE_FIREHOSE_S3_ENDPOINT"
	EnvS3Region    = "SLUICE_FIREHOSE_S3_REGION"
	EnvS3PathStyle = "SLUICE_FIREHOSE_S3_PATH_STYLE"
	EnvBudget      = "SLUICE_FIREHOSE_BUFFER_BUDGET" // e.g. 512MiB; default 256MiB
)

// DefaultS3FromEnv reads the S3 connection of API-created delivery streams from the
// environment. An endpoint that is not AWS's turns path-style addressing on (MinIO)
// unless SLUICE_FIREHOSE_S3_PATH_STYLE=false.
func DefaultS3FromEnv() delivery.S3Conn {
	c := delivery.S3Conn{Endpoint: os.Getenv(EnvS3Endpoint), Region: os.Getenv(EnvS3Region)}
	ep := c.Endpoint
	if ep == "" {
		ep = os.Getenv("AWS_ENDPOINT_URL_S3")
		if ep == "" {
			ep = os.Getenv("AWS_ENDPOINT_URL")
		}
		c.Endpoint = ep
	}
	switch strings.ToLower(os.Getenv(EnvS3PathStyle)) {
	case "true", "1", "yes":
		c.PathStyle = true
	case "false", "0", "no":
	default:
		c.PathStyle = ep != "" && !strings.Contains(ep, "amazonaws.com")
	}
	return c
}

// Start builds the manager, restores API-created delivery streams, starts the declared
// ones, and returns the service.
func Start(ctx context.Context, deps Deps) (*Service, error) {
	cfg := deps.Config
	budget := int64(0)
	if v := os.Getenv(EnvBudget); v != "" {
		if n, err := config.ParseSize(v); err == nil {
			budget = int64(n)
		}
	}
	mgr, err := delivery.NewManager(delivery.Options{
		Engine:     deps.Engine,
		DataDir:    cfg.Server.DataDir,
		Account:    cfg.Server.Account,
		Region:     cfg.Server.Region,
		Budget:     buffer.NewBudget(budget),
		DefaultS3:  DefaultS3FromEnv(),
		Logger:     deps.Logger,
		Registerer: deps.Registerer,
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.Start(ctx, delivery.FromConfig(cfg)); err != nil {
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
	return s.Manager.Apply(ctx, delivery.FromConfig(&c))
}

// Close drains the pipelines within ctx's deadline.
func (s *Service) Close(ctx context.Context) error { return s.Manager.Close(ctx) }
