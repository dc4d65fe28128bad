// Package metadata holds the cluster metadata of Samsa as a deterministic state
// machine, in the style of Kafka's KRaft: every change to topics, partitions,
// broker registrations, dynamic configs and producer-ID blocks is a Record, and
// the cluster state at any point is the Image obtained by applying the records
// of the Raft log in order.
//
// The package owns no goroutines and does no I/O. Package quorum replicates the
// records with Raft and calls Image.Apply from raft's FSM goroutine.
//
// # Determinism
//
// Image.Apply must produce the same image and the same result on every replica
// and on every replay of the log. It therefore reads nothing but the image and
// the record: no wall clock, no randomness (topic IDs are chosen by the
// proposer and carried in the record), and no dependence on map iteration order.
// Validation that depends on the current state (a topic name already taken, an
// unknown topic ID) happens in Apply, so concurrent proposals are resolved in log
// order; the loser gets a Kafka error in its Result.
//
// # Deltas
//
// ComputeDelta compares two images for one node: which of its replicas
// become leader or follower (with their epochs, replicas and ISR), which stop
// and are deleted, which topics were deleted, which configs changed. Brokers
// drive every side effect of the metadata from it (package broker), never
// from the request that caused the change, so every broker does the same
// thing in log order.
//
// # Registrations, fencing and unclean restarts
//
// A broker's registration is fenced (FenceBroker, or the next registration
// of its ID, in the same record) before its partitions move: a fenced
// broker leaves every ISR, except that a partition's last ISR member stays
// in it, leaderless, to lead again when it returns (Kafka before KIP-966).
// Which life returns matters. A broker restarted after an unclean
// shutdown — its data directory had no clean-shutdown mark, so writes it
// acknowledged but never synced may be gone (kill -9 keeps the page
// cache; power loss does not) — registers with UncleanShutdown and leaves
// those last-member ISRs too: the partition is left with an empty ISR and
// no leader (Partition.AwaitsRecovery) rather than a leader that may lack
// committed records. A partition with a single replica keeps it: no other
// copy can hold more.
//
// # Last-known ISR and the recovery election
//
// KIP-966 keeps, beside the ISR, the eligible leader replicas (ELR: those
// that left the ISR while it was below min.insync.replicas) and the last
// known ELR, and its unclean recovery ("balanced") elects, once every
// last-known member has reported, the one with the longest log. Our
// adaptation keeps one list, Partition.LastKnownISR: an ISR change that
// leaves fewer than two members adds the members it removes (by fence,
// AlterPartition, an unclean restart or a reassignment) to it, and an ISR
// of two or more clears it (noteISR). An unclean election clears it too:
// the operator gave up what they held.
//
// A partition that AwaitsRecovery waits until every one of its recovery
// candidates (LastKnownISR; every replica for an ISR emptied before the
// list existed) is registered, unfenced and has reported, with its
// heartbeats, the leader epoch of its log's last batch and its log end
// offset at the partition's current epoch (LogReport; package quorum
// carries and keeps the reports). The active controller then proposes
// RecoverLeader for the candidate with the longest log — the highest
// last epoch, then the highest end offset (LogReport.Longer), the first
// in replica order among equals — which leads with itself as the ISR; the
// others follow it, truncating where their logs diverge by leader epoch
// as any follower does, and rejoin the ISR once caught up. A candidate
// that has not come back holds the election off: an unclean restart of
// the last ISR member alone never makes it leader while another candidate
// may hold more. Only unclean.leader.election.enable ends the wait, after
// a broker session (quorum's recoveryBound), with an unclean ElectLeader.
//
// Why no acknowledged record is lost. The leader's high watermark does
// not move while its ISR is below min.insync.replicas (KIP-966's strict
// rule, package partition), and acks=all waits for the high watermark:
// with min.insync.replicas of two or more, a record is committed
// (acknowledged, or visible to consumers) only while the ISR has two or
// more members, and then every ISR member holds it (a member joins only
// once caught up to the high watermark). Follow the ISR from the last
// time it had two members: the members later changes remove are exactly
// those they add to LastKnownISR, so when the ISR is empty every member
// of that last ISR of two or more is a candidate, and each held every
// committed record when it left. Among logs written under clean elections
// the longest holds every committed record that any of them holds: a log
// whose last batch has epoch e matches the epoch-e leader's log up to its
// end (a follower truncates to its leader's log before appending in its
// epoch), and that leader was elected holding every record committed
// before e; two logs ending in the same epoch are prefixes of that
// leader's log, so the longer holds what the shorter does. The recovered
// leader's high watermark moves only once a follower is back in its ISR,
// so nothing it alone holds is exposed before it is replicated.
//
// What this assumes about the disk: that the candidates still hold what
// they held. A process kill (kill -9, OOM, a crash of the broker) does not
// lose the page cache, so a killed replica's log after its recovery is
// what it wrote, and a full-cluster kill comes back with every committed
// record. A power loss loses what was written but not synced, and
// records are not synced one by one (flush.messages, as Kafka's default,
// leaves durability to replication): a candidate that lost power reports
// the shorter log it has left and loses the election to one that kept
// more, so the committed records survive as long as one candidate kept
// them (its machine kept power, or it synced them) — KIP-966's tolerance
// of min.insync.replicas-1 replicas losing data. If every candidate lost
// its unsynced tail (the whole cluster lost power at once), the records no
// replica synced are gone, and the election keeps the longest log that is
// left: the best there is, not a guarantee. With min.insync.replicas=1 a
// record may be committed by one replica alone, and it survives only if
// that replica kept it. The clean-shutdown mark and the UncleanShutdown
// flag cannot tell a kill from a power loss: both count as unclean, which
// costs a kill only the wait for every candidate.
//
// # Immutability
//
// An Image is never mutated after it is returned by Apply or DecodeImage. Apply
// copies on write: the maps and topics that change are copied, everything else
// is shared with the previous image. Readers may therefore hold an image for as
// long as they like without locks.
//
// # Formats
//
// A record in the Raft log is one type byte followed by the record as JSON:
//
//	+------+-----------------------------+
//	| type | JSON payload (rest of data) |
//	+------+-----------------------------+
//	  1 B
//
// A snapshot is the JSON encoding of the whole image with maps flattened into
// slices sorted by key, so that equal images encode to equal bytes. Raft's file
// snapshot store adds its own CRC64 around it. DecodeImage validates everything
// it reads and never panics on bad input (see FuzzDecodeImage).
package metadata
