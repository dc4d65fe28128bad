package api

// JoinGroup v0-v9 (Kafka 3.9's range). v0 has no rebalance timeout: like
// Kafka, it is the session timeout. v4+ hands a new dynamic member its ID
// with MEMBER_ID_REQUIRED (KIP-394); v5+ carries group.instance.id for
// static members (KIP-345); v7+ returns the protocol type; v9 tells a
// restarted static leader to skip assigning (KIP-814). The request waits
// until the rebalance it takes part in completes.

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
)

func joinGroup(h *Handlers, ctx context.Context, req *kmsg.JoinGroupRequest) (*kmsg.JoinGroupResponse, error) {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	cl := client(ctx)
	jr := group.JoinRequest{
		Group:                req.Group,
		MemberID:             req.MemberID,
		InstanceID:           req.InstanceID,
		ClientID:             cl.id,
		ClientHost:           cl.host,
		SessionTimeout:       time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		ProtocolType:         req.ProtocolType,
		RequireKnownMemberID: req.Version >= 4,
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	for _, p := range req.Protocols {
		// The request's bytes alias the connection's read buffer: copy what
		// the group keeps.
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)})
	}
	r := h.Groups.JoinGroup(ctx, jr)
	resp.ErrorCode, resp.MemberID = r.Err, r.MemberID
	resp.Generation = -1
	if r.Err != 0 {
		return resp, nil
	}
	resp.Generation, resp.LeaderID, resp.SkipAssignment = r.Generation, r.Leader, r.SkipAssignment
	resp.ProtocolType, resp.Protocol = &r.ProtocolType, &r.Protocol
	for _, m := range r.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
