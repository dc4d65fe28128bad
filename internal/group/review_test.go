package group

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TestReviewReloadRandom: random heartbeats, leaves, static leaves and
// returns, subscription and topic changes and session expiries; after
// every step, a reload rebuilds the same state.
func TestReviewReloadRandom(t *testing.T) {
	totalLeft := 0
	defer func() { t.Logf("reloads with a left static member: %d", totalLeft) }()
	for seed := int64(1); seed <= 100; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rnd := rand.New(rand.NewSource(seed))
			c, clock := consumerEnv(t)
			topics := map[string]TopicInfo{"t": topicT, "u": {Name: "u", ID: [16]byte{2}, Partitions: 3}}
			type cl struct {
				id    string
				inst  *string
				epoch int32
				owned map[[16]byte][]int32
				live  bool
			}
			var clients []*cl
			for i := range 4 {
				x := &cl{id: fmt.Sprintf("m%d", i)}
				if i%2 == 0 {
					s := fmt.Sprintf("i%d", i)
					x.inst = &s
				}
				clients = append(clients, x)
			}
			gen := 0
			sawLeft := 0
			defer func() { totalLeft += sawLeft }()
			for step := range 60 {
				x := clients[rnd.Intn(len(clients))]
				op := rnd.Intn(10)
				switch {
				case op < 6 || !x.live:
					req := ConsumerHeartbeat{Group: "g", MemberID: x.id, MemberEpoch: x.epoch, RebalanceTimeout: -1, Owned: x.owned, Topics: topics, InstanceID: x.inst}
					if !x.live {
						if x.inst != nil && rnd.Intn(2) == 0 {
							gen++
							x.id = fmt.Sprintf("%s-%d", x.id[:2], gen)
						}
						req.MemberID, req.MemberEpoch, req.RebalanceTimeout = x.id, 0, time.Second
						req.SubscribedTopics, req.Owned = []string{"t"}, map[[16]byte][]int32{}
						if rnd.Intn(3) == 0 {
							req.SubscribedTopics = []string{"t", "u"}
						}
						if rnd.Intn(4) == 0 {
							r := "range"
							req.ServerAssignor = &r
						}
					}
					if rnd.Intn(8) == 0 {
						req.SubscribedTopics = []string{"u"}
					}
					r := c.ConsumerGroupHeartbeat(req)
					if r.Err != 0 {
						x.live, x.epoch, x.owned = false, 0, nil
						continue
					}
					x.live, x.id, x.epoch = true, r.MemberID, r.MemberEpoch
					if r.Assignment != nil {
						x.owned = r.Assignment
					}
				case op == 6:
					epoch := int32(-1)
					if x.inst != nil && rnd.Intn(2) == 0 {
						epoch = -2
					}
					c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: x.id, MemberEpoch: epoch, InstanceID: x.inst, RebalanceTimeout: -1})
					x.live, x.epoch, x.owned = false, 0, nil
				case op == 7:
					clock.Advance(400 * time.Millisecond)
				case op == 8:
					u := topics["u"]
					u.Partitions++
					topics["u"] = u
				case op == 9 && rnd.Intn(3) == 0:
					l := logOf(c)
					l.setFailing(true)
					y := clients[rnd.Intn(len(clients))]
					c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: y.id, MemberEpoch: -1, InstanceID: y.inst, RebalanceTimeout: -1})
					y.live, y.epoch, y.owned = false, 0, nil
					l.setFailing(false)
				case op == 9:
					if _, g, _ := c.lookup("g", false); g != nil {
						g.mu.Lock()
						if g.consumer != nil {
							g.persistConsumer() // what the next change would write
						}
						g.mu.Unlock()
					}
					before := snapshot(c)
					if before != nil {
						for _, m := range before.members {
							if m.left {
								sawLeft++
								break
							}
						}
					}
					c = reload(t, c, clock)
					if after := snapshot(c); !reflect.DeepEqual(before, after) {
						t.Fatalf("step %d: reload differs:\nbefore %+v\nafter  %+v", step, before, after)
					}
				}
			}
		})
	}
}

// kafkaReplay replays the KIP-848 records of a log under the invariants
// Kafka's GroupMetadataManager.replay enforces (it throws
// IllegalStateException, failing the load of the partition, otherwise):
// a member's metadata tombstone needs its current assignment and target
// tombstoned first; the target epoch's tombstone needs every target gone;
// the group's tombstone needs no members, no targets and the target epoch
// tombstoned; and no partition is owned by two members at once
// (ConsumerGroup.addPartitionEpochs).
func kafkaReplay(recs []batch.Record) error {
	type kmember struct {
		epoch int32
		owned map[topicPartition]bool
	}
	type kgroup struct {
		members     map[string]*kmember
		targets     map[string]bool
		targetEpoch int32
		owner       map[topicPartition]string
	}
	groups := map[string]*kgroup{}
	get := func(id string, create bool) *kgroup {
		g := groups[id]
		if g == nil && create {
			g = &kgroup{members: map[string]*kmember{}, targets: map[string]bool{}, targetEpoch: -1, owner: map[topicPartition]string{}}
			groups[id] = g
		}
		return g
	}
	for i, r := range recs {
		d, err := decodeRecord(r)
		if err != nil {
			return err
		}
		if d.kind < consumerGroupMetadataType || d.ignore {
			continue
		}
		tomb := r.Value == nil
		g := get(d.group, !tomb)
		if g == nil {
			continue // Kafka ignores tombstones of unknown groups
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("record %d (type %d, member %q): %s", i, d.kind, d.member, fmt.Sprintf(format, args...))
		}
		switch d.kind {
		case consumerGroupMetadataType:
			if tomb {
				if len(g.members) > 0 || len(g.targets) > 0 || g.targetEpoch != -1 {
					return fail("group tombstone with %d members, %d targets, target epoch %d", len(g.members), len(g.targets), g.targetEpoch)
				}
				delete(groups, d.group)
			}
		case consumerTargetMetadataType:
			if tomb {
				if len(g.targets) > 0 {
					return fail("target epoch tombstone with %d targets", len(g.targets))
				}
				g.targetEpoch = -1
			} else {
				g.targetEpoch = int32(*d.targetEpoch)
			}
		case consumerTargetMemberType:
			if tomb {
				delete(g.targets, d.member)
			} else {
				g.targets[d.member] = true
			}
		case consumerMemberMetadataType:
			m := g.members[d.member]
			if tomb {
				if m == nil {
					continue
				}
				if m.epoch != -1 {
					return fail("member tombstone before its current assignment's")
				}
				if g.targets[d.member] {
					return fail("member tombstone before its target's")
				}
				delete(g.members, d.member)
			} else if m == nil {
				g.members[d.member] = &kmember{owned: map[topicPartition]bool{}}
			}
		case consumerCurrentAssignmentTyp:
			m := g.members[d.member]
			if m == nil {
				if tomb {
					continue
				}
				m = &kmember{owned: map[topicPartition]bool{}}
				g.members[d.member] = m
			}
			for tp := range m.owned {
				delete(g.owner, tp)
			}
			m.owned = map[topicPartition]bool{}
			m.epoch = -1
			if tomb {
				continue
			}
			m.epoch = d.current.epoch
			for _, a := range []assignment{d.current.assigned, d.current.revoking} {
				for tp := range a.set() {
					if o, ok := g.owner[tp]; ok {
						return fail("partition %d-%d already owned by %s", tp.id[0], tp.partition, o)
					}
					g.owner[tp] = d.member
					m.owned[tp] = true
				}
			}
		}
	}
	return nil
}

// TestReviewKafkaReplayOrdinary: the records of ordinary joins,
// reconciliation, leaves, expiry and deletion replay under Kafka's
// invariants.
func TestReviewKafkaReplayOrdinary(t *testing.T) {
	c, clock := consumerEnv(t)
	a, b := &member848{id: "a"}, &member848{id: "b"}
	a.heartbeat(t, c, topicT)
	b.heartbeat(t, c, topicT)
	a.heartbeat(t, c, topicT)
	a.heartbeat(t, c, topicT)
	b.heartbeat(t, c, topicT)
	clock.Advance(600 * time.Millisecond)
	a.heartbeat(t, c, topicT)
	clock.Advance(600 * time.Millisecond) // b expires
	a.heartbeat(t, c, topicT)
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != 0 {
		t.Fatalf("leave: %+v", r)
	}
	if code := c.DeleteGroup("g"); code != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(code))
	}
	if err := kafkaReplay(logRecords(logOf(c))); err != nil {
		t.Fatal(err)
	}
}

// TestReviewKafkaReplayStaticReturn: when a static member comes back
// under a new member ID, the batch writes the old incarnation's tombstones
// before the new member's current assignment (owning the same
// partitions), as Kafka does: the other order makes Kafka's replay find
// each partition owned twice and fail to load the partition.
func TestReviewKafkaReplayStaticReturn(t *testing.T) {
	c, _ := consumerEnv(t)
	inst := "i"
	join := func(id string) ConsumerHeartbeatResult { return joinStatic(c, &inst, id) }
	if r := join("one"); r.Err != 0 || count(r.Assignment) != 6 {
		t.Fatalf("join: %+v", r)
	}
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "one", InstanceID: &inst, MemberEpoch: -2, RebalanceTimeout: -1}); r.Err != 0 {
		t.Fatalf("temporary leave: %+v", r)
	}
	if r := join("two"); r.Err != 0 || count(r.Assignment) != 6 {
		t.Fatalf("static return: %+v", r)
	}
	if err := kafkaReplay(logRecords(logOf(c))); err != nil {
		t.Fatalf("Kafka could not replay the log: %v", err)
	}
}

// TestReviewKafkaReplayDeleteAfterFailedWrite: a member's leave whose
// write failed leaves its records in the log; DeleteGroup then tombstones
// them along with the group's in Kafka's order (current assignment,
// target, target epoch, member, group): Kafka refuses the target epoch's
// tombstone while a target remains, and the group's while a member
// remains.
func TestReviewKafkaReplayDeleteAfterFailedWrite(t *testing.T) {
	c, clock := consumerEnv(t)
	l := logOf(c)
	a := &member848{id: "a"}
	a.heartbeat(t, c, topicT)
	l.mu.Lock()
	l.fail = true
	l.mu.Unlock()
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("leave with a failing log: %+v", r)
	}
	l.mu.Lock()
	l.fail = false
	l.mu.Unlock()
	if code := c.DeleteGroup("g"); code != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(code))
	}
	// Samsa itself replays it to nothing.
	if c = reload(t, c, clock); len(listed(t, c, nil, nil)) != 0 {
		t.Fatalf("deleted group reloaded: %+v", listed(t, c, nil, nil))
	}
	if err := kafkaReplay(logRecords(l)); err != nil {
		t.Fatalf("Kafka could not replay the log: %v", err)
	}
}

// TestReviewConsumerOffsetRetentionAcrossReload: an empty KIP-848
// group's offsets expire offsets.retention after their commit (Kafka's
// ConsumerGroup.offsetExpirationCondition uses the commit timestamp
// only), so a reload, which cannot know when the group emptied, does not
// restart the retention.
func TestReviewConsumerOffsetRetentionAcrossReload(t *testing.T) {
	c, clock := expiryEnv(t) // retention 30s
	a := &member848{id: "a"}
	a.heartbeat(t, c, topicT)
	if code, _ := c.CommitOffsets(CommitRequest{Group: "g", Generation: a.epoch, MemberID: "a", Commits: []Commit{{TopicPartition{"t", 0}, Offset{Offset: 5, LeaderEpoch: -1}}}}); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != 0 {
		t.Fatalf("leave: %+v", r)
	}
	clock.Advance(20 * time.Second)
	c = reload(t, c, clock)
	clock.Advance(15 * time.Second) // 35s after the commit and the leave
	c.ExpireOffsets()
	if got := committed(t, c, "g"); len(got) != 0 {
		t.Fatalf("35s after the commit and the group emptying (retention 30s): offsets %v remain", got)
	}
}

// TestReviewStaticMemberFencedAfterTemporaryLeave: after a static
// member's temporary leave (epoch -2) Kafka records it at epoch -2, so a
// heartbeat at its old epoch is FENCED_MEMBER_EPOCH: it must come back at
// epoch 0.
func TestReviewStaticMemberFencedAfterTemporaryLeave(t *testing.T) {
	c, _ := consumerEnv(t)
	inst := "i"
	r := joinStatic(c, &inst, "one")
	if r.Err != 0 {
		t.Fatalf("join: %+v", r)
	}
	if r2 := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "one", InstanceID: &inst, MemberEpoch: -2, RebalanceTimeout: -1}); r2.Err != 0 {
		t.Fatalf("temporary leave: %+v", r2)
	}
	r3 := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "one", MemberEpoch: r.MemberEpoch, RebalanceTimeout: -1, Topics: map[string]TopicInfo{"t": topicT}})
	if r3.Err != kerr.FencedMemberEpoch.Code {
		t.Fatalf("heartbeat at the old epoch after a temporary leave: %v, want FENCED_MEMBER_EPOCH", kerr.ErrorForCode(r3.Err))
	}
}

// TestReviewDeleteOffsetsRegexSubscribedAfterReload: a member subscribed
// by regular expression keeps its topics' offsets from DeleteOffsets
// (GROUP_SUBSCRIBED_TO_TOPIC), also after a reload.
func TestReviewDeleteOffsetsRegexSubscribedAfterReload(t *testing.T) {
	c, clock := consumerEnv(t)
	regex := "re.*"
	topics := map[string]TopicInfo{"red": {Name: "red", ID: [16]byte{2}, Partitions: 1}}
	r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, SubscribedRegex: &regex, Owned: map[[16]byte][]int32{}, Topics: topics})
	if r.Err != 0 {
		t.Fatalf("join: %+v", r)
	}
	if code, _ := c.CommitOffsets(CommitRequest{Group: "g", Generation: r.MemberEpoch, MemberID: "m", Commits: []Commit{{TopicPartition{"red", 0}, Offset{Offset: 2, LeaderEpoch: -1}}}}); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if code, codes := c.DeleteOffsets("g", []TopicPartition{{"red", 0}}); code != 0 || codes[0] != kerr.GroupSubscribedToTopic.Code {
		t.Fatalf("delete before reload: %v %v", kerr.ErrorForCode(code), codes)
	}
	c = reload(t, c, clock)
	if code, codes := c.DeleteOffsets("g", []TopicPartition{{"red", 0}}); code != 0 || codes[0] != kerr.GroupSubscribedToTopic.Code {
		t.Fatalf("delete after reload: %v %v, want GROUP_SUBSCRIBED_TO_TOPIC", kerr.ErrorForCode(code), codes)
	}
}

// TestReviewAdminCommitWithMemberID: Kafka accepts a commit at
// generation (member epoch) -1 to a group that does not exist or is empty
// whatever member ID it carries (OffsetMetadataManager.validateOffsetCommit,
// ConsumerGroup/ClassicGroup.validateOffsetCommit).
func TestReviewAdminCommitWithMemberID(t *testing.T) {
	c, _ := consumerEnv(t)
	commit := []Commit{{TopicPartition{"t", 0}, Offset{Offset: 1, LeaderEpoch: -1}}}
	if code, codes := c.CommitOffsets(CommitRequest{Group: "missing", Generation: -1, MemberID: "old", Commits: commit}); code != 0 || codes[0] != 0 {
		t.Errorf("commit at -1 with a member ID to a missing group: %v %v, want accepted", kerr.ErrorForCode(code), codes)
	}
	a := &member848{id: "a"}
	a.heartbeat(t, c, topicT)
	if r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: -1, RebalanceTimeout: -1}); r.Err != 0 {
		t.Fatalf("leave: %+v", r)
	}
	if code, codes := c.CommitOffsets(CommitRequest{Group: "g", Generation: -1, MemberID: "a", Commits: commit}); code != 0 || codes[0] != 0 {
		t.Errorf("commit at -1 with a member ID to an empty KIP-848 group: %v %v, want accepted", kerr.ErrorForCode(code), codes)
	}
}

// TestReviewStaticLeaveFreesRevoking: as in Kafka
// (consumerGroupStaticMemberGroupLeave), a static member's temporary leave
// drops the partitions it was revoking, so their new owner gets them at
// once, and a reload keeps the left member as it was.
func TestReviewStaticLeaveFreesRevoking(t *testing.T) {
	c, clock := consumerEnv(t)
	inst := "i"
	r := joinStatic(c, &inst, "a")
	if r.Err != 0 || count(r.Assignment) != 6 {
		t.Fatalf("join: %+v", r)
	}
	b := &member848{id: "b"}
	b.heartbeat(t, c, topicT)
	// a learns it must give up three partitions...
	r = c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", MemberEpoch: r.MemberEpoch, RebalanceTimeout: -1, Owned: r.Assignment, Topics: map[string]TopicInfo{"t": topicT}})
	if r.Err != 0 || count(r.Assignment) != 3 {
		t.Fatalf("a told to revoke: %+v", r)
	}
	// ...and leaves temporarily instead of acknowledging.
	if r2 := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: "a", InstanceID: &inst, MemberEpoch: -2, RebalanceTimeout: -1}); r2.Err != 0 {
		t.Fatalf("temporary leave: %+v", r2)
	}
	b.heartbeat(t, c, topicT)
	checkDisjoint(t, b)
	if count(b.owned) != 3 {
		t.Fatalf("b after a left temporarily mid-revocation owns %v, want the 3 partitions a was revoking", b.owned)
	}
	before := snapshot(c)
	if !before.members["a"].left {
		t.Fatalf("a is not marked left: %+v", before)
	}
	if c = reload(t, c, clock); !reflect.DeepEqual(snapshot(c), before) {
		t.Fatalf("reload differs:\nbefore %+v\nafter  %+v", before, snapshot(c))
	}
}
