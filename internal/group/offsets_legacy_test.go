package group

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOldCommitTimes: an offset committed with a retention time
// (OffsetCommit v2-v4) expires at commit time + retention, before or
// after offsets.retention.minutes as asked, and one committed with a
// commit timestamp (v1) counts its retention from that timestamp; both
// survive a reload of the coordinator from its log, the expire time in a
// version 1 offset record as Kafka writes it.
func TestOldCommitTimes(t *testing.T) {
	clock := newFakeClock()
	log := &memoryLog{}
	start := func() *Coordinator {
		c := New(Config{Clock: clock, OffsetsRetention: 30 * time.Second, RetentionCheckInterval: time.Hour})
		t.Cleanup(c.Close)
		if err := c.Sync(1, map[int32]Log{0: log}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start()
	now := clock.Now().UnixMilli()
	commits := []Commit{
		{TopicPartition{"short", 0}, Offset{Offset: 1, LeaderEpoch: -1, ExpireTime: now + 10_000}},
		{TopicPartition{"long", 0}, Offset{Offset: 2, LeaderEpoch: -1, ExpireTime: now + 50_000}},
		{TopicPartition{"old", 0}, Offset{Offset: 3, LeaderEpoch: -1, CommitTime: now - 10_000}},
		{TopicPartition{"plain", 0}, Offset{Offset: 4, LeaderEpoch: -1}},
	}
	if code, codes := c.CommitOffsets(CommitRequest{Group: "g", Generation: -1, Commits: commits}); code != 0 || slices.ContainsFunc(codes, func(c int16) bool { return c != 0 }) {
		t.Fatalf("commit: %v %v", kerr.ErrorForCode(code), codes)
	}
	var versions []int16
	for _, r := range log.recs {
		if r.Value != nil && len(r.Key) > 1 && r.Key[1] <= 1 {
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.Value); err != nil {
				t.Fatal(err)
			}
			versions = append(versions, v.Version)
		}
	}
	if !slices.Equal(versions, []int16{1, 1, 3, 3}) {
		t.Fatalf("offset value versions %v, want [1 1 3 3]: v1 only where an expire time is kept", versions)
	}

	steps := []struct {
		advance time.Duration
		want    []string
	}{
		{9 * time.Second, []string{"long:0=2", "old:0=3", "plain:0=4", "short:0=1"}},
		{time.Second, []string{"long:0=2", "old:0=3", "plain:0=4"}}, // 10s: short's retention
		{10 * time.Second, []string{"long:0=2", "plain:0=4"}},       // 20s: old's commit time + 30s
		{10 * time.Second, []string{"long:0=2"}},                    // 30s: offsets.retention.minutes
		{19 * time.Second, []string{"long:0=2"}},                    // 49s
		{time.Second, nil},                                          // 50s: long's retention
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if i == 2 {
			c.Close()
			c = start() // the times come back from the log
		}
		c.ExpireOffsets()
		if got := committed(t, c, "g"); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: committed %v, want %v", i, got, s.want)
		}
	}
}
