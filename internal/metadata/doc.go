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
// in it, leaderless, to lead again when it returns (Kafka before KIP-966;
// only the ISR elects). Which life returns matters. A broker restarted
// after an unclean shutdown — its data directory had no clean-shutdown
// mark, so writes it acknowledged but never synced may be gone (kill -9
// keeps the page cache; power loss does not) — registers with
// UncleanShutdown, and leaves those last-member ISRs too: the partition
// has an empty ISR and no leader rather than a leader that may lack
// committed records, and, as in Kafka with eligible leader replicas
// (KIP-966: the controller strikes a replica that shut down uncleanly from
// the ELR), nothing but an operator's unclean election brings it back. A
// partition with a single replica keeps it: no other copy can hold more.
// This is the simplest rule that keeps "a leader holds every committed
// record" with our ISR model: the ISR is what vouches for committed data,
// and a replica that lost its unsynced tail can no longer vouch for it.
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
