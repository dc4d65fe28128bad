package batch

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

// checkRecords walks every record of sec, the records section of a batch
// whose header h passed checkHeader. An uncompressed section is read in
// place; a compressed one streams through a pooled decompressor.
func checkRecords(sec []byte, h Header, opts *ValidateOptions) Result {
	if h.Codec() == None {
		s := window{buf: sec, w: len(sec)}
		return walk(&s, h, opts)
	}
	d := decompressors.Get().(*decompressor)
	var s window
	var res Result
	if err := d.open(&s, h.Codec(), sec); err != nil {
		res = failed(kerr.CorruptMessage.Code, "%s record batch does not decompress: %v", h.Codec(), err)
	} else {
		res = walk(&s, h, opts)
	}
	if !d.finish() && res.Code == 0 {
		res = failed(kerr.CorruptMessage.Code, "%s record batch has bytes after the end of its compressed data", h.Codec())
	}
	decompressors.Put(d)
	return res
}

// timeWindow is the range CreateTime record timestamps must lie in.
type timeWindow struct{ lo, hi int64 }

func newTimeWindow(o *ValidateOptions) timeWindow {
	w := timeWindow{lo: math.MinInt64, hi: math.MaxInt64}
	if o.BeforeMaxMs >= 0 && o.Now >= 0 {
		w.lo = o.Now - o.BeforeMaxMs // cannot overflow: both are non-negative
	}
	if o.AfterMaxMs >= 0 && o.AfterMaxMs <= math.MaxInt64-o.Now {
		w.hi = o.Now + o.AfterMaxMs
	}
	return w
}

// walk reads the records of h from s. It stops at the first record that
// does not parse (Kafka throws there); key and timestamp failures are
// collected for every record and answered together, as Kafka's
// processRecordErrors does.
func walk(s *window, h Header, opts *ValidateOptions) Result {
	lat := h.LogAppendTime()
	checkKeys := opts.Compacted && !h.Control()
	tw := newTimeWindow(opts)
	maxTS := int64(-1)
	var errs []RecordError
	badTimestamp := false
	for i := range h.NumRecords {
		length, ok := s.varint()
		if !ok {
			return s.short(i, "length")
		}
		if length < 0 {
			return s.fail(i, "has invalid record size %d", length)
		}
		if s.src == nil && int(length) > s.w-s.r {
			return s.fail(i, "Invalid record size: expected %d bytes in record payload, but instead the buffer has only %d remaining bytes", length, s.w-s.r)
		}
		start := s.pos()
		end := start + int64(length)
		if !s.byte1() { // attributes: unused in v2
			return s.short(i, "attributes")
		}
		tsDelta, ok1 := s.varlong()
		offsetDelta, ok2 := s.varint()
		if !ok1 || !ok2 {
			return s.short(i, "timestamp or offset delta")
		}
		keyLen, why := s.lengthPrefixed(end, -1)
		if why != "" {
			return s.fail(i, "key: %s", why)
		}
		if _, why := s.lengthPrefixed(end, -1); why != "" {
			return s.fail(i, "value: %s", why)
		}
		headers, ok := s.varint()
		if !ok {
			return s.short(i, "header count")
		}
		// Each header takes at least two bytes, which bounds the loop.
		if headers < 0 || int64(headers) > (end-s.pos())/2 {
			return s.fail(i, "Found invalid number of record headers %d with %d bytes left in the record", headers, end-s.pos())
		}
		for j := range headers {
			if _, why := s.lengthPrefixed(end, 0); why != "" {
				return s.fail(i, "header %d key: %s", j, why)
			}
			if _, why := s.lengthPrefixed(end, -1); why != "" {
				return s.fail(i, "header %d value: %s", j, why)
			}
		}
		if read := s.pos() - start; read != int64(length) {
			return s.fail(i, "Invalid record size: expected to read %d bytes in record payload, but instead read %d", length, read)
		}
		if offsetDelta != i {
			return s.fail(i, "has offset delta %d: the deltas of a batch must count up from 0", offsetDelta)
		}

		ts := h.BaseTimestamp + tsDelta
		if lat {
			ts = h.MaxTimestamp
		}
		maxTS = max(maxTS, ts)
		if checkKeys && keyLen < 0 {
			// Kafka's validateRecord reports a record's key before its timestamp.
			errs = append(errs, RecordError{Index: i, Message: "Compacted topic cannot accept message without key"})
		} else if opts.Timestamps {
			// Kafka's LogValidator.validateTimestamp, condition for condition.
			if !opts.LogAppendTime && ts != -1 {
				if ts < tw.lo || ts > tw.hi {
					badTimestamp = true
					errs = append(errs, RecordError{Index: i, Message: fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]", ts, i, tw.lo, tw.hi)})
				}
			} else if lat {
				badTimestamp = true
				errs = append(errs, RecordError{Index: i, Message: "Invalid timestamp type in message: producer should not set timestamp type to LogAppendTime"})
			}
		}
	}
	if s.more() {
		return failed(kerr.InvalidRecord.Code, "Incorrect declared batch size, records still remaining in file")
	}
	if s.err != nil {
		return s.fail(h.NumRecords, "")
	}
	if errs != nil {
		return recordErrors(errs, badTimestamp)
	}
	return Result{MaxTimestamp: maxTS}
}

// recordErrors answers a batch with refused records, in Kafka's words.
func recordErrors(errs []RecordError, badTimestamp bool) Result {
	if badTimestamp {
		return Result{Code: kerr.InvalidTimestamp.Code, Message: "One or more records have been rejected due to invalid timestamp", RecordErrors: errs}
	}
	shown := errs[:min(len(errs), 3)]
	return Result{
		Code:         kerr.InvalidRecord.Code,
		Message:      fmt.Sprintf("One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: %v", len(errs), shown),
		RecordErrors: errs,
	}
}

// String is the form Kafka's ProduceResponse.RecordError prints in messages.
func (e RecordError) String() string {
	return fmt.Sprintf("RecordError(batchIndex=%d, message='%s')", e.Index, e.Message)
}

// lengthPrefixed consumes a varint length and that many bytes of a record
// ending at end; lengths down to least are accepted (-1 null, 0 for
// header keys, which may not be null). It returns the length, or why not.
func (s *window) lengthPrefixed(end int64, least int32) (int32, string) {
	n, ok := s.varint()
	switch {
	case !ok:
		return 0, "invalid length varint"
	case n < least:
		return 0, fmt.Sprintf("invalid length %d", n)
	case int64(n) > end-s.pos():
		return 0, fmt.Sprintf("length %d with %d bytes left in the record", n, end-s.pos())
	case s.src != nil && s.pos()+int64(n) > maxDecompressed:
		s.err = errTooLarge // known now; no need to inflate it all first
		return 0, "too large"
	case n > 0 && !s.skip(int(n)):
		return 0, "Incorrect declared batch size, premature EOF reached" // or s.err
	}
	return n, ""
}

// fail refuses the batch at record i: CORRUPT_MESSAGE when the
// decompressor failed (the bytes are damaged), INVALID_RECORD otherwise
// (they decode to something that is not a record).
func (s *window) fail(i int32, format string, args ...any) Result {
	if s.err != nil {
		return failed(kerr.CorruptMessage.Code, "%s record batch does not decompress: %v", s.codec, s.err)
	}
	return failed(kerr.InvalidRecord.Code, "record %d: %s", i, fmt.Sprintf(format, args...))
}

// short refuses the batch at record i whose field could not be read: the
// bytes ended (Kafka's premature EOF), or they are not a varint.
func (s *window) short(i int32, field string) Result {
	if s.r == s.w && s.err == nil {
		return failed(kerr.InvalidRecord.Code, "Incorrect declared batch size, premature EOF reached at record %d", i)
	}
	return s.fail(i, "invalid %s varint", field)
}
