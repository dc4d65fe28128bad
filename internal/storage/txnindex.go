package storage

import (
	"encoding/binary"
	"fmt"
)

// abortedTxnSize is one .txnindex entry: version int16 0, producerId int64,
// firstOffset int64, lastOffset int64, lastStableOffset int64 (Kafka's
// AbortedTxn), big-endian.
const abortedTxnSize = 2 + 8 + 8 + 8 + 8

// AbortedTxn is one entry of the aborted-transaction index: a producer's
// transaction from its first offset to its ABORT marker's offset, and the
// partition's last stable offset when the marker was appended. A
// read_committed fetch returns the aborted transactions overlapping its
// range so the client drops their records. This is the entry format and its
// search; segments do not write a .txnindex file yet.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// appendAbortedTxn encodes t as a .txnindex entry onto b.
func appendAbortedTxn(b []byte, t AbortedTxn) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, 0)
	b = be.AppendUint64(b, uint64(t.ProducerID))
	b = be.AppendUint64(b, uint64(t.FirstOffset))
	b = be.AppendUint64(b, uint64(t.LastOffset))
	return be.AppendUint64(b, uint64(t.LastStableOffset))
}

// decodeTxnIndex decodes a .txnindex file's bytes. A trailing partial entry
// (a write torn by a crash) is left off and reported by valid, the length of
// the whole entries, so recovery can truncate the file there; an entry of an
// unknown version or with its first offset past its last is an error, as
// Kafka's TransactionIndex refuses it.
func decodeTxnIndex(b []byte) (txns []AbortedTxn, valid int, err error) {
	be := binary.BigEndian
	for len(b)-valid >= abortedTxnSize {
		e := b[valid : valid+abortedTxnSize]
		if v := int16(be.Uint16(e)); v != 0 {
			return nil, 0, fmt.Errorf("storage: transaction index entry at byte %d: version %d", valid, v)
		}
		t := AbortedTxn{
			ProducerID:       int64(be.Uint64(e[2:])),
			FirstOffset:      int64(be.Uint64(e[10:])),
			LastOffset:       int64(be.Uint64(e[18:])),
			LastStableOffset: int64(be.Uint64(e[26:])),
		}
		if t.FirstOffset > t.LastOffset {
			return nil, 0, fmt.Errorf("storage: transaction index entry at byte %d: first offset %d past last %d", valid, t.FirstOffset, t.LastOffset)
		}
		txns = append(txns, t)
		valid += abortedTxnSize
	}
	return txns, valid, nil
}

// collectAbortedTxns appends to out the entries of txns (one segment's, in
// marker order) overlapping the fetch range [from, upTo): ended at or after
// from and begun before upTo, as Kafka's TransactionIndex.collectAbortedTxns.
// complete is true once an entry's last stable offset reaches upTo: every
// transaction aborted later began at or after it, so later segments need
// not be searched.
func collectAbortedTxns(out, txns []AbortedTxn, from, upTo int64) (_ []AbortedTxn, complete bool) {
	for _, t := range txns {
		if t.LastOffset >= from && t.FirstOffset < upTo {
			out = append(out, t)
		}
		if t.LastStableOffset >= upTo {
			return out, true
		}
	}
	return out, false
}
