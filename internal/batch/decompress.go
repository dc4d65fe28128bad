package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// maxPooledSnappy is the largest raw-snappy output buffer a pooled
// decompressor keeps for the next batch; a bigger one is left to the GC so
// one huge batch does not pin its memory in the pool.
const maxPooledSnappy = 4 << 20

// decompressor streams the records section of one compressed batch into a
// window. Validation takes one from the pool per compressed batch, so the
// codec readers (each holds tens of KiB of tables and history) and the
// window are built once per pooled decompressor, not once per batch.
//
// Streaming, rather than decompressing the batch whole as [Records] does,
// keeps what validation holds at the window and the codec's own state: a
// 1 MiB zstd batch that expands to 60 MiB costs the broker 64 KiB of window,
// not 60 MiB of buffer per concurrent produce. The exception is snappy's raw
// block format (what librdkafka and franz-go send), which has no streaming
// decoder: it decodes into a pooled buffer.
type decompressor struct {
	window [windowSize]byte
	in     bytes.Reader
	gzip   *gzip.Reader
	lz4    *lz4.Reader
	zstd   *zstd.Decoder
	xerial xerialReader
	snappy []byte
}

var decompressors = sync.Pool{New: func() any { return new(decompressor) }}

// open points s at the decompressed records section src of a batch in codec
// c, or returns why it cannot be decompressed.
func (d *decompressor) open(s *window, c Codec, src []byte) error {
	d.in.Reset(src)
	*s = window{buf: d.window[:], codec: c}
	switch c {
	case Gzip:
		if d.gzip == nil {
			d.gzip = new(gzip.Reader)
		}
		if err := d.gzip.Reset(&d.in); err != nil {
			return fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
		}
		s.src = d.gzip
	case LZ4:
		if d.lz4 == nil {
			d.lz4 = lz4.NewReader(nil)
		}
		d.lz4.Reset(&d.in)
		s.src = d.lz4
	case Zstd:
		if d.zstd == nil {
			// Concurrency 1 decodes streams synchronously in the caller:
			// no goroutines, so a decoder the pool drops needs no Close.
			zd, err := zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxMemory(maxDecompressed),
				zstd.WithDecoderMaxWindow(maxDecompressed))
			if err != nil {
				return fmt.Errorf("zstd decoder: %w", err) // only bad options, which are constant
			}
			d.zstd = zd
		}
		if err := d.zstd.Reset(&d.in); err != nil {
			return fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
		s.src = d.zstd
	case Snappy:
		d.in.Reset(nil) // snappy decodes from src itself
		if bytes.HasPrefix(src, xerialMagic) {
			if err := d.xerial.reset(src); err != nil {
				return err
			}
			s.src = &d.xerial
			return nil
		}
		out, err := unsnappy(d.snappy[:0], src)
		if err != nil {
			return err
		}
		d.snappy = out
		*s = window{buf: out, w: len(out), codec: c}
	default:
		return fmt.Errorf("%w: unknown codec %d", ErrCorrupt, int8(c))
	}
	return nil
}

// finish reports whether the compressed input was used up (bytes after the
// end of the compressed stream would break consumers' decompressors), and
// drops the references to the batch before d goes back to the pool.
func (d *decompressor) finish() bool {
	used := d.in.Len() == 0 && d.xerial.done()
	d.in.Reset(nil)
	d.xerial.src = nil
	if cap(d.snappy) > maxPooledSnappy {
		d.snappy = nil
	}
	if cap(d.xerial.block) > maxPooledSnappy {
		d.xerial.block = nil
	}
	return used
}

// xerialReader reads xerial-framed snappy (see doc.go) one block at a time.
type xerialReader struct {
	src   []byte // framed blocks not yet decoded
	block []byte // decoded block
	r     int    // read position in block
}

func (x *xerialReader) reset(src []byte) error {
	const headerLen = 16
	if len(src) < headerLen {
		return fmt.Errorf("%w: snappy: short xerial header", ErrCorrupt)
	}
	x.src, x.block, x.r = src[headerLen:], x.block[:0], 0
	return nil
}

func (x *xerialReader) done() bool { return len(x.src) == 0 }

func (x *xerialReader) Read(p []byte) (int, error) {
	for x.r == len(x.block) {
		if len(x.src) == 0 {
			return 0, io.EOF
		}
		if len(x.src) < 4 {
			return 0, fmt.Errorf("%w: snappy: short xerial chunk length", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(x.src)
		if uint64(n) > uint64(len(x.src)-4) {
			return 0, fmt.Errorf("%w: snappy: xerial chunk of %d bytes with %d left", ErrCorrupt, n, len(x.src)-4)
		}
		out, err := unsnappy(x.block[:0], x.src[4:4+n])
		if err != nil {
			return 0, err
		}
		x.src, x.block, x.r = x.src[4+n:], out, 0
	}
	n := copy(p, x.block[x.r:])
	x.r += n
	return n, nil
}
