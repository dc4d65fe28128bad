package quota

import (
	"hash/maphash"
	"sync"
	"time"
)

// shardCount spreads sensors over independently locked maps so that
// requests of different clients seldom wait for each other.
const shardCount = 64

// sensorKey is Kafka's metric tags: the sensor a client is metered by.
type sensorKey struct {
	user     string
	clientID string
}

// sensors is a sharded map of sensors with their last record time, shared
// by the rate meters and the controller mutation meter. Each shard's mutex
// guards its map and every sensor in it; a sensor is only touched under its
// shard's lock, so an expiry cannot race a record.
type sensors[S any] struct {
	seed   maphash.Seed
	shards [shardCount]sensorShard[S]
}

type sensorShard[S any] struct {
	mu      sync.Mutex
	entries map[sensorKey]*sensorEntry[S]
	_       [40]byte // keeps neighbouring shards' locks off one cache line
}

type sensorEntry[S any] struct {
	sensor       S
	lastRecordMs int64
}

func (s *sensors[S]) init() {
	s.seed = maphash.MakeSeed()
	for i := range s.shards {
		s.shards[i].entries = make(map[sensorKey]*sensorEntry[S])
	}
}

func (s *sensors[S]) shard(key sensorKey) *sensorShard[S] {
	hash := maphash.String(s.seed, key.user)*31 ^ maphash.String(s.seed, key.clientID)
	return &s.shards[hash%shardCount]
}

// acquire returns key's sensor, created (zero) if it did not exist, with
// its shard locked: the caller unlocks shard.mu when done. It marks the
// sensor used at nowMs (Kafka's Sensor.lastRecordTime, set by every
// record, throttled or not).
func (s *sensors[S]) acquire(key sensorKey, nowMs int64) (shard *sensorShard[S], entry *sensorEntry[S], created bool) {
	shard = s.shard(key)
	shard.mu.Lock()
	entry = shard.entries[key]
	if entry == nil {
		entry = &sensorEntry[S]{}
		shard.entries[key] = entry
		created = true
	}
	entry.lastRecordMs = nowMs
	return shard, entry, created
}

// expire drops the sensors not recorded to for longer than expiry, as
// Kafka's Metrics.ExpireSensorTask (Sensor.hasExpired: strictly longer).
func (s *sensors[S]) expire(nowMs int64, expiry time.Duration) int {
	expiryMs := expiry.Milliseconds()
	removed := 0
	for i := range s.shards {
		shard := &s.shards[i]
		shard.mu.Lock()
		for key, entry := range shard.entries {
			if nowMs-entry.lastRecordMs > expiryMs {
				delete(shard.entries, key)
				removed++
			}
		}
		shard.mu.Unlock()
	}
	return removed
}

func (s *sensors[S]) count() int {
	total := 0
	for i := range s.shards {
		shard := &s.shards[i]
		shard.mu.Lock()
		total += len(shard.entries)
		shard.mu.Unlock()
	}
	return total
}

// Meter meters one rate quota (producer_byte_rate, consumer_byte_rate or
// request_percentage) for every client, as Kafka's ClientQuotaManager and
// ClientRequestQuotaManager. It is safe for concurrent use.
type Meter struct {
	key      Key
	store    *Store
	config   Config
	windowMs int64
	// maxThrottleMs bounds the throttle time; 0 leaves it unbounded.
	maxThrottleMs int64
	sensors       sensors[windowedRate]
}

// NewProduceMeter meters producer_byte_rate: the caller records the size
// of each produce request.
func NewProduceMeter(store *Store, config Config) *Meter {
	return newMeter(ProducerByteRate, store, config, false)
}

// NewFetchMeter meters consumer_byte_rate: the caller records the size of
// each fetch response to a consumer (never to a follower).
func NewFetchMeter(store *Store, config Config) *Meter {
	return newMeter(ConsumerByteRate, store, config, false)
}

// NewRequestMeter meters request_percentage: the caller records each
// request's handler time as RequestTimePercentage. Its throttle is bounded
// by one quota window, as ClientRequestQuotaManager's maxThrottleTimeMs
// (quota.window.size.seconds, not the whole window span).
func NewRequestMeter(store *Store, config Config) *Meter {
	return newMeter(RequestPercentage, store, config, true)
}

func newMeter(key Key, store *Store, config Config, boundedByWindow bool) *Meter {
	config = config.withDefaults()
	meter := &Meter{key: key, store: store, config: config, windowMs: config.WindowSize.Milliseconds()}
	if boundedByWindow {
		meter.maxThrottleMs = meter.windowMs
	}
	meter.sensors.init()
	return meter
}

// Key is the quota this meter enforces.
func (m *Meter) Key() Key { return m.key }

// RequestTimePercentage converts a request's thread time to what
// request_percentage meters: the percentage of one thread for a second
// (ClientRequestQuotaManager.nanosToPercentage).
func RequestTimePercentage(threadTime time.Duration) float64 {
	return float64(threadTime.Nanoseconds()) * (100.0 / float64(time.Second))
}

// Record adds value to the client's usage at now and returns how long the
// client must be throttled (0 when within its quota): Kafka's
// recordAndGetThrottleTimeMs. The value is recorded even when the quota is
// exceeded, as Kafka does. When no entity carries this meter's key nothing
// is recorded and the answer is 0.
func (m *Meter) Record(client Client, value float64, now time.Time) time.Duration {
	resolution := m.store.Resolve(m.key, client)
	if !resolution.Enabled {
		return 0
	}
	bound := boundOf(resolution)
	nowMs := now.UnixMilli()
	var throttleMs int64
	key := sensorKey{user: resolution.MetricUser, clientID: resolution.MetricClientID}
	shard, entry, _ := m.sensors.acquire(key, nowMs)
	rate, windowNum := &entry.sensor, m.config.WindowNum
	rate.record(windowNum, m.windowMs, value, nowMs)
	// Quota.acceptable: a rate equal to the quota is within it.
	if observed := rate.measure(windowNum, m.windowMs, nowMs); observed > bound {
		throttleMs = rate.throttleMs(windowNum, m.windowMs, observed, bound, nowMs)
	}
	shard.mu.Unlock()
	if m.maxThrottleMs > 0 {
		throttleMs = min(throttleMs, m.maxThrottleMs)
	}
	return time.Duration(throttleMs) * time.Millisecond
}

// RecordNoThrottle adds value without checking the quota: the next Record
// sees it. Kafka records a request's network thread time this way once the
// response is sent.
func (m *Meter) RecordNoThrottle(client Client, value float64, now time.Time) {
	resolution := m.store.Resolve(m.key, client)
	if !resolution.Enabled {
		return
	}
	nowMs := now.UnixMilli()
	key := sensorKey{user: resolution.MetricUser, clientID: resolution.MetricClientID}
	shard, entry, _ := m.sensors.acquire(key, nowMs)
	entry.sensor.record(m.config.WindowNum, m.windowMs, value, nowMs)
	shard.mu.Unlock()
}

// Unrecord takes back a value already recorded, by recording its negative
// (Kafka's unrecordQuotaSensor): a throttled fetch answers with no records,
// so the bytes it would have sent must not count.
func (m *Meter) Unrecord(client Client, value float64, now time.Time) {
	m.RecordNoThrottle(client, -value, now)
}

// MaxValueInWindow is the most a client can take at once without being
// throttled even after an idle spell: quota * (WindowNum-1) * window
// seconds (Kafka's maxValueInQuotaWindow). Kafka caps a consumer's fetch
// max_bytes with it, so that one response cannot earn a throttle on its
// own. It is +Inf when no quota applies.
func (m *Meter) MaxValueInWindow(client Client) float64 {
	resolution := m.store.Resolve(m.key, client)
	if !resolution.Enabled || !resolution.Limited() {
		return resolution.Limit
	}
	return resolution.Limit * float64(m.config.WindowNum-1) * m.config.WindowSize.Seconds()
}

// Expire drops the sensors of clients that have not been recorded for
// longer than Config.SensorExpiry and returns how many it dropped. The
// owner calls it periodically (Kafka checks every 30 s); the package starts
// no goroutine. A dropped client starts afresh, with an empty window.
func (m *Meter) Expire(now time.Time) int {
	return m.sensors.expire(now.UnixMilli(), m.config.SensorExpiry)
}

// SensorCount is how many sensors the meter holds.
func (m *Meter) SensorCount() int { return m.sensors.count() }

func boundOf(resolution Resolution) float64 {
	if !resolution.Limited() {
		return unlimited
	}
	return resolution.Limit
}
