package storage

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// txnCleaner is what a cleaning pass knows of transactions over the
// batches it reads in offset order, Kafka's CleanedTransactionMetadata:
// the aborted transactions of the range (from the aborted-transaction
// index) become ongoing at their first offset, their data batches go (and
// their records map no key), and a marker may go once no batch of its
// transaction is left before it: an ABORT whose transaction had batches in
// the range stays, with its index entry (kept), so that a read_committed
// consumer still drops what a crash between this pass and the next might
// leave; a COMMIT stays while the range held batches of its transaction.
// Markers that may go are removed after delete.retention.ms (KIP-534's
// delete horizon, as tombstones).
type txnCleaner struct {
	pending   []AbortedTxn // not begun yet, by first offset
	aborted   map[int64]*abortedRun
	committed map[int64]bool // producers whose transactional batches the range held
	kept      []AbortedTxn   // entries of the ABORT markers kept, in marker order
}

type abortedRun struct {
	txn      AbortedTxn
	observed bool // a batch of it was read
}

func newTxnCleaner(aborted []AbortedTxn) *txnCleaner {
	pending := slices.Clone(aborted)
	slices.SortStableFunc(pending, func(a, b AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	return &txnCleaner{pending: pending, aborted: map[int64]*abortedRun{}, committed: map[int64]bool{}}
}

func (c *txnCleaner) upTo(offset int64) {
	for len(c.pending) > 0 && c.pending[0].FirstOffset <= offset {
		a := c.pending[0]
		c.pending = c.pending[1:]
		c.aborted[a.ProducerID] = &abortedRun{txn: a}
	}
}

// data reports whether the data batch h belongs to an aborted
// transaction: its records go.
func (c *txnCleaner) data(h batch.Header) bool {
	c.upTo(h.LastOffset())
	if !h.Transactional() {
		return false
	}
	if r := c.aborted[h.ProducerID]; r != nil {
		r.observed = true
		return true
	}
	c.committed[h.ProducerID] = true
	return false
}

// marker reports whether the control batch h (raw its bytes) may go.
func (c *txnCleaner) marker(h batch.Header, raw []byte) bool {
	c.upTo(h.LastOffset())
	commit, ok := markerType(raw)
	switch {
	case !ok:
		return false // not a transaction marker: kept, as Kafka does
	case commit:
		had := c.committed[h.ProducerID]
		delete(c.committed, h.ProducerID)
		return !had
	}
	r := c.aborted[h.ProducerID]
	delete(c.aborted, h.ProducerID)
	if r != nil && r.observed {
		c.kept = append(c.kept, r.txn)
		return false
	}
	return true
}

// markerType reads a control batch's record key (Kafka's
// ControlRecordType: version int16 0, type int16 0 ABORT or 1 COMMIT).
func markerType(raw []byte) (commit, ok bool) {
	recs, err := batch.Records(raw)
	if err != nil || len(recs) != 1 || len(recs[0].Key) < 4 || binary.BigEndian.Uint16(recs[0].Key) != 0 {
		return false, false
	}
	switch binary.BigEndian.Uint16(recs[0].Key[2:]) {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}
