package api

// ListPartitionReassignments v0 lists the reassignments in progress, from
// this broker's metadata image (Kafka asks the controller): it has every
// change this broker forwarded by the time it answered it (quorum's
// awaitApplied), and others a moment after the controller, as each
// broker's Metadata does. Every one when Topics is null, else those
// of the partitions asked (unknown topics and partitions, and partitions
// not being reassigned, are left out, as in Kafka). Each gives the
// replicas (targets, then removing), and the adding and removing ones.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func listPartitionReassignments(h *Handlers, ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) (*kmsg.ListPartitionReassignmentsResponse, error) {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	img := h.image()
	list := func(t *metadata.Topic, partitions []int32) {
		st := kmsg.NewListPartitionReassignmentsResponseTopic()
		st.Topic = t.Name
		for _, i := range partitions {
			if i < 0 || int(i) >= len(t.Partitions) || !t.Partitions[i].Reassigning() {
				continue
			}
			p := t.Partitions[i]
			sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			sp.Partition = i
			sp.Replicas = slices.Clone(p.Replicas)
			sp.AddingReplicas = append([]int32{}, p.AddingReplicas...)
			sp.RemovingReplicas = append([]int32{}, p.RemovingReplicas...)
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) > 0 {
			resp.Topics = append(resp.Topics, st)
		}
	}
	if req.Topics == nil {
		names := make([]string, 0, len(img.Topics))
		for name := range img.Topics {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			t := img.Topics[name]
			all := make([]int32, len(t.Partitions))
			for i := range all {
				all[i] = int32(i)
			}
			list(t, all)
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		if t := img.Topics[rt.Topic]; t != nil {
			list(t, rt.Partitions)
		}
	}
	return resp, nil
}
