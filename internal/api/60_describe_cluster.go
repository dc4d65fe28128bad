package api

// DescribeCluster v0-v2: cluster ID, controller and brokers. v1 asks for an
// endpoint type; a broker listener serves brokers (1) and answers
// controllers (2) with UNSUPPORTED_ENDPOINT_TYPE, as Kafka's brokers do
// (Kafka's controllers answer it on their controller listener, which here
// speaks raft). The controller is the active controller (the Raft leader,
// see quorum.Controller.ActiveController), or -1 while none is known.
// Fenced brokers are left out unless v2's IncludeFencedBrokers asks for
// them, each marked IsFenced (KIP-1073).

import (
	"cmp"
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func describeCluster(h *Handlers, ctx context.Context, req *kmsg.DescribeClusterRequest) (*kmsg.DescribeClusterResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterAuthorizedOperations = authorizedOperationsOmitted
	resp.EndpointType = 1
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.EndpointType = req.EndpointType
		return resp, nil
	}
	img := h.image()
	resp.ClusterID = img.ClusterID
	resp.ControllerID = h.Controller.ActiveController()
	brokers := img.LiveBrokers()
	if req.IncludeFencedBrokers && req.Version >= 2 {
		brokers = brokers[:0:0]
		for _, b := range img.Brokers {
			brokers = append(brokers, b)
		}
		slices.SortFunc(brokers, func(a, b metadata.Broker) int { return cmp.Compare(a.ID, b.ID) })
	}
	for _, b := range brokers {
		e, ok := b.Endpoint(client(ctx).listener)
		if !ok {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.IsFenced = b.ID, e.Host, e.Port, b.Fenced
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp, nil
}
