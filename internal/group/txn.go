package group

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Transactional offset commits (TxnOffsetCommit, KIP-98 and KIP-447), as
// Kafka's OffsetMetadataManager keeps them. The commit's records go to the
// group's __consumer_offsets partition as a transactional batch of the
// producer, in the same format as a plain commit, and stay pending: no
// OffsetFetch answers them, and one with require_stable is answered
// UNSTABLE_OFFSET_COMMIT for their partitions. The transaction's marker on
// that partition decides them ([Coordinator.CompleteTxn], and the loader
// on replay): a COMMIT makes each the group's committed offset unless a
// plain commit of the partition is later in the log (the record with the
// higher log offset wins), an ABORT drops them. A plain tombstone of the
// partition (OffsetDelete, DeleteGroups, expiry, a deleted topic) drops
// every producer's pending commit of it, as Kafka's replay does.

// pendingOffset is a transactional commit not decided yet, with the log
// offset of its record.
type pendingOffset struct {
	Offset
	record int64
}

// TxnCommitRequest is a TxnOffsetCommit whose partitions all exist: a
// CommitRequest on behalf of a transactional producer.
type TxnCommitRequest struct {
	CommitRequest
	ProducerID    int64
	ProducerEpoch int16
}

// CommitTxnOffsets writes a transaction's offset commits, pending until
// the producer's marker on the group's partition (CompleteTxn). It returns
// an error for the whole request, or one code per commit. A group that
// does not exist is created by a commit of generation -1 (a producer from
// outside the group), else ILLEGAL_GENERATION, as in Kafka.
func (c *Coordinator) CommitTxnOffsets(req TxnCommitRequest) (int16, []int16) {
	codes := make([]int16, len(req.Commits))
	_, g, code := c.lookup(req.Group, req.Generation < 0)
	if code != 0 {
		return code, codes
	}
	if g == nil {
		return kerr.IllegalGeneration.Code, codes
	}
	req.BeforeV9 = false
	g.mu.Lock()
	code = g.checkCommit(req.CommitRequest, true)
	if code == 0 {
		g.writeCommits(req.CommitRequest, codes, req.ProducerID, req.ProducerEpoch)
	}
	end := g.written
	g.mu.Unlock()
	if code != 0 {
		return code, codes
	}
	g.awaitCommits(end, codes)
	return 0, codes
}

// CompleteTxn applies the marker that ended producerID's transaction on
// each of the given __consumer_offsets partitions (WriteTxnMarkers calls
// it once the markers are committed): commit makes the producer's pending
// offsets there committed, else they are dropped. A partition this broker
// does not coordinate is NOT_COORDINATOR, as Kafka's
// onTransactionCompleted.
func (c *Coordinator) CompleteTxn(producerID int64, partitions []int32, commit bool) error {
	var missing []int32
	for _, p := range partitions {
		c.mu.RLock()
		s := c.shards[p]
		c.mu.RUnlock()
		if s == nil {
			missing = append(missing, p)
			continue
		}
		s.mu.Lock()
		groups := s.txns[producerID]
		delete(s.txns, producerID)
		s.mu.Unlock()
		for g := range groups {
			g.mu.Lock()
			g.completeTxn(producerID, commit)
			g.mu.Unlock()
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("group: completing the transaction of producer %d: __consumer_offsets partitions %v not coordinated here: %w",
			producerID, missing, kerr.NotCoordinator)
	}
	return nil
}

// addPending records a transactional commit of producerID. g.mu is held.
func (g *group) addPending(producerID int64, tp TopicPartition, o pendingOffset) {
	if g.pendingTxn == nil {
		g.pendingTxn = make(map[int64]map[TopicPartition]pendingOffset)
	}
	if g.pendingTxn[producerID] == nil {
		g.pendingTxn[producerID] = make(map[TopicPartition]pendingOffset)
		g.s.mu.Lock()
		if g.s.txns == nil {
			g.s.txns = make(map[int64]map[*group]struct{})
		}
		if g.s.txns[producerID] == nil {
			g.s.txns[producerID] = make(map[*group]struct{})
		}
		g.s.txns[producerID][g] = struct{}{}
		g.s.mu.Unlock()
	}
	g.pendingTxn[producerID][tp] = o
}

// completeTxn applies producerID's marker to the group. g.mu is held.
func (g *group) completeTxn(producerID int64, commit bool) {
	pending := g.pendingTxn[producerID]
	delete(g.pendingTxn, producerID)
	if !commit || g.state == Dead {
		return
	}
	for tp, o := range pending {
		if rec, ok := g.recordOf[tp]; ok && rec > o.record {
			continue // a plain commit later in the log
		}
		g.setOffset(tp, &o.Offset, o.record)
	}
}

// dropPending forgets every producer's pending commit of tp. g.mu is held.
func (g *group) dropPending(tp TopicPartition) {
	for pid, ps := range g.pendingTxn {
		delete(ps, tp)
		if len(ps) == 0 {
			delete(g.pendingTxn, pid)
		}
	}
}

// hasPending reports whether a transaction's commit of tp is pending.
// g.mu is held.
func (g *group) hasPending(tp TopicPartition) bool {
	for _, ps := range g.pendingTxn {
		if _, ok := ps[tp]; ok {
			return true
		}
	}
	return false
}
