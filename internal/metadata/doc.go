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
