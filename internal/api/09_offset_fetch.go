package api

// OffsetFetch v1-v9. v1 reports errors per partition, v2-v7 also at the
// top level, v8+ per group, several groups per request (KIP-709). v2+ asks
// for every committed offset of the group with null topics. v5+ returns
// leader epochs. require_stable (v7+) waits for no pending transactional
// commits, and there are none until transactions exist. v9's member ID and
// epoch are checked for KIP-848 groups (UNKNOWN_MEMBER_ID,
// STALE_MEMBER_EPOCH) and ignored for classic groups. v10
// (topic IDs) is not served.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
)

func offsetFetch(h *Handlers, _ context.Context, req *kmsg.OffsetFetchRequest) (*kmsg.OffsetFetchResponse, error) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		var tps []group.TopicPartition
		if req.Topics != nil || req.Version < 2 {
			tps = []group.TopicPartition{}
			for _, rt := range req.Topics {
				for _, p := range rt.Partitions {
					tps = append(tps, group.TopicPartition{Topic: rt.Topic, Partition: p})
				}
			}
		}
		offsets, code := h.Groups.FetchOffsets(req.Group, tps)
		if code != 0 {
			// v1 has no top-level error: put it on every partition.
			offsets = nil
			for _, tp := range tps {
				offsets = append(offsets, group.FetchedOffset{TopicPartition: tp, Offset: group.Offset{Offset: -1, LeaderEpoch: -1}})
			}
		}
		resp.ErrorCode = code
		for _, o := range offsets {
			if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != o.Topic {
				st := kmsg.NewOffsetFetchResponseTopic()
				st.Topic = o.Topic
				resp.Topics = append(resp.Topics, st)
			}
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = o.Partition, o.Offset.Offset, o.LeaderEpoch, code
			meta := o.Metadata
			sp.Metadata = &meta
			st := &resp.Topics[len(resp.Topics)-1]
			st.Partitions = append(st.Partitions, sp)
		}
		return resp, nil
	}
	for _, rg := range req.Groups {
		sg := kmsg.NewOffsetFetchResponseGroup()
		sg.Group = rg.Group
		var tps []group.TopicPartition
		if rg.Topics != nil {
			tps = []group.TopicPartition{}
			for _, rt := range rg.Topics {
				for _, p := range rt.Partitions {
					tps = append(tps, group.TopicPartition{Topic: rt.Topic, Partition: p})
				}
			}
		}
		var member *string
		if req.Version >= 9 {
			member = rg.MemberID
		}
		offsets, code := h.Groups.FetchOffsetsAs(rg.Group, member, rg.MemberEpoch, tps)
		sg.ErrorCode = code
		for _, o := range offsets {
			if n := len(sg.Topics); n == 0 || sg.Topics[n-1].Topic != o.Topic {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = o.Topic
				sg.Topics = append(sg.Topics, st)
			}
			sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch = o.Partition, o.Offset.Offset, o.LeaderEpoch
			meta := o.Metadata
			sp.Metadata = &meta
			st := &sg.Topics[len(sg.Topics)-1]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	return resp, nil
}
