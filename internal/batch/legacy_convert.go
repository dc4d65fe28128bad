package batch

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// UpConvert turns the v0/v1 message set of one partition of a Produce
// v0-v2 request into one v2 batch, as Kafka 3.x's LogValidator did
// (convertAndAssignOffsetsNonCompressed, and
// validateMessagesAndAssignOffsetsCompressed when the target magic is 2):
//
//   - every message, with a compressed wrapper's inner messages expanded,
//     becomes a record with offset delta 0..n-1 (the broker assigns the
//     offsets; the producer's are dropped) and its timestamp (-1 for
//     magic 0, which has none);
//   - the batch is compressed with the wrapper's codec (uncompressed
//     messages give an uncompressed batch), so compression.type=producer
//     keeps the producer's choice;
//   - the batch has no producer ID: v0/v1 producers are neither idempotent
//     nor transactional.
//
// Errors come back as a Kafka error code and message, as [Validate]'s:
// CORRUPT_MESSAGE for bad CRCs, sizes and compressed payloads and bytes
// left over; INVALID_RECORD for an empty set, mixed magics, a compressed
// message that is not alone in its set, nested compression, zstd, and an
// empty or null wrapper; INVALID_TIMESTAMP for a producer's LogAppendTime
// bit (stricter than Kafka, which let it pass in a CreateTime topic when
// the timestamp was set). The output then goes through the normal append
// path and its validation.
func UpConvert(set []byte) ([]byte, int16, string) {
	if len(set) == 0 {
		return nil, kerr.InvalidRecord.Code, "produce requests must have at least one message per partition"
	}
	codec := None
	if len(set) > legacyPosAttrs {
		// A compressed message must be alone: the first one's codec is the set's.
		codec = Codec(set[legacyPosAttrs] & AttrCodecMask)
	}
	var body []byte
	if codec == None {
		// v2 records are smaller than v0/v1 messages: len(set) is room enough.
		body = make([]byte, HeaderSize, HeaderSize+len(set))
	} else {
		// A guess at the decompressed size, capped: a hostile wrapper must
		// not make the broker allocate before it decompresses anything.
		body = make([]byte, 0, min(4*len(set), 1<<20))
	}
	n, baseTS, maxTS := 0, int64(-1), int64(-1)
	_, err := walkLegacy(set, legacyRules{produce: true}, func(m *LegacyMessage) {
		if n == 0 {
			baseTS, maxTS = m.Timestamp, m.Timestamp
		}
		maxTS = max(maxTS, m.Timestamp)
		body = appendRecord(body, int32(n), m.Timestamp-baseTS, Record{Key: m.Key, Value: m.Value})
		n++
	})
	if err != nil {
		code := kerr.CorruptMessage.Code
		switch {
		case errors.Is(err, ErrLegacyInvalid):
			code = kerr.InvalidRecord.Code
		case errors.Is(err, ErrLegacyTimestamp):
			code = kerr.InvalidTimestamp.Code
		}
		return nil, code, err.Error()
	}
	out := body
	if codec != None {
		out = append(make([]byte, HeaderSize, HeaderSize+len(body)/2), compress(codec, body)...)
	}
	finishBatch(out, BuildOptions{Codec: codec, PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, n, baseTS, maxTS)
	return out, 0, ""
}

// DownConvert appends to dst the v2 batches of batches (as read from a log:
// a trailing partial batch is ignored) as a message set of magic 0 or 1,
// for Fetch v0-v3, as Kafka 3.x's RecordsUtil.downConvert did:
//
//   - control batches are left out: old consumers know no transaction
//     markers; transactional records go out as plain ones (old consumers
//     read uncommitted);
//   - an uncompressed batch becomes one message per record, leaving out
//     records before fetchOffset; a compressed batch becomes one wrapper
//     of the same codec holding all its records (the consumer skips those
//     before its offset), at the offset of the last one, with relative
//     inner offsets in magic 1;
//   - magic 1 keeps timestamps and marks LogAppendTime batches' messages
//     (and wrappers) as such; magic 0 drops timestamps; headers are
//     dropped;
//   - a zstd batch returns ErrLegacyZstd (Kafka: UNSUPPORTED_COMPRESSION_TYPE).
//
// As Kafka's lazy down-conversion, the first converted batch goes out
// whole; after it, messages stop at limit bytes of output.
func DownConvert(dst, batches []byte, magic int8, fetchOffset int64, limit int) ([]byte, error) {
	if magic != 0 && magic != 1 {
		return dst, fmt.Errorf("batch: down-conversion to magic %d", magic)
	}
	start, first := len(dst), true
	var inner []byte
	var err error
	full := func(n int) bool { return !first && len(dst)-start+n > limit }
	iterErr := Iterate(batches, func(h Header, b []byte) bool {
		if h.Control() {
			return true
		}
		if h.Codec() == Zstd {
			err = ErrLegacyZstd
			return false
		}
		if full(0) {
			return false
		}
		recs, rerr := Records(b)
		if rerr != nil {
			err = fmt.Errorf("batch at offset %d: %w", h.BaseOffset, rerr)
			return false
		}
		attrs := byte(0)
		if magic == 1 && h.LogAppendTime() {
			attrs = legacyAttrLogAppendTime
		}
		before := len(dst)
		if h.Codec() == None {
			for _, r := range recs {
				if r.Offset < fetchOffset {
					continue
				}
				if full(legacyLogOverhead + legacyOverheadV1 + len(r.Key) + len(r.Value)) {
					return false
				}
				dst = appendLegacy(dst, r.Offset, magic, attrs, r.Timestamp, r.Key, r.Value)
			}
		} else if len(recs) > 0 {
			inner = inner[:0]
			maxTS := int64(-1)
			for _, r := range recs {
				off := r.Offset
				if magic == 1 {
					off -= recs[0].Offset
				}
				inner = appendLegacy(inner, off, magic, attrs, r.Timestamp, r.Key, r.Value)
				maxTS = max(maxTS, r.Timestamp)
			}
			if h.LogAppendTime() {
				maxTS = h.MaxTimestamp
			}
			value := legacyCompress(h.Codec(), magic, inner)
			if full(legacyLogOverhead + legacyOverheadV1 + len(value)) {
				return false
			}
			dst = appendLegacy(dst, recs[len(recs)-1].Offset, magic, attrs|byte(h.Codec()), maxTS, nil, value)
		}
		if len(dst) > before {
			first = false
		}
		return true
	})
	if err == nil {
		err = iterErr
	}
	return dst, err
}
