package sinktest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-io/sluice/sinks"
)

// Memory is an in-memory destination for tests of the runner and of the suite itself. It
// keeps every batch it is given (the records' payloads concatenated), in commit order,
// and — made with NewMemory(true) — the batch positions it committed with them, per
// delivery stream, so a sink over it is sinks.ExactlyOnce. Faults are not its business:
// wrap its sinks in a Faulty.
type Memory struct {
	exactlyOnce bool

	mu      sync.Mutex
	batches [][]byte
	pos     map[string]map[string]sinks.Position // delivery stream → shard → position
}

// NewMemory returns an empty destination; exactlyOnce makes its sinks ExactlyOnce.
func NewMemory(exactlyOnce bool) *Memory {
	return &Memory{exactlyOnce: exactlyOnce, pos: map[string]map[string]sinks.Position{}}
}

// Sink returns a new, unconnected sink over the destination for the delivery stream
// named stream (what a restart builds): an exactly-once one stores its positions under
// that name.
func (m *Memory) Sink(stream string) sinks.Sink {
	s := &memorySink{m: m, stream: stream}
	if m.exactlyOnce {
		return &memoryEOSink{s}
	}
	return s
}

// Batches returns a copy of the batches the destination holds.
func (m *Memory) Batches() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]byte, len(m.batches))
	for i, r := range m.batches {
		out[i] = slices.Clone(r)
	}
	return out
}

// Harness is the suite's harness over this destination.
func (m *Memory) Harness() Harness {
	return Harness{
		New:       func(testing.TB) sinks.Sink { return m.Sink("") },
		For:       func(_ testing.TB, stream string) sinks.Sink { return m.Sink(stream) },
		Classify:  sinks.Classify,
		Delivered: func(testing.TB) [][]byte { return m.Batches() },
	}
}

type memorySink struct {
	m      *Memory
	stream string

	mu        sync.Mutex
	connected bool
	closed    bool
}

func (s *memorySink) Connect(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sinktest: memory sink closed")
	}
	s.connected = true
	return nil
}

func (s *memorySink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connected, s.closed = false, true
	return nil
}

// Write commits the batch (records and positions) at once.
func (s *memorySink) Write(ctx context.Context, b sinks.Batch) sinks.Result {
	s.mu.Lock()
	ok := s.connected
	s.mu.Unlock()
	if !ok {
		return sinks.Failed(sinks.NotConnected("Memory.NotConnected", nil))
	}
	if err := ctx.Err(); err != nil {
		return sinks.Failed(sinks.Retryable("Memory.Canceled", err))
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	var data []byte
	for _, r := range b.Records {
		data = append(data, r.Data...)
	}
	s.m.batches = append(s.m.batches, data)
	if len(b.Positions) > 0 && s.m.pos[s.stream] == nil {
		s.m.pos[s.stream] = map[string]sinks.Position{}
	}
	for _, p := range b.Positions {
		s.m.pos[s.stream][p.ShardID] = p
	}
	return sinks.Done()
}

type memoryEOSink struct{ *memorySink }

func (s *memoryEOSink) Positions(context.Context) ([]sinks.Position, error) {
	s.mu.Lock()
	ok := s.connected
	s.mu.Unlock()
	if !ok {
		return nil, sinks.NotConnected("Memory.NotConnected", nil)
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	out := make([]sinks.Position, 0, len(s.m.pos[s.stream]))
	for _, p := range s.m.pos[s.stream] {
		out = append(out, p)
	}
	return out, nil
}
