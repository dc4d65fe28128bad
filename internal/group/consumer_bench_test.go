package group

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkConsumerHeartbeatKeepalive is the cost of one keepalive
// heartbeat of a member of a stable 100-member KIP-848 group, which must
// find that nothing changed and write nothing.
func BenchmarkConsumerHeartbeatKeepalive(b *testing.B) {
	clock := newFakeClock()
	c := New(Config{Clock: clock, Consumer: ConsumerConfig{SessionTimeout: time.Hour, HeartbeatInterval: time.Second}})
	b.Cleanup(c.Close)
	log := &memoryLog{}
	if err := c.Sync(1, map[int32]Log{0: log}); err != nil {
		b.Fatal(err)
	}
	topic := TopicInfo{Name: "t", ID: [16]byte{1}, Partitions: 200}
	topics := map[string]TopicInfo{"t": topic}
	members := make([]*member848, 100)
	for i := range members {
		members[i] = &member848{id: fmt.Sprint("m", i)}
	}
	tb := &testing.T{}
	for range 3 { // join, revoke, acknowledge
		for _, m := range members {
			m.heartbeat(tb, c, topic)
		}
	}
	if d := c.DescribeConsumerGroup("g"); d.State != "Stable" {
		b.Fatalf("group %s", d.State)
	}
	log.mu.Lock()
	written := len(log.recs)
	log.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m := members[i%len(members)]
		r := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "g", MemberID: m.id, MemberEpoch: m.epoch, RebalanceTimeout: -1, Topics: topics, TopicsVersion: 1})
		if r.Err != 0 {
			b.Fatal(r.Err)
		}
	}
	b.StopTimer()
	if len(log.recs) != written {
		b.Fatalf("keepalives wrote %d records", len(log.recs)-written)
	}
}
