package api

// Heartbeat v0-v4. v3+ carries group.instance.id. A heartbeat during a
// rebalance gets REBALANCE_IN_PROGRESS, telling the member to rejoin.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func heartbeat(h *Handlers, _ context.Context, req *kmsg.HeartbeatRequest) (*kmsg.HeartbeatResponse, error) {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = h.Groups.Heartbeat(req.Group, req.Generation, req.MemberID, req.InstanceID)
	return resp, nil
}
