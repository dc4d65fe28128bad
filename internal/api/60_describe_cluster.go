package api

// DescribeCluster v0-v1: cluster ID, controller and brokers. v1 asks for an
// endpoint type; only brokers (1) are served, since controllers share the
// brokers' listeners. The controller is the active controller (the Raft
// leader), or -1 while none is known.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeCluster(h *Handlers, _ context.Context, req *kmsg.DescribeClusterRequest) (*kmsg.DescribeClusterResponse, error) {
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
	for _, b := range img.LiveBrokers() { // fenced brokers are left out, as in Kafka
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.ID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp, nil
}
