package config

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestStaticDefaults checks every typed field against Kafka's default, so a
// field wired to the wrong name (which would read another config's value)
// fails here.
func TestStaticDefaults(t *testing.T) {
	b, err := NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Static{
		NodeID:                            1,
		SocketRequestMaxBytes:             104857600,
		DeleteTopicEnable:                 true,
		RetentionCheckInterval:            5 * time.Minute,
		RecoveryThreads:                   2,
		Cleaner:                           Cleaner{Enable: true, Threads: 1, IOMaxBytesPerSecond: math.MaxFloat64, Backoff: 15 * time.Second, DedupeBufferSize: 128 << 20},
		ProducerIDExpirationCheckInterval: 10 * time.Minute,
		ReplicaLagTimeMax:                 30 * time.Second,
		HighWatermarkCheckpointInterval:   5 * time.Second,
		ReplicaFetch:                      ReplicaFetch{MaxBytes: 1 << 20, ResponseMaxBytes: 10 << 20, MinBytes: 1, WaitMax: 500 * time.Millisecond, Backoff: time.Second},
		Offsets: Offsets{
			TopicNumPartitions: 50, TopicReplicationFactor: 3, TopicSegmentBytes: 100 << 20,
			Retention: 7 * 24 * time.Hour, RetentionCheckInterval: 10 * time.Minute, MetadataMaxBytes: 4096,
		},
		Txn: Txn{
			TopicNumPartitions: 50, TopicReplicationFactor: 3, TopicMinISR: 2, TopicSegmentBytes: 100 << 20,
			MaxTimeout: 15 * time.Minute, IDExpiration: 7 * 24 * time.Hour, AbortInterval: 10 * time.Second, ExpiryInterval: time.Hour,
			AddRetryBackoff: 20 * time.Millisecond, AddRetryBackoffMax: 100 * time.Millisecond,
		},
		Group: Group{
			MinSessionTimeout: 6 * time.Second, MaxSessionTimeout: 30 * time.Minute, InitialRebalanceDelay: 3 * time.Second,
			MaxSize: math.MaxInt32, ConsumerSessionTimeout: 45 * time.Second, ConsumerHeartbeatInterval: 5 * time.Second,
			ConsumerMaxSize: math.MaxInt32,
		},
		Cluster: Cluster{
			Listeners:         []Listener{{Name: "PLAINTEXT", Port: 9092, Protocol: "PLAINTEXT"}},
			Advertised:        []Listener{{Name: "PLAINTEXT", Port: 9092, Protocol: "PLAINTEXT"}},
			HeartbeatInterval: 2 * time.Second,
			SessionTimeout:    9 * time.Second,
		},
		Security: Security{
			Listeners:            map[string]ListenerSecurity{"PLAINTEXT": {Name: "PLAINTEXT", Protocol: "PLAINTEXT", JAAS: map[string]string{}}},
			InterBrokerMechanism: "GSSAPI",
		},
		LeaderBalance: LeaderBalance{Enable: true, CheckInterval: 300 * time.Second, PerBrokerPercentage: 10},
	}
	if got := b.Static(); !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}
	d := b.Dynamic(nil)
	if d != (Dynamic{NumPartitions: 1, DefaultReplicationFactor: 1, AutoCreateTopicsEnable: true, ProducerIDExpiration: 24 * time.Hour}) {
		t.Fatalf("dynamic defaults: %+v", d)
	}
}

// TestStaticSet checks that static values and dynamic overrides reach the
// typed fields, in their units.
func TestStaticSet(t *testing.T) {
	b, err := NewBroker(map[string]string{
		"node.id":                           "7",
		"offsets.retention.minutes":         "2",
		"log.cleaner.enable":                "false",
		"group.consumer.session.timeout.ms": "10000",
		"num.partitions":                    "3",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := b.Static()
	if s.NodeID != 7 || s.Offsets.Retention != 2*time.Minute || s.Cleaner.Enable || s.Group.ConsumerSessionTimeout != 10*time.Second {
		t.Fatalf("static: %+v", s)
	}
	if d := b.Dynamic(nil); d.NumPartitions != 3 {
		t.Fatalf("static num.partitions: %+v", d)
	}
	if d := b.Dynamic(map[string]string{"num.partitions": "9", "auto.create.topics.enable": "false"}); d.NumPartitions != 9 || d.AutoCreateTopicsEnable {
		t.Fatalf("dynamic override: %+v", d)
	}
}

// TestStaticRefused checks that combinations Kafka refuses at start-up are
// refused with a message naming the configs.
func TestStaticRefused(t *testing.T) {
	for _, tc := range []struct {
		static map[string]string
		want   string
	}{
		{map[string]string{"group.min.session.timeout.ms": "60000", "group.max.session.timeout.ms": "30000"}, "group.min.session.timeout.ms"},
		{map[string]string{"group.consumer.heartbeat.interval.ms": "45000"}, "group.consumer.heartbeat.interval.ms"},
		{map[string]string{"log.retention.check.interval.ms": "0"}, "log.retention.check.interval.ms"},
		{map[string]string{"replica.fetch.wait.max.ms": "30001"}, "replica.fetch.wait.max.ms (30.001s) should always be less than or equal to replica.lag.time.max.ms (30s)"},
		{map[string]string{"replica.fetch.max.bytes": "0"}, "replica.fetch.max.bytes"},
	} {
		_, err := NewBroker(tc.static)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.static, err, tc.want)
		}
	}
}

// TestDurationSaturates checks that a count of minutes or milliseconds too
// large for a time.Duration (Kafka allows Long.MAX_VALUE) becomes the largest duration rather than wrapping negative.
func TestDurationSaturates(t *testing.T) {
	b, err := NewBroker(map[string]string{"offsets.retention.minutes": "2147483647", "log.cleaner.backoff.ms": "9223372036854775807"})
	if err != nil {
		t.Fatal(err)
	}
	s := b.Static()
	if s.Offsets.Retention != math.MaxInt64 || s.Cleaner.Backoff != math.MaxInt64 {
		t.Fatalf("retention %v, backoff %v: want the largest duration", s.Offsets.Retention, s.Cleaner.Backoff)
	}
}

// TestResolverNamesTypos checks that reading a name missing from the schema
// is an error, not zero.
func TestResolverNamesTypos(t *testing.T) {
	b, err := NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := resolver{b: b}
	if r.int32("log.retention.chek.interval.ms"); r.err == nil || !strings.Contains(r.err.Error(), "log.retention.chek.interval.ms") {
		t.Fatalf("typo read without error: %v", r.err)
	}
}
