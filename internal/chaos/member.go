package chaos

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MemberConfig is one life of a consumer group member process (samsa
// chaos member, started and SIGKILLed by the runner).
type MemberConfig struct {
	Brokers []string
	Topic   string
	Group   string
	// Name is the member's life ("group-2.5"); each assignment it gets is
	// a consumer session of its own, Name.N.
	Name string
	// History is the file the member appends its polls and commits to.
	History string
}

// RunMember consumes as a member of the group until ctx ends or the
// process is killed: every poll is recorded, then its offsets are
// committed and each accepted commit recorded. It never leaves the group
// by itself: the runner kills it, so the coordinator must notice by the
// session timeout.
func RunMember(ctx context.Context, c MemberConfig) error {
	f, err := os.OpenFile(c.History, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	rec := &fileRecorder{f: f}
	var assignment atomic.Int64
	bump := func(context.Context, *kgo.Client, map[string][]int32) { assignment.Add(1) }
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Brokers...),
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(bump),
		kgo.OnPartitionsRevoked(bump),
		kgo.OnPartitionsLost(bump),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.RebalanceTimeout(10*time.Second),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryTimeout(10*time.Second),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fetches := cl.PollRecords(ctx, 1000)
		session := fmt.Sprintf("%s.%d", c.Name, assignment.Load())
		var recs []Record
		next := map[int32]kgo.EpochOffset{}
		fetches.EachRecord(func(r *kgo.Record) {
			recs = append(recs, Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			next[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		})
		if len(recs) > 0 {
			if err := rec.Add(Event{Kind: Poll, Process: session, Topic: c.Topic, Partition: recs[0].Partition, Records: recs, Group: c.Group}); err != nil {
				return err
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{c.Topic: next},
				func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
					if err != nil {
						return
					}
					for _, t := range resp.Topics {
						for _, p := range t.Partitions {
							if kerr.ErrorForCode(p.ErrorCode) == nil {
								_ = rec.Add(Event{Kind: Commit, Process: session, Topic: t.Topic, Partition: p.Partition,
									Offset: next[p.Partition].Offset, Group: c.Group})
							}
						}
					}
				})
			cancel()
		}
		cl.AllowRebalance()
	}
	return nil
}
