package bench

import (
	"math/bits"
	"time"
)

// histogram counts durations in log-linear buckets, like an HDR histogram: 64
// buckets per power of two, so a reported quantile is within about 1.6% of
// the true value, in a fixed 30 KiB whatever the number of records. It is not
// safe for concurrent use: each producer client owns one, recorded from its
// serial promise goroutine, and they are merged afterwards.
type histogram struct {
	counts [histogramBuckets]uint64
	total  uint64
	max    time.Duration // exact, unlike the buckets
}

const (
	subBucketBits    = 6
	subBuckets       = 1 << subBucketBits
	histogramBuckets = subBuckets * (64 - subBucketBits)
)

// bucketOf maps v to its bucket: values below 64 have a bucket each; above,
// a value with magnitude 2^(6+e) keeps its top 7 bits, shifted by e.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - subBucketBits - 1
	return subBuckets*(e+1) + int(v>>e) - subBuckets
}

// bucketMid returns the middle of a bucket's range.
func bucketMid(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	e := i/subBuckets - 1
	low := uint64(i%subBuckets+subBuckets) << e
	return low + (uint64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the duration at or below which a fraction q of the values
// lie; 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return time.Duration(bucketMid(histogramBuckets - 1))
}
