package storage

import (
	"math"
	"testing"
)

func benchLog(b *testing.B) *Log {
	m, err := NewManager(b.TempDir(), Options{}, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 20
	l, err := m.OpenLog("bench", 0, [16]byte{1}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkAppend(b *testing.B) {
	l := benchLog(b)
	batch := makeBatch(10, 0, string(make([]byte, 90))) // about 1 KiB
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	l := benchLog(b)
	batch := makeBatch(10, 0, string(make([]byte, 90)))
	for i := 0; i < 20000; i++ {
		if _, err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	b.ReportAllocs()
	b.ResetTimer()
	var n int64
	for i := 0; i < b.N; i++ {
		off := int64(i*7919) % leo
		data, err := l.Read(off, 64<<10, math.MaxInt64)
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(data))
	}
	b.SetBytes(n / int64(b.N))
}

// BenchmarkTruncateTo measures a durable truncation of the active segment's
// last two batches (a follower dropping a diverged tail), after appending
// four: the commit point, the cut and its indexes, the new segment and the
// lowered recovery point are synced, as they must be before it returns.
func BenchmarkTruncateTo(b *testing.B) {
	l := benchLog(b)
	batch := makeBatch(10, 0, string(make([]byte, 90)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var at int64
		for j := 0; j < 4; j++ {
			res, err := l.Append(batch)
			if err != nil {
				b.Fatal(err)
			}
			if j == 2 {
				at = res.FirstOffset
			}
		}
		if err := l.TruncateTo(at); err != nil {
			b.Fatal(err)
		}
	}
}
