// Package quorum replicates the cluster metadata with Raft
// (github.com/hashicorp/raft), like Kafka's KRaft, and offers the controller
// API the broker calls: create and delete topics, add partitions, alter
// configs, register brokers, allocate producer-ID blocks, reassign
// partitions and elect leaders.
//
// Placement (placement.go) is rack-aware and balanced over the unfenced
// brokers, or a manual assignment checked as Kafka's controller does. The
// active controller also moves leadership back to preferred replicas every
// leader.imbalance.check.interval.seconds when auto.leader.rebalance.enable
// is set (reassign.go).
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
// raft-wal (v0.4.1) does not recover from every failed write (a full disk at
// segment rotation jams it with "segment is sealed" until a restart, or for
// good). The log store raft writes through (logStore) reopens the WAL from
// its files after a failed write, with backoff, completing a rotation that
// could not finish; meanwhile proposals fail with KAFKA_STORAGE_ERROR and
// the image keeps serving. Once space returns the quorum writes again by
// itself.
//
// # Nodes and transport
//
// A standalone node (no Config.Voters) is a one-voter quorum, bootstrapped
// the first time Open sees an empty Dir, over an in-memory transport with
// a fixed address, as before clusters existed: its directory keeps working.
//
// In a quorum of several nodes (controller.quorum.voters, or
// controller.quorum.bootstrap.servers for a node outside them) raft runs over
// TCP on the controller listener (Config.Listen), shared with the
// controller RPC (rpc.go) by the first byte of each connection
// (streamLayer). Every voter bootstraps the same configuration, all the
// voters; a node with raft state never bootstraps again. A node that is
// not a voter (process.roles=broker) does not bootstrap: it listens on a
// port of its own, registers through the controller RPC (Join), and the
// active controller adds it as a raft non-voter at that address, so the
// leader replicates the metadata log to it and every node has the same
// image. A proposal on a node that is not the active controller is
// forwarded over the controller RPC to the leader (or, with no leader
// known, to each voter in turn); a node receiving a forwarded request
// never forwards it again.
//
// # Voters: describing, adding and removing them
//
// The voter set is raft's configuration, stored in its log and snapshots:
// controller.quorum.voters (Config.Voters) is only the first configuration
// of a new quorum and says whether this node was meant to vote.
// DescribeQuorum, AddVoter and RemoveVoter (membership.go; Kafka's
// DescribeQuorum, AddRaftVoter and RemoveRaftVoter) run on the leader;
// another node forwards them over the controller RPC, and a node that
// receives a forwarded one without leading answers
// NOT_LEADER_OR_FOLLOWER.
//
// hashicorp/raft does not expose a follower's match index, so the leader
// learns each replica's log end from its own transport (progress.go):
// every successful AppendEntries or InstallSnapshot answer says how far
// the replica's log matches the leader's, and when it answered (the last
// fetch) and last held the leader's whole log (caught up). This is known
// per leader term: a new leader reports -1 until each replica answers it.
//
// A controller to be added starts with process.roles=broker,controller
// and controller.quorum.bootstrap.servers (Config.Bootstrap) instead of
// voters: it listens on its controller listener, registers, and the leader
// makes it a raft non-voter at that address (an observer). AddVoter
// promotes it, once it is caught up, at that same address. RemoveVoter
// demotes a voter to non-voter (ShutdownOnRemove is off), so a running
// removed node keeps receiving the log; a leader that removes itself steps
// down once the change commits and the others elect a leader. A removed
// node that missed its removal and restarts still believing it votes
// cannot disrupt the quorum: raft's pre-vote is refused to a non-voter and
// to anyone while a leader is heard from, and the leader's log tells it
// its demotion. Restarted with controller.quorum.voters still naming it
// after it knows, it is refused at start-up with a message saying to use
// controller.quorum.bootstrap.servers. The last voter cannot be removed.
//
// # Brokers: registration, heartbeats, fencing
//
// Join registers the node's broker with a new random incarnation ID; the
// registration record's Raft index is its broker epoch, and it is fenced
// until its first heartbeat after the node is ready (WaitUnfenced). A
// heartbeat with an epoch that is not the current registration's is
// answered STALE_BROKER_EPOCH, and the broker registers again. Fenced
// brokers get no new replicas, and the fencing record moves their
// leaderships within the ISR (metadata's applyFence).
//
// The active controller keeps the last heartbeat of each broker in memory
// (as Kafka's BrokerHeartbeatManager) and fences (a FenceBroker record) an
// unfenced broker whose session has run out. A broker heartbeats every
// Liveness.HeartbeatInterval over one session connection to the active
// controller's RPC (session.go; in memory on the active controller
// itself), and the session runs out:
//
//   - Liveness.SessionTimeout (broker.session.timeout.ms) after its last
//     heartbeat, as in Kafka: a broker that hangs, or a machine that
//     loses power, whose connections are never closed;
//   - Liveness.Grace (HeartbeatInterval/4, at least 250 ms: 500 ms with
//     Kafka's defaults) after its session connection closed, unless it
//     heartbeats again meanwhile: the kernel of a killed process resets or
//     closes its connections at once, while a live broker whose connection
//     broke redials at once;
//   - Grace after this node was elected, for every broker that has not
//     heartbeated it yet: brokers heartbeat a new leader as soon as raft
//     names it (a LeaderObservation), so a live broker is heard within
//     milliseconds, where Kafka gives every broker a whole session.
//
// Fencing a broker that is alive costs at most availability, never data:
// leadership moves only within the ISR, the fenced broker's acks=all
// writes cannot complete without the ISR that moved on, and its next
// heartbeat unfences it. So a dead broker's partitions move about Grace
// after its death instead of a session timeout later.
//
// A broker stopping cleanly hands its leaderships over first (Shutdown,
// shutdown.go; Kafka's BrokerHeartbeat with WantShutDown): its heartbeater
// asks the active controller, which fences it in one record that moves its
// leaderships within the ISR and takes it out of every ISR it is not the
// last member of, and answers ShouldShutDown once that is committed; the
// broker waits until its own image has it (its replicas then answer
// NOT_LEADER_OR_FOLLOWER with the new leader) and heartbeats no more,
// since a heartbeat would unfence it. The broker bounds the wait
// (package broker) and skips it when it leads nothing another live ISR
// member could take.
//
// Heartbeats also carry the broker's log reports (recovery.go): for each
// partition whose ISR unclean restarts emptied and of which it holds a
// recovery candidate (metadata's LastKnownISR), its log's last leader
// epoch and end offset. The active controller keeps them in memory for
// its term, tied to the reporting registration and the partition epoch,
// and its liveness watcher proposes the recovery election
// (metadata.RecoverLeader: the longest log among the candidates) once
// every candidate is live and has reported, or with
// unclean.leader.election.enable an unclean election after a session
// without them; metadata's doc says why no acknowledged record is lost.
// A broker heartbeats at once when such a partition appears in its image,
// so a full-cluster restart is led again about one heartbeat after the
// last candidate opens its replicas (TestFullClusterRestart: 1.3 to 4.4 s
// from the restart, under -race on a loaded machine).
//
// When the active controller itself dies, raft needs a new leader first.
// hashicorp/raft keeps its defaults (heartbeat and election timeouts 1 s,
// leader lease 500 ms, as Kafka's controller.quorum.election.timeout.ms),
// with which a follower notices a dead leader only 1 to 3 s later and may
// refuse a first candidate while it still knows the old leader. A voter
// whose broker finds the leader's controller listener refusing its
// connection (the process is gone) suspects it: when the lease has passed
// since its last contact with the leader (staggered by its rank among the
// other voters, so the survivors do not split the vote) it lowers raft's
// heartbeat and election timeouts to the lease through ReloadConfig, and
// restores them once raft names a leader. Raft's safety does not depend on
// its timeouts; a wrong suspicion costs at most an election.
//
// # Goroutines
//
// Raft owns its goroutines (main loop, FSM, snapshots); raft-wal owns a
// segment-rotation goroutine; the network transport's stream layer owns an
// accept loop and a goroutine per connection routing it (and serving the
// controller RPC). The Controller owns more: the notifier, which calls
// Subscribe callbacks in log order so that a slow subscriber never blocks
// the FSM; the starter, which runs from Open until the node is ready
// (WaitReady); the liveness watcher, which fences brokers while this node
// leads; and after Join the heartbeater, with the reader of its session
// connection and a timer while it suspects the leader. Close stops them, raft and the
// transport, then closes the stores, and waits for all of them.
//
// # Start-up and the active controller
//
// Open returns once raft runs; it does not wait for an election, since in a
// quorum of several voters the leader may be another node, or none yet. The
// starter makes the node ready: as the leader, once a Barrier has applied its
// whole log and a new quorum has its cluster ID; as a follower, once it has
// heard from a leader and applied what was committed. WaitReady blocks until
// then. The active controller is the Raft leader: ActiveController names it
// (-1 when unknown; this node itself when the leader is a controller-only
// node, which clients cannot reach, and this node is a live broker, which
// forwards), and only it proposes. Another node hands its proposals
// to Config.Forwarder, else in a quorum of several nodes to the controller
// RPC, else (a standalone node that lost leadership) answers
// NOT_CONTROLLER. A proposal forwarded over the RPC is answered with its
// Raft index, and the forwarding node answers its caller once its own
// image has applied it (awaitApplied): a client that changes the metadata
// through any broker finds the change on that broker at once (read your
// writes), as on the active controller itself.
package quorum
