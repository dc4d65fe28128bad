package api

// ConsumerGroupDescribe v0-v1 (KIP-848): a KIP-848 group's epochs,
// assignor and members with their current and target assignments. A
// classic or unknown group is GROUP_ID_NOT_FOUND. v1's member type is
// always consumer (1): classic members do not join KIP-848 groups here.
// Authorized operations are reported as not computed.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func consumerGroupDescribe(h *Handlers, _ context.Context, req *kmsg.ConsumerGroupDescribeRequest) (*kmsg.ConsumerGroupDescribeResponse, error) {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	img := h.image()
	toAssignment := func(a map[[16]byte][]int32) kmsg.Assignment {
		out := kmsg.NewAssignment()
		out.TopicPartitions = []kmsg.AssignmentTopicPartition{}
		for id, ps := range a {
			tp := kmsg.NewAssignmentTopicPartition()
			tp.TopicID, tp.Partitions = id, ps
			if t := img.TopicByID(metadata.TopicID(id)); t != nil {
				tp.Topic = t.Name
			}
			out.TopicPartitions = append(out.TopicPartitions, tp)
		}
		return out
	}
	for _, id := range req.Groups {
		d := h.Groups.DescribeConsumerGroup(id)
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group, g.ErrorCode = id, d.Err
		if d.ErrMessage != "" {
			msg := d.ErrMessage
			g.ErrorMessage = &msg
		}
		g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
		g.AuthorizedOperations = authorizedOperationsOmitted
		for _, m := range d.Members {
			gm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			gm.MemberID, gm.InstanceID, gm.RackID, gm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
			gm.ClientID, gm.ClientHost, gm.SubscribedTopics, gm.SubscribedTopicRegex = m.ClientID, m.ClientHost, m.SubscribedTopics, m.SubscribedRegex
			if gm.SubscribedTopics == nil {
				gm.SubscribedTopics = []string{}
			}
			gm.Assignment, gm.TargetAssignment = toAssignment(m.Assignment), toAssignment(m.TargetAssignment)
			gm.MemberType = 1
			g.Members = append(g.Members, gm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
