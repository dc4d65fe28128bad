package chaos

import (
	"reflect"
	"testing"
	"time"
)

// TestPlan: a seed gives one plan, another seed another; the faults are
// in time order within the first nine tenths of the duration, every kind
// gets its share, holds fit the kind, and the group members' lives and
// the consumers' sessions cover the duration.
func TestPlan(t *testing.T) {
	cfg := PlanConfig{Seed: 731260, Nodes: 3, Faults: 110, Duration: 150 * time.Second, Members: 2, Consumers: 2, SessionTimeout: 2 * time.Second}
	a, err := NewPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPlan(cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two plans")
	}
	cfg.Seed++
	if c, _ := NewPlan(cfg); reflect.DeepEqual(a.Faults, c.Faults) {
		t.Fatal("seeds 731260 and 731261 gave the same faults")
	}
	if len(a.Faults) != 110 {
		t.Fatalf("%d faults, want 110", len(a.Faults))
	}
	for k, n := range a.Count() {
		if n != 10 {
			t.Errorf("%s: %d faults, want 10", k, n)
		}
	}
	if len(a.Count()) != len(Kinds) {
		t.Errorf("kinds %v, want all %d", a.Count(), len(Kinds))
	}
	var prev time.Duration
	for i, f := range a.Faults {
		if f.ID != i+1 || f.At < prev || f.At >= cfg.Duration*9/10 {
			t.Errorf("fault %d: id %d at %v after %v", i, f.ID, f.At, prev)
		}
		prev = f.At
		switch {
		case f.Kind == RollingRestart && f.Hold != 0:
			t.Errorf("fault %d: a rolling restart with a hold %v", f.ID, f.Hold)
		case f.Kind == Pause && f.Hold <= cfg.SessionTimeout:
			t.Errorf("fault %d: a pause of %v, not past the session timeout", f.ID, f.Hold)
		case f.Kind != RollingRestart && f.Hold <= 0:
			t.Errorf("fault %d (%s): hold %v", f.ID, f.Kind, f.Hold)
		case f.Kind == Slow && f.Delay <= 0:
			t.Errorf("fault %d: slow without a delay", f.ID)
		}
	}
	for m, lives := range a.Members {
		var total time.Duration
		for _, l := range lives {
			total += l.Run + l.Down
		}
		if total < cfg.Duration {
			t.Errorf("member %d's lives cover %v of %v", m, total, cfg.Duration)
		}
	}
	if len(a.Members) != 2 || len(a.Sessions) != 2 {
		t.Errorf("%d members, %d consumers, want 2 and 2", len(a.Members), len(a.Sessions))
	}

	cfg.Kinds = []FaultKind{KillController, RollingRestart}
	r, err := NewPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Count(); len(got) != 2 || got[KillController] != 55 || got[RollingRestart] != 55 {
		t.Errorf("restricted to two kinds: %v", got)
	}
	for _, bad := range []PlanConfig{
		{Nodes: 2, Faults: 1, Duration: time.Second, SessionTimeout: time.Second},
		{Nodes: 3, Faults: 1, Duration: 0, SessionTimeout: time.Second},
		{Nodes: 3, Faults: 1, Duration: time.Second, SessionTimeout: time.Second, Kinds: []FaultKind{"meteor"}},
	} {
		if _, err := NewPlan(bad); err == nil {
			t.Errorf("NewPlan(%+v) accepted", bad)
		}
	}
}
