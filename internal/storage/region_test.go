package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestReadRegionMatchesRead checks that the file range ReadRegion returns
// holds exactly the bytes Read returns, at every offset and for several
// limits, across segments and with a high-watermark bound.
func TestReadRegionMatchesRead(t *testing.T) {
	m, err := NewManager(t.TempDir(), Options{FS: vfs.OS()}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 200
	l, err := m.OpenLog("region", 0, [16]byte{1}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := l.Append(makeBatch(1+i%5, int64(1000+i), "r")); err != nil {
			t.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	for _, maxOffset := range []int64{leo, leo - 7} {
		for _, maxBytes := range []int32{0, 100, 500, 1500, 1 << 20} {
			for off := int64(0); off <= leo; off++ {
				want, werr := l.Read(off, maxBytes, maxOffset)
				r, rerr := l.ReadRegion(off, maxBytes, maxOffset)
				if (werr == nil) != (rerr == nil) {
					t.Fatalf("offset %d: Read error %v, ReadRegion error %v", off, werr, rerr)
				}
				got := make([]byte, r.Size)
				if r.Size > 0 {
					if _, err := r.File.ReadAt(got, r.Pos); err != nil {
						t.Fatal(err)
					}
				}
				r.Release()
				if !bytes.Equal(got, want) {
					t.Fatalf("offset %d max %d bound %d: region of %d bytes differs from the %d bytes Read returns", off, maxBytes, maxOffset, len(got), len(want))
				}
			}
		}
	}
	if _, err := l.ReadRegion(leo+1, 100, leo); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("above the log end: %v", err)
	}
}

func TestReadRegionNeedsOSFiles(t *testing.T) {
	e := newEnv(t)
	l := e.open(DefaultConfig())
	if _, err := l.Append(makeBatch(3, 1, "m")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadRegion(0, 100, l.LogEndOffset()); !errors.Is(err, ErrNoRegion) {
		t.Fatalf("in-memory files: %v, want ErrNoRegion", err)
	}
}
