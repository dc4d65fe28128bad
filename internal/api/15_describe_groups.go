package api

// DescribeGroups v0-v6. Members carry their protocol metadata and
// assignment while the group is Stable. An unknown group is reported in
// state Dead; v6+ (KIP-1043) also gives it GROUP_ID_NOT_FOUND. Authorized
// operations (v3+) are reported as not computed.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeGroups(h *Handlers, _ context.Context, req *kmsg.DescribeGroupsRequest) (*kmsg.DescribeGroupsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		d := h.Groups.DescribeGroup(id)
		sg := kmsg.NewDescribeGroupsResponseGroup()
		sg.Group, sg.ErrorCode, sg.State, sg.ProtocolType, sg.Protocol = id, d.Err, d.State, d.ProtocolType, d.Protocol
		sg.AuthorizedOperations = authorizedOperationsOmitted
		if d.Err == kerr.GroupIDNotFound.Code && req.Version < 6 {
			sg.ErrorCode = 0
		}
		for _, m := range d.Members {
			sm := kmsg.NewDescribeGroupsResponseGroupMember()
			sm.MemberID, sm.InstanceID, sm.ClientID, sm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			sm.ProtocolMetadata, sm.MemberAssignment = m.Metadata, m.Assignment
			if sm.ProtocolMetadata == nil {
				sm.ProtocolMetadata = []byte{}
			}
			if sm.MemberAssignment == nil {
				sm.MemberAssignment = []byte{}
			}
			sg.Members = append(sg.Members, sm)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	return resp, nil
}
