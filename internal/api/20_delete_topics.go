package api

// DeleteTopics v0-v6 (v0 has no throttle time). v6 names topics by name or by ID. Deleting a topic
// removes its partitions' data; a topic re-created with the same name gets
// a new ID; every group's committed offsets of a deleted topic are deleted
// with it, as in Kafka. Both are side effects of the metadata change on every
// broker (package broker follows the image deltas); Partitions.Sync waits
// for them, so the response comes after them.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func deleteTopics(h *Handlers, ctx context.Context, req *kmsg.DeleteTopicsRequest) (*kmsg.DeleteTopicsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for _, n := range req.TopicNames {
			targets = append(targets, target{name: &n})
		}
	}
	deleted := false
	for _, t := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = t.name, t.id
		img := h.image()
		var topic *metadata.Topic
		if t.name != nil {
			topic = img.Topics[*t.name]
		} else {
			topic = img.TopicsByID[metadata.TopicID(t.id)]
		}
		switch {
		case topic == nil && t.name == nil:
			st.ErrorCode = kerr.UnknownTopicID.Code
		case topic == nil:
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case !h.Config.Static().DeleteTopicEnable:
			st.ErrorCode = kerr.TopicDeletionDisabled.Code
		case isInternalTopic(topic.Name):
			st.ErrorCode = kerr.InvalidTopicException.Code
		default:
			name := topic.Name
			st.Topic, st.TopicID = &name, topic.ID
			if err := h.Controller.DeleteTopic(ctx, topic.ID); err != nil {
				st.ErrorCode, st.ErrorMessage = errorCode(err), errorMessage(err)
			} else {
				deleted = true
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if deleted {
		h.Partitions.Sync()
	}
	return resp, nil
}
