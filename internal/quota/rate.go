package quota

import (
	"math"
	"time"
)

// Config is the quota window, as Kafka's ClientQuotaManagerConfig.
type Config struct {
	// WindowNum is quota.window.num (controller.quota.window.num for the
	// controller mutation quota): how many samples the rate spans. 0 means
	// Kafka's default, 11.
	WindowNum int
	// WindowSize is quota.window.size.seconds (controller.quota.window.
	// size.seconds): the span of one sample. 0 means Kafka's 1 s. Kafka
	// counts in milliseconds, and so does this package.
	WindowSize time.Duration
	// SensorExpiry is how long a client's sensor is kept without a record
	// before Expire drops it. 0 means Kafka's one hour
	// (INACTIVE_SENSOR_EXPIRATION_TIME_SECONDS).
	SensorExpiry time.Duration
}

// Kafka's defaults.
const (
	DefaultWindowNum    = 11
	DefaultWindowSize   = time.Second
	DefaultSensorExpiry = time.Hour
)

func (c Config) withDefaults() Config {
	if c.WindowNum <= 0 {
		c.WindowNum = DefaultWindowNum
	}
	if c.WindowSize < time.Millisecond {
		c.WindowSize = DefaultWindowSize
	}
	if c.SensorExpiry <= 0 {
		c.SensorExpiry = DefaultSensorExpiry
	}
	return c
}

// unlimited is the bound Kafka gives a sensor with no quota
// (Long.MAX_VALUE); a finite stand-in keeps the arithmetic free of NaN.
const unlimited = float64(math.MaxInt64)

// windowedRate is Kafka's Rate over a WindowedSum: a ring of samples, each
// the sum of what was recorded while it was current, divided by the time
// they span. It is Kafka 4's SampledStat (samples have a start and a last
// event; the ring keeps one sample more than the window so one that
// overlaps the window's start is kept).
type windowedRate struct {
	samples []rateSample
	current int
}

type rateSample struct {
	value       float64
	startMs     int64
	lastEventMs int64
}

func (s *rateSample) reset(nowMs int64) {
	*s = rateSample{startMs: nowMs, lastEventMs: nowMs}
}

// record is SampledStat.record: the current sample takes the value unless
// its window has passed, in which case the next slot of the ring is reset
// and takes it.
func (r *windowedRate) record(windowNum int, windowMs int64, value float64, nowMs int64) {
	if len(r.samples) == 0 {
		r.samples = make([]rateSample, 1, windowNum+1)
		r.samples[0].reset(nowMs)
	}
	sample := &r.samples[r.current]
	if nowMs-sample.startMs >= windowMs {
		r.current = (r.current + 1) % (windowNum + 1)
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, rateSample{})
		}
		sample = &r.samples[r.current]
		sample.reset(nowMs)
	}
	sample.value += value
	sample.lastEventMs = nowMs
}

// purge is SampledStat.purgeObsoleteSamples: a sample with no event in the
// last windowNum windows counts for nothing.
func (r *windowedRate) purge(windowNum int, windowMs int64, nowMs int64) {
	expireAge := int64(windowNum) * windowMs
	for i := range r.samples {
		if nowMs-r.samples[i].lastEventMs >= expireAge {
			r.samples[i].reset(nowMs)
		}
	}
}

func (r *windowedRate) sum(windowNum int, windowMs int64, nowMs int64) float64 {
	r.purge(windowNum, windowMs, nowMs)
	total := 0.0
	for i := range r.samples {
		total += r.samples[i].value
	}
	return total
}

// windowSizeMs is Rate.windowSize: the time since the oldest sample began,
// but never less than windowNum-1 whole windows plus the current one's
// elapsed part, as if the client had been idle before its first record.
// That is what lets a new client burst: its first bytes are spread over
// ten seconds, not over the milliseconds it has existed.
func (r *windowedRate) windowSizeMs(windowNum int, windowMs int64, nowMs int64) int64 {
	r.purge(windowNum, windowMs, nowMs)
	if len(r.samples) == 0 {
		r.samples = make([]rateSample, 1, windowNum+1)
		r.samples[0].reset(nowMs)
	}
	oldest := r.samples[0].startMs
	for i := 1; i < len(r.samples); i++ {
		oldest = min(oldest, r.samples[i].startMs)
	}
	elapsed := nowMs - oldest
	fullWindows := elapsed / windowMs
	if minimum := int64(windowNum - 1); fullWindows < minimum {
		elapsed += (minimum - fullWindows) * windowMs
	}
	return elapsed
}

// measure is Rate.measure in units per second.
func (r *windowedRate) measure(windowNum int, windowMs int64, nowMs int64) float64 {
	total := r.sum(windowNum, windowMs, nowMs)
	return total / (float64(r.windowSizeMs(windowNum, windowMs, nowMs)) / 1000)
}

// throttleMs is QuotaUtils.throttleTime: with an observed rate O over a
// window W and a quota T, the delay X that brings O*W/(W+X) down to T is
// (O-T)/T*W.
func (r *windowedRate) throttleMs(windowNum int, windowMs int64, observed, bound float64, nowMs int64) int64 {
	return javaRound((observed - bound) / bound * float64(r.windowSizeMs(windowNum, windowMs, nowMs)))
}

// tokenBucket is Kafka's TokenBucket: credits refill at the quota per
// second up to a burst of windowNum * window * quota, a mutation takes as
// many credits as partitions it touches, and the quota is exhausted while
// the credits are below zero.
type tokenBucket struct {
	tokens       float64
	lastUpdateMs int64
}

func bucketBurst(windowNum int, windowMs int64, bound float64) float64 {
	return float64(windowNum) * (float64(windowMs) / 1000) * bound
}

// newTokenBucket starts full: Kafka's starts empty at the epoch, and the
// first refill at wall-clock time fills it.
func newTokenBucket(windowNum int, windowMs int64, bound float64, nowMs int64) tokenBucket {
	return tokenBucket{tokens: bucketBurst(windowNum, windowMs, bound), lastUpdateMs: nowMs}
}

func (b *tokenBucket) refill(windowNum int, windowMs int64, bound float64, nowMs int64) {
	burst := bucketBurst(windowNum, windowMs, bound)
	b.tokens = min(burst, b.tokens+bound*(float64(nowMs-b.lastUpdateMs)/1000))
	b.lastUpdateMs = nowMs
}

func (b *tokenBucket) measure(windowNum int, windowMs int64, bound float64, nowMs int64) float64 {
	b.refill(windowNum, windowMs, bound, nowMs)
	return b.tokens
}

func (b *tokenBucket) record(windowNum int, windowMs int64, bound float64, value float64, nowMs int64) {
	b.refill(windowNum, windowMs, bound, nowMs)
	b.tokens = min(bucketBurst(windowNum, windowMs, bound), b.tokens-value)
}

// bucketThrottleMs is ControllerMutationQuotaManager.throttleTimeMs: the
// time for the credits to refill from below zero back to zero.
func bucketThrottleMs(tokens, bound float64) int64 {
	return javaRound(-tokens / bound * 1000)
}

// javaRound is Java's Math.round, clamped to what an int32 of milliseconds
// (the protocol's throttle_time_ms) can hold; NaN is 0 as in Java.
func javaRound(value float64) int64 {
	if math.IsNaN(value) {
		return 0
	}
	rounded := math.Floor(value + 0.5)
	if rounded > math.MaxInt32 {
		return math.MaxInt32
	}
	if rounded < 0 {
		return 0
	}
	return int64(rounded)
}
