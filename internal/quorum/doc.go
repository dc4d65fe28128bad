// Package quorum replicates the cluster metadata with Raft
// (github.com/hashicorp/raft), like Kafka's KRaft, and offers the controller
// API the broker calls: create and delete topics, add partitions, alter
// configs, register brokers, allocate producer-ID blocks.
//
// Every change is a metadata.Record proposed to Raft. Once committed, raft's
// FSM goroutine applies it with metadata.Image.Apply and publishes the new
// immutable image (an atomic pointer: Controller.Image never blocks). Apply's
// Kafka error travels back to the proposer through raft's ApplyFuture and is
// returned as a *kerr.Error, so concurrent proposals are resolved in log order.
// Randomness (topic IDs, the cluster ID) and placement happen at proposal time,
// never in apply.
//
// # On disk
//
//	<Dir>/wal/                raft log and stable store (raft-wal segments + wal-meta.db)
//	<Dir>/snapshots/<id>/     raft snapshots: meta.json and state.bin (metadata.EncodeImage)
//
// A snapshot is taken every SnapshotThreshold (1024) entries, after which raft
// keeps TrailingLogs (1024) entries of log: the log stays bounded.
//
// No record over maxRecordBytes (4 MiB) is proposed: raft-wal cannot read
// back entries over its MaxEntrySize, and raft panics on an entry it cannot
// read. For the same reason Open reads every entry back before starting raft
// (checkLog) and turns a damaged log (an unreadable or undecodable entry, a
// segment cut short, a corrupt segment list) into an error that names the
// directory, instead of a panic on every start.
//
// # A full disk
//
// raft-wal v0.4.0 does not recover from a failed write (a full disk at
// segment rotation jams it with "segment is sealed" until a restart, or for
// good). The log store raft writes through (logStore) reopens the WAL from
// its files after a failed write, with backoff, completing a rotation that
// could not finish; meanwhile proposals fail with KAFKA_STORAGE_ERROR and
// the image keeps serving. Once space returns the quorum writes again by
// itself.
//
// # Nodes and transport
//
// For now a node is a one-voter quorum, bootstrapped the first time Open sees
// an empty Dir, talking over an in-memory transport with a fixed address
// (newTransport). Adding voters changes only newTransport and bootstrap.
//
// # Goroutines
//
// Raft owns its goroutines (main loop, FSM, snapshots); raft-wal owns a
// segment-rotation goroutine. The Controller owns two more: the notifier,
// which calls Subscribe callbacks in log order so that a slow subscriber never
// blocks the FSM, and the starter, which runs from Open until the node is
// ready (WaitReady). Close stops raft, then the starter and the notifier, then
// closes the stores, and waits for all of them.
//
// # Start-up and the active controller
//
// Open returns once raft runs; it does not wait for an election, since in a
// quorum of several voters the leader may be another node, or none yet. The
// starter makes the node ready: as the leader, once a Barrier has applied its
// whole log and a new quorum has its cluster ID; as a follower, once it has
// heard from a leader and applied what was committed. WaitReady blocks until
// then. The active controller is the Raft leader: ActiveController names it
// (-1 when unknown), and only it proposes. Another node hands its proposals
// to Config.Forwarder, or without one answers NOT_CONTROLLER; forwarding to
// the active controller over the network is the next step of the cluster
// work.
package quorum
