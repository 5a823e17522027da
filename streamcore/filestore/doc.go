// Package filestore is the embedded default streamcore.Store: bbolt for metadata and one
// segmented, append-only log per shard on local disk.
//
// # Directory layout
//
//	<dir>/meta.db                          bbolt file: every metadata bucket (MetaTx)
//	<dir>/logs/<escaped log id>/           one directory per shard log
//	<dir>/logs/<escaped log id>/<base>.seg segment file, base = SeqIx of its first record
//	<dir>/logs/<escaped log id>/<base>.idx index of a segment (optional, rebuildable)
//	<dir>/logs/#deleted-<n>-<escaped id>/  a log being deleted (DeleteLog renames first;
//	                                       Open removes leftovers)
//
// The log id ("<stream id>/<shard id>") is escaped with url.PathEscape so it is one path
// element. <base> is the first SeqIx of the segment as 20 decimal digits, zero-padded
// (SegmentNameFormat), e.g. 00000000000000000001.seg, so names sort in log order.
//
// # Segment file
//
// A segment starts with a 16-byte header, then frames back to back. All integers are
// little-endian.
//
//	offset size  field
//	0      4     magic "SLSG" (SegmentMagic)
//	4      2     format version (SegmentVersion = 1)
//	6      2     reserved, zero
//	8      8     base SeqIx (must equal the file name)
//
// Frame (one record):
//
//	offset size  field
//	0      4     length: bytes of the frame body that follows the 8-byte frame header
//	4      4     crc32c (Castagnoli) of the frame body
//	8      1     frame version (FrameVersion = 1)            — body starts here
//	9      1     flags (streamcore.LogRecord.Flags, verbatim)
//	10     8     SeqIx
//	18     8     ArrivalMs (int64, Unix milliseconds)
//	26     2     partition key length (pkLen)
//	28     pkLen partition key bytes
//	28+pk  …     data (the rest of the body)
//
// so length = FrameBodyFixed (20) + pkLen + len(data), and a frame takes
// FrameHeaderSize (8) + length bytes. A body longer than MaxFrameBody is invalid.
//
// # Index file
//
// Written when a segment is sealed (the writer rolls to a new one) and, for the active
// segment, as a checkpoint every Options.CheckpointBytes (default 4 MiB) of synced frames
// and on Close. Always written to a temporary name and renamed; a sealed segment's index
// is synced first, a checkpoint is not (losing one only lengthens the next recovery scan,
// and a torn one fails its CRC). An index whose recorded size equals the segment's is
// complete; one with a smaller size is a checkpoint of the synced prefix of that size.
//
//	0   4  magic "SLIX" (IndexMagic)
//	4   2  version (IndexVersion = 1), 2 reserved
//	8   8  base SeqIx        16  8  last SeqIx
//	24  8  first ArrivalMs   32  8  last ArrivalMs
//	40  8  segment size covered (= the .seg size when complete, less for a checkpoint)
//	48  4  number of entries n, 4 reserved
//	56  24*n entries: [SeqIx u64][file offset u64][ArrivalMs i64]
//	end 4  crc32c of everything before it
//
// # Invariants
//
//   - SeqIx counts from 1 without gaps across segments: a segment's base is the previous
//     segment's last SeqIx + 1. ArrivalMs never decreases.
//   - A record never spans segments. All records of one Append call land in one segment:
//     the writer rolls to a new segment before an Append that would push a non-empty
//     segment over Options.SegmentBytes (default 64 MiB), so a segment exceeds it only
//     when a single Append is larger than a segment.
//   - A log's first segment file is created by its first Append, not by OpenLog: an
//     empty log is its directory alone (so opening one writes nothing on a full disk).
//   - Only the newest segment (the active one) is ever written. A segment is synced before
//     the next one is created, so after a crash only the active segment can have a torn
//     tail. Retention (TrimBefore) deletes whole sealed segments, oldest first, never the
//     active one.
//   - The sparse index has one entry per IndexEveryRecords records or IndexEveryBytes bytes
//     of frames, whichever comes first. Memory does not grow with the data: per sealed
//     segment the log keeps only a summary (base, last SeqIx, first/last ArrivalMs, size);
//     the sparse index of a sealed segment is loaded from its .idx file when a reader opens
//     the segment and dropped when the file handle is closed. Open handles are bounded by
//     Options.MaxOpenFiles (active segments are always open).
//   - Read seeks to the nearest index entry at or below the wanted SeqIx (or to where the
//     previous sequential Read stopped) and decodes forward from 64 KiB–1 MiB chunks read
//     straight into the memory the returned records share (no per-record copy), asking
//     the kernel to prefetch the next chunk; SeekTime binary-searches segment summaries,
//     then index entries, then scans forward.
//
// # Durability
//
// Writes go through one commit coordinator per store. Append enqueues its records on its
// log, marks the log pending and waits. The coordinator runs commit rounds: a round takes
// every pending log; for each (the logs of a round in parallel) it takes everything
// queued, encodes it into one buffer, issues one write and, under SyncAlways (the
// default), one fsync covering that log's whole group, then wakes the log's waiters. The
// next round starts once every log of the round is done; appends that arrive meanwhile
// wait for it. So concurrent appends to different shard logs share one round (large
// groups, one fsync per log per round), and a caller whose records span several shards
// is released when they all are. Under SyncInterval, Append returns after the write and
// the coordinator fsyncs the written logs every Options.SyncInterval. Readers see
// records only once the group is durable under the policy; Last is that high-water
// mark, and Notify's channel closes when it moves.
//
// Two exceptions to rounds: AppendMulti (a PutRecords call spread over shards) queues
// its logs into the committer together, so they are never split across two rounds; and
// under SyncAlways a small Append (up to 16 KiB) to a log that is neither queued nor
// being committed is written and synced by its caller at once, so a lone PutRecord does
// not wait out a round of other logs' large groups.
//
// Once synced, frames more than Options.CacheWindow (32 MiB) behind a log's write head
// are dropped from the page cache (posix_fadvise DONTNEED; the sealed segment's tail
// once the new one is that long). Tailing readers stay inside the window; the cache does
// not grow with the data written, and new writes reuse the freed pages.
//
// If a write or fsync fails, every Append of the group gets the error, the file is
// truncated back to the last good offset and nothing of the group becomes visible; once
// the fault clears, appends work again. The filesystem is reached only through FS (files
// are written with WriteAt at explicit offsets, so a truncate never leaves a stale write
// position), so tests inject short writes, fsync errors and ENOSPC (FaultFS).
//
// # Full disk
//
// A write (append, segment create, metadata commit) failing with ENOSPC is counted
// (Stats.NoSpaceErrors) and marks the store full (Store.Full, logged once with the
// cause) until the next write succeeds; Open also marks it full when statfs shows no
// free blocks. Nothing at Open needs space on a cleanly closed store: recovery only reads,
// and the rewrites it might do (a rebuilt index, a checkpoint) are optional and logged
// when they fail. Reads are served throughout.
//
// # Recovery
//
// Open reads the .idx of every sealed segment (rebuilding a missing or stale one by
// scanning that segment) and scans only the active segment from its last checkpoint on
// (the whole segment if it has none), checking each frame's length, then its CRC,
// version and SeqIx. Recovery work is therefore bounded by the number of logs times
// CheckpointBytes, not by the amount of data stored; logs recover four at a time. The
// first bad frame of the active segment and everything after it are truncated; what was
// dropped is logged with slog and returned by Store.RecoveryReport. A bad frame inside a sealed segment is not a crash artefact (it was
// synced before the next segment existed), so Open fails with the typed error
// (ErrTornFrame, ErrBadLength, ErrBadCRC, ErrBadVersion, ErrBadSequence, ErrBadHeader).
//
// The metadata file (meta.db) is plain bbolt on the real filesystem; FS covers the logs.
package filestore
