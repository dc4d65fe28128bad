// Package partition holds one replica of one partition: its log, its role
// (leader, follower or none), its high watermark, the idempotent
// producers' state, and the fetches parked until new data arrives.
//
// The replication state is a deterministic core, Replica (replica.go), in
// the manner of etcd's raft: role, leader and partition epochs, replicas
// and ISR, the pending ISR change (AlterPartition), what the leader knows
// of each follower, the leader-epoch cache (epochs.go) and the
// high-watermark rule, all changed only by explicit inputs (become leader
// or follower, append, follower fetch at an offset and a time, tick,
// AlterPartition answer) that carry the time, with the effects returned
// for the caller to carry out. It does no I/O, which makes it testable by
// the scripts in testdata/. Partition drives it under its mutex and
// mirrors the high watermark, leader epoch and role in atomics for the
// readers.
//
// A Partition serialises appends behind its own mutex (producer checks and
// the log append must be atomic together, or two retries of one batch could
// both pass the duplicate check). Reads take no partition lock: the log is
// append-only and the high watermark is atomic. Only the leader takes
// produces and serves consumers; others answer NOT_LEADER_OR_FOLLOWER.
//
// A leader whose ISR is itself alone (a single node; Open) moves its high
// watermark to the log end after each append. With followers it is the
// smallest log end offset of the ISR, never going backwards.
//
// Two checkpoint files, in Kafka's text format (checkpoint.go draws it):
// leader-epoch-checkpoint in the partition's directory holds the epoch
// cache, rewritten atomically whenever the cache changes for records the
// log holds (a new leader's entry goes with its first record); and
// replication-offset-checkpoint in the data directory holds every
// partition's high watermark, written by the broker every
// replica.high.watermark.checkpoint.interval.ms and at shutdown
// (ReadHighWatermarks/WriteHighWatermarks). A replica opened with its
// checkpointed high watermark (Options.HighWatermark) starts there, not at
// its log end, so a restarted follower exposes nothing unreplicated.
//
// A replica whose log fails to write or sync goes offline (offline.go,
// Fail): it acknowledges, appends and serves nothing more, and the broker
// takes it out of service until a restart recovers the log.
//
// The producer state is snapshotted to producer.snapshot in the log's
// directory on Close; Open loads it and replays the log after the snapshot's
// offset, so a restart neither forgets nor rescans everything.
package partition
