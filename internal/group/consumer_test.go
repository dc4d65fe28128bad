package group

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

var topicT = TopicInfo{Name: "t", ID: [16]byte{1}, Partitions: 6}

func consumerEnv(t *testing.T) (*Coordinator, *fakeClock) {
	clock := newFakeClock()
	c := New(Config{Clock: clock, Consumer: ConsumerConfig{SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond}})
	t.Cleanup(c.Close)
	if err := c.Sync(1, map[int32]Log{0: &memoryLog{}}); err != nil {
		t.Fatal(err)
	}
	return c, clock
}

// member is a test KIP-848 client that acknowledges what it is told.
type member848 struct {
	id    string
	epoch int32
	owned map[[16]byte][]int32
}

func (m *member848) heartbeat(t *testing.T, c *Coordinator, topics ...TopicInfo) ConsumerHeartbeatResult {
	t.Helper()
	req := ConsumerHeartbeat{Group: "g", MemberID: m.id, MemberEpoch: m.epoch, RebalanceTimeout: time.Second, Owned: m.owned, Topics: map[string]TopicInfo{}}
	for _, tp := range topics {
		req.Topics[tp.Name] = tp
	}
	if m.epoch == 0 {
		req.SubscribedTopics, req.Owned = []string{"t"}, map[[16]byte][]int32{}
	}
	r := c.ConsumerGroupHeartbeat(req)
	if r.Err != 0 {
		t.Fatalf("heartbeat of %s: %v %s", m.id, kerr.ErrorForCode(r.Err), r.ErrMessage)
	}
	m.epoch = r.MemberEpoch
	if r.Assignment != nil {
		m.owned = r.Assignment
	}
	return r
}

func count(a map[[16]byte][]int32) int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

// checkDisjoint fails if two members own one partition.
func checkDisjoint(t *testing.T, ms ...*member848) {
	t.Helper()
	owner := map[string]string{}
	for _, m := range ms {
		for id, ps := range m.owned {
			for _, p := range ps {
				k := fmt.Sprint(id[0], p)
				if o, ok := owner[k]; ok {
					t.Fatalf("partition %s owned by %s and %s", k, o, m.id)
				}
				owner[k] = m.id
			}
		}
	}
}

// TestConsumerGroupReconciliation: a new member gets partitions only after
// their owner revoked them, so no partition is ever owned twice; a member
// whose session expires gives its partitions to the others.
func TestConsumerGroupReconciliation(t *testing.T) {
	c, clock := consumerEnv(t)
	a := &member848{id: "a"}
	a.heartbeat(t, c, topicT)
	if count(a.owned) != 6 || a.epoch != 1 {
		t.Fatalf("first member: epoch %d owns %v", a.epoch, a.owned)
	}
	b := &member848{id: "b"}
	b.heartbeat(t, c, topicT)
	checkDisjoint(t, a, b)
	if count(b.owned) != 0 || b.epoch != 2 {
		t.Fatalf("b before a revoked: epoch %d owns %v", b.epoch, b.owned)
	}
	a.heartbeat(t, c, topicT) // told to revoke three
	checkDisjoint(t, a, b)
	if count(a.owned) != 3 || a.epoch != 1 {
		t.Fatalf("a revoking: epoch %d owns %v", a.epoch, a.owned)
	}
	if d := c.DescribeConsumerGroup("g"); d.State != "Reconciling" {
		t.Fatalf("state %s", d.State)
	}
	b.heartbeat(t, c, topicT) // a has not acknowledged yet
	if count(b.owned) != 0 {
		t.Fatalf("b got partitions before a acknowledged: %v", b.owned)
	}
	a.heartbeat(t, c, topicT) // acknowledges by listing three
	if a.epoch != 2 {
		t.Fatalf("a after revoking: epoch %d", a.epoch)
	}
	b.heartbeat(t, c, topicT)
	checkDisjoint(t, a, b)
	if count(b.owned) != 3 {
		t.Fatalf("b after a revoked: %v", b.owned)
	}
	if d := c.DescribeConsumerGroup("g"); d.State != "Stable" || d.Epoch != 2 {
		t.Fatalf("describe: %+v", d)
	}

	// An epoch the member never had is fenced.
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: 7, RebalanceTimeout: -1}); r.Err != kerr.FencedMemberEpoch.Code {
		t.Fatalf("stale epoch: %v", kerr.ErrorForCode(r.Err))
	}
	if code, _ := c.CommitOffsets(CommitRequest{Group: "g", Generation: 9, MemberID: "a"}); code != kerr.StaleMemberEpoch.Code {
		t.Fatalf("commit with a future epoch: %v", kerr.ErrorForCode(code))
	}
	if code, _ := c.CommitOffsets(CommitRequest{Group: "g", Generation: 2, MemberID: "a"}); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}

	// b stops heartbeating: after the session timeout a gets everything.
	clock.Advance(600 * time.Millisecond)
	a.heartbeat(t, c, topicT)
	clock.Advance(600 * time.Millisecond)
	a.heartbeat(t, c, topicT)
	if count(a.owned) != 6 || a.epoch != 3 {
		t.Fatalf("a after b expired: epoch %d owns %v", a.epoch, a.owned)
	}

	// New partitions move the group epoch and are assigned.
	more := topicT
	more.Partitions = 8
	a.heartbeat(t, c, more)
	if count(a.owned) != 8 {
		t.Fatalf("a after the topic grew: %v", a.owned)
	}

	// Leaving (-1) empties the group; a classic member may then take it.
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	if l := listed(t, c, nil, []string{"consumer"}); len(l) != 1 || l[0].State != "Empty" {
		t.Fatalf("list: %+v", l)
	}
}

// joinStatic joins static member id (instance inst) to group "g",
// subscribed to topicT.
func joinStatic(c *Coordinator, inst *string, id string) ConsumerHeartbeatResult {
	return c.ConsumerGroupHeartbeat(ConsumerHeartbeat{
		Group: "g", MemberID: id, InstanceID: inst, RebalanceTimeout: time.Second,
		SubscribedTopics: []string{"t"}, Owned: map[[16]byte][]int32{}, Topics: map[string]TopicInfo{"t": topicT},
	})
}

// TestConsumerGroupStaticMember: a static member leaving with epoch -2
// keeps its partitions for its return under a new member ID; a second
// live member with the same instance ID is refused.
func TestConsumerGroupStaticMember(t *testing.T) {
	c, _ := consumerEnv(t)
	inst := "i"
	join := func(id string) ConsumerHeartbeatResult { return joinStatic(c, &inst, id) }
	r := join("one")
	if r.Err != 0 || count(r.Assignment) != 6 {
		t.Fatalf("join: %+v", r)
	}
	if r2 := join("two"); r2.Err != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("duplicate instance: %v", kerr.ErrorForCode(r2.Err))
	}
	if r2 := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "one", InstanceID: &inst, MemberEpoch: -2, RebalanceTimeout: -1}); r2.Err != 0 || r2.MemberEpoch != -2 {
		t.Fatalf("temporary leave: %+v", r2)
	}
	r3 := join("two")
	if r3.Err != 0 || r3.MemberEpoch != r.MemberEpoch || count(r3.Assignment) != 6 {
		t.Fatalf("static return: %+v (first join %+v)", r3, r)
	}
	if d := c.DescribeConsumerGroup("g"); len(d.Members) != 1 || d.Members[0].MemberID != "two" || d.Epoch != r.MemberEpoch {
		t.Fatalf("describe: %+v", d)
	}
}

func TestAssignors(t *testing.T) {
	t1 := TopicInfo{Name: "a", ID: [16]byte{1}, Partitions: 7}
	t2 := TopicInfo{Name: "b", ID: [16]byte{2}, Partitions: 2}
	members := []assignorMember{{id: "m1", topics: []TopicInfo{t1, t2}}, {id: "m2", topics: []TopicInfo{t1, t2}}, {id: "m3", topics: []TopicInfo{t1}}}
	uniform := assignUniform(members, nil)
	total := 0
	for _, m := range members {
		n := uniform[m.id].count()
		total += n
		if n < 3 || n > 3 {
			t.Errorf("uniform gave %s %d partitions: %v", m.id, n, uniform)
		}
	}
	if total != 9 {
		t.Fatalf("uniform assigned %d of 9", total)
	}
	if _, ok := uniform["m3"][t2.ID]; ok {
		t.Fatalf("m3 got a topic it does not subscribe to: %v", uniform["m3"])
	}
	// Sticky: a fourth member takes partitions only from the others' surplus.
	members = append(members, assignorMember{id: "m4", topics: []TopicInfo{t1, t2}})
	next := assignUniform(members, uniform)
	moved := 0
	for _, m := range members[:3] {
		prev := uniform[m.id].set()
		for tp := range next[m.id].set() {
			if !prev[tp] {
				moved++
			}
		}
	}
	if moved != 0 || next["m4"].count() < 2 {
		t.Fatalf("uniform with a new member moved %d partitions between old members, gave m4 %d: %v", moved, next["m4"].count(), next)
	}

	ranged := assignRange(members[:2])
	if got := fmt.Sprint(ranged["m1"][t1.ID], ranged["m2"][t1.ID], ranged["m1"][t2.ID], ranged["m2"][t2.ID]); got != "[0 1 2 3] [4 5 6] [0] [1]" {
		t.Fatalf("range: %s", got)
	}
}

// TestConsumerGroupMaxSize: group.consumer.max.size bounds a KIP-848
// group; a member beyond it gets GROUP_MAX_SIZE_REACHED, and a member that
// leaves makes room.
func TestConsumerGroupMaxSize(t *testing.T) {
	c := New(Config{Clock: newFakeClock(), Consumer: ConsumerConfig{SessionTimeout: time.Second, MaxSize: 1}})
	t.Cleanup(c.Close)
	if err := c.Sync(1, map[int32]Log{0: &memoryLog{}}); err != nil {
		t.Fatal(err)
	}
	join := func(id string) int16 {
		return c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: id, RebalanceTimeout: time.Second, SubscribedTopics: []string{"t"}, Owned: map[[16]byte][]int32{}, Topics: map[string]TopicInfo{"t": topicT}}).Err
	}
	if code := join("a"); code != 0 {
		t.Fatalf("first member: %v", kerr.ErrorForCode(code))
	}
	if code := join("b"); code != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("member beyond the maximum: %v", kerr.ErrorForCode(code))
	}
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != 0 {
		t.Fatalf("leave: %v", kerr.ErrorForCode(r.Err))
	}
	if code := join("b"); code != 0 {
		t.Fatalf("member after one left: %v", kerr.ErrorForCode(code))
	}
}

// TestConsumerGroupTopicsVersion: the subscribed topics are resolved again
// when the topics' version moves or a subscription changes, and only then.
func TestConsumerGroupTopicsVersion(t *testing.T) {
	c, _ := consumerEnv(t)
	other := TopicInfo{Name: "u", ID: [16]byte{2}, Partitions: 2}
	hb := func(id string, epoch int32, version uint64, subs []string, topics ...TopicInfo) ConsumerHeartbeatResult {
		t.Helper()
		req := ConsumerHeartbeat{Group: "g", MemberID: id, MemberEpoch: epoch, RebalanceTimeout: -1, SubscribedTopics: subs, Topics: map[string]TopicInfo{}, TopicsVersion: version}
		if epoch == 0 {
			req.RebalanceTimeout, req.Owned = time.Second, map[[16]byte][]int32{}
		}
		for _, tp := range topics {
			req.Topics[tp.Name] = tp
		}
		r := c.ConsumerGroupHeartbeat(req)
		if r.Err != 0 {
			t.Fatalf("heartbeat: %v", kerr.ErrorForCode(r.Err))
		}
		return r
	}
	r := hb("a", 0, 1, []string{"t"}, topicT, other)
	if count(r.Assignment) != 6 || r.MemberEpoch != 1 {
		t.Fatalf("join: %+v", r)
	}
	grown := topicT
	grown.Partitions = 8
	// The same version stands for the same topics: nothing is resolved.
	if r = hb("a", 1, 1, nil, grown, other); r.MemberEpoch != 1 {
		t.Fatalf("same version: epoch %d", r.MemberEpoch)
	}
	// A new version: the new partitions are found and assigned.
	if r = hb("a", 1, 2, nil, grown, other); r.MemberEpoch != 2 || count(r.Assignment) != 8 {
		t.Fatalf("new version: %+v", r)
	}
	// A new subscription with the same version is resolved too.
	if r = hb("a", 2, 2, []string{"t", "u"}, grown, other); r.MemberEpoch != 3 || count(r.Assignment) != 10 {
		t.Fatalf("new subscription: %+v", r)
	}
}
