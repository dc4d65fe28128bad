package quota

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The first versions at which Kafka enforces controller_mutation_rate
// strictly (ControllerApis' newQuotaFor(…, strictSinceVersion)): from
// these a request that finds the quota exhausted is refused, topic by
// topic, with THROTTLING_QUOTA_EXCEEDED; older versions are let through and
// only throttled.
const (
	CreateTopicsStrictSince     = 6
	DeleteTopicsStrictSince     = 5
	CreatePartitionsStrictSince = 3
)

// MutationMeter meters controller_mutation_rate with Kafka's token bucket
// (ControllerMutationQuotaManager): each client's credits refill at the
// quota per second up to a burst of quota * WindowNum * WindowSize, and
// each topic created or deleted, or partition added, takes as many credits
// as partitions it touches. Its Config is Kafka's
// controller.quota.window.num and controller.quota.window.size.seconds.
// It is safe for concurrent use.
type MutationMeter struct {
	store    *Store
	config   Config
	windowMs int64
	sensors  sensors[tokenBucket]
}

// NewMutationMeter returns a MutationMeter reading quotas from store.
func NewMutationMeter(store *Store, config Config) *MutationMeter {
	config = config.withDefaults()
	meter := &MutationMeter{store: store, config: config, windowMs: config.WindowSize.Milliseconds()}
	meter.sensors.init()
	return meter
}

// MutationQuota is one request's view of its client's mutation quota
// (Kafka's ControllerMutationQuota), made by ForRequest and used by one
// goroutine.
type MutationQuota struct {
	meter      *MutationMeter // nil: unbounded
	client     Client
	strict     bool
	throttled  int64 // ms, from the last violation
	throttleAt int64 // ms, when that violation was seen
}

// ForRequest returns the quota for one CreateTopics, CreatePartitions or
// DeleteTopics request. strict is the request's version at or above the
// StrictSince constant of its API. When no entity carries
// controller_mutation_rate the quota is unbounded and records nothing, as
// Kafka's UNBOUNDED_CONTROLLER_MUTATION_QUOTA.
func (m *MutationMeter) ForRequest(client Client, strict bool) *MutationQuota {
	if !m.store.Resolve(ControllerMutationRate, client).Enabled {
		return &MutationQuota{client: client, strict: strict}
	}
	return &MutationQuota{meter: m, client: client, strict: strict}
}

// Record takes permits credits (partitions) at now.
//
// Strict (StrictControllerMutationQuota): if the bucket is already below
// zero nothing is taken and the answer is THROTTLING_QUOTA_EXCEEDED, which
// the caller puts on this topic's result; otherwise the credits are taken
// even if that leaves the bucket deep below zero. So one request is never
// split, and the next one waits until the bucket refills.
//
// Permissive (older versions, PermissiveControllerMutationQuota): the
// credits are always taken and Record returns nil; ThrottleTime reports
// what the overdraft costs.
func (q *MutationQuota) Record(permits float64, now time.Time) *Error {
	if q.meter == nil {
		return nil
	}
	m := q.meter
	resolution := m.store.Resolve(ControllerMutationRate, q.client)
	bound := boundOf(resolution)
	nowMs := now.UnixMilli()
	key := sensorKey{user: resolution.MetricUser, clientID: resolution.MetricClientID}
	shard, entry, created := m.sensors.acquire(key, nowMs)
	bucket, windowNum := &entry.sensor, m.config.WindowNum
	if created {
		*bucket = newTokenBucket(windowNum, m.windowMs, bound, nowMs)
	}
	violated := false
	if q.strict {
		if tokens := bucket.measure(windowNum, m.windowMs, bound, nowMs); tokens < 0 {
			violated = true
			q.throttled = bucketThrottleMs(tokens, bound)
		} else {
			bucket.record(windowNum, m.windowMs, bound, permits, nowMs)
		}
	} else {
		bucket.record(windowNum, m.windowMs, bound, permits, nowMs)
		if tokens := bucket.measure(windowNum, m.windowMs, bound, nowMs); tokens < 0 {
			q.throttled = bucketThrottleMs(tokens, bound)
			q.throttleAt = nowMs
		}
	}
	shard.mu.Unlock()
	if violated {
		q.throttleAt = nowMs
		return &Error{Code: kerr.ThrottlingQuotaExceeded, Message: kerr.ThrottlingQuotaExceeded.Description}
	}
	return nil
}

// IsExceeded reports whether a strict Record has been refused.
func (q *MutationQuota) IsExceeded() bool { return q.throttled > 0 }

// ThrottleTime is the throttle_time_ms for the response: the throttle of
// the last violation less the time since it was seen, since a request can
// wait in a purgatory between the two (AbstractControllerMutationQuota).
func (q *MutationQuota) ThrottleTime(now time.Time) time.Duration {
	if q.throttled == 0 {
		return 0
	}
	remaining := max(0, q.throttled-(now.UnixMilli()-q.throttleAt))
	return time.Duration(remaining) * time.Millisecond
}

// Expire drops the buckets of clients idle for longer than
// Config.SensorExpiry; see Meter.Expire.
func (m *MutationMeter) Expire(now time.Time) int {
	return m.sensors.expire(now.UnixMilli(), m.config.SensorExpiry)
}

// SensorCount is how many buckets the meter holds.
func (m *MutationMeter) SensorCount() int { return m.sensors.count() }
