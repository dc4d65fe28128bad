// Package batch is a zero-copy view of a Kafka RecordBatch (magic v2), the unit
// that travels from a producer's request to disk and on to a consumer's fetch
// response unchanged.
//
// The hot path reads batches in place. [Validate] checks a produced batch
// the way Kafka's LogValidator does: the header and CRC, then every record,
// decompressing compressed batches as a stream through a 64 KiB window, so
// that no batch a consumer cannot read is ever stored; it does not allocate
// for a batch it accepts. Offset assignment and replay ([ParseHeader],
// [Iterate], [SetBaseOffset], [SetPartitionLeaderEpoch], [SetLogAppendTime],
// [SetMaxTimestamp]) touch only the fixed 61-byte header. [Records]
// (decompress and decode every record into values) and [Build] (encode) are
// for the cold paths: ListOffsets by timestamp, compaction, internal topics
// and tests.
//
// It is also the one codec of the log (package storage): [Header.Check] and
// [ValidCRC] are what recovery and reads check of stored batches, and the
// cleaner reads records as they are encoded with [RecordScanner] (a
// surviving record is copied, not re-encoded, and keeps its offset delta,
// which Build renumbers), and rebuilds batches with [AppendHeader],
// [Decompress], [AppendRawRecord], [Compress] and [Seal].
//
// The package owns no goroutines. Its package-level state is a lazily built
// zstd encoder and decoder, which are safe for concurrent use and costly to
// build, so one pair is shared; and a sync.Pool of the streaming
// decompressors Validate uses (their zstd decoders run synchronously, so a
// decompressor the pool drops leaves no goroutine behind).
//
// # The bytes of a batch
//
// All integers are big-endian; offsets are from the start of the batch.
//
//	0                    8         12        16 17        21     23
//	+-------------------+---------+---------+--+---------+------+---------------+
//	| baseOffset int64  | length  | leader  |mg| crc     | attr | lastOffset    |
//	|                   | int32   | epoch   |  | uint32  | int16| Delta int32   |
//	+-------------------+---------+---------+--+---------+------+---------------+
//	27                  35                  43                 51    53        57        61
//	+-------------------+-------------------+------------------+-----+---------+---------+
//	| baseTimestamp     | maxTimestamp      | producerId int64 |epoch| baseSeq | count   |
//	| int64             | int64             |                  |int16| int32   | int32   |
//	+-------------------+-------------------+------------------+-----+---------+---------+
//	| records ... (compressed as a whole when attr&7 != 0)                          |
//	+-------------------------------------------------------------------------------+
//
// Of the fields:
//
//   - length counts the bytes after itself: a batch is 12+length bytes.
//   - magic (mg) is 2.
//   - crc is CRC-32C (Castagnoli) of bytes 21..end, so baseOffset and the
//     partition leader epoch, which the broker rewrites, are outside it.
//   - attr bits 0-2: codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd); bit 3:
//     timestamp type (1 = LogAppendTime); bit 4: transactional; bit 5:
//     control; bit 6: has delete horizon (compaction).
//   - count == lastOffsetDelta+1 for a batch a producer sends; compaction may
//     later leave gaps.
//
// Each record (after decompression) is varint-encoded (zig-zag, as protobuf's
// sint):
//
//	length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
//	keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
//	headerCount varint | { keyLength varint | key | valueLength varint | value }*
//
// # Message sets v0 and v1 (magic 0 and 1)
//
// Before record batches, Kafka stored message sets: a run of messages,
// each with its own CRC. Samsa never stores them; [UpConvert] turns a
// Produce v0-v2 request's set into a v2 batch and [DownConvert] writes
// Fetch v0-v3 responses from v2 batches (legacy*.go). Each message:
//
//	offset int64 | size int32 | crc uint32 | magic int8 | attributes int8 |
//	[timestamp int64, magic 1 only] | keyLength int32 (-1 = null) | key |
//	valueLength int32 (-1 = null) | value
//
// size counts the bytes after itself; crc is CRC-32 (IEEE) of magic..end.
// Attribute bits 0-2 are the codec, bit 3 (magic 1) LogAppendTime. A
// compressed message (a wrapper) has a null key and, as its value, the
// compressed message set of its inner messages, which are not compressed.
// A magic 1 wrapper's offset is its last inner message's and inner offsets
// are relative (0..n-1, KIP-31); magic 0 inner offsets are absolute.
//
// Snappy payloads come either as one raw block (librdkafka, franz-go) or in
// xerial framing (the Java client): an 8-byte magic "\x82SNAPPY\x00", two
// int32 versions, then int32-length-prefixed blocks. LZ4 uses the standard
// frame format; gzip and zstd their usual streams.
package batch
