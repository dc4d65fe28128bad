package api

// WriteTxnMarkers v1-v2 (v0 went in Kafka 4.0): the transaction
// coordinator's request to write the COMMIT or ABORT marker of a producer's
// transaction to each partition the transaction wrote to, as Kafka's
// KafkaApis.handleWriteTxnMarkersRequest: every partition this broker
// leads takes the marker (Partition.AppendMarker: INVALID_PRODUCER_EPOCH
// for a stale producer epoch, TRANSACTION_COORDINATOR_FENCED for a zombie
// coordinator, NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS), then the
// request waits until the ISR has every marker (acks=all, up to
// request.timeout.ms: REQUEST_TIMEOUT otherwise), so the coordinator
// completes the transaction only once it is decided everywhere; a
// partition this broker does not host is UNKNOWN_TOPIC_OR_PARTITION, as
// in Kafka (onlinePartition is empty). Once a marker is on a partition of
// __consumer_offsets, the group coordinator completes the producer's
// pending transactional offset commits there (Handlers.CompleteGroupTxn,
// Kafka's groupCoordinator.onTransactionCompleted) before the answer.
// The marker's TransactionVersion (v2; 0 before) says how its producer
// epoch is checked: from 2 on it must be above the producer's.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/partition"
)

// markerTimeout bounds the wait for the ISR: Kafka's request.timeout.ms
// default, which its WriteTxnMarkers appends wait for.
const markerTimeout = 30 * time.Second

func writeTxnMarkers(h *Handlers, ctx context.Context, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	type pending struct {
		p    *partition.Partition
		next int64
		code *int16
	}
	var waits []pending
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			rt.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	// Append every marker first, then wait: the followers fetch them all
	// at once.
	for i, m := range req.Markers {
		for j, t := range m.Topics {
			for k, index := range t.Partitions {
				rp := &resp.Markers[i].Topics[j].Partitions[k]
				*rp = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = index
				p := h.Partitions.Get(t.Topic, index)
				if p == nil {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					continue
				}
				r := p.AppendMarkerVersion(m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed, m.TransactionVersion)
				if rp.ErrorCode = r.ErrorCode; r.ErrorCode == kerr.KafkaStorageError.Code {
					h.logStorageError("write transaction marker", p.Topic, p.Index, r.ErrorMessage)
				}
				if r.ErrorCode == 0 {
					waits = append(waits, pending{p, r.NextOffset, &rp.ErrorCode})
				}
			}
		}
	}
	deadline := time.Now().Add(markerTimeout)
	for _, w := range waits {
		*w.code = w.p.WaitForAcks(ctx, w.next, max(time.Until(deadline), 0))
	}
	for i, m := range req.Markers {
		var offsets []int32
		var codes []*int16
		for j, t := range m.Topics {
			if t.Topic != OffsetsTopic {
				continue
			}
			for k := range t.Partitions {
				if rp := &resp.Markers[i].Topics[j].Partitions[k]; rp.ErrorCode == 0 {
					offsets = append(offsets, rp.Partition)
					codes = append(codes, &rp.ErrorCode)
				}
			}
		}
		if len(offsets) == 0 || h.CompleteGroupTxn == nil {
			continue
		}
		if err := h.CompleteGroupTxn(m.ProducerID, offsets, m.Committed); err != nil {
			code := kerr.UnknownServerError.Code
			var ke *kerr.Error
			if errors.As(err, &ke) {
				code = ke.Code
			}
			for _, c := range codes {
				*c = code
			}
		}
	}
	return resp, nil
}
