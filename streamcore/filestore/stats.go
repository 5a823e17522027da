package filestore

import "sync/atomic"

// Stats is a snapshot of the store's counters, for metrics and logs.
type Stats struct {
	Logs            int
	Segments        int
	Bytes           int64  // durable bytes in all segments
	OpenFiles       int    // sealed-segment handles open now (active segments not counted)
	TrimmedSegments uint64 // segments deleted by TrimBefore since Open
	TrimmedRecords  uint64
	AppendErrors    uint64 // Append calls that failed on a write, fsync or roll
	Fsyncs          uint64 // fsyncs of segment files by writers
}

type counters struct {
	trimmedSegments atomic.Uint64
	trimmedRecords  atomic.Uint64
	appendErrors    atomic.Uint64
	fsyncs          atomic.Uint64
}

// Stats returns current counters. It takes each log's lock briefly.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	logs := make([]*shardLog, 0, len(s.logs))
	for _, l := range s.logs {
		logs = append(logs, l)
	}
	s.mu.Unlock()
	st := Stats{
		Logs:            len(logs),
		TrimmedSegments: s.ctr.trimmedSegments.Load(),
		TrimmedRecords:  s.ctr.trimmedRecords.Load(),
		AppendErrors:    s.ctr.appendErrors.Load(),
		Fsyncs:          s.ctr.fsyncs.Load(),
	}
	for _, l := range logs {
		l.mu.RLock()
		st.Segments += len(l.segs)
		for _, seg := range l.segs {
			st.Bytes += seg.size
		}
		l.mu.RUnlock()
	}
	s.cache.mu.Lock()
	st.OpenFiles = s.cache.lru.Len()
	s.cache.mu.Unlock()
	return st
}
