package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// windowSize is the buffer a compressed batch's records are decompressed
// through while they are validated. Records up to this size are checked
// without a refill in their middle; larger ones (big values) stream through.
const windowSize = 64 << 10

// errTooLarge ends a walk whose batch decompresses past maxDecompressed.
var errTooLarge = fmt.Errorf("%w: decompresses past %d bytes", ErrCorrupt, maxDecompressed)

// window is a forward-only reader of a batch's records section: either the
// whole section in memory (src nil, buf is the section, nothing is copied),
// or a fixed buffer refilled from a decompressing reader. Its methods return
// false when the bytes end or src fails; err then says which.
type window struct {
	buf   []byte // unread bytes are buf[r:w]
	r, w  int
	off   int64     // position in the section of buf[0]
	src   io.Reader // nil: buf[:w] is the whole section
	err   error     // the first error of src other than io.EOF
	eof   bool
	codec Codec // for messages
}

// pos is the position in the (decompressed) records section of the next byte.
func (s *window) pos() int64 { return s.off + int64(s.r) }

// fill tries to buffer at least n unread bytes (n <= len(buf)), reading from
// src as much as the buffer holds, and reports whether it has them.
func (s *window) fill(n int) bool {
	if s.w-s.r >= n {
		return true
	}
	if s.src == nil || s.eof || s.err != nil {
		return false
	}
	if s.r > 0 {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.off += int64(s.r)
		s.r = 0
	}
	for zeros := 0; s.w < n; {
		k, err := s.src.Read(s.buf[s.w:])
		s.w += k
		switch {
		case s.off+int64(s.w) > maxDecompressed:
			s.err = errTooLarge
		case errors.Is(err, io.EOF):
			s.eof = true
		case err != nil:
			s.err = err
		case k == 0:
			if zeros++; zeros > 100 {
				s.err = io.ErrNoProgress
			}
		}
		if s.err != nil || s.eof {
			break
		}
	}
	return s.w-s.r >= n
}

// byte1 consumes one byte (a record's attributes).
func (s *window) byte1() bool {
	if s.r < s.w || s.fill(1) {
		s.r++
		return true
	}
	return false
}

// varlong consumes a zig-zag varint. One- and two-byte varints (values
// within ±8191: most fields of most records, and the lengths of records and
// values under 8 KiB) take the short path.
func (s *window) varlong() (int64, bool) {
	if b := s.buf[s.r:s.w]; len(b) >= 2 {
		if b[0] < 0x80 {
			s.r++
			return int64(b[0]>>1) ^ -int64(b[0]&1), true
		}
		if b[1] < 0x80 {
			s.r += 2
			u := uint64(b[0]&0x7f) | uint64(b[1])<<7
			return int64(u>>1) ^ -int64(u&1), true
		}
	}
	s.fill(binary.MaxVarintLen64) // fewer at the end of the section
	v, n := binary.Varint(s.buf[s.r:s.w])
	if n <= 0 {
		return 0, false
	}
	s.r += n
	return v, true
}

// varint consumes a zig-zag varint that must fit an int32.
func (s *window) varint() (int32, bool) {
	v, ok := s.varlong()
	if !ok || int64(int32(v)) != v {
		return 0, false
	}
	return int32(v), true
}

// skip consumes n bytes, reading (and dropping) them from src when they are
// not buffered.
func (s *window) skip(n int) bool {
	for {
		if k := s.w - s.r; n <= k {
			s.r += n
			return true
		} else {
			n -= k
			s.r = s.w
		}
		if !s.fill(1) {
			return false
		}
	}
}

// more reports whether any byte is left, reading src to its end (which is
// when gzip, lz4 and zstd verify their checksums).
func (s *window) more() bool { return s.fill(1) }
