package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// fillBench appends about size bytes of batches of 10 records over keys
// keys with 100-byte values to a compacted log on disk.
func fillBench(tb testing.TB, l *Log, codec batch.Codec, size int64, keys int) {
	// Values half random, half zeros: compressible about 2:1, as text is.
	value := make([]byte, 100)
	rng := rand.New(rand.NewPCG(1, 1))
	var i int
	for l.Size() < size {
		recs := make([]batch.Record, 10)
		for j := range recs {
			for k := 0; k < 50; k++ {
				value[k] = byte(rng.Uint32())
			}
			recs[j] = batch.Record{Key: fmt.Appendf(nil, "key-%06d", (i*7919)%keys), Value: slices.Clone(value), Timestamp: int64(i)}
			i++
		}
		if _, err := l.Append(batch.Build(batch.BuildOptions{Codec: codec, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)); err != nil {
			tb.Fatal(err)
		}
	}
	l.mu.Lock()
	err := l.rollLocked()
	l.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
}

func benchCompactedLog(tb testing.TB, m *Manager, name string) *Log {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 20
	cfg.Compact, cfg.Delete = true, false
	l, err := m.OpenLog(name, 0, [16]byte{1}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// BenchmarkClean measures one cleaning pass over a 64 MiB log of 10-record
// batches over 10k keys (about 1 in 50 records survives); bytes/s are of
// log cleaned.
func BenchmarkClean(b *testing.B) {
	for _, codec := range []batch.Codec{batch.None, batch.Zstd} {
		b.Run(codec.String(), func(b *testing.B) {
			b.ReportAllocs()
			var size int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				m, err := NewManager(b.TempDir(), Options{}, 0)
				if err != nil {
					b.Fatal(err)
				}
				l := benchCompactedLog(b, m, "bench")
				fillBench(b, l, codec, 64<<20, 10_000)
				size = l.Size()
				p, ok, err := l.planClean(time.Now().UnixMilli())
				if !ok || err != nil {
					b.Fatal(ok, err)
				}
				b.StartTimer()
				if _, err := m.cleanLog(l, time.Now(), p); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				after := l.Size()
				m.Close()
				b.ReportMetric(float64(after)/float64(size), "size-after/before")
				b.StartTimer()
			}
			b.SetBytes(size)
		})
	}
}

// TestMeasureAppendLatencyWhileCleaning compares the latency of appends
// (each one flushed, as acks=all with flush.messages=1 would) on one log
// while another log of the same Manager is or is not being cleaned. Run it
// with SAMSA_MEASURE=1 -v.
func TestMeasureAppendLatencyWhileCleaning(t *testing.T) {
	if testing.Short() || os.Getenv("SAMSA_MEASURE") == "" {
		t.Skip("set SAMSA_MEASURE=1 to measure")
	}
	m, err := NewManager(t.TempDir(), Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	big := benchCompactedLog(t, m, "big")
	fillBench(t, big, batch.Zstd, 256<<20, 10_000)
	hot, err := m.OpenLog("hot", 0, [16]byte{2}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	one := keyedBatch(batch.Zstd, 0, "k", string(make([]byte, 100)))
	run := func(stop func() bool) []time.Duration {
		var lat []time.Duration
		for !stop() {
			start := time.Now()
			if _, err := hot.Append(one); err != nil {
				t.Fatal(err)
			}
			if err := hot.Flush(); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		return lat
	}
	report := func(name string, lat []time.Duration, took time.Duration) {
		slices.Sort(lat)
		q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))] }
		t.Logf("%-16s %6d appends in %v: p50 %v p90 %v p99 %v max %v", name, len(lat), took.Round(time.Millisecond), q(.5), q(.9), q(.99), lat[len(lat)-1])
	}
	n := 0
	start := time.Now()
	report("idle", run(func() bool { n++; return n > 3000 }), time.Since(start))

	p, _, err := big.planClean(time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	finished := make(chan struct{})
	wg.Go(func() {
		defer close(finished)
		if _, err := m.cleanLog(big, time.Now(), p); err != nil {
			t.Error(err)
		}
	})
	start = time.Now()
	lat := run(func() bool {
		select {
		case <-finished:
			return true
		default:
			return false
		}
	})
	took := time.Since(start)
	wg.Wait()
	report("while cleaning", lat, took)
	st := m.CleanerStats()
	t.Logf("pass: %d MiB cleaned in %v (%.0f MiB/s), %d KiB written", st.BytesCleaned>>20, st.LastPass.Round(time.Millisecond),
		float64(st.BytesCleaned)/(1<<20)/st.LastPass.Seconds(), st.BytesWritten>>10)
}
