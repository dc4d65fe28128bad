// Package chaos is Samsa's Jepsen-style harness (issue 11): a workload of
// real Kafka clients against a local cluster of samsa serve processes, a
// seeded schedule of faults (kill -9, SIGSTOP, network partitions through
// fault proxies, restarts), a history of everything the clients did, and a
// checker that reads the history afterwards.
//
// # History
//
// A history is JSON lines, one Event each (history.go): Send (a unique
// value for one partition), Ack (its offset, or an error: outcome
// unknown), Poll (a consumer session's records, partition, offset and
// value, in the order received; Final for the read-back after healing),
// Commit (a group's accepted commit), FaultStart and FaultEnd. Times are
// Unix nanoseconds; the file is in the order events happened.
//
// # Checker
//
// Check is pure and deterministic: per partition it reports the anomalies
// Jepsen's Kafka workload defines — Lost (acknowledged, or read during the
// run, and absent from the read-back), Duplicated (one value at two
// offsets, read or acknowledged), InconsistentOffset (two values at one
// offset), NonMonotonicPoll and SkippedPoll within one consumer session
// (a skip is a jump over an offset some reader or ack saw a value at),
// CommitBackwards for a group, Phantom (read, never sent) and, allowed but
// counted, UnacknowledgedRead. CompareReplicas adds Divergence: after the
// run the nodes are stopped cleanly and each replica's log is read from
// its data directory (ReadReplicaLog) and compared batch by batch, byte for
// byte, below the high watermark. Unavailability measures per fault kind
// the time from a fault to the first acknowledged write on each partition
// it affects.
package chaos
