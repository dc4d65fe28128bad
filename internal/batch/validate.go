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
}

// Validate checks the records of one partition of a Produce request the way
// Kafka 4 does (ProduceRequest.validateRecords, UnifiedLog's
// analyzeAndValidateRecords and LogValidator.validateBatch), reading headers
// only. Since Produce v3 a partition's records are exactly one v2 batch.
//
// It appends the parsed header(s) to hdrs and returns them with 0 and "" when
// the records are acceptable, or with a Kafka error code and a message saying
// why not:
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
//
// Validate does not allocate when hdrs has room for one header.
func Validate(records []byte, opts ValidateOptions, hdrs []Header) ([]Header, int16, string) {
	if len(records) == 0 {
		return hdrs, kerr.InvalidRecord.Code, "produce requests must have at least one record batch per partition"
	}
	if len(records) < HeaderSize {
		return hdrs, kerr.CorruptMessage.Code, fmt.Sprintf("records are %d bytes, shorter than a %d-byte batch header", len(records), HeaderSize)
	}
	h, _ := ParseHeader(records)
	if h.Magic != currentMagic {
		return hdrs, kerr.InvalidRecord.Code, fmt.Sprintf("produce requests are only allowed to contain record batches with magic version 2, not %d", h.Magic)
	}
	if h.Length < minLength {
		return hdrs, kerr.CorruptMessage.Code, fmt.Sprintf("batch length %d is less than the minimum %d", h.Length, minLength)
	}
	size := h.Size()
	if size > len(records) {
		return hdrs, kerr.CorruptMessage.Code, fmt.Sprintf("batch of %d bytes is truncated to %d", size, len(records))
	}
	if rest := records[size:]; len(rest) > 0 {
		if next, err := ParseHeader(rest); err == nil && next.Length >= minLength && next.Size() <= len(rest) {
			return hdrs, kerr.InvalidRecord.Code, "produce requests are only allowed to contain exactly one record batch per partition"
		}
		return hdrs, kerr.CorruptMessage.Code, fmt.Sprintf("%d trailing bytes after the record batch", len(rest))
	}
	if opts.MaxBatchBytes >= 0 && size > int(opts.MaxBatchBytes) {
		return hdrs, kerr.MessageTooLarge.Code, fmt.Sprintf("the record batch size is %d bytes which exceeds the maximum configured value of %d", size, opts.MaxBatchBytes)
	}
	if crc := computeCRC(records[:size]); crc != h.CRC {
		return hdrs, kerr.CorruptMessage.Code, fmt.Sprintf("record batch is corrupt (stored crc = %d, computed crc = %d)", h.CRC, crc)
	}
	if !h.Codec().valid() {
		return hdrs, kerr.CorruptMessage.Code, fmt.Sprintf("unknown compression type id %d", int8(h.Codec()))
	}
	if h.Control() && !opts.AllowControl {
		return hdrs, kerr.InvalidRecord.Code, "clients are not allowed to write control records"
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return hdrs, kerr.InvalidRecord.Code, fmt.Sprintf("invalid sequence number %d for producer %d", h.BaseSequence, h.ProducerID)
	}
	if h.Transactional() && h.ProducerID < 0 {
		return hdrs, kerr.InvalidRecord.Code, "transactional batch without a producer id"
	}
	if h.LastOffsetDelta < 0 {
		return hdrs, kerr.InvalidRecord.Code, fmt.Sprintf("batch has an invalid offset range (last offset delta %d)", h.LastOffsetDelta)
	}
	if h.NumRecords <= 0 {
		return hdrs, kerr.InvalidRecord.Code, fmt.Sprintf("invalid reported count for record batch: %d", h.NumRecords)
	}
	if int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return hdrs, kerr.InvalidRecord.Code, fmt.Sprintf("inconsistent batch offset range (%d) and record count (%d)", int64(h.LastOffsetDelta)+1, h.NumRecords)
	}
	return append(hdrs, h), 0, ""
}
