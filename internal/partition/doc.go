// Package partition holds one replica of one partition: its log, its high
// watermark, the idempotent producers' state, and the fetches parked until
// new data arrives.
//
// A Partition serialises appends behind its own mutex (producer checks and
// the log append must be atomic together, or two retries of one batch could
// both pass the duplicate check). Reads take no partition lock: the log is
// append-only and the high watermark is atomic.
//
// On a single node the high watermark is the log end offset once a batch is
// appended. Replication (a later issue) moves it to the smallest log end
// offset in the ISR.
//
// The producer state is snapshotted to producer.snapshot in the log's
// directory on Close; Open loads it and replays the log after the snapshot's
// offset, so a restart neither forgets nor rescans everything.
package partition
