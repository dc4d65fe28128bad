package group

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// reload starts a second coordinator over the first one's log, as a
// restarted broker or a new coordinator of the partition would.
func reload(t *testing.T, c *Coordinator, clock *fakeClock) *Coordinator {
	t.Helper()
	c.mu.RLock()
	l := c.shards[0].log
	c.mu.RUnlock()
	c.Close()
	cfg := c.cfg
	cfg.Clock = clock
	next := New(cfg)
	t.Cleanup(next.Close)
	if err := next.Sync(1, map[int32]Log{0: l}); err != nil {
		t.Fatal(err)
	}
	return next
}

// TestConsumerGroupReloadMidReconciliation: a KIP-848 group reloaded while
// one member is revoking partitions comes back with the same epochs,
// assignments, targets and pending revocations, and reconciles from there
// without any member rejoining or any partition owned twice.
func TestConsumerGroupReloadMidReconciliation(t *testing.T) {
	c, clock := consumerEnv(t)
	a, b := &member848{id: "a"}, &member848{id: "b"}
	a.heartbeat(t, c, topicT)
	b.heartbeat(t, c, topicT)
	a.heartbeat(t, c, topicT) // told to revoke three
	before := c.DescribeConsumerGroup("g")
	if before.State != "Reconciling" || count(a.owned) != 3 {
		t.Fatalf("before reload: %+v, a owns %v", before, a.owned)
	}

	c = reload(t, c, clock)
	after := c.DescribeConsumerGroup("g")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("reloaded group differs:\nbefore %+v\nafter  %+v", before, after)
	}
	b.heartbeat(t, c, topicT) // a has still not acknowledged
	if count(b.owned) != 0 {
		t.Fatalf("b got partitions a still revokes: %v", b.owned)
	}
	a.heartbeat(t, c, topicT) // acknowledges
	b.heartbeat(t, c, topicT)
	checkDisjoint(t, a, b)
	if count(a.owned) != 3 || count(b.owned) != 3 || a.epoch != 2 || b.epoch != 2 {
		t.Fatalf("after reconciling: a epoch %d %v, b epoch %d %v", a.epoch, a.owned, b.epoch, b.owned)
	}
	if d := c.DescribeConsumerGroup("g"); d.State != "Stable" || d.Epoch != 2 || d.AssignmentEpoch != 2 {
		t.Fatalf("describe: %+v", d)
	}
	// Keepalive heartbeats of a stable group change nothing and write
	// nothing.
	written := len(logRecords(logOf(c)))
	a.heartbeat(t, c, topicT)
	b.heartbeat(t, c, topicT)
	if n := len(logRecords(logOf(c))); n != written {
		t.Fatalf("keepalive heartbeats wrote %d records", n-written)
	}

	// Reloaded members that stop heartbeating expire as any member does.
	c = reload(t, c, clock)
	clock.Advance(600 * time.Millisecond)
	a.heartbeat(t, c, topicT)
	clock.Advance(600 * time.Millisecond)
	a.heartbeat(t, c, topicT)
	if count(a.owned) != 6 || a.epoch != 3 {
		t.Fatalf("a after b expired: epoch %d owns %v", a.epoch, a.owned)
	}
	c = reload(t, c, clock)
	if d := c.DescribeConsumerGroup("g"); len(d.Members) != 1 || d.Members[0].MemberID != "a" || d.Epoch != 3 {
		t.Fatalf("after b expired and a reload: %+v", d)
	}
}

// TestConsumerGroupReloadStaticMember: a static member that left
// temporarily (epoch -2) is still away after a reload, and its return
// under a new member ID gets its partitions and epoch back.
func TestConsumerGroupReloadStaticMember(t *testing.T) {
	c, clock := consumerEnv(t)
	inst := "i"
	join := func(c *Coordinator, id string) ConsumerHeartbeatResult { return joinStatic(c, &inst, id) }
	r := join(c, "one")
	if r.Err != 0 || count(r.Assignment) != 6 {
		t.Fatalf("join: %+v", r)
	}
	if r2 := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "one", InstanceID: &inst, MemberEpoch: -2, RebalanceTimeout: -1}); r2.Err != 0 {
		t.Fatalf("temporary leave: %+v", r2)
	}
	c = reload(t, c, clock)
	r3 := join(c, "two")
	if r3.Err != 0 || r3.MemberEpoch != r.MemberEpoch || count(r3.Assignment) != 6 {
		t.Fatalf("static return after reload: %+v (first join %+v)", r3, r)
	}
	if d := c.DescribeConsumerGroup("g"); len(d.Members) != 1 || d.Members[0].MemberID != "two" || *d.Members[0].InstanceID != "i" {
		t.Fatalf("describe: %+v", d)
	}
	c = reload(t, c, clock)
	if r4 := join(c, "three"); r4.Err != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("a second live instance after reload: %v", kerr.ErrorForCode(r4.Err))
	}
}

// TestConsumerGroupReloadTypeChanges: an empty KIP-848 group reloads as a
// KIP-848 group; once a classic member takes it over it reloads as
// classic; deleted, it does not come back; its offsets survive every
// change of type.
func TestConsumerGroupReloadTypeChanges(t *testing.T) {
	c, clock := consumerEnv(t)
	a := &member848{id: "a"}
	a.heartbeat(t, c, topicT)
	if code, _ := c.CommitOffsets(CommitRequest{Group: "g", Generation: a.epoch, MemberID: "a", Commits: []Commit{{TopicPartition{"t", 2}, Offset{Offset: 40, LeaderEpoch: -1}}}}); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != 0 {
		t.Fatalf("leave: %+v", r)
	}
	c = reload(t, c, clock)
	typeOf := func(c *Coordinator) string {
		l := listed(t, c, nil, nil)
		if len(l) != 1 {
			t.Fatalf("list: %+v", l)
		}
		return l[0].Type + "/" + l[0].State
	}
	offset := func(c *Coordinator) int64 {
		o, code := c.FetchOffsets("g", []TopicPartition{{"t", 2}})
		if code != 0 {
			t.Fatalf("fetch offsets: %v", kerr.ErrorForCode(code))
		}
		return o[0].Offset.Offset
	}
	if got := typeOf(c); got != "consumer/Empty" || offset(c) != 40 {
		t.Fatalf("empty KIP-848 group reloaded as %s with offset %d", got, offset(c))
	}

	inst := "s"
	r := c.JoinGroup(context.Background(), JoinRequest{Group: "g", InstanceID: &inst, ProtocolType: "consumer", Protocols: []Protocol{{Name: "range"}}, SessionTimeout: 6 * time.Second, RebalanceTimeout: time.Second})
	if r.Err != 0 {
		t.Fatalf("classic join: %+v", r)
	}
	if sr := c.SyncGroup(context.Background(), SyncRequest{Group: "g", Generation: r.Generation, MemberID: r.MemberID, Assignments: map[string][]byte{r.MemberID: {1}}}); sr.Err != 0 {
		t.Fatalf("classic sync: %+v", sr)
	}
	c = reload(t, c, clock)
	if got := typeOf(c); got != "classic/Stable" || offset(c) != 40 {
		t.Fatalf("after a classic member joined, reloaded as %s with offset %d", got, offset(c))
	}
	if code, codes := c.LeaveGroup("g", []LeavingMember{{MemberID: r.MemberID, InstanceID: &inst}}); code != 0 || codes[0] != 0 {
		t.Fatalf("leave: %v %v", kerr.ErrorForCode(code), codes)
	}

	// Back to KIP-848, then deleted.
	a = &member848{id: "a2"}
	a.heartbeat(t, c, topicT)
	c = reload(t, c, clock)
	if got := typeOf(c); got != "consumer/Stable" || offset(c) != 40 {
		t.Fatalf("classic group taken over by a KIP-848 member reloaded as %s with offset %d", got, offset(c))
	}
	a.heartbeat(t, c, topicT)
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a2", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != 0 {
		t.Fatalf("leave: %+v", r)
	}
	if code := c.DeleteGroup("g"); code != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(code))
	}
	c = reload(t, c, clock)
	if l := listed(t, c, nil, nil); len(l) != 0 {
		t.Fatalf("deleted group reloaded: %+v", l)
	}
}

// TestConsumerGroupWriteFailure: a heartbeat whose records cannot be
// written fails with COORDINATOR_NOT_AVAILABLE, and the next heartbeat
// writes what the failed one could not.
func TestConsumerGroupWriteFailure(t *testing.T) {
	c, clock := consumerEnv(t)
	l := logOf(c)
	a := &member848{id: "a"}
	a.heartbeat(t, c, topicT)
	l.setFailing(true)
	b := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "b", RebalanceTimeout: time.Second, SubscribedTopics: []string{"t"}, Owned: map[[16]byte][]int32{}, Topics: map[string]TopicInfo{"t": topicT}})
	if b.Err != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("heartbeat with a failing log: %+v", b)
	}
	l.setFailing(false)
	a.heartbeat(t, c, topicT)
	before := c.DescribeConsumerGroup("g")
	c = reload(t, c, clock)
	if after := c.DescribeConsumerGroup("g"); !reflect.DeepEqual(before, after) || len(after.Members) != 2 {
		t.Fatalf("reloaded group differs:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestConsumerRecordLayout: the records are laid out as Kafka's generated
// code writes them.
func TestConsumerRecordLayout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want []byte
	}{
		{"group key", consumerKey{kind: consumerGroupMetadataType}.encode("g"), []byte{0, 3, 0, 1, 'g'}},
		{"member key", consumerKey{consumerCurrentAssignmentTyp, "m"}.encode("g"), []byte{0, 8, 0, 1, 'g', 0, 1, 'm'}},
		{"group epoch", encodeConsumerGroup(storedConsumerGroup{epoch: 7}), []byte{0, 0, 0, 0, 0, 7, 0}},
		{"group epoch with hash", encodeConsumerGroup(storedConsumerGroup{epoch: 7, topicsHash: 1}), []byte{0, 0, 0, 0, 0, 7, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"target epoch", encodeTargetEpoch(5), []byte{0, 0, 0, 0, 0, 5, 0}},
		{"target", encodeTargetMember(assignment{{9}: {1, 2}}), append(append([]byte{0, 0, 2}, append([]byte{9}, make([]byte, 15)...)...), 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0)},
		{"member", encodeConsumerMember(storedConsumerMember{clientID: "c", clientHost: "h", subscribed: []string{"t"}, rebalanceTimeoutMs: 1000}),
			[]byte{0, 0, 0, 0, 2, 'c', 2, 'h', 2, 2, 't', 0, 0, 0, 3, 0xe8, 0, 0}},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s: got % x, want % x", tc.name, tc.got, tc.want)
		}
	}
}
