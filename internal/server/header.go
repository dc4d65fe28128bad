package server

import (
	"encoding/binary"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrMalformed reports a request frame whose header cannot be parsed.
var ErrMalformed = errors.New("server: malformed request header")

// Header is a parsed Kafka request header (v1 or v2).
type Header struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string
	// Flexible reports whether the request version uses flexible encoding
	// (tagged fields in the header). It is false for keys this process
	// does not know.
	Flexible bool
}

// ParseHeader parses the request header at the start of frame (the bytes
// after the size prefix) and returns it with the body that follows. The
// client ID is never compact, even in flexible versions, so that a broker
// can always read it.
func ParseHeader(frame []byte) (Header, []byte, error) {
	var h Header
	if len(frame) < 10 {
		return h, nil, ErrMalformed
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	n := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[10:]
	if n > 0 {
		if int(n) > len(rest) {
			return h, nil, ErrMalformed
		}
		h.ClientID = string(rest[:n])
		rest = rest[n:]
	} else if n < -1 {
		return h, nil, ErrMalformed
	}
	if req := kmsg.RequestForKey(h.Key); req != nil && h.Version >= 0 && h.Version <= req.MaxVersion() {
		req.SetVersion(h.Version)
		h.Flexible = req.IsFlexible()
	}
	if h.Flexible {
		var err error
		if rest, err = skipTags(rest); err != nil {
			return h, nil, err
		}
	}
	return h, rest, nil
}

// skipTags skips a tagged-field section: a count, then per field a tag, a
// size and that many bytes, all unsigned varints.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, ErrMalformed
	}
	b = b[n:]
	for range count {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, ErrMalformed
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, ErrMalformed
		}
		b = b[n+int(size):]
	}
	return b, nil
}
