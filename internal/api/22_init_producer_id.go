package api

// InitProducerId v0-v5. Without a transactional.id (idempotent producers)
// every call gets a producer ID never handed out before (IDs come in
// blocks recorded in the metadata log, so a restart cannot reuse one) at
// epoch 0. With one, the transaction coordinator answers
// (txncoord.Coordinator.InitProducerID): the ID's producer ID at a bumped
// epoch, fencing the producer before it; v3+ carry the caller's own ID and
// epoch for KIP-360's bump after an error.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func initProducerID(h *Handlers, ctx context.Context, req *kmsg.InitProducerIDRequest) (*kmsg.InitProducerIDResponse, error) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		if h.Txns == nil {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp, nil
		}
		pid, epoch := int64(-1), int16(-1)
		if req.Version >= 3 {
			pid, epoch = req.ProducerID, req.ProducerEpoch
		}
		r := h.Txns.InitProducerID(ctx, *req.TransactionalID, req.TransactionTimeoutMillis, pid, epoch)
		resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode = r.ProducerID, r.Epoch, r.Code
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
