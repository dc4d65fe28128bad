package api

// OffsetDelete v0: deletes a group's committed offsets of some partitions.
// A consumer group with members keeps the offsets of topics it subscribes
// to (GROUP_SUBSCRIBED_TO_TOPIC per partition); an unknown group is
// GROUP_ID_NOT_FOUND; partitions of unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
)

func offsetDelete(h *Handlers, _ context.Context, req *kmsg.OffsetDeleteRequest) (*kmsg.OffsetDeleteResponse, error) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	img := h.image()
	type slot struct{ topic, partition, index int }
	var slots []slot
	var tps []group.TopicPartition
	for ti, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		t := img.Topics[rt.Topic]
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				slots = append(slots, slot{ti, pi, len(tps)})
				tps = append(tps, group.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	code, codes := h.Groups.DeleteOffsets(req.Group, tps)
	if code != 0 {
		resp.ErrorCode = code
		resp.Topics = nil
		return resp, nil
	}
	for _, s := range slots {
		resp.Topics[s.topic].Partitions[s.partition].ErrorCode = codes[s.index]
	}
	return resp, nil
}
