// Package storage is the partition log: segments of record batches in Kafka's
// on-disk format, their offset and time indexes, append and read, roll,
// retention, flush policy and crash recovery.
//
// A Manager owns the logs of one data directory. It runs one goroutine (when
// created with a positive interval) that periodically enforces retention, rolls
// segments older than segment.ms, flushes logs whose flush.ms is due and
// checkpoints recovery points, and Options.Cleaner.Threads log cleaner
// goroutines (see Compaction); Manager.Close stops them and waits for them.
// Logs own no goroutines: Append, Flush and Read run on the caller's.
//
// # Concurrency
//
// Each Log has one mutex that serialises appends, rolls and deletions. Readers
// take it only to copy a snapshot of the segment list and sizes, then read the
// files with ReadAt without it: segments are append-only and a deleted segment
// stays readable through open handles. Flush syncs outside the mutex, one fsync
// shared by every caller waiting (group commit). Read handles of segment files
// come from an LRU shared by the Manager, at most Options.MaxOpenSegments open
// (plus any held by readers while evicted); each log keeps its active segment
// open for writing.
//
// # Directory layout
//
//	<dataDir>/<topic>-<partition>/
//	    00000000000000000000.log        record batches
//	    00000000000000000000.index      offset index
//	    00000000000000000000.timeindex  time index
//	    00000000000000000000.txnindex   aborted transactions (only once the segment holds an ABORT marker)
//	    00000000000000001234.log ...    one set per segment, named by base offset
//	    partition.metadata              "version: 0\ntopic_id: <base64url, no padding>\n"
//	    recovery-point                  "version: 0\nrecovery_point: N\nclean_shutdown: true|false\n"
//	    log-start-offset                "version: 0\nlog_start_offset: N\n"
//	    cleaner-checkpoint              "version: 0\nfirst_dirty_offset: N\ndelete_horizon_ms: M\n"
//	    00000000000000000000.log.cleaned  a cleaned group being written (also .index/.timeindex.cleaned)
//	    00000000000000000000.log.swap     a cleaned group committed, replacing its segments
//	    truncating                      "version: 0\ntruncate_to: N\nfull: true|false\n": a truncation committed
//	<dataDir>/<topic>-<partition>.<hex>-delete/   a log being deleted
//
// The small text files are replaced atomically (write a .tmp, fsync, rename,
// fsync the directory).
//
// # .log: record batches (magic v2), big-endian, byte for byte as produced
//
// Storage reads and writes batches with package batch, its one codec
// (header, checks, CRC, records, compression); the drawing is the part
// storage relies on.
//
//	 0               8       12      16 17      21    23      27              35
//	+---------------+-------+-------+--+-------+-----+-------+---------------+
//	| baseOffset    |batch  |leader |m |crc32c |attr |last   |baseTimestamp  |
//	| int64         |Length |Epoch  |a |uint32 |int16|Offset |int64          |
//	|               |int32  |int32  |g |       |     |Delta  |               |
//	+---------------+-------+-------+--+-------+-----+-------+---------------+
//	 35              43              51    53      57      61
//	+---------------+---------------+-----+-------+-------+-------------------+
//	| maxTimestamp  | producerId    |prod |base   |record | records ...       |
//	| int64         | int64         |Epoch|Seq    |Count  |                   |
//	+---------------+---------------+-----+-------+-------+-------------------+
//
// batchLength counts the bytes after it (a batch is 12+batchLength bytes); the
// CRC-32C (Castagnoli) covers bytes 21 to the end, so Append rewrites
// baseOffset without touching it. Offsets increase from batch to batch and all
// offsets of a segment are within 2^31 of its base offset.
//
// # .index: sparse offset index, 8-byte entries
//
//	+------------------+------------------+
//	| relative offset  | position         |   lastOffset(batch) - baseOffset(segment),
//	| int32            | int32            |   byte position of the batch in .log
//	+------------------+------------------+
//
// An entry is added for a batch when more than index.interval.bytes were
// appended since the previous entry; both fields increase strictly. Looking up
// offset o takes the last entry with relative offset <= o and scans forward.
//
// # .timeindex: sparse time index, 12-byte entries
//
//	+-----------------------------------+------------------+
//	| timestamp int64                   | relative offset  |
//	|                                   | int32            |
//	+-----------------------------------+------------------+
//
// Written with each offset index entry when the largest max timestamp seen in
// the segment grew, and once more when the segment stops being active, so the
// last entry holds the segment's largest timestamp and the (last) offset of the
// first batch carrying it. Timestamps increase strictly.
//
// The active segment's indexes live in memory and are written when it rolls or
// the log closes.
//
// # .txnindex: aborted transactions, 34-byte entries (Kafka's AbortedTxn)
//
//	+--------+------------+-------------+------------+------------------+
//	|version | producerId | firstOffset | lastOffset | lastStableOffset |
//	|int16 0 | int64      | int64       | int64      | int64            |
//	+--------+------------+-------------+------------+------------------+
//
// One entry per aborted transaction, in the segment holding its ABORT
// marker (lastOffset), in marker order, appended when the owner of the
// producer state (package partition) appends the marker (AddAbortedTxn)
// and synced with the segment. Entries are loaded at open and kept in
// memory: a read_committed fetch takes those overlapping its range
// (AbortedTxns). Only the last segment's entries can be lost in a crash (a
// segment's file is synced when it rolls, its name when it is created):
// recovery drops that segment's entries of markers at or above the
// recovery point (and a corrupt file whole) and says from where
// (TxnIndexValidFrom) the owner must add them again from its replay of the
// log; a truncation drops the entries at or above its offset; a deleted
// segment takes its file along; a cleaned group's file holds its
// segments' entries.
//
// # Durability and recovery
//
// Append writes to the OS; data becomes durable by Flush (flush.messages,
// flush.ms, or the caller's acks=all policy), a roll (the finished segment is
// synced with its indexes) or Close.
//
// A log fails when a write it cannot undo or an fsync fails, or when its
// user says so (Log.Fail: a write it undid, on a full disk, is enough for
// a replica to stop): from then on it refuses appends, truncations and
// deletions, Failed returns the error, Close writes nothing and does not
// vouch for it (the next start scans it as after a crash), and the
// Manager's Options.OnFailure hears of it once. The recovery-point file holds an offset
// below which everything was synced and verified, rewritten periodically by the
// Manager, and whether the log was closed cleanly. OpenLog after a clean close
// trusts the segments and indexes and only scans the active segment from its
// last index entry. After an unclean shutdown it scans every batch of the
// segments from the one holding the recovery point: length, magic, CRC and
// increasing offsets; it truncates at the first invalid or torn batch, deletes
// any later segment and rebuilds the scanned segments' indexes. An inactive
// segment's index files are loaded when first needed and checked: structure,
// and their last entries against the log; missing or invalid ones are rebuilt
// from the log. Each offset index entry a read uses is checked against the
// batch it points at, so a wrong index costs a scan, never a wrong answer.
//
// # Truncation
//
// Log.TruncateTo removes the records at and above an offset (a follower
// whose log diverged from its leader's) and Log.TruncateFullyAndStartAt
// empties the log to start at an offset, as Kafka's UnifiedLog.truncateTo
// and truncateFullyAndStartAt. The segment holding the offset is cut at a
// batch boundary, later segments go, and appends continue in a new segment
// at the offset, so that no file a reader may hold is ever written where it
// was cut. A truncation is committed by writing the truncating file and
// finished by OpenLog if a crash interrupts it (truncate.go).
//
// # Compaction
//
// A log whose cleanup.policy has compact (Config.Compact) is cleaned by the
// Manager's cleaner threads, Kafka's LogCleaner: each thread picks the log
// that most needs it (max.compaction.lag.ms passed or a tombstone horizon
// due first, then the highest dirty ratio at or above
// min.cleanable.dirty.ratio), never the active segment nor segments with
// records newer than min.compaction.lag.ms, nor segments reaching above the
// limit Log.SetCleanLimit gives (the high watermark: records above it may
// be truncated; the partition gives its last stable offset, so nothing of an
// undecided transaction is cleaned). A pass maps each key of the
// dirty section (offsets from first_dirty_offset on) to its latest offset,
// in an offset map bounded by log.cleaner.dedupe.buffer.size, then rewrites
// every segment below the cleanable end in groups whose sizes fit
// segment.bytes (so small cleaned segments merge), keeping the records no
// later record of their key supersedes. Offsets never change. A batch whose
// records all stay is copied as it is; one with survivors is rebuilt with
// the same base offset, last offset delta (so the producer's last sequence
// stays), producer fields and codec; an emptied batch goes, except the last
// batch of an idempotent producer still active (Log.SetActiveProducers: not
// expired by producer.id.expiration.ms) and the batch ending at the log end
// offset, which stay as 61-byte headers without records (as Kafka 4's
// cleaner keeps only those; an empty batch alone in a fetch stalls
// kafka-go's Reader). A group emptied whole leaves an empty segment, merged
// with its neighbours by the next pass. Records without a key go.
//
// Transactions follow Kafka's CleanedTransactionMetadata (cleantxn.go):
// the aborted transactions of the range come from the .txnindex; their
// records go and map no key; a marker stays while the pass reads batches
// of its transaction (an ABORT with its index entry, which is the cleaned
// segment's .txnindex), then may go: it gets a delete horizon as
// tombstones do and goes once the horizon passed.
//
// Tombstones (null values) follow KIP-534: the first pass that rewrites a
// batch with tombstones sets its attribute bit 6 and stores
// now+delete.retention.ms in its base timestamp (record timestamp deltas are
// rewritten against it); a pass after that horizon drops them. The earliest
// horizon is kept in cleaner-checkpoint so the pass that drops them runs even
// if nothing is written.
//
// A group is swapped in crash-safely (swap.go): written and synced as
// <base>.*.cleaned, committed by renaming <base>.log.cleaned to
// <base>.log.swap, then installed by renames and removals; OpenLog rolls
// back .cleaned files and completes .swap files, so every group recovers to
// either its old or its cleaned contents (or, when cleaning emptied the end
// of the group, the cleaned contents followed by some of the group's old
// segments past them: still a valid log, cleaned again by the next pass). Readers never block on a swap: a
// swap marks the segments it replaces before touching their files, and a
// read that used a marked segment retries on a fresh segment list.
package storage
