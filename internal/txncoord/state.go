package txncoord

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a transaction's state, numbered as Kafka's TransactionState
// (the number is what the log stores).
type State int8

const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
	Dead
	PrepareEpochFence
)

func (s State) String() string { return kmsg.TransactionState(s).String() }

// stateByName is the state ListTransactions filters name, as Kafka's
// TransactionState.fromName.
func stateByName(name string) (State, bool) {
	for s := Empty; s <= PrepareEpochFence; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// txnMeta is one transactional.id's state, Kafka's TransactionMetadata.
type txnMeta struct {
	id             string
	producerID     int64
	prevProducerID int64 // KIP-360: the ID before a rotation, -1 if none
	nextProducerID int64 // KIP-890: the ID a v2 commit rotates to, -1 if none
	epoch          int16
	lastEpoch      int16 // the epoch before the last bump (a retried InitProducerId), -1 if none
	timeoutMs      int32
	state          State
	partitions     map[TopicPartition]struct{}
	startMs        int64 // when the transaction began (-1: none)
	updateMs       int64
	version        int16 // the client's transaction version (2: KIP-890)
	// pending is set while a change of this transaction waits for its
	// record to commit.
	pending bool
	// sending is set while a goroutine sends this transaction's markers.
	sending bool
	// attempts counts the marker requests of the current sending (tests
	// wait for the first).
	attempts int
	// changed, made by a waiter (settle), is closed when a pending change
	// ends.
	changed chan struct{}
}

// clone is m with its own partition set, to prepare a change on.
func (m *txnMeta) clone() *txnMeta {
	n := *m
	n.pending, n.sending, n.changed = false, false, nil
	n.partitions = make(map[TopicPartition]struct{}, len(m.partitions))
	for tp := range m.partitions {
		n.partitions[tp] = struct{}{}
	}
	return &n
}

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: one
// epoch is kept for fencing, so the last usable one is MaxInt16-1.
func epochExhausted(e int16) bool { return e >= math.MaxInt16-1 }

// validProducer is Kafka's isValidProducerId for an InitProducerId that
// names the producer's current ID and epoch (KIP-360): the state was just
// created, the ID is the current one, or the previous one at an exhausted
// epoch (a retry after a rotation whose answer was lost).
func (m *txnMeta) validProducer(pid int64, epoch int16) bool {
	return m.epoch == -1 || pid == m.producerID || (pid == m.prevProducerID && epochExhausted(epoch))
}

// wake tells the waiters for a change of m that one has ended.
func (m *txnMeta) wake() {
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}

func (m *txnMeta) has(parts []TopicPartition) bool {
	for _, tp := range parts {
		if _, ok := m.partitions[tp]; !ok {
			return false
		}
	}
	return true
}
