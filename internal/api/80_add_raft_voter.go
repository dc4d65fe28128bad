package api

// AddRaftVoter v0-v1 (KIP-853): make a controller that receives the
// metadata log as an observer (started with process.roles including
// controller and controller.quorum.bootstrap.servers) a voter, through
// quorum.Controller.AddVoter, which forwards to the raft leader. As
// Kafka's KafkaRaftClient: a cluster ID that is not this cluster's is
// INCONSISTENT_CLUSTER_ID; then NOT_LEADER_OR_FOLLOWER with no leader
// reachable, INVALID_REQUEST for a negative voter ID or no endpoint on the
// controller listener, DUPLICATE_VOTER, REQUEST_TIMED_OUT for a node not
// receiving the log or lagging behind. The answer comes once the new voter
// set is committed, also when v1's AckWhenCommitted is false (committed
// is later than Kafka would answer, never earlier). The voter directory
// ID is not checked: Samsa's voters are keyed by node ID alone.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/quorum"
)

func addRaftVoter(h *Handlers, ctx context.Context, req *kmsg.AddRaftVoterRequest) (*kmsg.AddRaftVoterResponse, error) {
	resp := req.ResponseKind().(*kmsg.AddRaftVoterResponse)
	if err := h.checkClusterID(req.ClusterID); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp, nil
	}
	if req.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}
	endpoints := make([]quorum.Endpoint, len(req.Listeners))
	for i, l := range req.Listeners {
		endpoints[i] = quorum.Endpoint{Name: l.Name, Host: l.Host, Port: l.Port}
	}
	err := h.Controller.AddVoter(ctx, req.VoterID, endpoints)
	resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
	return resp, nil
}

// checkClusterID is Kafka's hasValidClusterId: a cluster ID, when given,
// must be this cluster's.
func (h *Handlers) checkClusterID(id *string) error {
	if id == nil || *id == h.image().ClusterID {
		return nil
	}
	return fmt.Errorf("%w: the given id %q doesn't match the cluster id %q", kerr.InconsistentClusterID, *id, h.image().ClusterID)
}
