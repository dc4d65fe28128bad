package quota

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// With quota 10 partitions/s, WindowNum 11 and WindowSize 1 s the bucket
// holds a burst of 10 * 11 * 1 = 110 credits.
func TestMutationStrict(t *testing.T) {
	store := NewStore()
	store.Set(Entity{User: Default()}, ControllerMutationRate, float(10))
	meter := NewMutationMeter(store, Config{})
	client := Client{User: "admin", ClientID: "tool"}

	quota := meter.ForRequest(client, true)
	if err := quota.Record(100, at(0)); err != nil { // 10 credits left
		t.Fatal(err)
	}
	// Not exhausted before: taken whole, leaving -10.
	if err := quota.Record(20, at(0)); err != nil {
		t.Fatal(err)
	}
	if quota.IsExceeded() || quota.ThrottleTime(at(0)) != 0 {
		t.Fatalf("strict quota throttled before a refusal")
	}
	// Exhausted: refused, and -10 credits take 10/10 s = 1 s to refill.
	err := quota.Record(5, at(0))
	if err == nil || err.Code != kerr.ThrottlingQuotaExceeded {
		t.Fatalf("got %v, want THROTTLING_QUOTA_EXCEEDED", err)
	}
	if !quota.IsExceeded() {
		t.Fatal("not exceeded after a refusal")
	}
	// A response sent 300 ms later carries what is left of the throttle.
	if got := quota.ThrottleTime(at(300)); got != 700*time.Millisecond {
		t.Fatalf("ThrottleTime = %v, want 700ms", got)
	}
	// The refusal took nothing: at 600 ms there are -4 credits, 400 ms to go.
	next := meter.ForRequest(client, true)
	if err := next.Record(1, at(600)); err == nil || next.ThrottleTime(at(600)) != 400*time.Millisecond {
		t.Fatalf("got %v, throttle %v; want a 400ms refusal", err, next.ThrottleTime(at(600)))
	}
	// At 1 s the bucket is back to 0, which is not below zero.
	if err := meter.ForRequest(client, true).Record(50, at(1000)); err != nil {
		t.Fatal(err)
	}
}

func TestMutationPermissive(t *testing.T) {
	store := NewStore()
	store.Set(Entity{ClientID: Specific("tool")}, ControllerMutationRate, float(10))
	meter := NewMutationMeter(store, Config{})
	quota := meter.ForRequest(Client{ClientID: "tool"}, false)
	// Always taken; 120 from 110 leaves -10: a 1 s throttle.
	if err := quota.Record(120, at(0)); err != nil {
		t.Fatal(err)
	}
	if got := quota.ThrottleTime(at(0)); got != time.Second {
		t.Fatalf("ThrottleTime = %v, want 1s", got)
	}
	if err := quota.Record(10, at(0)); err != nil {
		t.Fatal(err)
	}
	if got := quota.ThrottleTime(at(0)); got != 2*time.Second {
		t.Fatalf("ThrottleTime = %v, want 2s", got)
	}
	// The burst caps the refill: a day idle leaves 110 credits, not more.
	day := int64(24 * 60 * 60 * 1000)
	later := meter.ForRequest(Client{ClientID: "tool"}, false)
	if err := later.Record(111, at(day)); err != nil || later.ThrottleTime(at(day)) != 100*time.Millisecond {
		t.Fatalf("got %v, throttle %v; want 100ms", err, later.ThrottleTime(at(day)))
	}
}

func TestMutationUnbounded(t *testing.T) {
	meter := NewMutationMeter(NewStore(), Config{})
	quota := meter.ForRequest(Client{ClientID: "tool"}, true)
	for i := 0; i < 3; i++ {
		if err := quota.Record(1e9, at(0)); err != nil {
			t.Fatal(err)
		}
	}
	if meter.SensorCount() != 0 || quota.ThrottleTime(at(0)) != 0 {
		t.Fatal("an unbounded quota recorded")
	}
	if meter.Expire(at(0)) != 0 {
		t.Fatal("nothing to expire")
	}
}
