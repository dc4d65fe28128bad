package api

// AlterPartitionReassignments v0-v1 moves partitions to new replicas, or
// with null replicas cancels their reassignment, partition by partition
// through the controller (quorum.Controller.AlterPartitionReassignment;
// the stages are package metadata's reassign.go) with Kafka's errors:
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT,
// NO_REASSIGNMENT_IN_PROGRESS. v1 (KIP-860) with
// AllowReplicationFactorChange false refuses a target of another size
// than the partition's replicas with INVALID_REPLICATION_FACTOR. The
// response comes once the reassignment is started, not done:
// ListPartitionReassignments says when it is. TimeoutMillis bounds the
// whole request.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func alterPartitionReassignments(h *Handlers, ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) (*kmsg.AlterPartitionAssignmentsResponse, error) {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	if req.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}
	changed := false
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			var err error
			if t := h.image().Topics[rt.Topic]; req.Version >= 1 && !req.AllowReplicationFactorChange && rp.Replicas != nil &&
				t != nil && rp.Partition >= 0 && int(rp.Partition) < len(t.Partitions) {
				if current := len(t.Partitions[rp.Partition].TargetReplicas()); current != len(rp.Replicas) {
					err = fmt.Errorf("%w: The replication factor is changed from %d to %d", kerr.InvalidReplicationFactor, current, len(rp.Replicas))
				}
			}
			if err == nil {
				if err = h.Controller.AlterPartitionReassignment(ctx, rt.Topic, rp.Partition, rp.Replicas); err == nil {
					changed = true
				}
			}
			sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if changed {
		h.Partitions.Sync()
	}
	return resp, nil
}
