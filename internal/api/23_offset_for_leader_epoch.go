package api

// OffsetForLeaderEpoch v0-v4: the end offset of a leader epoch, so that a
// consumer (or a follower) can detect log truncation, answered from the
// partition's leader-epoch cache as Kafka's endOffsetFor: the end offset
// of the current epoch is the log end offset, an older epoch ends where
// the next one began (with the largest epoch at or below the one asked),
// and an epoch newer than the current one is unknown (-1, -1). v0 answers
// the end offset alone (v1 adds the epoch); v0 and v1 carry no current
// leader epoch to check (v2 adds it).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func offsetForLeaderEpoch(h *Handlers, _ context.Context, req *kmsg.OffsetForLeaderEpochRequest) (*kmsg.OffsetForLeaderEpochResponse, error) {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			p := h.Partitions.Get(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				sp.ErrorCode = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			}
			switch {
			case sp.ErrorCode != 0:
			case rp.LeaderEpoch > p.LeaderEpoch():
			default:
				sp.LeaderEpoch, sp.EndOffset = p.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
