package batch

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
	"slices"

	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

// How v0/v1 wrappers are compressed, as Kafka's Java code writes them and
// the old clients read them:
//
//   - gzip: a plain gzip stream.
//   - snappy: xerial framing (the Java client's SnappyOutputStream) with
//     32 KiB blocks. Producers also send one raw block (sarama, librdkafka);
//     [decompress] reads both.
//   - lz4: an LZ4 frame with 64 KiB blocks and no content checksum
//     (KafkaLZ4BlockOutputStream). Magic 0 frames carry the header checksum
//     Kafka 0.8-0.9 computed wrongly, over the frame magic too (KAFKA-3160);
//     magic 1 frames the correct one. Readers of magic 0 frames accept both:
//     kafka-python and librdkafka write the broken one, sarama (through
//     pierrec/lz4) the correct one.

const xerialBlockSize = 32 << 10

// lz4FrameMagic opens every LZ4 frame, little-endian 0x184D2204.
var lz4FrameMagic = []byte{0x04, 0x22, 0x4d, 0x18}

// legacyDecompress returns the inner message set of a wrapper.
func legacyDecompress(c Codec, magic int8, src []byte) ([]byte, error) {
	if c == LZ4 && magic == 0 {
		if hc, pos, ok := lz4HeaderChecksum(src); ok && src[pos] != hc {
			// The broken checksum: hand the reader a header with the right one.
			fixed := append(bytes.Clone(src[:pos]), hc)
			return readLimited(lz4.NewReader(io.MultiReader(bytes.NewReader(fixed), bytes.NewReader(src[pos+1:]))), "lz4")
		}
	}
	return decompress(c, src)
}

// legacyCompress compresses the inner message set of a magic 0/1 wrapper.
// c is gzip, snappy or lz4.
func legacyCompress(c Codec, magic int8, src []byte) []byte {
	switch c {
	case Snappy:
		out := make([]byte, 0, 16+len(src)/2)
		out = append(out, xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1) // version
		out = binary.BigEndian.AppendUint32(out, 1) // minimum compatible version
		for len(src) > 0 {
			n := min(len(src), xerialBlockSize)
			need := snappy.MaxEncodedLen(n)
			out = slices.Grow(out, 4+need)
			enc := snappy.Encode(out[len(out)+4:len(out)+4+need], src[:n])
			out = binary.BigEndian.AppendUint32(out, uint32(len(enc)))
			out = out[:len(out)+len(enc)]
			src = src[n:]
		}
		return out
	case LZ4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		// Options are constants the package accepts: Apply cannot fail.
		_ = w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false))
		w.Write(src) // writes to a bytes.Buffer cannot fail
		w.Close()
		out := buf.Bytes()
		if _, pos, ok := lz4HeaderChecksum(out); ok && magic == 0 {
			out[pos] = byte(xxh32Short(out[:pos]) >> 8)
		}
		return out
	}
	return compress(c, src) // gzip: a plain stream, as for v2

}

// lz4HeaderChecksum finds the header checksum byte of the LZ4 frame src
// and returns the correct value (the second byte of xxh32 of the frame
// descriptor) and its position; ok is false when src is not a frame.
func lz4HeaderChecksum(src []byte) (hc byte, pos int, ok bool) {
	if len(src) < 7 || !bytes.Equal(src[:4], lz4FrameMagic) {
		return 0, 0, false
	}
	pos = 6
	if src[4]&0x08 != 0 { // content size
		pos += 8
	}
	if src[4]&0x01 != 0 { // dictionary ID
		pos += 4
	}
	if len(src) <= pos {
		return 0, 0, false
	}
	return byte(xxh32Short(src[4:pos]) >> 8), pos, true
}

// xxh32Short is XXH32 with seed 0 of fewer than 16 bytes, all an LZ4 frame
// header checksum needs (at most 14 descriptor bytes, or the 6 bytes of
// magic and descriptor hashed the broken way); pierrec/lz4 keeps its xxh32
// internal. Longer input returns 0.
func xxh32Short(b []byte) uint32 {
	const (
		prime1 = 2654435761
		prime2 = 2246822519
		prime3 = 3266489917
		prime4 = 668265263
		prime5 = 374761393
	)
	if len(b) >= 16 {
		return 0
	}
	h := uint32(prime5) + uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b) * prime3
		h = bits.RotateLeft32(h, 17) * prime4
	}
	for _, c := range b {
		h += uint32(c) * prime5
		h = bits.RotateLeft32(h, 11) * prime1
	}
	h ^= h >> 15
	h *= prime2
	h ^= h >> 13
	h *= prime3
	h ^= h >> 16
	return h
}
