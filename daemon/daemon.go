// Package daemon turns a configuration into a running Sluice: it opens the stream store,
// creates the declared streams, serves every API on one HTTP port (HTTP/1.1, h2c with
// prior knowledge, and h2 over TLS), and runs the lifecycle — graceful stop on
// SIGTERM/SIGINT, live reload on SIGHUP, systemd readiness and watchdog notifications.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/daemon/dynamoapi"
	"github.com/sluice-io/sluice/daemon/sdnotify"
	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/filestore"
)

// Version is reported by sluice_build_info and the startup log; cmd/sluice sets it.
var Version = "dev"

// Daemon is one running Sluice. Build it with New, then call Run once.
type Daemon struct {
	log      *slog.Logger
	level    *slog.LevelVar
	notifier *sdnotify.Notifier
	reg      *prometheus.Registry

	mu  sync.Mutex // guards cfg during reload
	cfg *config.Config

	store    streamcore.Store
	engine   *streamcore.Engine
	ddb      *dynamoapi.DB // the DynamoDB tables KCL uses, in the store's metadata
	firehose Firehose      // nil until the Firehose side is wired
	newFH    FirehoseFactory

	ln       net.Listener
	srv      *http.Server
	limits   *awsproto.Limits // request time and memory, shared by every API on the port
	useTLS   bool
	cert     atomic.Pointer[tls.Certificate]
	ready    atomic.Bool
	stopping atomic.Bool
	baseCtx  context.Context
	cancel   context.CancelFunc
	ran      atomic.Bool
}

// Option adjusts New.
type Option func(*Daemon)

// WithLevelVar gives the daemon the level variable behind its logger, so SIGHUP can
// change the log level live.
func WithLevelVar(lv *slog.LevelVar) Option { return func(d *Daemon) { d.level = lv } }

// WithNotifier replaces the systemd notifier (default: $NOTIFY_SOCKET).
func WithNotifier(n *sdnotify.Notifier) Option { return func(d *Daemon) { d.notifier = n } }

// WithFirehose replaces the Firehose factory (default: the built-in Firehose service
// when it is linked, see firehose.go).
func WithFirehose(f FirehoseFactory) Option { return func(d *Daemon) { d.newFH = f } }

// New builds a daemon from a validated configuration: it recovers the store in
// server.data_dir, opens the engine, creates the declared streams (existing ones are
// kept as they are), starts the Firehose side and binds the listen address. Everything
// it opened is closed again when it fails. New does not serve; Run does.
func New(cfg *config.Config, logger *slog.Logger, opts ...Option) (*Daemon, error) {
	if logger == nil {
		logger = slog.Default()
	}
	d := &Daemon{log: logger, cfg: cfg, notifier: sdnotify.FromEnv(), reg: prometheus.NewRegistry(), newFH: defaultFirehose}
	s := cfg.Server
	d.limits = &awsproto.Limits{Memory: int64(s.RequestMemory), BodyGrace: s.BodyTimeout.D(), MinRate: int64(s.BodyMinRate),
		WriteTimeout: s.WriteTimeout.D()}
	d.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_request_memory_bytes",
		Help: "Bytes of request bodies and replies held now (bounded by server.request_memory)."},
		func() float64 { return float64(d.limits.InUse()) }))
	for _, o := range opts {
		o(d)
	}
	d.baseCtx, d.cancel = context.WithCancel(context.Background())
	d.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_build_info", Help: "Always 1; the version label is Sluice's version.",
			ConstLabels: prometheus.Labels{"version": Version},
		}, func() float64 { return 1 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_ready", Help: "1 once storage is recovered and the daemon serves, 0 while starting or stopping.",
		}, func() float64 {
			if d.isReady() {
				return 1
			}
			return 0
		}),
	)

	if !cfg.Auth.SigV4 && len(cfg.Auth.Credentials) > 0 {
		logger.Warn("auth.credentials are configured but auth.sigv4 is false: signatures are not verified and any access key is accepted")
	}
	ok := false
	defer func() {
		if !ok {
			d.closeBackends(context.Background())
		}
	}()
	ctx := context.Background()
	if err := d.openStorage(ctx); err != nil {
		return nil, err
	}
	ddb, err := dynamoapi.OpenDB(ctx, d.store)
	if err != nil {
		return nil, fmt.Errorf("load the DynamoDB tables: %w", err)
	}
	d.ddb = ddb
	if err := d.declareStreams(ctx, cfg.Streams, true); err != nil {
		return nil, err
	}
	if d.newFH != nil {
		fh, err := d.newFH(ctx, FirehoseDeps{Engine: d.engine, Config: cfg, Logger: d.log, Registerer: d.reg, Limits: d.limits})
		if err != nil {
			return nil, fmt.Errorf("start firehose: %w", err)
		}
		d.firehose = fh
	}
	if err := d.listen(); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// openStorage recovers the file store and opens the engine on it.
func (d *Daemon) openStorage(ctx context.Context) error {
	s := d.cfg.Server
	if err := os.MkdirAll(s.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	fs, err := filestore.Open(s.DataDir, filestore.Options{
		Sync:         filestore.SyncPolicy(s.Sync),
		SyncInterval: s.SyncInterval.D(),
		Logger:       d.log.With("component", "filestore"),
	})
	if err != nil {
		return fmt.Errorf("open store in %s: %w", s.DataDir, err)
	}
	d.store = fs
	d.registerStorageMetrics(fs)
	rep := fs.RecoveryReport()
	d.log.Info("storage recovered", "data_dir", s.DataDir, "logs", rep.Logs, "segments", rep.Segments,
		"records", rep.Records, "truncations", len(rep.Truncations), "took", rep.Duration)
	for _, t := range rep.Truncations {
		d.log.Warn("torn or corrupt log tail truncated during recovery", "detail", fmt.Sprintf("%+v", t))
	}
	l := d.cfg.Limits
	eng, err := streamcore.Open(ctx, streamcore.Options{
		Store:               fs,
		DataDir:             s.DataDir,
		Logger:              d.log,
		Registerer:          d.reg,
		CreateDelay:         l.CreateDelay.D(),
		UpdateDelay:         l.UpdateDelay.D(),
		DeleteDelay:         l.DeleteDelay.D(),
		ConsumerDelay:       l.ConsumerDelay.D(),
		ShardLimit:          l.ShardLimit,
		OnDemandStreamLimit: l.OnDemandStreamLimit,
		RetentionCheck:      l.RetentionCheck.D(),
		OnDemandCheck:       onDemandCheck(l.OnDemandScaleCheck.D()),
		OnDemandMaxShards:   l.OnDemandMaxShards,
	})
	if err != nil {
		return fmt.Errorf("open engine: %w", err)
	}
	d.engine = eng
	return nil
}

// registerStorageMetrics exports the file store's full-disk state and write errors.
func (d *Daemon) registerStorageMetrics(fs *filestore.Store) {
	writeErrs := func(reason string, get func(filestore.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "sluice_storage_write_errors_total",
			Help:        "Writes to the data dir (appends, segment creates, metadata commits) that failed, by reason (no_space: ENOSPC).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(get(fs.Stats())) })
	}
	d.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_storage_full",
			Help: "1 while the data dir is full: the last write failed with ENOSPC and none succeeded since (writes are refused, reads served).",
		}, func() float64 {
			if fs.Full() != nil {
				return 1
			}
			return 0
		}),
		writeErrs("no_space", func(s filestore.Stats) uint64 { return s.NoSpaceErrors }),
		writeErrs("other", func(s filestore.Stats) uint64 { return s.OtherWriteErrors }),
	)
}

// storageFull returns the data dir and the cause while the store reports a full disk,
// else a nil error.
func (d *Daemon) storageFull() (dir string, err error) {
	if fs, ok := d.store.(*filestore.Store); ok {
		return fs.Dir(), fs.Full()
	}
	return "", nil
}

// listen binds the listen address and builds the HTTP server.
func (d *Daemon) listen() error {
	s := d.cfg.Server
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	d.srv = &http.Server{
		Handler:           d.routes(),
		Protocols:         &protos,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 1000},
		ReadHeaderTimeout: 30 * time.Second,
		WriteTimeout:      s.WriteTimeout.D(), // SubscribeToShard extends it event by event
		IdleTimeout:       5 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return d.baseCtx },
		ErrorLog:          slog.NewLogLogger(d.log.With("component", "http").Handler(), slog.LevelDebug),
	}
	if s.TLS.Enabled() {
		if err := d.loadCert(s.TLS); err != nil {
			ln.Close()
			return err
		}
		d.srv.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"},
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return d.cert.Load(), nil
			},
		}
		ln = tlsListener{tls.NewListener(ln, d.srv.TLSConfig)}
		d.srv.ConnContext = connContext
		d.srv.Handler = withTLSState(d.srv.Handler)
		d.useTLS = true
	}
	d.ln = ln
	return nil
}

func (d *Daemon) loadCert(t config.TLS) error {
	c, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return fmt.Errorf("server.tls: %w", err)
	}
	d.cert.Store(&c)
	return nil
}

// Addr is the bound listen address (useful with port 0).
func (d *Daemon) Addr() net.Addr { return d.ln.Addr() }

// URL is the base URL clients use (http:// or https://).
func (d *Daemon) URL() string {
	scheme := "http"
	if d.useTLS {
		scheme = "https"
	}
	return scheme + "://" + d.ln.Addr().String()
}

// Engine is the stream engine the daemon serves.
func (d *Daemon) Engine() *streamcore.Engine { return d.engine }

// Registry is the daemon's Prometheus registry (served on /metrics).
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// Config returns the configuration in effect (it changes on reload).
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *Daemon) isReady() bool { return d.ready.Load() && !d.stopping.Load() }

// closeBackends closes what New opened, in dependency order: Firehose pipelines first
// (they flush into sinks and read from the engine), then the engine, then the store
// (which fsyncs). It returns the first error.
func (d *Daemon) closeBackends(ctx context.Context) error {
	var errs []error
	if d.firehose != nil {
		if err := d.firehose.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close firehose: %w", err))
		}
		d.firehose = nil
	}
	if d.engine != nil {
		if err := d.engine.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close engine: %w", err))
		}
		d.engine = nil
	}
	if d.ddb != nil {
		d.ddb.Close() // commits what is queued, before the store closes
		d.ddb = nil
	}
	if d.store != nil {
		if err := d.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		d.store = nil
	}
	return errors.Join(errs...)
}

// onDemandCheck maps the config's 0 (scaling off) to the engine's negative.
func onDemandCheck(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
