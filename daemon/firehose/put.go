package firehose

import (
	"context"
	"errors"

	"github.com/sluice-io/sluice/streamcore"
)

// PutResult is the outcome of one record of Put.
type PutResult struct {
	RecordID     string
	ErrorCode    string
	ErrorMessage string
}

// Put appends records to a DirectPut delivery stream. They are durable when Put returns
// (group commit); failed records carry an error code. encrypted reports SSE. With no
// records it only runs the checks (exists and ACTIVE, DirectPut).
//
// Put takes no lock of the manager: it reads the stream from the copy-on-write map and
// its state from an atomic, and the intake (admission, append) has its own. A control-plane
// call in progress, however slow, never holds it up. It blocks for the engine's group
// commit. Safe for concurrent use.
func (m *Manager) Put(ctx context.Context, name string, records [][]byte) (res []PutResult, encrypted bool, err error) {
	s := m.lookup(name)
	if s == nil {
		return nil, false, m.notFound(name)
	}
	st := s.state.Load()
	if st.status != StatusActive { // CREATING: not there yet; DELETING: going
		return nil, false, m.notFound(name)
	}
	if st.def.Type == TypeKinesisSrc {
		return nil, false, invalidArg("This operation is not permitted on KinesisStreamAsSource delivery stream type.")
	}
	enc := st.def.Encryption.Enabled
	if len(records) == 0 {
		return nil, enc, nil // checks only
	}

	m.metrics.IncomingPutRequests.WithLabelValues(name).Inc()
	in := s.intake.Load()
	if in == nil {
		return nil, false, &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down."}
	}
	admitted, err := in.Admit(records)
	if err != nil { // the request quota refused the request
		m.metrics.ThrottledRecords.WithLabelValues(name).Add(float64(len(records)))
		return nil, false, &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down."}
	}
	if admitted < len(records) {
		m.metrics.ThrottledRecords.WithLabelValues(name).Add(float64(len(records) - admitted))
	}
	res = make([]PutResult, len(records))
	for i := admitted; i < len(records); i++ {
		res[i] = PutResult{ErrorCode: ErrTypeServiceUnavailable, ErrorMessage: "Slow down."}
	}
	if admitted == 0 {
		return res, enc, nil
	}
	records = records[:admitted]
	out, err := in.Append(ctx, records)
	if err != nil {
		return nil, false, &Error{Type: ErrTypeServiceUnavailable, Msg: "Slow down.", Err: err}
	}
	okBytes, okRecs := 0, 0
	for i, r := range out {
		if r.Err != nil {
			code := ErrTypeInternal
			msg := "An internal error occurred."
			if errors.Is(r.Err, streamcore.ErrThroughputExceeded) {
				code, msg = ErrTypeServiceUnavailable, "Slow down."
				m.metrics.ThrottledRecords.WithLabelValues(name).Inc()
			} else if streamcore.StorageFull(r.Err) {
				msg = MsgStorageFull
			}
			res[i] = PutResult{ErrorCode: code, ErrorMessage: msg}
			continue
		}
		res[i] = PutResult{RecordID: r.SequenceNumber}
		okRecs++
		okBytes += len(records[i])
	}
	m.metrics.IncomingRecords.WithLabelValues(name).Add(float64(okRecs))
	m.metrics.IncomingBytes.WithLabelValues(name).Add(float64(okBytes))
	return res, enc, nil
}
