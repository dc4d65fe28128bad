package api

// InitProducerId v0-v5 for idempotent producers: every call gets a producer
// ID never handed out before (IDs come in blocks recorded in the metadata
// log, so a restart cannot reuse one) at epoch 0. Transactional IDs need the
// transaction coordinator, which does not exist yet: they get
// INVALID_REQUEST rather than a coordinator that would never answer.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func initProducerID(h *Handlers, ctx context.Context, req *kmsg.InitProducerIDRequest) (*kmsg.InitProducerIDResponse, error) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	id, err := h.ProducerIDs.Next(ctx)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
