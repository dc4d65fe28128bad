package api

// ListGroups v0-v5: the groups this broker coordinates. v4+ filters by
// state (KIP-518) and reports it; v5+ filters by type (KIP-848) and reports
// it: "classic" or "consumer". A group whose records are not committed
// within the commit timeout is left out and its code (NOT_COORDINATOR or
// COORDINATOR_NOT_AVAILABLE) is the response's, as Kafka answers
// COORDINATOR_LOAD_IN_PROGRESS with the groups it could list.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func listGroups(h *Handlers, _ context.Context, req *kmsg.ListGroupsRequest) (*kmsg.ListGroupsResponse, error) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	groups, code := h.Groups.ListGroups(req.StatesFilter, req.TypesFilter)
	resp.ErrorCode = code
	for _, l := range groups {
		g := kmsg.NewListGroupsResponseGroup()
		g.Group, g.ProtocolType, g.GroupState, g.GroupType = l.Group, l.ProtocolType, l.State, l.Type
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
