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
// Commit (a group's accepted commit), TxnEnd (a transactional producer's
// commit or abort, and its error), FaultStart and FaultEnd. Times are
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
// counted, UnacknowledgedRead. Values sent in a transaction (Send's Txn)
// are acknowledged by its commit rather than their produce's answer:
// committed and missing is Lost, aborted and read is AbortedRead (Jepsen's
// G1a; consumers read read_committed), and a commit of unknown outcome
// must leave its values in the read-back whole or not at all, else
// PartialTransaction. CompareReplicas adds Divergence: after the
// run the nodes are stopped cleanly and each replica's log is read from
// its data directory (ReadReplicaLog) and compared batch by batch, byte for
// byte, below the high watermark. Unavailability measures per fault kind
// the time from a fault to the first acknowledged write on each partition
// it affects.
//
// # Runner
//
// Run (samsa chaos) carries a run out. NewPlan turns the seed into the
// plan (plan.go): the faults' kinds, times, holds and picks, the group
// members' lives and the consumers' sessions; the same seed gives the same
// plan, not the same timing of real processes. The cluster (cluster.go)
// is real samsa serve processes started by package localcluster, node i
// reaching node j's Kafka and controller listeners only through two
// netfault Links in the runner (samsa serve --internal-dial-overrides), so
// a cut stops replica fetches, raft and the controller RPC (registration,
// heartbeats) between them; the workload's clients reach every node
// directly. A link direction is blocked while any fault blocks it and
// delayed by the largest delay on it, so link faults overlap freely;
// process faults hold the nodes they act on (faults.go), so two never act
// on one node at once. The workload (workload.go) is idempotent acks=all
// producers (each value sent once, unique), consumers reading every
// partition by assignment in sessions, and consumer group member processes
// (samsa chaos member, member.go) that commit as they go, append their
// polls and commits to files of their own one whole line per write, and
// are SIGKILLed and restarted. At the end every link is healed and every
// node runs, the workload stops, everything is read back (a read-back
// that cannot finish fails the run: nothing is then called lost), the
// nodes stop cleanly (one that does not exit on SIGTERM within the bound
// gets SIGQUIT, so its log holds every goroutine's stack, then SIGKILL,
// and is reported), the replicas are compared, and the merged history is
// checked. The history, plan and report are written to the run's
// directory beside the nodes' data and logs.
package chaos
