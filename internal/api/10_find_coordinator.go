package api

// FindCoordinator v0-v6. v0-v3 look up one key, v4+ a batch of keys
// (KIP-699). Group keys (type 0) map to the leader of partition
// abs(hashCode(group)) % N of __consumer_offsets, transaction keys (type 1)
// to the leader of abs(hashCode(transactional.id)) % N of
// __transaction_state, which the first such lookup creates (as Kafka's
// getOrCreateInternalTopic). Share groups (type 2) are not served: they get
// INVALID_REQUEST with a message rather than a coordinator that would never
// answer.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txncoord"
)

// OffsetsTopic is the internal topic holding groups and their offsets.
const OffsetsTopic = "__consumer_offsets"

func findCoordinator(h *Handlers, ctx context.Context, req *kmsg.FindCoordinatorRequest) (*kmsg.FindCoordinatorResponse, error) {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		c := h.coordinatorFor(ctx, req.CoordinatorType, key)
		if req.Version < 4 {
			resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
			resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
			return resp, nil
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}

func (h *Handlers) coordinatorFor(ctx context.Context, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	fail := func(code int16, msg string) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode = code
		if msg != "" {
			c.ErrorMessage = &msg
		}
		return c
	}
	topic, partitionFor := OffsetsTopic, group.PartitionFor
	switch keyType {
	case 0:
		if h.Groups == nil {
			return fail(kerr.CoordinatorNotAvailable.Code, "")
		}
	case 1:
		topic, partitionFor = TxnTopic, txncoord.PartitionFor
		if h.Txns == nil || h.CreateTxnTopic == nil {
			return fail(kerr.CoordinatorNotAvailable.Code, "")
		}
	default:
		return fail(kerr.InvalidRequest.Code, "unsupported coordinator type")
	}
	if key == "" {
		return fail(kerr.InvalidRequest.Code, "empty coordinator key")
	}
	img := h.image()
	if keyType == 1 && img.Topics[topic] == nil {
		if err := h.CreateTxnTopic(ctx); err != nil {
			h.Logger.Info("creating "+TxnTopic, "err", err)
			return fail(kerr.CoordinatorNotAvailable.Code, "")
		}
		img = h.image()
	}
	t := img.Topics[topic]
	if t == nil || len(t.Partitions) == 0 {
		return fail(kerr.CoordinatorNotAvailable.Code, "")
	}
	p := t.Partitions[partitionFor(key, int32(len(t.Partitions)))]
	b, ok := img.Brokers[p.Leader]
	if !ok {
		return fail(kerr.CoordinatorNotAvailable.Code, "")
	}
	e, ok := b.Endpoint(client(ctx).listener)
	if !ok {
		return fail(kerr.CoordinatorNotAvailable.Code, "")
	}
	c.NodeID, c.Host, c.Port = b.ID, e.Host, e.Port
	return c
}
