// Package delivery is the delivery runner: it moves the records of one Firehose delivery
// stream from its source to its destination, whatever the destination is. It knows sinks
// only through the contract of package sinks and knows none by name; the daemon's control
// plane builds one Runner per delivery stream and runs it.
//
// # What the runner owns
//
//   - Reading: a Source (a streamcore stream, DirectPut's internal one or a Kinesis
//     stream) sends batches of source records; the runner runs the processors over each
//     (ProcessFunc) and counts every source record in a Tracker.
//   - Buffering: records go into the buffer of their dynamic partition (one buffer without
//     partitioning) and are flushed on size or interval (package buffer), on memory
//     pressure (the shared buffer.Budget) and when draining.
//   - Concurrency: at most FlushConcurrency batches are being written at once; a write that
//     is awaiting an asynchronous confirmation (Result.Pending) does not hold a slot. An
//     ExactlyOnce sink gets one batch at a time, in source order (the order batches were
//     flushed, from one buffer).
//   - Connecting: Connect before the first write and again, with backoff, after a write
//     said sinks.ErrNotConnected. Records wait in the source meanwhile.
//   - Retrying: a write's Result says per record (or for the whole batch) Delivered,
//     Errored or Rejected. Only Errored records are written again, after the backoff of
//     package retry (longer when the sink asked with sinks.RetryAfter), until RetryDuration
//     has passed since the first attempt; sinks.Unavailable stops that clock (the
//     destination is down: wait for it). Records still failing then, and Rejected ones, go
//     to the error output as failure records of FailedType with the sink's error code,
//     message and fields.
//   - The error output and S3 backup: ErrorOutput takes failure records (S3's error prefix
//     for S3; the backup bucket for every other destination, FailedDataOnly); with Backup
//     set (AllData) every record — delivered, refused or given up — is written there as
//     well before it counts as done. Writes to either are retried until they succeed or the runner stops: they
//     are the last resort, so the source pauses rather than lose a record.
//   - Checkpoints: a source record counts as done once every record it turned into is held
//     by the destination, the error output or (AllData) the backup; checkpoints then move
//     over the longest done prefix of each shard, however out of order deliveries finish,
//     and are committed to the source. Delivery is at least once: after a crash, records
//     after the checkpoint are read, processed and delivered again.
//   - Exactly once, where the sink declares it (sinks.ExactlyOnce): each batch carries its
//     source positions, which the sink commits with the records; before reading, the runner
//     asks the sink for them and does not write again what the sink already holds. The
//     error output stays at least once.
//
// # What may block
//
// Run blocks until its context ends, Drain was called and the buffers were delivered (or
// given their last attempt: a destination that is down does not hold a drain up, its
// records stay in the source), or the source failed for good. ProcessFunc may block (a Lambda processor) and must return
// when its context ends; what it returns then is discarded, not written anywhere. Sink
// methods are called with contexts that end when the runner stops.
package delivery
