package api

// The transaction coordinator's APIs (AddPartitionsToTxn, AddOffsetsToTxn,
// EndTxn, DescribeTransactions, ListTransactions; InitProducerId's
// transactional path is in 22_init_producer_id.go), served by
// txncoord.Coordinator for the transactional.ids whose partition of
// __transaction_state this broker leads, as Kafka's KafkaApis handlers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txncoord"
)

// TxnTopic is the internal topic holding the transaction coordinator's state.
const TxnTopic = "__transaction_state"

// addPartitionsToTxn is AddPartitionsToTxn v0-v5: v0-v3 the producer's
// one transaction, v4+ (KIP-890) a broker's batch of transactions, each
// either added to or, verify-only, checked against. Partitions of unknown
// topics are UNKNOWN_TOPIC_OR_PARTITION and the others of the same
// transaction OPERATION_NOT_ATTEMPTED, as KafkaApis.
func addPartitionsToTxn(h *Handlers, ctx context.Context, req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version < 4 {
		topics := make([]kmsg.AddPartitionsToTxnRequestTransactionTopic, len(req.Topics))
		for i, t := range req.Topics {
			topics[i].Topic, topics[i].Partitions = t.Topic, t.Partitions
		}
		codes := h.addToTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, topics)
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[txncoord.TopicPartition{Topic: t.Topic, Partition: p}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	for _, tx := range req.Transactions {
		codes := h.addToTxn(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly, tx.Topics)
		rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rtx.TransactionalID = tx.TransactionalID
		for _, t := range tx.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[txncoord.TopicPartition{Topic: t.Topic, Partition: p}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			rtx.Topics = append(rtx.Topics, rt)
		}
		resp.Transactions = append(resp.Transactions, rtx)
	}
	return resp, nil
}

// addToTxn adds (or verifies) the partitions of one transaction and
// returns each partition's code.
func (h *Handlers) addToTxn(ctx context.Context, id string, pid int64, epoch int16, verify bool, topics []kmsg.AddPartitionsToTxnRequestTransactionTopic) map[txncoord.TopicPartition]int16 {
	img := h.image()
	codes := map[txncoord.TopicPartition]int16{}
	var parts []txncoord.TopicPartition
	unknown := false
	for _, t := range topics {
		for _, p := range t.Partitions {
			tp := txncoord.TopicPartition{Topic: t.Topic, Partition: p}
			parts = append(parts, tp)
			if !hasPartition(img.Topics[t.Topic], p) {
				codes[tp], unknown = kerr.UnknownTopicOrPartition.Code, true
			}
		}
	}
	all := func(code int16) map[txncoord.TopicPartition]int16 {
		for _, tp := range parts {
			if codes[tp] == 0 {
				codes[tp] = code
			}
		}
		return codes
	}
	switch {
	case h.Txns == nil:
		return all(kerr.CoordinatorNotAvailable.Code)
	case unknown:
		return all(kerr.OperationNotAttempted.Code)
	case verify:
		return h.Txns.Verify(id, pid, epoch, parts)
	}
	return all(h.Txns.AddPartitions(ctx, id, pid, epoch, parts))
}

// addOffsetsToTxn is AddOffsetsToTxn v0-v4: the group's partition of
// __consumer_offsets joins the transaction, so that its marker makes the
// transaction's offset commits visible.
func addOffsetsToTxn(h *Handlers, ctx context.Context, req *kmsg.AddOffsetsToTxnRequest) (*kmsg.AddOffsetsToTxnResponse, error) {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	t := h.image().Topics[OffsetsTopic]
	switch {
	case h.Txns == nil || t == nil || len(t.Partitions) == 0:
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	case req.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
	default:
		p := group.PartitionFor(req.Group, int32(len(t.Partitions)))
		resp.ErrorCode = h.Txns.AddPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch,
			[]txncoord.TopicPartition{{Topic: OffsetsTopic, Partition: p}})
	}
	return resp, nil
}

// endTxn is EndTxn v0-v5; v5 is transactions v2 (KIP-890): the epoch is
// bumped by every end and answered.
func endTxn(h *Handlers, _ context.Context, req *kmsg.EndTxnRequest) (*kmsg.EndTxnResponse, error) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if h.Txns == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	r := h.Txns.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, req.Version >= 5)
	resp.ErrorCode = r.Code
	if r.Code == 0 {
		resp.ProducerID, resp.ProducerEpoch = r.ProducerID, r.Epoch
	}
	return resp, nil
}

// describeTransactions is DescribeTransactions v0 (KIP-664).
func describeTransactions(h *Handlers, _ context.Context, req *kmsg.DescribeTransactionsRequest) (*kmsg.DescribeTransactionsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	if h.Txns == nil {
		for _, id := range req.TransactionalIDs {
			s := kmsg.NewDescribeTransactionsResponseTransactionState()
			s.TransactionalID, s.ErrorCode, s.ProducerID, s.ProducerEpoch, s.StartTimestamp = id, kerr.CoordinatorNotAvailable.Code, -1, -1, -1
			resp.TransactionStates = append(resp.TransactionStates, s)
		}
		return resp, nil
	}
	resp.TransactionStates = h.Txns.Describe(req.TransactionalIDs)
	return resp, nil
}

// listTransactions is ListTransactions v0-v1 (KIP-664; v1 KIP-994's
// duration filter): the transactions this broker coordinates.
func listTransactions(h *Handlers, _ context.Context, req *kmsg.ListTransactionsRequest) (*kmsg.ListTransactionsResponse, error) {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	if h.Txns == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	duration := int64(-1)
	if req.Version >= 1 {
		duration = req.DurationFilterMillis
	}
	resp.TransactionStates, resp.UnknownStateFilters, resp.ErrorCode = h.Txns.List(req.StateFilters, req.ProducerIDFilters, duration)
	return resp, nil
}
