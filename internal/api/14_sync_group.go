package api

// SyncGroup v0-v5. The leader's request carries every member's
// assignment; every member's request waits until the leader's arrives.
// v3+ carries group.instance.id, v5+ the protocol type and name, which must
// match the group's (INCONSISTENT_GROUP_PROTOCOL).

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
)

func syncGroup(h *Handlers, ctx context.Context, req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, error) {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	sr := group.SyncRequest{
		Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: req.InstanceID,
		ProtocolType: req.ProtocolType, Protocol: req.Protocol,
		Assignments: make(map[string][]byte, len(req.GroupAssignment)),
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments[a.MemberID] = bytes.Clone(a.MemberAssignment) // the request aliases the read buffer
	}
	r := h.Groups.SyncGroup(ctx, sr)
	resp.ErrorCode = r.Err
	if r.Err == 0 {
		resp.ProtocolType, resp.Protocol = &r.ProtocolType, &r.Protocol
		resp.MemberAssignment = r.Assignment
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
	}
	return resp, nil
}
