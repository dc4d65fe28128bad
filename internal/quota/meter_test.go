package quota

import (
	"math"
	"testing"
	"time"
)

// start is an arbitrary wall-clock time; only differences matter.
var start = time.UnixMilli(1_700_000_000_000)

func at(milliseconds int64) time.Time {
	return start.Add(time.Duration(milliseconds) * time.Millisecond)
}

type record struct {
	atMs  int64
	value float64
	want  time.Duration
}

// Every throttle below is worked by hand from Kafka's formulas, with
// WindowNum 11 and WindowSize 1 s, so the window W is at least 10 s:
// rate = sum / W, throttle = (rate - quota) / quota * W = sum/quota - W.
func TestProduceThrottle(t *testing.T) {
	tests := []struct {
		name    string
		quota   float64
		records []record
	}{
		{"a new client's burst is spread over ten windows", 1000, []record{
			{0, 2000, 0}, // 2000 B / 10 s = 200 B/s
		}},
		{"exactly the quota is within it", 1000, []record{
			{0, 10000, 0}, // 1000 B/s
		}},
		{"11,000 B at once: 1100 B/s, throttle 1 s", 1000, []record{
			{0, 11000, time.Second},
		}},
		{"20,000 B at once: 2000 B/s, throttle 10 s (unbounded)", 1000, []record{
			{0, 20000, 10 * time.Second},
		}},
		{"W grows with the current window's elapsed part", 1000, []record{
			{0, 5000, 0},
			// sum 11000, W = 10.5 s: 11000/1000 - 10.5 = 0.5 s
			{500, 6000, 500 * time.Millisecond},
		}},
		{"the throttle shrinks as time passes", 1000, []record{
			{0, 11000, time.Second},
			// sum 11001, W = 10.2 s: 11.001 - 10.2 = 0.801 s
			{200, 1, 801 * time.Millisecond},
			// W = 10.999 s: 11.002 - 10.999 = 0.003 s
			{999, 1, 3 * time.Millisecond},
			// The window turns: one whole window has passed and nine are
			// imagined, so W falls back to 10 s: 11.003 - 10 = 1.003 s.
			{1000, 1, 1003 * time.Millisecond},
		}},
		{"a sample with no event for 11 windows is dropped", 1000, []record{
			{0, 11000, time.Second},
			// The 11,000 B sample is purged: only this record counts, W = 10 s.
			{11000, 11000, time.Second},
		}},
		{"a sample still inside the span keeps counting", 1000, []record{
			{0, 11000, time.Second},
			// sum 11000+1, oldest sample began at 0: W = 10.999 s
			{10999, 1, 2 * time.Millisecond},
		}},
		{"the quota per second at each window start is 11 samples over 10 s", 1000, []record{
			{0, 1000, 0}, {1000, 1000, 0}, {2000, 1000, 0}, {3000, 1000, 0}, {4000, 1000, 0},
			{5000, 1000, 0}, {6000, 1000, 0}, {7000, 1000, 0}, {8000, 1000, 0}, {9000, 1000, 0},
			// 10 samples, W = 10 s: exactly the quota.
			// 11 samples (0 to 10 s), W = 10 s: 1100 B/s, 1 s.
			{10000, 1000, time.Second},
			// The sample at 0 s is purged (no event for 11 s): still 11 samples over 10 s.
			{11000, 1000, time.Second},
		}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			store := NewStore()
			store.Set(Entity{ClientID: Default()}, ProducerByteRate, float(test.quota))
			meter := NewProduceMeter(store, Config{})
			client := Client{User: "alice", ClientID: "app"}
			for _, record := range test.records {
				if got := meter.Record(client, record.value, at(record.atMs)); got != record.want {
					t.Fatalf("record %v at %d ms: throttle %v, want %v", record.value, record.atMs, got, record.want)
				}
			}
		})
	}
}

func TestRequestThrottleIsBoundedByOneWindow(t *testing.T) {
	store := NewStore()
	store.Set(Entity{User: Default()}, RequestPercentage, float(10))
	meter := NewRequestMeter(store, Config{})
	client := Client{User: "alice", ClientID: "app"}
	// 0.5 s of handler time is 50 (% of a thread-second); 50 / 10 s = 5 %.
	if got := RequestTimePercentage(500 * time.Millisecond); got != 50 {
		t.Fatalf("RequestTimePercentage = %v", got)
	}
	if got := meter.Record(client, RequestTimePercentage(500*time.Millisecond), at(0)); got != 0 {
		t.Fatalf("throttle %v", got)
	}
	// Another 1.5 s: 200 over 10 s = 20 %, (20-10)/10 * 10 s = 10 s, bounded to 1 s.
	if got := meter.Record(client, RequestTimePercentage(1500*time.Millisecond), at(0)); got != time.Second {
		t.Fatalf("throttle %v, want 1s", got)
	}
}

func TestNetworkTimeCountsAtTheNextRecord(t *testing.T) {
	store := NewStore()
	store.Set(Entity{ClientID: Default()}, RequestPercentage, float(10))
	meter := NewRequestMeter(store, Config{})
	client := Client{ClientID: "app"}
	meter.RecordNoThrottle(client, 100, at(0)) // 10 % on its own: not over
	// 100 + 1 over 10 s = 10.1 %: (10.1-10)/10 * 10000 ms = 100 ms
	if got := meter.Record(client, 1, at(0)); got != 100*time.Millisecond {
		t.Fatalf("throttle %v, want 100ms", got)
	}
}

func TestFetchUnrecord(t *testing.T) {
	store := NewStore()
	store.Set(Entity{ClientID: Specific("consumer")}, ConsumerByteRate, float(1000))
	meter := NewFetchMeter(store, Config{})
	client := Client{User: "bob", ClientID: "consumer"}
	if got := meter.MaxValueInWindow(client); got != 10000 {
		t.Fatalf("MaxValueInWindow = %v, want 1000 * 10 * 1", got)
	}
	if got := meter.MaxValueInWindow(Client{ClientID: "other"}); !math.IsInf(got, 1) {
		t.Fatalf("MaxValueInWindow without quota = %v", got)
	}
	if got := meter.Record(client, 12000, at(0)); got != 2*time.Second {
		t.Fatalf("throttle %v, want 2s", got)
	}
	// The throttled response was empty: take the bytes back.
	meter.Unrecord(client, 12000, at(0))
	if got := meter.Record(client, 10000, at(0)); got != 0 {
		t.Fatalf("after unrecord: throttle %v", got)
	}
}

func TestNoQuotaRecordsNothing(t *testing.T) {
	store := NewStore()
	meter := NewProduceMeter(store, Config{})
	if got := meter.Record(Client{ClientID: "app"}, 1e12, at(0)); got != 0 {
		t.Fatalf("throttle %v", got)
	}
	if meter.SensorCount() != 0 {
		t.Fatalf("a sensor was made with no quota in use")
	}
	// Once a quota exists anywhere, every client is metered (and unlimited
	// ones get a sensor too, so a quota set later sees their history).
	store.Set(Entity{ClientID: Specific("limited")}, ProducerByteRate, float(1000))
	if got := meter.Record(Client{ClientID: "app"}, 1e12, at(0)); got != 0 {
		t.Fatalf("unlimited client throttled %v", got)
	}
	if meter.SensorCount() != 1 {
		t.Fatalf("sensors = %d", meter.SensorCount())
	}
}

func TestQuotaChangeKeepsTheWindow(t *testing.T) {
	store := NewStore()
	entity := Entity{ClientID: Specific("app")}
	store.Set(entity, ProducerByteRate, float(2000))
	meter := NewProduceMeter(store, Config{})
	client := Client{ClientID: "app"}
	if got := meter.Record(client, 11000, at(0)); got != 0 {
		t.Fatalf("throttle %v", got)
	}
	// Kafka changes the bound of the existing metric: the 11,000 B stay.
	store.Set(entity, ProducerByteRate, float(1000))
	if got := meter.Record(client, 0, at(0)); got != time.Second {
		t.Fatalf("after lowering the quota: throttle %v, want 1s", got)
	}
}

func TestSensorSharing(t *testing.T) {
	type use struct {
		client Client
		want   time.Duration
	}
	// 6000 B alone is 600 B/s; two clients on one sensor make
	// 12,000 B / 10 s = 1200 B/s, a 2 s throttle.
	tests := []struct {
		name    string
		entity  Entity
		uses    []use
		sensors int
	}{
		{"/users/<default> meters each user: one user's client-ids share", Entity{User: Default()}, []use{
			{Client{"alice", "app"}, 0}, {Client{"bob", "app"}, 0}, {Client{"alice", "tool"}, 2 * time.Second},
		}, 2},
		{"/clients/<default> meters each client-id: its users share", Entity{ClientID: Default()}, []use{
			{Client{"alice", "app"}, 0}, {Client{"alice", "tool"}, 0}, {Client{"bob", "app"}, 2 * time.Second},
		}, 2},
		{"/users/<default>/clients/<default> meters each pair", Entity{User: Default(), ClientID: Default()}, []use{
			{Client{"alice", "app"}, 0}, {Client{"alice", "tool"}, 0}, {Client{"bob", "app"}, 0}, {Client{"bob", "tool"}, 0},
		}, 4},
		{"/users/alice: alice's client-ids share", Entity{User: Specific("alice")}, []use{
			{Client{"alice", "app"}, 0}, {Client{"alice", "tool"}, 2 * time.Second},
		}, 1},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			store := NewStore()
			store.Set(test.entity, ProducerByteRate, float(1000))
			meter := NewProduceMeter(store, Config{})
			for _, use := range test.uses {
				if got := meter.Record(use.client, 6000, at(0)); got != use.want {
					t.Fatalf("%s: throttle %v, want %v", use.client, got, use.want)
				}
			}
			if got := meter.SensorCount(); got != test.sensors {
				t.Fatalf("sensors = %d, want %d", got, test.sensors)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	store := NewStore()
	store.Set(Entity{ClientID: Default()}, ProducerByteRate, float(1000))
	meter := NewProduceMeter(store, Config{})
	meter.Record(Client{ClientID: "old"}, 1, at(0))
	meter.Record(Client{ClientID: "new"}, 1, at(30*60*1000))
	if removed := meter.Expire(at(60 * 60 * 1000)); removed != 0 {
		t.Fatalf("expired %d at exactly an hour", removed)
	}
	if removed := meter.Expire(at(60*60*1000 + 1)); removed != 1 {
		t.Fatalf("expired %d, want 1", removed)
	}
	if meter.SensorCount() != 1 {
		t.Fatalf("sensors = %d", meter.SensorCount())
	}
	// An expired client starts over with an empty window.
	if got := meter.Record(Client{ClientID: "old"}, 11000, at(60*60*1000+2)); got != time.Second {
		t.Fatalf("throttle %v", got)
	}
}
