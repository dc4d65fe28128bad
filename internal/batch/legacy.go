package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The message formats before record batches: magic 0 (Kafka 0.8-0.9) and
// magic 1 (0.10, KIP-31/32). Samsa stores only v2 batches; these are read
// from Produce v0-v2 requests ([UpConvert]) and written for Fetch v0-v3
// responses ([DownConvert]), as Kafka 3.x did. See doc.go for the bytes.

// Byte positions in a legacy message, counted from its offset field.
const (
	legacyPosSize      = 8
	legacyPosCRC       = 12
	legacyPosMagic     = 16
	legacyPosAttrs     = 17
	legacyPosTimestamp = 18
	// legacyLogOverhead is offset and size: what precedes the sized bytes.
	legacyLogOverhead = 12
	// legacyOverheadV0 and V1 are the smallest size fields: crc, magic,
	// attributes, [timestamp,] key and value lengths.
	legacyOverheadV0 = 14
	legacyOverheadV1 = 22
	// legacyAttrLogAppendTime is attribute bit 3, magic 1 only.
	legacyAttrLogAppendTime = 0x08
)

var (
	// ErrLegacyInvalid means a v0/v1 message set breaks a rule of the
	// format that Kafka answers with INVALID_RECORD: mixed magics, a
	// compressed message inside a compressed one, an empty or null wrapper.
	ErrLegacyInvalid = errors.New("batch: invalid message")
	// ErrLegacyTimestamp means a producer set the LogAppendTime bit of a
	// magic 1 message (Kafka: INVALID_TIMESTAMP).
	ErrLegacyTimestamp = errors.New("batch: invalid message timestamp type")
	// ErrLegacyZstd means a zstd batch was to be written as a v0/v1 message
	// set, which cannot carry zstd (Kafka: UNSUPPORTED_COMPRESSION_TYPE).
	ErrLegacyZstd = errors.New("batch: zstd cannot be down-converted to a v0/v1 message set")
)

// LegacyMessage is one message of a v0/v1 message set, with the messages
// of compressed wrappers expanded.
type LegacyMessage struct {
	// Offset is absolute: for the inner messages of a magic 1 wrapper it is
	// computed from the wrapper's offset, as a consumer does.
	Offset int64
	Magic  int8
	// Codec is the codec of the wrapper the message came in (None when it
	// was not compressed).
	Codec Codec
	// Timestamp is -1 in magic 0. LogAppendTime is bit 3 of the
	// attributes (of the wrapper for inner messages), magic 1 only.
	Timestamp     int64
	LogAppendTime bool
	Key           []byte // nil = null
	Value         []byte // nil = null
}

// legacyRules are the checks a walk applies beyond the format itself.
type legacyRules struct {
	// produce applies Kafka's rules for a producer's message set: one magic
	// throughout, a compressed wrapper only alone, no LogAppendTime bit, no
	// trailing partial message.
	produce bool
}

// ReadLegacy decodes a v0/v1 message set as a consumer reads a fetch
// response: every message in order, compressed wrappers expanded, and a
// trailing partial message (a fetch cut at its byte limit) ignored. Keys
// and values alias set for uncompressed messages. Bad bytes give an error
// wrapping ErrCorrupt or ErrLegacyInvalid, never a panic.
func ReadLegacy(set []byte) ([]LegacyMessage, error) {
	var out []LegacyMessage
	_, err := walkLegacy(set, legacyRules{}, func(m *LegacyMessage) { out = append(out, *m) })
	return out, err
}

// walkLegacy calls fn with each message of set, expanding wrappers, and
// returns how many bytes of set it consumed. fn's message is only valid
// during the call.
func walkLegacy(set []byte, rules legacyRules, fn func(*LegacyMessage)) (int, error) {
	pos, count := 0, 0
	firstMagic, compressed := int8(-1), false
	var m LegacyMessage // one for the walk: fn's pointer makes it escape
	for len(set)-pos >= legacyLogOverhead {
		size := int32(binary.BigEndian.Uint32(set[pos+legacyPosSize:]))
		if size < legacyOverheadV0 {
			return pos, fmt.Errorf("%w: message at byte %d has size %d, less than the minimum %d", ErrCorrupt, pos, size, legacyOverheadV0)
		}
		if int64(size) > int64(len(set)-pos-legacyLogOverhead) {
			if rules.produce {
				return pos, fmt.Errorf("%w: message at byte %d of %d bytes is truncated to %d", ErrCorrupt, pos, size, len(set)-pos-legacyLogOverhead)
			}
			return pos, nil
		}
		end := pos + legacyLogOverhead + int(size)
		var err error
		if m, err = parseLegacy(set[pos:end:end]); err != nil {
			return pos, fmt.Errorf("message at byte %d: %w", pos, err)
		}
		if rules.produce {
			if firstMagic >= 0 && m.Magic != firstMagic {
				return pos, fmt.Errorf("%w: message magic %d is not the same as the first message's magic %d", ErrLegacyInvalid, m.Magic, firstMagic)
			}
			firstMagic = m.Magic
			compressed = compressed || m.Codec != None
			if count++; compressed && count > 1 {
				return pos, fmt.Errorf("%w: a compressed message must be the only message of its message set", ErrLegacyInvalid)
			}
			if m.LogAppendTime {
				return pos, fmt.Errorf("%w: producers must not set the timestamp type to LogAppendTime", ErrLegacyTimestamp)
			}
		}
		if m.Codec == None {
			fn(&m)
		} else if err := expandWrapper(&m, fn); err != nil {
			return pos, fmt.Errorf("message at byte %d: %w", pos, err)
		}
		pos = end
	}
	if rules.produce && pos != len(set) {
		return pos, fmt.Errorf("%w: %d trailing bytes after the last message", ErrCorrupt, len(set)-pos)
	}
	return pos, nil
}

// parseLegacy decodes one whole message b (offset field included) and
// checks its CRC. Codec is the message's own.
func parseLegacy(b []byte) (LegacyMessage, error) {
	m := LegacyMessage{
		Offset:    int64(binary.BigEndian.Uint64(b)),
		Magic:     int8(b[legacyPosMagic]),
		Codec:     Codec(b[legacyPosAttrs] & AttrCodecMask),
		Timestamp: -1,
	}
	pos := legacyPosTimestamp
	switch m.Magic {
	case 0:
	case 1:
		if len(b) < legacyLogOverhead+legacyOverheadV1 {
			return m, fmt.Errorf("%w: magic 1 message of %d bytes, less than the minimum %d", ErrCorrupt, len(b)-legacyLogOverhead, legacyOverheadV1)
		}
		m.Timestamp = int64(binary.BigEndian.Uint64(b[pos:]))
		m.LogAppendTime = b[legacyPosAttrs]&legacyAttrLogAppendTime != 0
		pos += 8
	default:
		return m, fmt.Errorf("%w: magic %d in a v0/v1 message set", ErrLegacyInvalid, m.Magic)
	}
	stored, computed := binary.BigEndian.Uint32(b[legacyPosCRC:]), crc32.ChecksumIEEE(b[legacyPosMagic:])
	if stored != computed {
		return m, fmt.Errorf("%w: message is corrupt (stored crc = %d, computed crc = %d)", ErrCorrupt, stored, computed)
	}
	var err error
	if m.Key, pos, err = legacyBytes(b, pos, "key"); err != nil {
		return m, err
	}
	if m.Value, pos, err = legacyBytes(b, pos, "value"); err != nil {
		return m, err
	}
	if pos != len(b) {
		return m, fmt.Errorf("%w: %d bytes after the message's value", ErrCorrupt, len(b)-pos)
	}
	return m, nil
}

// legacyBytes reads an int32 length (-1 = null) and that many bytes at pos.
func legacyBytes(b []byte, pos int, what string) ([]byte, int, error) {
	if len(b)-pos < 4 {
		return nil, pos, fmt.Errorf("%w: message ends before its %s length", ErrCorrupt, what)
	}
	n := int32(binary.BigEndian.Uint32(b[pos:]))
	pos += 4
	if n == -1 {
		return nil, pos, nil
	}
	if n < 0 || int64(n) > int64(len(b)-pos) {
		return nil, pos, fmt.Errorf("%w: %s length %d with %d bytes left", ErrCorrupt, what, n, len(b)-pos)
	}
	return b[pos : pos+int(n) : pos+int(n)], pos + int(n), nil
}

// expandWrapper decompresses a compressed message w and calls fn with each
// inner message, as Kafka's DeepRecordsIterator: inner magics match the
// wrapper's, inner messages are not compressed, magic 1 inner offsets are
// relative to the wrapper's (its offset is the last inner message's), and a
// magic 1 wrapper marked LogAppendTime gives its timestamp to every inner
// message.
func expandWrapper(w *LegacyMessage, fn func(*LegacyMessage)) error {
	if w.Codec == Zstd || !w.Codec.valid() {
		return fmt.Errorf("%w: compression type %d in a magic %d message", ErrLegacyInvalid, int8(w.Codec), w.Magic)
	}
	if w.Value == nil {
		return fmt.Errorf("%w: compressed message set with a null value (magic %d)", ErrLegacyInvalid, w.Magic)
	}
	data, err := legacyDecompress(w.Codec, w.Magic, w.Value)
	if err != nil {
		return err
	}
	// First pass over the sizes only: the last inner offset, to make the
	// relative offsets of magic 1 absolute.
	n, lastInner := 0, int64(0)
	for pos := 0; pos < len(data); n++ {
		if len(data)-pos < legacyLogOverhead {
			return fmt.Errorf("%w: %d bytes after the last inner message", ErrCorrupt, len(data)-pos)
		}
		size := int32(binary.BigEndian.Uint32(data[pos+legacyPosSize:]))
		if size < legacyOverheadV0 || int64(size) > int64(len(data)-pos-legacyLogOverhead) {
			return fmt.Errorf("%w: inner message at byte %d has size %d with %d bytes left", ErrCorrupt, pos, size, len(data)-pos-legacyLogOverhead)
		}
		lastInner = int64(binary.BigEndian.Uint64(data[pos:]))
		pos += legacyLogOverhead + int(size)
	}
	if n == 0 {
		return fmt.Errorf("%w: compressed message set with no inner messages", ErrLegacyInvalid)
	}
	base := int64(0)
	if w.Magic == 1 && w.Offset != 0 {
		// A wrapper offset of 0 comes from some librdkafka producers; Kafka
		// takes the inner offsets as they are then.
		if w.Offset < lastInner {
			return fmt.Errorf("%w: wrapper offset %d is less than the last inner offset %d", ErrLegacyInvalid, w.Offset, lastInner)
		}
		base = w.Offset - lastInner
	}
	var m LegacyMessage
	for pos := 0; pos < len(data); {
		size := int(int32(binary.BigEndian.Uint32(data[pos+legacyPosSize:])))
		end := pos + legacyLogOverhead + size
		if m, err = parseLegacy(data[pos:end:end]); err != nil {
			return fmt.Errorf("inner message at byte %d: %w", pos, err)
		}
		if m.Magic != w.Magic {
			return fmt.Errorf("%w: inner message magic %d does not match wrapper magic %d", ErrLegacyInvalid, m.Magic, w.Magic)
		}
		if m.Codec != None {
			return fmt.Errorf("%w: inner messages must not be compressed", ErrLegacyInvalid)
		}
		if w.Magic == 1 {
			m.Offset += base
			if w.LogAppendTime {
				m.Timestamp, m.LogAppendTime = w.Timestamp, true
			}
		}
		m.Codec = w.Codec
		fn(&m)
		pos = end
	}
	return nil
}

// appendLegacy appends one message with a correct CRC. Magic 0 has no
// timestamp; attrs carries the codec (for a wrapper) and, in magic 1, the
// LogAppendTime bit.
func appendLegacy(dst []byte, offset int64, magic int8, attrs byte, ts int64, key, value []byte) []byte {
	size := legacyOverheadV0 + len(key) + len(value)
	if magic == 1 {
		size = legacyOverheadV1 + len(key) + len(value)
	}
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(offset))
	dst = be.AppendUint32(dst, uint32(size))
	crcPos := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(magic), attrs)
	if magic == 1 {
		dst = be.AppendUint64(dst, uint64(ts))
	}
	dst = appendLegacyBytes(dst, key)
	dst = appendLegacyBytes(dst, value)
	be.PutUint32(dst[crcPos:], crc32.ChecksumIEEE(dst[crcPos+4:]))
	return dst
}

func appendLegacyBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// BuildLegacy encodes msgs as a v0/v1 message set of the given magic, for
// tests: with codec None, one message each at its Offset; otherwise one
// wrapper holding them all (inner offsets relative in magic 1, as Kafka's
// producer writes them), at the last message's Offset.
func BuildLegacy(magic int8, codec Codec, msgs []LegacyMessage) []byte {
	var out []byte
	if codec == None {
		for _, m := range msgs {
			out = appendLegacy(out, m.Offset, magic, 0, m.Timestamp, m.Key, m.Value)
		}
		return out
	}
	var inner []byte
	maxTS := int64(-1)
	for _, m := range msgs {
		off := m.Offset
		if magic == 1 {
			off -= msgs[0].Offset
		}
		inner = appendLegacy(inner, off, magic, 0, m.Timestamp, m.Key, m.Value)
		maxTS = max(maxTS, m.Timestamp)
	}
	last := int64(0)
	if len(msgs) > 0 {
		last = msgs[len(msgs)-1].Offset
	}
	return appendLegacy(out, last, magic, byte(codec), maxTS, nil, legacyCompress(codec, magic, inner))
}
