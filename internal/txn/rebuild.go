package txn

import (
	"fmt"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// Rebuild returns the producer state of a partition's log that now ends at
// end, as Kafka's UnifiedLog.rebuildProducerState does after a truncation
// (and at start-up): the state of snapshot if it was taken at an offset in
// [logStart, end], less its producers whose remembered batches all lie
// below logStart (as Kafka's truncateAndReload), with the log's batches
// from that offset up to end replayed; otherwise, with no snapshot, a
// corrupt one or one taken above end (of records a truncation removed),
// the replay of the log from logStart. The result is the state a replay of
// the whole remaining log gives; only when the log start moved up since
// the snapshot may it also remember some batches below the log start.
//
// read returns the whole batches of the log from an offset (the one
// holding it first) below end, none at or past end: storage.Log's
// Read(from, maxBytes, end), with an offset out of range answered as
// nothing. An empty answer ends the replay.
//
// used is the offset of the snapshot the state was built from, or -1 if it
// was not used. A snapshot above end must not outlive the truncation: once
// the log grows past its offset again it would be taken for a valid one,
// so the caller replaces it (MarshalSnapshot(end)) or removes it, as Kafka
// deletes the snapshots above the truncation offset.
func Rebuild(snapshot []byte, logStart, end int64, read func(from int64) ([]byte, error)) (s *ProducerState, used int64, err error) {
	s, used, from := NewProducerState(), int64(-1), logStart
	if snapshot != nil {
		if ps, off, err := UnmarshalSnapshot(snapshot); err == nil && off >= logStart && off <= end {
			s, used, from = ps, off, off
			for id, p := range s.producers {
				if n := len(p.batches); n > 0 && p.batches[n-1].lastOffset < logStart {
					s.remove(id)
				}
			}
		}
	}
	for from < end {
		chunk, err := read(from)
		if err != nil {
			return nil, -1, fmt.Errorf("txn: replay the log from %d: %w", from, err)
		}
		next := from
		if err := batch.Iterate(chunk, func(h batch.Header, raw []byte) bool {
			if h.LastOffset() >= end {
				return false
			}
			s.UpdateBatch(h, raw, h.BaseOffset) // batches below from are known already: ignored
			next = h.LastOffset() + 1
			return true
		}); err != nil {
			return nil, -1, fmt.Errorf("txn: replay the log from %d: %w", from, err)
		}
		if next <= from {
			break
		}
		from = next
	}
	return s, used, nil
}
