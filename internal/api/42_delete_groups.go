package api

// DeleteGroups v0-v2: deletes empty groups and their committed offsets
// (NON_EMPTY_GROUP for a group with members, GROUP_ID_NOT_FOUND for none).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func deleteGroups(h *Handlers, _ context.Context, req *kmsg.DeleteGroupsRequest) (*kmsg.DeleteGroupsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group, g.ErrorCode = id, h.Groups.DeleteGroup(id)
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
