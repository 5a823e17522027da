package firehose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/delivery"
	"github.com/sluice-io/sluice/sources/directput"
)

// StatusCreating is the status of a delivery stream whose name is taken while its pipeline
// starts (Create, Start, a reload): Describe and List show it, Put answers
// ResourceNotFoundException, Update, Delete, and the tagging and encryption calls
// answer ResourceInUseException. Create returns once the stream is ACTIVE.
const StatusCreating = "CREATING"

// stream is one delivery stream, from the reservation of its name until Delete or a reload
// removes it; pipelines come and go under it (UpdateDestination, reload). The manager's map
// holds it. What changes is behind atomics, so Put, Describe and List read it without a
// lock: state changes under Manager.mu, pipe and intake under op.
type stream struct {
	name string
	// op serialises the slow work on the stream: starting its pipeline (Create, Start,
	// Apply), switching it (Update, Apply), stopping it (Delete, Apply). startLocked runs
	// with op held. Only a holder of op removes the stream from the map, so while op is
	// held the map's entry for name is this stream. Put, Describe, List and Mutate never
	// take op.
	op sync.Mutex
	// state is replaced whole, under Manager.mu.
	state atomic.Pointer[streamState]
	// pipe is the running pipeline; nil while a switch is between two.
	pipe atomic.Pointer[pipeline]
	// intake is the DirectPut intake, set before the stream is first ACTIVE and kept across
	// pipeline restarts; nil for KinesisStreamAsSource.
	intake atomic.Pointer[directput.Intake]
}

// streamState is what Put and Describe read of a stream, as one consistent value.
type streamState struct {
	def    *Definition // never modified once published: writers publish a modified copy
	status string
	// fault, when set, says why the stream has no pipeline (a configuration change that
	// failed and could not be undone, see restore); Describe shows the stream failing until
	// a pipeline starts again. Records are still accepted and wait in the stream.
	fault      string
	faultSince time.Time
}

// pipeline is one run of a delivery stream's delivery runner.
type pipeline struct {
	run    *delivery.Runner
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
}

// stop drains the pipeline (delivering its buffers) for up to timeout, then cancels it,
// and waits until it has stopped.
func (p *pipeline) stop(timeout time.Duration) {
	if p.run != nil {
		p.run.Drain()
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
	}
	p.cancel()
	<-p.done
}

// stop stops the stream's pipeline, if it runs, as pipeline.stop does. Called with op held.
func (s *stream) stop(timeout time.Duration) {
	if p := s.pipe.Swap(nil); p != nil {
		p.stop(timeout)
	}
}

// lookup returns the stream called name, or nil. It takes no lock.
func (m *Manager) lookup(name string) *stream { return (*m.streams.Load())[name] }

// snapshot returns the map of streams; it must not be modified. It takes no lock.
func (m *Manager) snapshot() map[string]*stream { return *m.streams.Load() }

// setLocked publishes s under its name, in a copy of the map. Called with m.mu held.
func (m *Manager) setLocked(s *stream) {
	next := maps.Clone(m.snapshot())
	next[s.name] = s
	m.streams.Store(&next)
}

// removeLocked drops the streams from the map (each only while the map still holds that
// stream under its name). Called with m.mu and the streams' op held.
func (m *Manager) removeLocked(ss ...*stream) {
	next := maps.Clone(m.snapshot())
	for _, s := range ss {
		if next[s.name] == s {
			delete(next, s.name)
		}
	}
	m.streams.Store(&next)
}

// add takes def.Name (a CREATING stream), starts the pipeline of def and makes the stream
// ACTIVE. check runs under m.mu first and may refuse; prepare (optional) runs after the
// reservation, before the pipeline starts. The slow part holds only the new stream's op:
// meanwhile a second add of the name fails its check, Describe and List show the stream
// CREATING, and Put does not see it. On failure the name is free again. The caller
// persists the definitions.
func (m *Manager) add(ctx context.Context, def *Definition, check, prepare func() error) error {
	m.mu.Lock()
	if err := check(); err != nil {
		m.mu.Unlock()
		return err
	}
	s := &stream{name: def.Name}
	s.state.Store(&streamState{def: cloneDef(def), status: StatusCreating})
	s.op.Lock()
	defer s.op.Unlock()
	m.setLocked(s)
	m.mu.Unlock()

	var err error
	if prepare != nil {
		err = prepare()
	}
	if err == nil {
		err = m.startLocked(ctx, def)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.removeLocked(s)
		return err
	}
	s.state.Store(&streamState{def: def, status: StatusActive})
	return nil
}

// publishLocked makes def the definition of s once its pipeline runs def: the status stays,
// a fault is cleared, and tags and encryption come from the definition def replaces, so a
// Mutate during the switch is kept. Called with m.mu held.
func (m *Manager) publishLocked(s *stream, def *Definition) {
	cur := s.state.Load()
	d := cloneDef(def)
	d.Tags, d.Encryption = cur.def.Tags, cur.def.Encryption
	s.state.Store(&streamState{def: d, status: cur.status})
}

// restore runs the pipeline of the stream's current definition again after the switch to
// a new one failed with err, and returns err. When that fails too, the stream is left
// without a pipeline: it stays in the map with a fault that Describe shows as failing
// (FailureDescription) until an Update or a reload starts a pipeline, the failure is
// logged, and the error returned (InternalFailure) carries a RestoreError with both
// causes. A closing manager restores nothing. Called with s.op held.
func (m *Manager) restore(ctx context.Context, s *stream, err error) error {
	if errors.Is(err, errClosing) {
		return err
	}
	rerr := m.startLocked(ctx, cloneDef(s.state.Load().def))
	if rerr == nil || errors.Is(rerr, errClosing) {
		return err
	}
	re := &RestoreError{Update: err, Restore: rerr}
	m.log.Error("delivery stream left without a pipeline: the new configuration did not start and the previous one could not be restarted",
		"delivery_stream", s.name, "err", err, "restore_err", rerr)
	m.mu.Lock()
	cur := s.state.Load()
	s.state.Store(&streamState{def: cur.def, status: cur.status, faultSince: time.Now(),
		fault: "no pipeline is running: " + re.Error() + "; records wait in the stream until UpdateDestination or a reload starts one"})
	m.mu.Unlock()
	return &Error{Type: ErrTypeInternal, Msg: "An internal error occurred.", Err: re}
}

func (m *Manager) notActive(name string) *Error {
	return &Error{Type: ErrTypeResourceInUse, Msg: fmt.Sprintf("Firehose %s is not in the ACTIVE state.", name)}
}
