package bench

import (
	"math"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	last := -1
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		b := bucketOf(v)
		if b <= last || b >= histogramBuckets {
			t.Fatalf("bucketOf(%d) = %d, after %d", v, b, last)
		}
		last = b
		mid := bucketMid(b)
		if diff := math.Abs(float64(mid)-float64(v)) / math.Max(float64(v), 1); diff > 0.016 && v >= 64 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d: off by %.3f", v, mid, diff)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var a, b histogram
	for i := 1; i <= 1000; i++ {
		a.record(time.Duration(i) * time.Microsecond)
	}
	b.record(time.Second)
	a.merge(&b)
	check := func(q float64, want time.Duration) {
		got := a.quantile(q)
		if math.Abs(float64(got-want))/float64(want) > 0.02 {
			t.Errorf("quantile(%v) = %v, want about %v", q, got, want)
		}
	}
	check(0.5, 500*time.Microsecond)
	check(0.99, 990*time.Microsecond)
	check(1, time.Second)
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram: want 0")
	}
}
