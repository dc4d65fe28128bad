package api

// CreatePartitions v0-v3: raise a topic's partition count. Manual
// assignments are refused until replicas can be placed by hand.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createPartitions(h *Handlers, ctx context.Context, req *kmsg.CreatePartitionsRequest) (*kmsg.CreatePartitionsResponse, error) {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	changed := false
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		t := h.image().Topics[rt.Topic]
		var err error
		switch {
		case t == nil:
			err = kerr.UnknownTopicOrPartition
		case len(rt.Assignment) > 0:
			err = fmt.Errorf("%w: manual replica assignment is not supported yet", kerr.InvalidReplicaAssignment)
		case rt.Count <= int32(len(t.Partitions)):
			err = fmt.Errorf("%w: topic %s has %d partitions; the new count must be larger, not %d", kerr.InvalidPartitions, t.Name, len(t.Partitions), rt.Count)
		case req.ValidateOnly:
		default:
			if err = h.Controller.CreatePartitions(ctx, rt.Topic, rt.Count); err == nil {
				changed = true
			}
		}
		st.ErrorCode, st.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	if changed {
		h.Partitions.Sync()
	}
	return resp, nil
}
