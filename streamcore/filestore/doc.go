// Package filestore is the embedded default streamcore.Store: bbolt for metadata, one
// segmented, append-only log per shard on local disk and, with Options.Journal on, one
// store-wide write-ahead journal in front of them.
//
// # Directory layout
//
//	<dir>/meta.db                          bbolt file: every metadata bucket (MetaTx)
//	<dir>/logs/<escaped log id>/           one directory per shard log
//	<dir>/logs/<escaped log id>/<base>.seg segment file, base = SeqIx of its first record
//	<dir>/logs/<escaped log id>/<base>.idx index of a segment (optional, rebuildable)
//	<dir>/logs/#deleted-<n>-<escaped id>/  a log being deleted (DeleteLog renames first;
//	                                       Open removes leftovers)
//	<dir>/journal/<n>.jnl                  journal segment n (20 decimal digits), journal mode
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
//     when a single Append is larger than a segment (or, after a journal replay, by
//     what the journal held for it: replay does not roll).
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
// # Journal
//
// With Options.Journal on, durability costs one fsync per commit round whatever the
// number of logs in it. A journal segment starts with a 16-byte header — magic "SLJN"
// (JournalMagic), version u16 (JournalVersion = 1), 2 reserved bytes, its number u64 —
// then entries framed like records: length u32 of the body, crc32c u32 of the body, then
//
//	0      1     entry version (1)
//	1      1     kind: 1 records, 2 delete
//	2      2     log id length (idLen)
//	4      idLen log id
//	               kind 1: first SeqIx u64, record count u32, then the records' frames
//	               exactly as written to the log's segment file (so each keeps its own crc)
//	               kind 2: nothing; the log's earlier entries are void (DeleteLog)
//
// A round: each log with a group under Options.JournalGroupBytes (256 KiB) has its
// frames written to its active segment (pwrite, no fsync) and copied into one journal
// buffer as one entry; the buffer is written to the journal and fsynced once; only then
// are the groups published and their callers released. A segment write that fails
// fails that log's group alone (cut back, not journaled); a failed journal write or
// fsync fails the round's groups, each cut back from its segment file, and the journal
// is cut back too. Larger groups skip the journal and are written and fsynced in their
// own segment file (in parallel, as without a journal): one fsync of a big group costs
// less than writing it twice. A segment file is fsynced when it is sealed (roll), so
// sealed segments are durable as before; a log's first segment is created without an
// fsync (recovery re-creates one a crash forgot). There is no inline path: every append
// joins a round. Under SyncInterval the journal is written each round and fsynced every
// SyncInterval. AppendMulti's groups share a round unless a log rolls to a new segment
// (the groups that no longer fit wait for the next round, which rolls first).
//
// Checkpoint: once the current journal segment passes Options.JournalBytes (64 MiB),
// the committer closes it (new entries go to the next number, created and synced with
// its directory entry on its first write) and, in the background, makes every segment
// file written through the journal since the last checkpoint durable — one syncfs(2) of
// the data dir's filesystem on Linux, else an fsync of each file and directory — then
// writes their index checkpoints (skipping logs that grew under CheckpointBytes/16
// while the skipped growth stays under 64 × CheckpointBytes) and deletes the journal
// segments up to the closed one, oldest first. A journal segment therefore goes only
// when every record in it is durable in its log, whatever the logs' retention. Close
// stops every writer, makes all segment files durable the same way and deletes the
// journal: a cleanly closed store has none. DeleteLog of a log written through the
// journal since the last finished checkpoint writes a delete entry and waits for it
// before removing the log's directory; any other log's delete writes nothing, so an
// empty or checkpointed log (a failed CreateStream's, an orphan) goes on a full disk.
//
// Open files: with the journal, active segments are not pinned open: their handles are
// in the same LRU as sealed ones (Options.MaxOpenFiles, default 256, handles a writer or
// reader holds excepted), so a store of 10,000 logs keeps about MaxOpenFiles segment
// files open plus the journal and meta.db. The active segment's sparse index stays in
// memory while its file is closed.
//
// # Durability
//
// (Without a journal; see Journal for what changes with it.) Writes go through one
// commit coordinator per store. Append enqueues its records on its
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
// Without a journal (Options.Journal off), two exceptions to rounds: AppendMulti (a PutRecords call spread over shards) queues
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
// Then the journal, whatever Options.Journal says (a store that crashed with it and is
// opened without must not lose its tail): its segments are read oldest first, each
// entry's crc checked; a bad entry in the newest segment is a torn tail, cut off and
// reported like a log's; one in an older segment (synced before the next was created)
// fails Open. For each records entry not voided by a later delete entry of its log,
// the frames after the log's recovered end are written to its active segment (the log
// and its first segment created if a crash forgot them), and the log's summary and
// index are rebuilt from them (RecoveryReport.Replayed counts them). An entry starting
// past the log's end + 1 means synced data went missing: Open fails (ErrBadSequence).
// Replay is idempotent; once done, every log is made durable (syncfs) and the journal
// deleted (no index checkpoints are written then: the next recovery scans at most what
// was replayed). A data dir written without a journal opens with one unchanged (the segment
// format is the same), and one with a journal opens without.
//
// The metadata file (meta.db) is plain bbolt on the real filesystem; FS covers the logs.
package filestore
