package api

// LeaveGroup v0-v5. v0-v2 remove the one member of the request; v3+ a
// batch of members, by member ID or by group.instance.id (KIP-345), each
// with its own error. v5 carries a reason, which we ignore.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
)

func leaveGroup(h *Handlers, _ context.Context, req *kmsg.LeaveGroupRequest) (*kmsg.LeaveGroupResponse, error) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	var leaving []group.LeavingMember
	if req.Version < 3 {
		leaving = []group.LeavingMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			leaving = append(leaving, group.LeavingMember{MemberID: m.MemberID, InstanceID: m.InstanceID})
		}
	}
	code, codes := h.Groups.LeaveGroup(req.Group, leaving)
	resp.ErrorCode = code
	if req.Version < 3 {
		if code == 0 && len(codes) == 1 {
			resp.ErrorCode = codes[0]
		}
		return resp, nil
	}
	if code != 0 {
		return resp, nil
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, codes[i]
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
