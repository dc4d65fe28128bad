package api

// CreatePartitions v0-v3: raise a topic's partition count. A manual
// assignment must give one replica list per new partition (Kafka's
// INVALID_REPLICA_ASSIGNMENT "Attempted to add N additional partition(s),
// but only M assignment(s) were specified."), each checked as CreateTopics'
// against the topic's replication factor. A request
// that would add more than quorum.MaxPartitionsPerRequest partitions over
// all its topics is refused whole, every topic with POLICY_VIOLATION "Unable
// to perform excessively large batch operation." (what Kafka's controller
// answers an operation over its record limit), before anything is proposed,
// and so is one whose partitions would not fit the broker's file-descriptor
// limit (Partitions.CheckCapacity).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/quorum"
)

func createPartitions(h *Handlers, ctx context.Context, req *kmsg.CreatePartitionsRequest) (*kmsg.CreatePartitionsResponse, error) {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	changed := false
	img := h.image()
	added := newPartitions(img, req)
	tooLarge := added > quorum.MaxPartitionsPerRequest
	var capacityErr error
	if !tooLarge {
		capacityErr = h.Partitions.CheckCapacity(int(added))
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		t := img.Topics[rt.Topic]
		var err error
		switch {
		case tooLarge:
			err = quorum.ErrTooLargeBatch
		case capacityErr != nil:
			err = capacityErr
		case t == nil:
			err = kerr.UnknownTopicOrPartition
		case rt.Count <= int32(len(t.Partitions)):
			err = fmt.Errorf("%w: topic %s has %d partitions; the new count must be larger, not %d", kerr.InvalidPartitions, t.Name, len(t.Partitions), rt.Count)
		case rt.Assignment != nil && len(rt.Assignment) != int(rt.Count)-len(t.Partitions):
			err = fmt.Errorf("%w: Attempted to add %d additional partition(s), but only %d assignment(s) were specified.",
				kerr.InvalidReplicaAssignment, int(rt.Count)-len(t.Partitions), len(rt.Assignment))
		case rt.Assignment != nil:
			assignment := make([][]int32, len(rt.Assignment))
			for i, a := range rt.Assignment {
				assignment[i] = append([]int32{}, a.Replicas...)
			}
			if req.ValidateOnly {
				err = quorum.CheckAssignment(img, len(t.Partitions), assignment, len(t.Partitions[0].TargetReplicas()))
			} else if err = h.Controller.CreatePartitionsAssigned(ctx, rt.Topic, assignment); err == nil {
				changed = true
			}
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

// newPartitions is how many partitions req would add to the topics of img.
func newPartitions(img *metadata.Image, req *kmsg.CreatePartitionsRequest) int64 {
	var total int64
	for _, rt := range req.Topics {
		if t := img.Topics[rt.Topic]; t != nil && int(rt.Count) > len(t.Partitions) {
			total += int64(rt.Count) - int64(len(t.Partitions))
		}
	}
	return total
}
