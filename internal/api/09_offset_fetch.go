package api

// OffsetFetch v0-v10. v0 and v1 report errors per partition, v2-v7 also at the
// top level, v8+ per group, several groups per request (KIP-709), with one
// response topic per request topic. v2+ asks for every committed offset of
// the group with null topics. v5+ returns leader epochs. require_stable
// (v7+, KIP-447) answers UNSTABLE_OFFSET_COMMIT (offset -1) for each
// partition with a pending transactional commit (TxnOffsetCommit before
// its transaction's marker), as Kafka's fetchOffsets, which the client
// retries; without it the last committed offset is answered. v9's member ID and epoch are checked for
// KIP-848 groups (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH) and ignored for
// classic groups. v10 names topics by ID only (KIP-848, KAFKA-14691), as
// Kafka 4.2 does: an ID the metadata image does not know gets offset -1 and
// UNKNOWN_TOPIC_ID on each of its partitions, and all offsets (null topics)
// leaves out topics without an ID, which a v10 response cannot name.
// Deleting a topic deletes its committed offsets, so a topic created again
// under the same name starts with none, as in Kafka. Kafka 3.9 read v0
// from ZooKeeper, where v0 commits went; Samsa keeps those in the
// coordinator (see OffsetCommit), so v0 reads the same offsets as v1.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
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
		offsets, code := h.Groups.FetchOffsetsAs(req.Group, nil, -1, tps, req.Version >= 7 && req.RequireStable)
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
			sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = o.Partition, o.Offset.Offset, o.LeaderEpoch, o.Err
			if code != 0 {
				sp.ErrorCode = code
			}
			meta := o.Metadata
			sp.Metadata = &meta
			st := &resp.Topics[len(resp.Topics)-1]
			st.Partitions = append(st.Partitions, sp)
		}
		return resp, nil
	}
	img := h.image()
	byID := req.Version >= 10
	for _, rg := range req.Groups {
		sg := kmsg.NewOffsetFetchResponseGroup()
		sg.Group = rg.Group
		// names[i] is the topic rg.Topics[i] asks for, "" for an unknown ID.
		var names []string
		var tps []group.TopicPartition
		if rg.Topics != nil {
			tps = []group.TopicPartition{}
			for _, rt := range rg.Topics {
				name := rt.Topic
				if byID {
					name = ""
					if t := img.TopicByID(metadata.TopicID(rt.TopicID)); t != nil {
						name = t.Name
					}
				}
				names = append(names, name)
				if byID && name == "" {
					continue
				}
				for _, p := range rt.Partitions {
					tps = append(tps, group.TopicPartition{Topic: name, Partition: p})
				}
			}
		}
		var member *string
		if req.Version >= 9 {
			member = rg.MemberID
		}
		offsets, code := h.Groups.FetchOffsetsAs(rg.Group, member, rg.MemberEpoch, tps, req.RequireStable)
		sg.ErrorCode = code
		switch {
		case code != 0:
		case rg.Topics != nil:
			// One response topic per request topic, as Kafka answers;
			// offsets holds one entry per partition asked of the group.
			for i, rt := range rg.Topics {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic, st.TopicID = rt.Topic, rt.TopicID
				for _, p := range rt.Partitions {
					o := group.FetchedOffset{TopicPartition: group.TopicPartition{Partition: p}, Offset: group.Offset{Offset: -1, LeaderEpoch: -1}}
					if byID && names[i] == "" {
						st.Partitions = append(st.Partitions, fetchedPartition(o, kerr.UnknownTopicID.Code))
						continue
					}
					if len(offsets) > 0 { // always, unless the coordinator broke its contract
						o, offsets = offsets[0], offsets[1:]
					}
					st.Partitions = append(st.Partitions, fetchedPartition(o, o.Err))
				}
				sg.Topics = append(sg.Topics, st)
			}
		default:
			// All offsets, sorted by topic.
			for _, o := range offsets {
				var id [16]byte
				if byID {
					t := img.Topic(o.Topic)
					if t == nil {
						continue
					}
					id = t.ID
				}
				if n := len(sg.Topics); n == 0 || sg.Topics[n-1].Topic != o.Topic {
					// v10 does not write the name; it only groups here.
					st := kmsg.NewOffsetFetchResponseGroupTopic()
					st.Topic, st.TopicID = o.Topic, id
					sg.Topics = append(sg.Topics, st)
				}
				st := &sg.Topics[len(sg.Topics)-1]
				st.Partitions = append(st.Partitions, fetchedPartition(o, o.Err))
			}
		}
		resp.Groups = append(resp.Groups, sg)
	}
	return resp, nil
}

// fetchedPartition is the v8+ answer for one committed offset.
func fetchedPartition(o group.FetchedOffset, code int16) kmsg.OffsetFetchResponseGroupTopicPartition {
	sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
	sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = o.Partition, o.Offset.Offset, o.LeaderEpoch, code
	meta := o.Metadata
	sp.Metadata = &meta
	return sp
}
