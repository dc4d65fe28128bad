package txn

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// retainedBatches is how many of a producer's last batches are remembered for
// duplicate detection: Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN, the
// most a producer may have in flight.
const retainedBatches = 5

// Kafka's "none" values for producer fields.
const (
	noEpoch    int16 = -1
	noSequence int32 = -1
	noOffset   int64 = -1
)

// batchMetadata is what is remembered of one appended batch.
type batchMetadata struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	maxTimestamp            int64
}

// producer is one producer ID's state in a partition.
type producer struct {
	epoch            int16
	batches          []batchMetadata // oldest first, at most retainedBatches
	lastTimestamp    int64
	coordinatorEpoch int32
	txnFirstOffset   int64 // first offset of the open transaction, or -1
}

func (p *producer) lastSeq() int32 {
	if len(p.batches) == 0 {
		return noSequence
	}
	return p.batches[len(p.batches)-1].lastSeq
}

// ProducerState is one partition's idempotence state: per producer ID, its
// epoch and the last 5 appended batches (first/last sequence, first/last
// offset, max timestamp). Not safe for concurrent use; the partition's append
// lock guards it.
type ProducerState struct {
	producers map[int64]*producer
	// ongoing is, per producer with a transaction open, its first offset
	// (producer.txnFirstOffset): what the first unstable offset is taken
	// from without a walk of every producer (Kafka's ongoingTxns).
	ongoing map[int64]int64
	// unreplicated are the transactions ended by a marker not yet below the
	// high watermark: still unstable, as Kafka's unreplicatedTxns, since a
	// failover could lose the marker.
	unreplicated []CompletedTxn
}

// NewProducerState returns an empty state.
func NewProducerState() *ProducerState { return newProducerState(0) }

func newProducerState(n int) *ProducerState {
	return &ProducerState{producers: make(map[int64]*producer, n), ongoing: make(map[int64]int64)}
}

// setTxn records producer id's open transaction's first offset (noOffset:
// none open).
func (s *ProducerState) setTxn(id int64, p *producer, first int64) {
	p.txnFirstOffset = first
	if first == noOffset {
		delete(s.ongoing, id)
	} else {
		s.ongoing[id] = first
	}
}

// remove forgets producer id.
func (s *ProducerState) remove(id int64) {
	delete(s.producers, id)
	delete(s.ongoing, id)
}

// CheckResult is what to do with a batch: append it (the zero value), answer
// with the offsets of the batch it duplicates, or answer with an error code.
type CheckResult struct {
	Duplicate bool
	// FirstOffset and LastOffset are the original batch's, when Duplicate.
	FirstOffset, LastOffset int64
	ErrorCode               int16
	Message                 string
}

// Check decides what to do with a produced batch before it is appended,
// following Kafka 4 (UnifiedLog.analyzeAndValidateProducerState and
// ProducerAppendInfo):
//
//   - a batch without a producer ID is appended;
//   - an epoch older than the producer's: INVALID_PRODUCER_EPOCH;
//   - the same epoch and the same first and last sequence as one of the
//     producer's last 5 batches: a duplicate, answered with its offsets;
//   - a newer epoch must start at sequence 0, else
//     OUT_OF_ORDER_SEQUENCE_NUMBER;
//   - the same epoch must continue at the last sequence + 1 (MaxInt32 wraps
//     to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER;
//   - a producer with no state here is accepted at any sequence. Since
//     KIP-360 (Kafka 2.5) the broker no longer answers UNKNOWN_PRODUCER_ID:
//     the state may be gone because retention or DeleteRecords removed the
//     producer's batches, and refusing would make the client reset and
//     resend, duplicating what idempotence exists to prevent.
func (s *ProducerState) Check(h batch.Header) CheckResult {
	if h.ProducerID < 0 {
		return CheckResult{}
	}
	p := s.producers[h.ProducerID]
	if p == nil {
		return CheckResult{}
	}
	if h.ProducerEpoch < p.epoch {
		return CheckResult{ErrorCode: kerr.InvalidProducerEpoch.Code, Message: fmt.Sprintf(
			"epoch of producer %d is %d, which is smaller than the last seen epoch %d", h.ProducerID, h.ProducerEpoch, p.epoch)}
	}
	if p.txnFirstOffset != noOffset && !h.Transactional() {
		// Kafka's appendDataBatch: no plain write in the middle of the
		// producer's open transaction.
		return CheckResult{ErrorCode: kerr.InvalidTxnState.Code, Message: fmt.Sprintf(
			"expected a transactional write from producer %d, whose transaction is open since offset %d", h.ProducerID, p.txnFirstOffset)}
	}
	if h.ProducerEpoch == p.epoch {
		last := h.LastSequence()
		for _, b := range p.batches {
			if b.firstSeq == h.BaseSequence && b.lastSeq == last {
				return CheckResult{Duplicate: true, FirstOffset: b.firstOffset, LastOffset: b.lastOffset}
			}
		}
	}
	if h.ProducerEpoch != p.epoch {
		if h.BaseSequence != 0 && p.epoch != noEpoch {
			return CheckResult{ErrorCode: kerr.OutOfOrderSequenceNumber.Code, Message: fmt.Sprintf(
				"invalid sequence number for new epoch of producer %d: %d (request epoch), %d (seq. number), %d (current producer epoch)",
				h.ProducerID, h.ProducerEpoch, h.BaseSequence, p.epoch)}
		}
		return CheckResult{}
	}
	if p.epoch != noEpoch && !inSequence(p.lastSeq(), h.BaseSequence) {
		return CheckResult{ErrorCode: kerr.OutOfOrderSequenceNumber.Code, Message: fmt.Sprintf(
			"out of order sequence number for producer %d: %d (incoming seq. number), %d (current end sequence number)",
			h.ProducerID, h.BaseSequence, p.lastSeq())}
	}
	return CheckResult{}
}

// CheckCoordinator decides whether a coordinator may append a batch of
// its own on behalf of a producer (the group coordinator's transactional
// offset commits), as Kafka's ProducerAppendInfo with
// AppendOrigin.COORDINATOR: only the producer epoch is checked (an older
// one is INVALID_PRODUCER_EPOCH); sequences are not, since such batches
// carry sequence -1 and are never duplicates of one another.
func (s *ProducerState) CheckCoordinator(h batch.Header) CheckResult {
	p := s.producers[h.ProducerID]
	if h.ProducerID < 0 || p == nil || h.ProducerEpoch >= p.epoch {
		return CheckResult{}
	}
	return CheckResult{ErrorCode: kerr.InvalidProducerEpoch.Code, Message: fmt.Sprintf(
		"epoch of producer %d is %d, which is smaller than the last seen epoch %d", h.ProducerID, h.ProducerEpoch, p.epoch)}
}

// CheckMarker decides whether the transaction coordinator may append a
// marker for producerID at producerEpoch, from coordinatorEpoch, of a
// transaction of transactionVersion (Kafka's transaction.version: 0 and 1
// legacy, 2 KIP-890), as Kafka's ProducerAppendInfo.appendEndTxnMarker for
// a coordinator's append: an epoch older than the producer's is
// INVALID_PRODUCER_EPOCH (checkProducerEpoch), and so is one not newer
// under transactions v2, whose coordinator bumps the epoch for every
// marker (a marker at the current epoch is late) — except one at the
// current epoch while no transaction is open, which is the same marker
// sent again (KAFKA-19999: a coordinator that reloaded PrepareCommit, or
// whose answer was lost), taken again so the coordinator can complete; a
// coordinator epoch older than the one whose marker this partition last
// took for the producer is TRANSACTION_COORDINATOR_FENCED
// (checkCoordinatorEpoch: a zombie coordinator). A producer without state
// here takes any marker.
func (s *ProducerState) CheckMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, transactionVersion int8) CheckResult {
	p := s.producers[producerID]
	if p == nil {
		return CheckResult{}
	}
	retried := producerEpoch == p.epoch && p.txnFirstOffset < 0
	if producerEpoch < p.epoch || transactionVersion >= 2 && producerEpoch == p.epoch && !retried {
		cmp := "smaller than"
		if producerEpoch == p.epoch {
			cmp = "not above"
		}
		return CheckResult{ErrorCode: kerr.InvalidProducerEpoch.Code, Message: fmt.Sprintf(
			"epoch of producer %d is %d, which is %s the last seen epoch %d (transaction version %d)", producerID, producerEpoch, cmp, p.epoch, transactionVersion)}
	}
	if coordinatorEpoch < p.coordinatorEpoch {
		return CheckResult{ErrorCode: kerr.TransactionCoordinatorFenced.Code, Message: fmt.Sprintf(
			"invalid coordinator epoch for producer %d: %d (zombie), %d (current)", producerID, coordinatorEpoch, p.coordinatorEpoch)}
	}
	return CheckResult{}
}

// inSequence reports whether next follows last, wrapping past MaxInt32.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == 1<<31-1)
}

// CompletedTxn is a transaction ended by a marker: the producer, the
// first offset of its transaction, the marker's offset, and whether it
// aborted.
type CompletedTxn struct {
	ProducerID              int64
	FirstOffset, LastOffset int64
	Aborted                 bool
}

// Update records a batch appended at firstOffset (its assigned base offset).
// It is also how the log is replayed at start-up; a batch at or below the
// producer's last recorded offset is already known and ignored, so replaying
// from before a snapshot's offset is harmless. A transactional data batch
// opens the producer's transaction at its first offset, if none is open; a
// control batch ends it (UpdateMarker says how). Batches without a producer
// ID are ignored.
func (s *ProducerState) Update(h batch.Header, firstOffset int64) {
	s.update(h, firstOffset, nil)
}

// UpdateMarker is Update for a control batch whose marker is m. It returns
// the transaction the marker ended, if the producer had one open; an abort's
// is what the aborted-transaction index records.
func (s *ProducerState) UpdateMarker(h batch.Header, firstOffset int64, m Marker) (CompletedTxn, bool) {
	return s.update(h, firstOffset, &m)
}

// UpdateBatch is Update or, for a control batch, UpdateMarker with the
// marker decoded from raw (the batch's bytes); a control batch that holds
// no marker ends the transaction as an abort, as a read_committed consumer
// must then not see it.
func (s *ProducerState) UpdateBatch(h batch.Header, raw []byte, firstOffset int64) (CompletedTxn, bool) {
	if !h.Control() {
		s.update(h, firstOffset, nil)
		return CompletedTxn{}, false
	}
	m, err := DecodeMarker(raw)
	if err != nil {
		m = Marker{CoordinatorEpoch: -1}
	}
	return s.update(h, firstOffset, &m)
}

func (s *ProducerState) update(h batch.Header, firstOffset int64, m *Marker) (CompletedTxn, bool) {
	if h.ProducerID < 0 {
		return CompletedTxn{}, false
	}
	p := s.producers[h.ProducerID]
	if p == nil {
		p = &producer{epoch: h.ProducerEpoch, coordinatorEpoch: -1, txnFirstOffset: noOffset, lastTimestamp: -1}
		s.producers[h.ProducerID] = p
	}
	lastOffset := firstOffset + int64(h.LastOffsetDelta)
	if n := len(p.batches); n > 0 && lastOffset <= p.batches[n-1].lastOffset {
		return CompletedTxn{}, false
	}
	if h.ProducerEpoch != p.epoch {
		p.epoch = h.ProducerEpoch
		p.batches = p.batches[:0]
	}
	p.lastTimestamp = h.MaxTimestamp
	if h.Control() {
		var done CompletedTxn
		open := p.txnFirstOffset != noOffset
		if open {
			done = CompletedTxn{ProducerID: h.ProducerID, FirstOffset: p.txnFirstOffset, LastOffset: lastOffset, Aborted: m == nil || !m.Commit}
			s.unreplicated = append(s.unreplicated, done)
		}
		if m != nil {
			p.coordinatorEpoch = m.CoordinatorEpoch
		}
		s.setTxn(h.ProducerID, p, noOffset)
		return done, open
	}
	if h.Transactional() && p.txnFirstOffset == noOffset {
		s.setTxn(h.ProducerID, p, firstOffset)
	}
	if len(p.batches) == retainedBatches {
		copy(p.batches, p.batches[1:])
		p.batches = p.batches[:retainedBatches-1]
	}
	p.batches = append(p.batches, batchMetadata{
		firstSeq:     h.BaseSequence,
		lastSeq:      h.LastSequence(),
		firstOffset:  firstOffset,
		lastOffset:   lastOffset,
		maxTimestamp: h.MaxTimestamp,
	})
	return CompletedTxn{}, false
}

// FirstUnstableOffset is the smallest first offset of the transactions
// still undecided for a consumer with the high watermark at hw: those open,
// and those whose marker is at or above hw (forgotten here once below it),
// as Kafka's ProducerStateManager.firstUnstableOffset. It is -1 when there
// is none; the last stable offset is then the high watermark.
func (s *ProducerState) FirstUnstableOffset(hw int64) int64 {
	s.unreplicated = slices.DeleteFunc(s.unreplicated, func(t CompletedTxn) bool { return t.LastOffset < hw })
	first := noOffset
	for _, t := range s.unreplicated {
		if first == noOffset || t.FirstOffset < first {
			first = t.FirstOffset
		}
	}
	for _, off := range s.ongoing {
		if first == noOffset || off < first {
			first = off
		}
	}
	return first
}

// IndexStableOffset is the last stable offset the aborted-transaction index
// records with done, a transaction UpdateBatch just ended, as Kafka's
// ProducerStateManager.lastStableOffset(completedTxn): the first offset of
// the earliest transaction still open, or the offset after done's marker.
func (s *ProducerState) IndexStableOffset(done CompletedTxn) int64 {
	lso := done.LastOffset + 1
	for id, off := range s.ongoing {
		if id != done.ProducerID && off < lso {
			lso = off
		}
	}
	return lso
}

// LastStableOffset is the offset below which every transaction is decided:
// min(hw, FirstUnstableOffset(hw)).
func (s *ProducerState) LastStableOffset(hw int64) int64 {
	if f := s.FirstUnstableOffset(hw); f != noOffset && f < hw {
		return f
	}
	return hw
}

// ProducerEntry describes one producer for DescribeProducers.
type ProducerEntry struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32 // -1 when no data batch is remembered
	LastTimestamp         int64
	CoordinatorEpoch      int32 // -1: markers are not parsed yet
	CurrentTxnStartOffset int64 // -1 when no transaction is open
}

// Producers lists the producers with state here, by ascending ID.
func (s *ProducerState) Producers() []ProducerEntry {
	out := make([]ProducerEntry, 0, len(s.producers))
	for id, p := range s.producers {
		out = append(out, ProducerEntry{
			ProducerID:            id,
			ProducerEpoch:         p.epoch,
			LastSequence:          p.lastSeq(),
			LastTimestamp:         p.lastTimestamp,
			CoordinatorEpoch:      p.coordinatorEpoch,
			CurrentTxnStartOffset: p.txnFirstOffset,
		})
	}
	slices.SortFunc(out, func(a, b ProducerEntry) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out
}

// Len is the number of producers with state here.
func (s *ProducerState) Len() int { return len(s.producers) }

// TruncateBefore forgets producers none of whose remembered batches survive
// a log start offset moved to logStartOffset (retention, DeleteRecords), as
// Kafka's ProducerStateManager.truncateHead does, except a producer with a
// transaction open: its marker is still to come. It returns how many were
// removed.
func (s *ProducerState) TruncateBefore(logStartOffset int64) int {
	s.unreplicated = slices.DeleteFunc(s.unreplicated, func(t CompletedTxn) bool { return t.LastOffset < logStartOffset })
	removed := 0
	for id, p := range s.producers {
		if p.txnFirstOffset == noOffset && (len(p.batches) == 0 || p.batches[len(p.batches)-1].lastOffset < logStartOffset) {
			s.remove(id)
			removed++
		}
	}
	return removed
}

// RemoveExpired forgets producers without an open transaction whose last
// batch's timestamp is expirationMs (producer.id.expiration.ms, default
// 86400000) or more before nowMs. It returns how many were removed.
func (s *ProducerState) RemoveExpired(nowMs, expirationMs int64) int {
	removed := 0
	for id, p := range s.producers {
		if p.txnFirstOffset == noOffset && nowMs-p.lastTimestamp >= expirationMs {
			s.remove(id)
			removed++
		}
	}
	return removed
}

// LastOffsets returns, per producer with a batch remembered, the last offset
// of its last batch: the batch the log cleaner keeps for its sequence number.
func (s *ProducerState) LastOffsets() map[int64]int64 {
	out := make(map[int64]int64, len(s.producers))
	for id, p := range s.producers {
		if n := len(p.batches); n > 0 {
			out[id] = p.batches[n-1].lastOffset
		}
	}
	return out
}
