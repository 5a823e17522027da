package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/sluice-io/sluice/daemon/sdnotify"
)

// Run serves until ctx is done or the process gets SIGTERM or SIGINT, then stops
// gracefully: /readyz turns 503, the listener closes, in-flight requests finish (long
// streams such as SubscribeToShard are cancelled after a grace period), the Firehose
// pipelines flush, and the engine and store close with an fsync — all within
// server.shutdown_timeout. SIGHUP re-reads the configuration file (see Reload).
//
// Run returns nil after a clean stop; an error if serving failed or the stop did not
// complete cleanly. It may be called once.
func (d *Daemon) Run(ctx context.Context) error {
	if d.ran.Swap(true) {
		return errors.New("daemon: Run called twice")
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	serveErr := make(chan error, 1)
	go func() {
		err := d.srv.Serve(d.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
	}()

	wdCtx, stopWD := context.WithCancel(context.Background())
	defer stopWD()
	// Pings continue through a graceful stop (which may take up to shutdown_timeout).
	go d.notifier.RunWatchdog(wdCtx, sdnotify.WatchdogInterval(), d.ready.Load)

	cfg := d.Config()
	d.ready.Store(true)
	if err := d.notifier.Notify(sdnotify.Ready, "STATUS=serving on "+d.URL()); err != nil {
		d.log.Warn("systemd notification failed", "err", err)
	}
	d.log.Info("sluice ready", "version", Version, "listen", d.URL(), "config", cfg.File,
		"data_dir", cfg.Server.DataDir, "streams", len(cfg.Streams), "delivery_streams", len(cfg.DeliveryStreams),
		"tls", cfg.Server.TLS.Enabled(), "sigv4", cfg.Auth.SigV4, "gomaxprocs", runtime.GOMAXPROCS(0))

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping", "reason", context.Cause(ctx))
			break loop
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				d.Reload(ctx)
				continue
			}
			d.log.Info("stopping", "signal", sig.String())
			break loop
		case err := <-serveErr:
			runErr = fmt.Errorf("serve: %w", err)
			d.log.Error("server failed", "err", err)
			serveErr <- nil // shutdown below reads it again
			break loop
		}
	}
	return errors.Join(runErr, d.shutdown(serveErr))
}

// shutdown performs the graceful stop within server.shutdown_timeout.
func (d *Daemon) shutdown(serveErr <-chan error) error {
	start := time.Now()
	timeout := d.Config().Server.ShutdownTimeout.D()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	d.stopping.Store(true)
	if err := d.notifier.Notify(sdnotify.Stopping); err != nil {
		d.log.Warn("systemd notification failed", "err", err)
	}

	// Stop accepting and let in-flight requests finish. Requests still running after
	// the grace period (long-lived streams) get their contexts cancelled; after half
	// the budget the remaining connections are closed so flushing keeps its share.
	grace := min(timeout/3, 5*time.Second)
	done := make(chan error, 1)
	go func() { done <- d.srv.Shutdown(ctx) }()
	var httpErr error
	select {
	case httpErr = <-done:
	case <-time.After(grace):
		d.log.Info("cancelling requests still running after the grace period", "grace", grace)
		d.cancel()
		select {
		case httpErr = <-done:
		case <-time.After(timeout/2 - grace):
			d.log.Warn("closing connections that did not finish in time")
			d.srv.Close()
			httpErr = <-done
		}
	}
	d.cancel()
	<-serveErr
	if httpErr != nil && !errors.Is(httpErr, context.DeadlineExceeded) {
		d.log.Warn("http shutdown", "err", httpErr)
	}

	if err := d.closeBackends(ctx); err != nil {
		d.log.Error("stop failed", "err", err, "took", time.Since(start))
		return err
	}
	d.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	return nil
}
