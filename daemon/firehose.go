package daemon

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/daemon/firehoseapi"
	_ "github.com/sluice-io/sluice/sinks/all" // the destinations linked into the daemon register themselves
	"github.com/sluice-io/sluice/streamcore"
)

// Firehose is what the daemon needs from the Firehose side (daemon/firehoseapi and
// daemon/delivery): an HTTP handler for `X-Amz-Target: Firehose_20150804.*` requests and
// the delivery pipelines behind it.
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
	Config     *config.Config // Server (region, account, data_dir, max_request_size), Auth, DeliveryStreams
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// FirehoseFactory starts the Firehose side with the configuration's delivery streams.
type FirehoseFactory func(ctx context.Context, deps FirehoseDeps) (Firehose, error)

// defaultFirehose is the built-in Firehose service (daemon/firehoseapi).
func defaultFirehose(ctx context.Context, deps FirehoseDeps) (Firehose, error) {
	s, err := firehoseapi.Start(ctx, firehoseapi.Deps(deps))
	if err != nil {
		return nil, err
	}
	return s, nil
}
