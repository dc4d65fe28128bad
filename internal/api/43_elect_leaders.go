package api

// ElectLeaders v0-v2: PREFERRED (0; v0 has no election type) moves
// leadership to each partition's preferred replica, UNCLEAN (1) elects a
// live replica for a partition whose leader is not live, even one out of
// sync; any other type is INVALID_REQUEST. Each partition goes to the
// controller on its own (quorum.Controller.ElectLeader) with Kafka's
// errors: UNKNOWN_TOPIC_OR_PARTITION, ELECTION_NOT_NEEDED,
// PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE. Null
// topics mean every partition, and then, as Kafka's controller, the
// partitions that needed no election are left out of the response.

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func electLeaders(h *Handlers, ctx context.Context, req *kmsg.ElectLeadersRequest) (*kmsg.ElectLeadersResponse, error) {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	if req.Version >= 1 && req.ElectionType != 0 && req.ElectionType != 1 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	unclean := req.Version >= 1 && req.ElectionType == 1
	if req.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}
	topics, all := req.Topics, req.Topics == nil
	if all {
		img := h.image()
		for name, t := range img.Topics {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic = name
			for i := range t.Partitions {
				rt.Partitions = append(rt.Partitions, int32(i))
			}
			topics = append(topics, rt)
		}
		slices.SortFunc(topics, func(a, b kmsg.ElectLeadersRequestTopic) int {
			if a.Topic < b.Topic {
				return -1
			}
			if a.Topic > b.Topic {
				return 1
			}
			return 0
		})
	}
	changed := false
	for _, rt := range topics {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			err := h.Controller.ElectLeader(ctx, rt.Topic, p, unclean)
			if err == nil {
				changed = true
			} else if all && errorCode(err) == kerr.ElectionNotNeeded.Code {
				continue
			}
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition = p
			sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) > 0 || !all {
			resp.Topics = append(resp.Topics, st)
		}
	}
	if changed {
		h.Partitions.Sync()
	}
	return resp, nil
}
