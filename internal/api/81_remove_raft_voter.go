package api

// RemoveRaftVoter v0 (KIP-853): take a voter out of the metadata quorum,
// through quorum.Controller.RemoveVoter, which forwards to the raft leader.
// The node stays an observer, receiving the log while it runs; a leader
// removing itself steps down once the change commits. As Kafka's
// KafkaRaftClient: INCONSISTENT_CLUSTER_ID, NOT_LEADER_OR_FOLLOWER,
// VOTER_NOT_FOUND; the last voter is refused with INVALID_REQUEST (Kafka
// leaves that open). The voter directory ID is not checked.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func removeRaftVoter(h *Handlers, ctx context.Context, req *kmsg.RemoveRaftVoterRequest) (*kmsg.RemoveRaftVoterResponse, error) {
	resp := req.ResponseKind().(*kmsg.RemoveRaftVoterResponse)
	if err := h.checkClusterID(req.ClusterID); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp, nil
	}
	err := h.Controller.RemoveVoter(ctx, req.VoterID)
	resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
	return resp, nil
}
