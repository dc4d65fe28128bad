package batch

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ValidateOptions are the topic settings Validate enforces.
type ValidateOptions struct {
	// MaxBatchBytes is the topic's max.message.bytes: the largest batch,
	// header included, accepted. Zero rejects every batch, as in Kafka;
	// only a negative value means no limit.
	MaxBatchBytes int32
	// AllowControl accepts control batches. Clients may not write them
	// (Kafka answers INVALID_RECORD); the broker's own transaction-marker
	// path may.
	AllowControl bool
	// Compacted refuses records without a key (cleanup.policy includes
	// compact): the cleaner could not keep them.
	Compacted bool
	// Timestamps turns on Kafka's timestamp checks, below; off, any
	// timestamp is accepted.
	Timestamps bool
	// LogAppendTime is message.timestamp.type=LogAppendTime: record
	// timestamps are not checked, but a producer may not send a batch
	// marked LogAppendTime.
	LogAppendTime bool
	// Now is the broker's clock (Unix ms) that CreateTime records must lie
	// within [Now-BeforeMaxMs, Now+AfterMaxMs] of: the topic's
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms.
	Now, BeforeMaxMs, AfterMaxMs int64
}

// Result is what Validate found.
type Result struct {
	// Header is the batch's header; set only when Code is 0.
	Header Header
	// Code is 0 or the Kafka error code for the partition's response,
	// with Message saying why.
	Code    int16
	Message string
	// RecordErrors lists the records that failed the key or timestamp
	// checks (Produce v8+ record_errors); Code is then INVALID_RECORD or
	// INVALID_TIMESTAMP. Structural errors have none.
	RecordErrors []RecordError
	// MaxTimestamp is the largest record timestamp (-1 with none); for a
	// LogAppendTime batch, its max timestamp.
	MaxTimestamp int64
}

// RecordError is one refused record: its index in the batch and why.
type RecordError struct {
	Index   int32
	Message string
}

func failed(code int16, format string, args ...any) Result {
	return Result{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Validate checks the records of one partition of a Produce request the way
// Kafka 4 does (ProduceRequest.validateRecords, UnifiedLog's
// analyzeAndValidateRecords, LogValidator, and DefaultRecordBatch and
// DefaultRecord's readers): the header (see checkHeader), then every record,
// decompressing the batch as a stream (see decompressor). Since Produce v3 a
// partition's records are exactly one v2 batch.
//
// Per record, as Kafka: a length, varint, key, value or header that does not
// fit the record or the batch, a negative header count or header key length,
// a record that does not use exactly its length, fewer records than the
// header counts, or bytes after the last: INVALID_RECORD. Beyond Kafka, which
// accepts them and rewrites (compressed) or keeps (uncompressed) the batch:
// an offset delta other than the record's index, and a key or value length
// below -1 (Kafka reads any negative length as null; consumers may not):
// INVALID_RECORD. A compressed payload that does not decompress, fails its
// checksum, has bytes after its end or expands past 64 MiB (what [Records]
// can read back): CORRUPT_MESSAGE (Kafka answers UNKNOWN_SERVER_ERROR for the
// first ones). With Compacted, each record without a key: INVALID_RECORD with
// RecordErrors. With Timestamps, each CreateTime record outside the window,
// or a LogAppendTime batch (from a LogAppendTime topic's producer, or without
// a timestamp on a CreateTime topic): INVALID_TIMESTAMP with RecordErrors.
//
// Validate does not allocate unless it refuses the batch, nor (from a warm
// pool of decompressors) for compressed batches other than raw snappy ones
// larger than any seen before.
func Validate(records []byte, opts ValidateOptions) Result {
	h, res := checkHeader(records, opts)
	if res.Code != 0 {
		return res
	}
	res = checkRecords(records[HeaderSize:h.Size()], h, &opts)
	if res.Code == 0 {
		res.Header = h
	}
	return res
}

// checkHeader checks a batch's header and CRC, reading nothing else:
//
//   - no batch, magic other than 2, more than one batch, a count that is not
//     lastOffsetDelta+1 or not positive, a control batch from a client, a
//     producer ID without a sequence, a transactional batch without a
//     producer ID: INVALID_RECORD;
//   - a header or batch cut short, a length too small for a header, trailing
//     bytes that are not a batch, a bad CRC, an unknown codec: CORRUPT_MESSAGE;
//   - a batch larger than MaxBatchBytes: MESSAGE_TOO_LARGE.
//
// The base offset is not checked: the broker overwrites it.
func checkHeader(records []byte, opts ValidateOptions) (Header, Result) {
	if len(records) == 0 {
		return Header{}, failed(kerr.InvalidRecord.Code, "produce requests must have at least one record batch per partition")
	}
	if len(records) < HeaderSize {
		return Header{}, failed(kerr.CorruptMessage.Code, "records are %d bytes, shorter than a %d-byte batch header", len(records), HeaderSize)
	}
	h, _ := ParseHeader(records)
	if h.Magic != currentMagic {
		return Header{}, failed(kerr.InvalidRecord.Code, "produce requests are only allowed to contain record batches with magic version 2, not %d", h.Magic)
	}
	if h.Length < minLength {
		return Header{}, failed(kerr.CorruptMessage.Code, "batch length %d is less than the minimum %d", h.Length, minLength)
	}
	size := h.Size()
	if size > len(records) {
		return Header{}, failed(kerr.CorruptMessage.Code, "batch of %d bytes is truncated to %d", size, len(records))
	}
	if rest := records[size:]; len(rest) > 0 {
		if next, err := ParseHeader(rest); err == nil && next.Length >= minLength && next.Size() <= len(rest) {
			return Header{}, failed(kerr.InvalidRecord.Code, "produce requests are only allowed to contain exactly one record batch per partition")
		}
		return Header{}, failed(kerr.CorruptMessage.Code, "%d trailing bytes after the record batch", len(rest))
	}
	if opts.MaxBatchBytes >= 0 && size > int(opts.MaxBatchBytes) {
		return Header{}, failed(kerr.MessageTooLarge.Code, "the record batch size is %d bytes which exceeds the maximum configured value of %d", size, opts.MaxBatchBytes)
	}
	if crc := computeCRC(records[:size]); crc != h.CRC {
		return Header{}, failed(kerr.CorruptMessage.Code, "record batch is corrupt (stored crc = %d, computed crc = %d)", h.CRC, crc)
	}
	if !h.Codec().valid() {
		return Header{}, failed(kerr.CorruptMessage.Code, "unknown compression type id %d", int8(h.Codec()))
	}
	if h.Control() && !opts.AllowControl {
		return Header{}, failed(kerr.InvalidRecord.Code, "clients are not allowed to write control records")
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return Header{}, failed(kerr.InvalidRecord.Code, "invalid sequence number %d for producer %d", h.BaseSequence, h.ProducerID)
	}
	if h.Transactional() && h.ProducerID < 0 {
		return Header{}, failed(kerr.InvalidRecord.Code, "transactional batch without a producer id")
	}
	if h.LastOffsetDelta < 0 {
		return Header{}, failed(kerr.InvalidRecord.Code, "batch has an invalid offset range (last offset delta %d)", h.LastOffsetDelta)
	}
	if h.NumRecords <= 0 {
		return Header{}, failed(kerr.InvalidRecord.Code, "invalid reported count for record batch: %d", h.NumRecords)
	}
	if int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return Header{}, failed(kerr.InvalidRecord.Code, "inconsistent batch offset range (%d) and record count (%d)", int64(h.LastOffsetDelta)+1, h.NumRecords)
	}
	return h, Result{}
}
