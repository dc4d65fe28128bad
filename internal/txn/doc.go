// Package txn holds producer IDs and idempotence: the per-partition state that
// lets a broker drop a producer's retried batches and reject out-of-order or
// fenced ones, and the allocator that hands out producer IDs. The transaction
// coordinator will live here too.
//
// [ProducerState] is one partition's view of its idempotent producers,
// following Kafka's ProducerStateManager and ProducerAppendInfo: for each
// producer ID the current producer epoch and the metadata of its last five
// appended batches, which is how many a producer may have in flight
// (max.in.flight.requests.per.connection <= 5). The partition checks each
// produced batch with Check before appending it and records it with Update
// after; at start-up, and after its log is truncated (a follower whose log
// diverged from its leader's), [Rebuild] loads the last snapshot if it is
// at or below the log end and replays the log after it.
// A transactional batch opens its producer's transaction at its first
// offset; a control batch's marker ([DecodeMarker]: Kafka's ControlRecordType
// key and EndTransactionMarker value) ends it, and [ProducerState.UpdateMarker]
// returns the ended transaction, an abort's being what the aborted-transaction
// index records. [ProducerState.FirstUnstableOffset] is the smallest first
// offset of the open transactions and of those whose marker is not yet below
// the high watermark (Kafka's unreplicated transactions); the last stable
// offset is the high watermark bounded by it. The open transaction's first
// offset is in the snapshot and a replay of the log recovers it.
// The partition's append lock guards it; it owns no goroutines.
//
// [IDAllocator] hands out producer IDs from blocks that the metadata quorum
// reserves, so an ID is never handed out twice, even across restarts. It is
// safe for concurrent use and owns no goroutines.
//
// # Snapshot format (version 1)
//
// All integers big-endian. The CRC-32C (Castagnoli) covers every byte after
// the CRC field.
//
//	version      int16   1
//	crc          uint32
//	offset       int64   the log end offset the snapshot was taken at
//	producers    int32   count, then per producer, by ascending ID:
//	  producerId        int64
//	  producerEpoch     int16
//	  lastTimestamp     int64
//	  coordinatorEpoch  int32
//	  txnFirstOffset    int64   -1 when no transaction is open
//	  batches           int8    0..5, then per batch, oldest first:
//	    firstSequence   int32
//	    lastSequence    int32
//	    firstOffset     int64
//	    lastOffset      int64
//	    maxTimestamp    int64
//
// Unlike Kafka's snapshot, which keeps only each producer's last batch, all
// five are kept, so a retry of any in-flight batch is still recognised as a
// duplicate after a restart.
package txn
