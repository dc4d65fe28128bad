package broker_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
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
	readExactlyOnce(t, 20*time.Second, n, a, b, c)

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

// TestGroupKIP848SurvivesRestart: KIP-848 membership is kept in
// __consumer_offsets, so when the broker restarts under franz-go members
// they carry on with the same member IDs, epochs and partitions: nobody
// rejoins, nothing is revoked or lost, and the records produced after the
// restart are read exactly once.
func TestGroupKIP848SurvivesRestart(t *testing.T) {
	static := static848()
	static["group.consumer.session.timeout.ms"] = "10000"
	tb := startBroker(t, "", static)
	createTopic(t, tb.admin(), "restart848", 4, nil)
	opts := []kgo.Opt{kgo.ServerSideBalancer(), kgo.RetryTimeout(30 * time.Second)}
	a := startMember(t, tb, "r848", "restart848", opts...)
	b := startMember(t, tb, "r848", "restart848", opts...)
	waitBalanced(t, 4, []int{2, 2}, a, b)

	describe := func(tb *testBroker) kadm.DescribedConsumerGroup {
		t.Helper()
		adm := kadm.NewClient(tb.client())
		defer adm.Close()
		d, err := adm.DescribeConsumerGroups(ctxT(t), "r848")
		if err != nil || d["r848"].Err != nil {
			t.Fatalf("describe: %v %+v", err, d["r848"])
		}
		return d["r848"]
	}
	summary := func(d kadm.DescribedConsumerGroup) string {
		out := fmt.Sprintf("%s epoch %d assignment epoch %d:", d.State, d.Epoch, d.AssignmentEpoch)
		ms := slices.Clone(d.Members)
		slices.SortFunc(ms, func(x, y kadm.ConsumerGroupMember) int { return cmp.Compare(x.MemberID, y.MemberID) })
		for _, m := range ms {
			out += fmt.Sprintf(" %s@%d=%v", m.MemberID, m.MemberEpoch, m.Assignment.Sorted())
		}
		return out
	}
	var before string
	waitFor(t, 10*time.Second, "a stable group", func() bool {
		d := describe(tb)
		before = summary(d)
		return d.State == "Stable"
	})
	counts := func() string {
		a.mu.Lock()
		defer a.mu.Unlock()
		b.mu.Lock()
		defer b.mu.Unlock()
		return fmt.Sprint(a.assigns, a.revokes, b.assigns, b.revokes)
	}
	callbacks := counts()

	tb = tb.restartInPlace()
	const n = 200
	produceN(t, tb, "restart848", 0, n)
	readExactlyOnce(t, 30*time.Second, n, a, b)
	if after := summary(describe(tb)); after != before {
		t.Fatalf("group changed across the restart:\nbefore %s\nafter  %s", before, after)
	}
	if got := counts(); got != callbacks {
		t.Fatalf("members saw assignments or revocations across the restart (assigns, revokes of a and b): %s -> %s", callbacks, got)
	}
}

// readExactlyOnce waits until the members have read n records between
// them and fails unless they are n distinct records, each read once.
func readExactlyOnce(t *testing.T, timeout time.Duration, n int, members ...*groupMember) {
	t.Helper()
	waitFor(t, timeout, "every record consumed", func() bool {
		total := 0
		for _, m := range members {
			total += len(m.consumed())
		}
		return total >= n
	})
	seen := map[string]int{}
	for _, m := range members {
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
}

// TestGroupKIP848NewPartitions: partitions added to a subscribed topic
// move the group epoch and are assigned to the members, and a topic
// created later that matches a member's regular expression is assigned
// too.
func TestGroupKIP848NewPartitions(t *testing.T) {
	tb := startBroker(t, "", static848())
	adm := tb.admin()
	createTopic(t, adm, "grow848", 2, nil)
	opts := []kgo.Opt{kgo.ServerSideBalancer()}
	a := startMember(t, tb, "grow848", "grow848", opts...)
	b := startMember(t, tb, "grow848", "grow848", opts...)
	waitBalanced(t, 2, []int{1, 1}, a, b)
	if _, err := adm.UpdatePartitions(ctxT(t), 4, "grow848"); err != nil {
		t.Fatal(err)
	}
	waitBalanced(t, 4, []int{2, 2}, a, b)

	var mu sync.Mutex
	assigned := map[string]int{}
	re := tb.client(kgo.ConsumerGroup("regex848"), kgo.ConsumeRegex(), kgo.ConsumeTopics("late848.*"), kgo.ServerSideBalancer(),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for topic, ps := range a {
				assigned[topic] += len(ps)
			}
		}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			re.PollFetches(ctx)
		}
	}()
	createTopic(t, adm, "late848a", 3, nil)
	waitFor(t, 15*time.Second, "the regex member is assigned the topic created after it joined", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return assigned["late848a"] == 3
	})
}

// TestGroupKIP848InternalTopics: Kafka resolves KIP-848 subscriptions
// against every topic of the metadata image, internal ones included, so a
// franz-go member subscribing to __consumer_offsets by name or by regular
// expression is assigned all its partitions.
func TestGroupKIP848InternalTopics(t *testing.T) {
	tb := startBroker(t, "", static848())
	createTopic(t, tb.admin(), "plain848", 1, nil)
	const partitions = 10 // offsets.topic.num.partitions in groupStatic
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"by name", []kgo.Opt{kgo.ConsumeTopics("__consumer_offsets")}},
		// franz-go's own regex filter skips internal topics: a member
		// joins once it matches some topic, then adopts the internal
		// ones the broker assigns.
		{"by regex", []kgo.Opt{kgo.ConsumeRegex(), kgo.ConsumeTopics("__consumer_off.*", "plain848")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			assigned := map[string]int{}
			opts := append([]kgo.Opt{kgo.ConsumerGroup("internal848-" + tc.name[3:]), kgo.ServerSideBalancer(),
				kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
					mu.Lock()
					defer mu.Unlock()
					for topic, ps := range a {
						assigned[topic] += len(ps)
					}
				})}, tc.opts...)
			cl := tb.client(opts...)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ctx.Err() == nil {
					cl.PollFetches(ctx)
				}
			}()
			defer func() { cancel(); <-done }()
			defer func() {
				if t.Failed() {
					d, err := tb.admin().DescribeConsumerGroups(context.Background(), "internal848-"+tc.name[3:])
					t.Logf("described: %v %+v", err, d)
				}
			}()
			waitFor(t, 15*time.Second, "__consumer_offsets assigned to the KIP-848 member", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return assigned["__consumer_offsets"] == partitions
			})
			mu.Lock()
			defer mu.Unlock()
			if want := map[bool]int{true: 1}[tc.name == "by regex"]; assigned["plain848"] != want {
				t.Fatalf("plain848: %d partitions assigned, want %d", assigned["plain848"], want)
			}
		})
	}
}
