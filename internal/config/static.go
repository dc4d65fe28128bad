package config

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Static is the broker configuration the broker reads once at start-up,
// typed: every field is set (from the --config file and --set flags, else
// Kafka's default) and checked by NewBroker, so a subsystem never looks a
// config up by name and never sees a zero interval or an overflowed
// duration. Configs that may change at runtime are resolved per use with
// the dynamic overrides (Dynamic, ResolveTopic, ConnectionLimits).
type Static struct {
	NodeID                int32 // node.id
	SocketRequestMaxBytes int32 // socket.request.max.bytes
	DeleteTopicEnable     bool  // delete.topic.enable

	RetentionCheckInterval time.Duration // log.retention.check.interval.ms
	RecoveryThreads        int           // num.recovery.threads.per.data.dir
	Cleaner                Cleaner

	// ProducerIDExpirationCheckInterval is
	// producer.id.expiration.check.interval.ms.
	ProducerIDExpirationCheckInterval time.Duration

	// ReplicaLagTimeMax is replica.lag.time.max.ms and
	// HighWatermarkCheckpointInterval
	// replica.high.watermark.checkpoint.interval.ms.
	ReplicaLagTimeMax               time.Duration
	HighWatermarkCheckpointInterval time.Duration
	ReplicaFetch                    ReplicaFetch

	Offsets       Offsets
	Txn           Txn
	Group         Group
	Cluster       Cluster  // cluster.go
	Security      Security // security.go
	LeaderBalance LeaderBalance
}

// LeaderBalance is the active controller's automatic preferred leader
// election.
type LeaderBalance struct {
	Enable              bool          // auto.leader.rebalance.enable
	CheckInterval       time.Duration // leader.imbalance.check.interval.seconds
	PerBrokerPercentage int           // leader.imbalance.per.broker.percentage
}

// ReplicaFetch is the replica.fetch.* configs of the follower's fetcher.
type ReplicaFetch struct {
	MaxBytes         int32         // replica.fetch.max.bytes
	ResponseMaxBytes int32         // replica.fetch.response.max.bytes
	MinBytes         int32         // replica.fetch.min.bytes
	WaitMax          time.Duration // replica.fetch.wait.max.ms
	Backoff          time.Duration // replica.fetch.backoff.ms
}

// Cleaner is the log.cleaner.* configs.
type Cleaner struct {
	Enable              bool          // log.cleaner.enable
	Threads             int           // log.cleaner.threads
	IOMaxBytesPerSecond float64       // log.cleaner.io.max.bytes.per.second
	Backoff             time.Duration // log.cleaner.backoff.ms
	DedupeBufferSize    int64         // log.cleaner.dedupe.buffer.size
}

// Offsets is the configs of __consumer_offsets and the offsets kept in it.
type Offsets struct {
	TopicNumPartitions     int32         // offsets.topic.num.partitions
	TopicReplicationFactor int16         // offsets.topic.replication.factor
	TopicSegmentBytes      int32         // offsets.topic.segment.bytes
	Retention              time.Duration // offsets.retention.minutes
	RetentionCheckInterval time.Duration // offsets.retention.check.interval.ms
	MetadataMaxBytes       int           // offset.metadata.max.bytes
}

// Txn is the configs of the transaction coordinator and __transaction_state.
type Txn struct {
	TopicNumPartitions     int32         // transaction.state.log.num.partitions
	TopicReplicationFactor int16         // transaction.state.log.replication.factor
	TopicMinISR            int32         // transaction.state.log.min.isr
	TopicSegmentBytes      int32         // transaction.state.log.segment.bytes
	MaxTimeout             time.Duration // transaction.max.timeout.ms
	IDExpiration           time.Duration // transactional.id.expiration.ms
	AbortInterval          time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms
	ExpiryInterval         time.Duration // transaction.remove.expired.transaction.cleanup.interval.ms
	AddRetryBackoff        time.Duration // add.partitions.to.txn.retry.backoff.ms
	AddRetryBackoffMax     time.Duration // add.partitions.to.txn.retry.backoff.max.ms
}

// Group is the group.* configs of the group coordinator.
type Group struct {
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	MaxSize               int           // group.max.size

	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms
	ConsumerMaxSize           int           // group.consumer.max.size
}

// Static returns the typed static configuration.
func (b *Broker) Static() Static { return b.typed }

// Dynamic is the broker configs that may be changed cluster-wide at runtime
// and that the broker reads per request, resolved with the overrides in
// force.
type Dynamic struct {
	NumPartitions            int32         // num.partitions
	DefaultReplicationFactor int16         // default.replication.factor
	AutoCreateTopicsEnable   bool          // auto.create.topics.enable
	ProducerIDExpiration     time.Duration // producer.id.expiration.ms
}

// Dynamic resolves the dynamic configs with the cluster-wide overrides
// dynamic (validated when they were set).
func (b *Broker) Dynamic(dynamic map[string]string) Dynamic {
	r := resolver{b: b, dynamic: dynamic}
	return Dynamic{
		NumPartitions:            r.int32("num.partitions"),
		DefaultReplicationFactor: int16(r.int32("default.replication.factor")),
		AutoCreateTopicsEnable:   r.bool("auto.create.topics.enable"),
		ProducerIDExpiration:     r.ms("producer.id.expiration.ms"),
	}
}

// resolveStatic builds Static, reporting the first value that cannot be
// used, naming its config.
func (b *Broker) resolveStatic() (Static, error) {
	r := resolver{b: b}
	s := Static{
		NodeID:                 r.int32("node.id"),
		SocketRequestMaxBytes:  r.int32("socket.request.max.bytes"),
		DeleteTopicEnable:      r.bool("delete.topic.enable"),
		RetentionCheckInterval: r.ms("log.retention.check.interval.ms"),
		RecoveryThreads:        int(r.int32("num.recovery.threads.per.data.dir")),
		Cleaner: Cleaner{
			Enable:              r.bool("log.cleaner.enable"),
			Threads:             int(r.int32("log.cleaner.threads")),
			IOMaxBytesPerSecond: r.float("log.cleaner.io.max.bytes.per.second"),
			Backoff:             r.ms("log.cleaner.backoff.ms"),
			DedupeBufferSize:    r.int64("log.cleaner.dedupe.buffer.size"),
		},
		ProducerIDExpirationCheckInterval: r.ms("producer.id.expiration.check.interval.ms"),
		ReplicaLagTimeMax:                 r.ms("replica.lag.time.max.ms"),
		HighWatermarkCheckpointInterval:   r.ms("replica.high.watermark.checkpoint.interval.ms"),
		ReplicaFetch: ReplicaFetch{
			MaxBytes:         r.int32("replica.fetch.max.bytes"),
			ResponseMaxBytes: r.int32("replica.fetch.response.max.bytes"),
			MinBytes:         r.int32("replica.fetch.min.bytes"),
			WaitMax:          r.ms("replica.fetch.wait.max.ms"),
			Backoff:          r.ms("replica.fetch.backoff.ms"),
		},
		LeaderBalance: LeaderBalance{
			Enable:              r.bool("auto.leader.rebalance.enable"),
			CheckInterval:       r.duration("leader.imbalance.check.interval.seconds", time.Second),
			PerBrokerPercentage: int(r.int32("leader.imbalance.per.broker.percentage")),
		},
		Offsets: Offsets{
			TopicNumPartitions:     r.int32("offsets.topic.num.partitions"),
			TopicReplicationFactor: int16(r.int32("offsets.topic.replication.factor")),
			TopicSegmentBytes:      r.int32("offsets.topic.segment.bytes"),
			Retention:              r.duration("offsets.retention.minutes", time.Minute),
			RetentionCheckInterval: r.ms("offsets.retention.check.interval.ms"),
			MetadataMaxBytes:       int(r.int32("offset.metadata.max.bytes")),
		},
		Txn: Txn{
			TopicNumPartitions:     r.int32("transaction.state.log.num.partitions"),
			TopicReplicationFactor: int16(r.int32("transaction.state.log.replication.factor")),
			TopicMinISR:            r.int32("transaction.state.log.min.isr"),
			TopicSegmentBytes:      r.int32("transaction.state.log.segment.bytes"),
			MaxTimeout:             r.ms("transaction.max.timeout.ms"),
			IDExpiration:           r.ms("transactional.id.expiration.ms"),
			AbortInterval:          r.ms("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
			ExpiryInterval:         r.ms("transaction.remove.expired.transaction.cleanup.interval.ms"),
			AddRetryBackoff:        r.ms("add.partitions.to.txn.retry.backoff.ms"),
			AddRetryBackoffMax:     r.ms("add.partitions.to.txn.retry.backoff.max.ms"),
		},
		Group: Group{
			MinSessionTimeout:         r.ms("group.min.session.timeout.ms"),
			MaxSessionTimeout:         r.ms("group.max.session.timeout.ms"),
			InitialRebalanceDelay:     r.ms("group.initial.rebalance.delay.ms"),
			MaxSize:                   int(r.int32("group.max.size")),
			ConsumerSessionTimeout:    r.ms("group.consumer.session.timeout.ms"),
			ConsumerHeartbeatInterval: r.ms("group.consumer.heartbeat.interval.ms"),
			ConsumerMaxSize:           int(r.int32("group.consumer.max.size")),
		},
	}
	if r.err != nil {
		return Static{}, r.err
	}
	cluster, err := r.resolveCluster(s.NodeID)
	if err != nil {
		return Static{}, err
	}
	s.Cluster = cluster
	if s.Security, err = r.resolveSecurity(cluster); err != nil {
		return Static{}, err
	}
	if s.Group.MinSessionTimeout > s.Group.MaxSessionTimeout {
		return Static{}, fmt.Errorf("config group.min.session.timeout.ms (%v) must not exceed group.max.session.timeout.ms (%v)",
			s.Group.MinSessionTimeout, s.Group.MaxSessionTimeout)
	}
	if s.Group.ConsumerHeartbeatInterval >= s.Group.ConsumerSessionTimeout {
		return Static{}, fmt.Errorf("config group.consumer.heartbeat.interval.ms (%v) must be less than group.consumer.session.timeout.ms (%v)",
			s.Group.ConsumerHeartbeatInterval, s.Group.ConsumerSessionTimeout)
	}
	if s.ReplicaFetch.WaitMax > s.ReplicaLagTimeMax {
		// Kafka's check: a follower parked longer than the lag time would
		// leave the ISR while fetching.
		return Static{}, fmt.Errorf("config replica.fetch.wait.max.ms (%v) should always be less than or equal to replica.lag.time.max.ms (%v) to prevent frequent changes in ISR",
			s.ReplicaFetch.WaitMax, s.ReplicaLagTimeMax)
	}
	return s, nil
}

// resolver reads typed values by name. A name missing from the schema or a
// value that does not parse is a bug or a bad config: it records the first
// such error (resolveStatic reports it), so a typo cannot read as zero.
type resolver struct {
	b       *Broker
	dynamic map[string]string
	err     error
}

func (r *resolver) value(name string) string {
	if _, ok := brokerByName[name]; !ok {
		r.fail(fmt.Errorf("config: %s is not in the broker schema", name))
		return ""
	}
	v, _, null := r.b.lookup(name, r.dynamic)
	if null {
		r.fail(fmt.Errorf("config %s has no value", name))
	}
	return v
}

func (r *resolver) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *resolver) int64(name string) int64 {
	v := r.value(name)
	x, err := strconv.ParseInt(v, 10, 64)
	if err != nil && r.err == nil {
		r.fail(fmt.Errorf("config %s: %q is not an integer", name, v))
	}
	return x
}

func (r *resolver) int32(name string) int32 {
	x := r.int64(name)
	if x < math.MinInt32 || x > math.MaxInt32 {
		r.fail(fmt.Errorf("config %s: %d is out of range", name, x))
	}
	return int32(x)
}

func (r *resolver) bool(name string) bool {
	v := r.value(name)
	x, err := parseBool(v)
	if err != nil && r.err == nil {
		r.fail(fmt.Errorf("config %s: %q is not a boolean", name, v))
	}
	return x
}

func (r *resolver) float(name string) float64 {
	v := r.value(name)
	x, err := strconv.ParseFloat(v, 64)
	if err != nil && r.err == nil {
		r.fail(fmt.Errorf("config %s: %q is not a number", name, v))
	}
	return x
}

// ms reads a config in milliseconds as a duration.
func (r *resolver) ms(name string) time.Duration { return r.duration(name, time.Millisecond) }

// duration reads a count of unit as a duration, saturating at the largest
// duration (Kafka's Long.MAX_VALUE defaults mean "never"), so an interval is
// never negative or wrapped around.
func (r *resolver) duration(name string, unit time.Duration) time.Duration {
	n := r.int64(name)
	switch {
	case n <= 0:
		return 0
	case n > int64(math.MaxInt64/unit):
		return math.MaxInt64
	}
	return time.Duration(n) * unit
}
