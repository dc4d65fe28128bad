package group

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committed lists the group's committed offsets as "topic:partition=offset".
func committed(t *testing.T, c *Coordinator, group string) []string {
	t.Helper()
	offsets, code := c.FetchOffsets(group, nil)
	if code != 0 {
		t.Fatalf("fetch offsets: %v", kerr.ErrorForCode(code))
	}
	var out []string
	for _, o := range offsets {
		out = append(out, fmt.Sprintf("%s:%d=%d", o.Topic, o.Partition, o.Offset.Offset))
	}
	return out
}

func expiryEnv(t *testing.T) (*Coordinator, *fakeClock) {
	clock := newFakeClock()
	c := New(Config{
		Clock: clock, OffsetsRetention: 30 * time.Second, RetentionCheckInterval: time.Hour,
		Consumer: ConsumerConfig{SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second},
	})
	t.Cleanup(c.Close)
	if err := c.Sync(1, map[int32]Log{0: &memoryLog{}}); err != nil {
		t.Fatal(err)
	}
	return c, clock
}

// TestExpireUnsubscribedOffsetsClassic (KIP-496): in a stable classic
// consumer group, the offsets of a topic no member subscribes to expire
// by commit time; those of subscribed topics never do.
func TestExpireUnsubscribedOffsetsClassic(t *testing.T) {
	c, clock := expiryEnv(t)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"t"}
	inst := "i"
	ctx := context.Background()
	r := c.JoinGroup(ctx, JoinRequest{Group: "g", InstanceID: &inst, ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: meta.AppendTo(nil)}}, SessionTimeout: 10 * time.Second, RebalanceTimeout: time.Second})
	if r.Err != 0 {
		t.Fatalf("join: %+v", r)
	}
	if sr := c.SyncGroup(ctx, SyncRequest{Group: "g", Generation: r.Generation, MemberID: r.MemberID, Assignments: map[string][]byte{r.MemberID: {}}}); sr.Err != 0 {
		t.Fatalf("sync: %+v", sr)
	}
	commit := []Commit{{TopicPartition{"old", 0}, Offset{Offset: 5, LeaderEpoch: -1}}, {TopicPartition{"t", 0}, Offset{Offset: 7, LeaderEpoch: -1}}}
	if code, codes := c.CommitOffsets(CommitRequest{Group: "g", Generation: r.Generation, MemberID: r.MemberID, Commits: commit}); code != 0 || codes[0] != 0 {
		t.Fatalf("commit: %v %v", kerr.ErrorForCode(code), codes)
	}
	for range 7 { // 35s, heartbeating
		clock.Advance(5 * time.Second)
		if code := c.Heartbeat("g", r.Generation, r.MemberID, &inst); code != 0 {
			t.Fatalf("heartbeat: %v", kerr.ErrorForCode(code))
		}
	}
	c.ExpireOffsets()
	if got := committed(t, c, "g"); len(got) != 1 || got[0] != "t:0=7" {
		t.Fatalf("after the retention: %v, want only t:0=7", got)
	}
	c = reload(t, c, clock)
	if got := committed(t, c, "g"); len(got) != 1 || got[0] != "t:0=7" {
		t.Fatalf("after a reload: %v, want only t:0=7", got)
	}
}

// TestExpireUnsubscribedOffsetsConsumer (KIP-496 for KIP-848 groups): a
// member's explicit and regular-expression subscriptions keep their
// topics' offsets, also after a reload; other topics' offsets expire by
// commit time.
func TestExpireUnsubscribedOffsetsConsumer(t *testing.T) {
	c, clock := expiryEnv(t)
	regex := "re.*"
	topics := map[string]TopicInfo{"t": topicT, "red": {Name: "red", ID: [16]byte{2}, Partitions: 1}, "old": {Name: "old", ID: [16]byte{3}, Partitions: 1}}
	hb := func(c *Coordinator, epoch int32) int32 {
		t.Helper()
		req := ConsumerHeartbeat{Group: "g", MemberID: "m", MemberEpoch: epoch, RebalanceTimeout: -1, Topics: topics}
		if epoch == 0 {
			req.SubscribedTopics, req.SubscribedRegex, req.Owned = []string{"t"}, &regex, map[[16]byte][]int32{}
		}
		r := c.ConsumerGroupHeartbeat(req)
		if r.Err != 0 {
			t.Fatalf("heartbeat: %v %s", kerr.ErrorForCode(r.Err), r.ErrMessage)
		}
		return r.MemberEpoch
	}
	epoch := hb(c, 0)
	commit := []Commit{{TopicPartition{"old", 0}, Offset{Offset: 1, LeaderEpoch: -1}}, {TopicPartition{"red", 0}, Offset{Offset: 2, LeaderEpoch: -1}}, {TopicPartition{"t", 0}, Offset{Offset: 3, LeaderEpoch: -1}}}
	if code, _ := c.CommitOffsets(CommitRequest{Group: "g", Generation: epoch, MemberID: "m", Commits: commit}); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	c = reload(t, c, clock)
	for range 5 { // 25s: nothing is old enough yet
		clock.Advance(5 * time.Second)
		hb(c, epoch)
		c.ExpireOffsets()
		if got := committed(t, c, "g"); len(got) != 3 {
			t.Fatalf("expired before the retention: %v", got)
		}
	}
	for range 2 {
		clock.Advance(5 * time.Second)
		hb(c, epoch)
	}
	c.ExpireOffsets()
	if got := committed(t, c, "g"); len(got) != 2 || got[0] != "red:0=2" || got[1] != "t:0=3" {
		t.Fatalf("after the retention: %v, want red:0=2 t:0=3", got)
	}
}
