package broker_test

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupSplitsPartitions: three members of a group on a 6-partition
// topic each own two partitions and together read every record exactly
// once; a fourth member triggers a rebalance that hands it partitions
// without any partition being owned twice.
func TestGroupSplitsPartitions(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "split", 6, nil)
	a := startMember(t, tb, "split-group", "split")
	b := startMember(t, tb, "split-group", "split")
	c := startMember(t, tb, "split-group", "split")
	waitBalanced(t, 6, []int{2, 2, 2}, a, b, c)

	const n = 600
	produceN(t, tb, "split", 0, n)
	waitFor(t, 20*time.Second, "every record consumed", func() bool {
		return len(a.consumed())+len(b.consumed())+len(c.consumed()) >= n
	})
	seen := map[string]int{}
	for _, m := range []*groupMember{a, b, c} {
		owned := map[int32]bool{}
		for _, p := range m.partitions() {
			owned[p] = true
		}
		for _, r := range m.consumed() {
			seen[string(r.Value)]++
			if !owned[r.Partition] {
				t.Errorf("member read partition %d it does not own (%v)", r.Partition, m.partitions())
			}
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

	d := startMember(t, tb, "split-group", "split")
	watchOwnership(t, a, b, c, d)
	waitFor(t, 20*time.Second, "the new member to get partitions", func() bool { return len(d.partitions()) > 0 })
	waitFor(t, 20*time.Second, "a rebalanced, disjoint assignment", func() bool {
		seen := map[int32]int{}
		total := 0
		for _, m := range []*groupMember{a, b, c, d} {
			ps := m.partitions()
			if len(ps) == 0 || len(ps) > 2 {
				return false
			}
			for _, p := range ps {
				seen[p]++
				total++
			}
		}
		return len(seen) == 6 && total == 6
	})
}

// TestGroupKilledMemberLosesPartitions: a member cut off without a
// LeaveGroup keeps its partitions until its session times out; then the
// survivor owns them all.
func TestGroupKilledMemberLosesPartitions(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "killed", 6, nil)
	a := startMember(t, tb, "killed-group", "killed", kgo.SessionTimeout(1500*time.Millisecond))
	b := startMember(t, tb, "killed-group", "killed", kgo.SessionTimeout(1500*time.Millisecond), kgo.RetryTimeout(time.Second))
	waitBalanced(t, 6, []int{3, 3}, a, b)
	killed := time.Now()
	b.kill()
	waitBalanced(t, 6, []int{6}, a)
	if d := time.Since(killed); d < time.Second {
		t.Fatalf("partitions moved %v after the kill, before the 1.5 s session timeout", d)
	}
}

// TestGroupStaticMemberRestart: a static member that restarts within its
// session timeout gets its partitions back and the other member sees no
// rebalance.
func TestGroupStaticMemberRestart(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "static", 6, nil)
	opts := func(id string) []kgo.Opt {
		return []kgo.Opt{kgo.InstanceID(id), kgo.SessionTimeout(10 * time.Second)}
	}
	a := startMember(t, tb, "static-group", "static", opts("a")...)
	b := startMember(t, tb, "static-group", "static", opts("b")...)
	waitBalanced(t, 6, []int{3, 3}, a, b)
	before := b.partitions()
	a.mu.Lock()
	aAssigns, aRevokes := a.assigns, a.revokes
	a.mu.Unlock()

	b.stop() // a static member does not leave the group on close
	b2 := startMember(t, tb, "static-group", "static", opts("b")...)
	waitFor(t, 10*time.Second, "the restarted member's partitions", func() bool { return len(b2.partitions()) == 3 })
	if got := b2.partitions(); !slices.Equal(got, before) {
		t.Fatalf("restarted static member owns %v, had %v", got, before)
	}
	time.Sleep(500 * time.Millisecond)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.assigns != aAssigns || a.revokes != aRevokes {
		t.Fatalf("the other member saw a rebalance: assigns %d->%d, revokes %d->%d", aAssigns, a.assigns, aRevokes, a.revokes)
	}

	// A second live client with the same instance ID fences the first.
	adm := tb.admin()
	described, err := adm.DescribeGroups(ctxT(t), "static-group")
	if err != nil {
		t.Fatal(err)
	}
	if g := described["static-group"]; g.State != "Stable" || len(g.Members) != 2 {
		t.Fatalf("described %+v", g)
	}
}

// TestGroupOffsetsSurviveRestart: offsets committed, broker restarted, a
// new consumer of the group resumes exactly after the last commit.
func TestGroupOffsetsSurviveRestart(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "resume", 3, nil)
	produceN(t, tb, "resume", 0, 300)

	cl := tb.client(
		kgo.ConsumerGroup("resume-group"), kgo.ConsumeTopics("resume"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(100*time.Millisecond),
	)
	ctx := ctxT(t)
	var got []*kgo.Record
	for len(got) < 150 {
		got = append(got, cl.PollRecords(ctx, 150-len(got)).Records()...)
	}
	if err := cl.CommitRecords(ctx, got...); err != nil {
		t.Fatal(err)
	}
	committed := map[int32]int64{}
	for _, r := range got {
		committed[r.Partition] = max(committed[r.Partition], r.Offset+1)
	}
	cl.Close()

	tb = tb.restart()
	resp, err := tb.admin().FetchOffsets(ctxT(t), "resume-group")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range committed {
		if o, ok := resp.Lookup("resume", p); !ok || o.At != want {
			t.Fatalf("after restart partition %d committed %+v, want %d", p, o, want)
		}
	}
	m := startMember(t, tb, "resume-group", "resume")
	waitFor(t, 20*time.Second, "the rest of the records", func() bool { return len(m.consumed()) >= 150 })
	time.Sleep(300 * time.Millisecond)
	rest := m.consumed()
	if len(rest) != 150 {
		t.Fatalf("resumed consumer read %d records, want 150", len(rest))
	}
	first := map[int32]int64{}
	for _, r := range rest {
		if _, ok := first[r.Partition]; !ok {
			first[r.Partition] = r.Offset
		}
	}
	for p, off := range first {
		if off != committed[p] {
			t.Fatalf("partition %d resumed at %d, committed %d", p, off, committed[p])
		}
	}
}

// TestGroupTwoGroupsIndependent: two groups read the same records, each
// all of them, and commit separately.
func TestGroupTwoGroupsIndependent(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "shared", 4, nil)
	produceN(t, tb, "shared", 0, 200)
	a := startMember(t, tb, "group-one", "shared")
	b := startMember(t, tb, "group-two", "shared", kgo.Balancers(kgo.RangeBalancer()))
	waitFor(t, 20*time.Second, "both groups to read everything", func() bool {
		return len(a.consumed()) >= 200 && len(b.consumed()) >= 200
	})
	a.stop()
	b.stop()
	resp := tb.admin()
	groups, err := resp.ListGroups(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups.Groups(), []string{"group-one", "group-two"}) {
		t.Fatalf("groups %v", groups.Groups())
	}
	for _, g := range []string{"group-one", "group-two"} {
		offs, err := resp.FetchOffsets(ctxT(t), g)
		if err != nil {
			t.Fatal(err)
		}
		total := int64(0)
		offs.Each(func(o kadm.OffsetResponse) { total += o.At })
		if total != 200 {
			t.Fatalf("group %s committed up to %d records, want 200", g, total)
		}
	}
}

// TestGroupEagerRebalance: with an eager balancer (range) every member
// gives up everything before the group reassigns; members joining one by
// one never share a partition.
func TestGroupEagerRebalance(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "eager", 6, nil)
	opt := kgo.Balancers(kgo.RangeBalancer())
	a := startMember(t, tb, "eager-group", "eager", opt)
	waitBalanced(t, 6, []int{6}, a)
	b := startMember(t, tb, "eager-group", "eager", opt)
	c := startMember(t, tb, "eager-group", "eager", opt)
	watchOwnership(t, a, b, c)
	waitBalanced(t, 6, []int{2, 2, 2}, a, b, c)
	b.stop()
	waitBalanced(t, 6, []int{3, 3}, a, c)
}
