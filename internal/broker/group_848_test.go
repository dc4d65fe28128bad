package broker_test

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// static848 is groupStatic with short KIP-848 sessions and heartbeats.
func static848() map[string]string {
	s := groupStatic()
	s["group.consumer.session.timeout.ms"] = "1500"
	s["group.consumer.heartbeat.interval.ms"] = "100"
	return s
}

// TestGroupKIP848ServerSideAssignment: franz-go members with the
// server-side balancer (KIP-848) split a 6-partition topic two each and
// read every record once; a fourth member gets partitions without any
// partition being owned twice; a member cut off loses its partitions
// after the session timeout; ConsumerGroupDescribe and ListGroups show a
// "consumer" group.
func TestGroupKIP848ServerSideAssignment(t *testing.T) {
	tb := startBroker(t, "", static848())
	adm := tb.admin()
	createTopic(t, adm, "kip848", 6, nil)
	opts := []kgo.Opt{kgo.ServerSideBalancer(), kgo.RetryTimeout(time.Second)}
	a := startMember(t, tb, "g848", "kip848", opts...)
	b := startMember(t, tb, "g848", "kip848", opts...)
	c := startMember(t, tb, "g848", "kip848", opts...)
	waitBalanced(t, 6, []int{2, 2, 2}, a, b, c)

	const n = 300
	produceN(t, tb, "kip848", 0, n)
	waitFor(t, 20*time.Second, "every record consumed", func() bool {
		return len(a.consumed())+len(b.consumed())+len(c.consumed()) >= n
	})
	seen := map[string]int{}
	for _, m := range []*groupMember{a, b, c} {
		for _, r := range m.consumed() {
			seen[string(r.Value)]++
		}
	}
	if len(seen) != n {
		t.Fatalf("read %d distinct records, want %d", len(seen), n)
	}
	for v, k := range seen {
		if k != 1 {
			t.Fatalf("record %s read %d times", v, k)
		}
	}

	ctx := ctxT(t)
	described, err := adm.DescribeConsumerGroups(ctx, "g848")
	if err != nil {
		t.Fatal(err)
	}
	if g := described["g848"]; g.Err != nil || g.State != "Stable" || len(g.Members) != 3 || g.AssignorName != "uniform" {
		t.Fatalf("describe: %+v", g)
	}
	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.TypesFilter = []string{"consumer"}
	lresp, err := lreq.RequestWith(ctx, tb.client())
	if err != nil || len(lresp.Groups) != 1 || lresp.Groups[0].GroupType != "consumer" || lresp.Groups[0].GroupState != "Stable" {
		t.Fatalf("list consumer groups: %v %+v", err, lresp)
	}

	d := startMember(t, tb, "g848", "kip848", opts...)
	watchOwnership(t, a, b, c, d)
	disjoint := func(members ...*groupMember) func() bool {
		return func() bool {
			owned := map[int32]int{}
			total := 0
			for _, m := range members {
				ps := m.partitions()
				if len(ps) == 0 || len(ps) > 2 {
					return false
				}
				for _, p := range ps {
					owned[p]++
					total++
				}
			}
			return len(owned) == 6 && total == 6
		}
	}
	waitFor(t, 20*time.Second, "the fourth member to get partitions", disjoint(a, b, c, d))

	d.kill()
	killed := time.Now()
	waitBalanced(t, 6, []int{2, 2, 2}, a, b, c)
	if since := time.Since(killed); since < time.Second {
		t.Fatalf("partitions moved %v after the kill, before the 1.5 s session timeout", since)
	}

	// Commits went in with member epochs: a new member resumes after them.
	a.stop()
	b.stop()
	c.stop()
	offs, err := adm.FetchOffsets(ctx, "g848")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("committed %d records' worth of offsets, want %d", total, n)
	}
}

// TestGroupKIP848RangeAssignor: members that choose the range assignor get
// contiguous ranges.
func TestGroupKIP848RangeAssignor(t *testing.T) {
	tb := startBroker(t, "", static848())
	createTopic(t, tb.admin(), "ranged", 4, nil)
	opts := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer())}
	a := startMember(t, tb, "range848", "ranged", opts...)
	b := startMember(t, tb, "range848", "ranged", opts...)
	waitBalanced(t, 4, []int{2, 2}, a, b)
	for _, m := range []*groupMember{a, b} {
		if ps := m.partitions(); !slices.Equal(ps, []int32{0, 1}) && !slices.Equal(ps, []int32{2, 3}) {
			t.Fatalf("range assignment %v is not contiguous", ps)
		}
	}
	described, err := tb.admin().DescribeConsumerGroups(ctxT(t), "range848")
	if err != nil || described["range848"].AssignorName != "range" {
		t.Fatalf("describe: %v %+v", err, described["range848"])
	}
}

// TestGroupKIP848StaticMemberRestart: a static KIP-848 member leaves with
// epoch -2 on close and its restart takes its partitions back without the
// other member noticing.
func TestGroupKIP848StaticMemberRestart(t *testing.T) {
	tb := startBroker(t, "", static848())
	createTopic(t, tb.admin(), "static848", 4, nil)
	opts := func(id string) []kgo.Opt {
		return []kgo.Opt{kgo.ServerSideBalancer(), kgo.InstanceID(id)}
	}
	a := startMember(t, tb, "s848", "static848", opts("a")...)
	b := startMember(t, tb, "s848", "static848", opts("b")...)
	waitBalanced(t, 4, []int{2, 2}, a, b)
	before := b.partitions()
	a.mu.Lock()
	aAssigns, aRevokes := a.assigns, a.revokes
	a.mu.Unlock()
	b.stop()
	b2 := startMember(t, tb, "s848", "static848", opts("b")...)
	waitFor(t, 10*time.Second, "the restarted member's partitions", func() bool { return len(b2.partitions()) == 2 })
	if got := b2.partitions(); !slices.Equal(got, before) {
		t.Fatalf("restarted static member owns %v, had %v", got, before)
	}
	time.Sleep(300 * time.Millisecond)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.assigns != aAssigns || a.revokes != aRevokes {
		t.Fatalf("the other member saw a rebalance: assigns %d->%d, revokes %d->%d", aAssigns, a.assigns, aRevokes, a.revokes)
	}
}
