package api

// Produce v0-v12. v0-v2 carry message sets of magic 0 or 1, which Kafka 4
// no longer accepts; like Kafka 3.x we convert them to one v2 batch
// (batch.UpConvert) before the normal append path. As Kafka 3.x, v0-v2 may
// also carry a v2 batch, which goes through unchanged (ProduceRequest's
// validateRecords checks magic only from v3). From v3 each partition
// carries exactly one record batch (magic v2; a magic 0/1 set gets
// INVALID_RECORD); zstd needs v7+ (UNSUPPORTED_COMPRESSION_TYPE before).
// acks=0 gets no response at all, acks=1 is answered after the leader's
// append, and acks=all (-1) once the high watermark passes each batch
// (partition.WaitForAcks), within the request's timeout_ms
// (REQUEST_TIMED_OUT after it), as Kafka's DelayedProduce. That wait is
// not the handler's: an acks=all produce returns once appended, as a
// server.Deferred response the connection's writer finishes in order, so
// the next produce pipelined on the connection is appended meanwhile. A
// transactional batch is appended only once its transaction's coordinator
// says the partition is in the transaction (KIP-890's verification; with
// Produce v12+, transactions v2, the produce adds it): TxnProduce, whose
// refusals are Kafka's (INVALID_TXN_STATE, INVALID_PRODUCER_EPOCH for a
// fenced producer, INVALID_PRODUCER_ID_MAPPING; NOT_ENOUGH_REPLICAS, which
// the producer retries, while the coordinator moves). Every record of
// every batch is checked (batch.Validate); records refused for their key or
// timestamp are listed in v8+ record_errors, as Kafka does.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// legacyMagicPos is where both a v0/v1 message and a v2 batch keep their magic.
const legacyMagicPos = 16

func produce(h *Handlers, ctx context.Context, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	img := h.image()
	var waits []ackWait
	for _, rt := range req.Topics {
		name := rt.Topic
		if req.Version >= 13 {
			if t := img.TopicsByID[rt.TopicID]; t != nil {
				name = t.Name
			}
		}
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			code, msg := int16(0), ""
			p := h.Partitions.Get(name, rp.Partition)
			records, legacyCode, legacyMsg := rp.Records, int16(0), ""
			if req.Version < 3 && len(records) > legacyMagicPos && records[legacyMagicPos] < 2 {
				records, legacyCode, legacyMsg = batch.UpConvert(records)
			}
			first, _ := batch.ParseHeader(records) // a zero header if short; Append validates
			switch {
			case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
				code = kerr.InvalidRequiredAcks.Code
			case p == nil && h.Partitions.Offline(name, rp.Partition) != nil:
				code = kerr.KafkaStorageError.Code
				h.logStorageError("produce", name, rp.Partition, h.Partitions.Offline(name, rp.Partition).Error())
			case p == nil && hasPartition(img.Topics[name], rp.Partition):
				code = notHosted
			case p == nil && req.Version >= 13:
				code = kerr.UnknownTopicID.Code
			case p == nil:
				code = kerr.UnknownTopicOrPartition.Code
			case legacyCode != 0:
				code, msg = legacyCode, legacyMsg
			case first.Transactional() && (req.TransactionID == nil || h.TxnProduce == nil):
				code, msg = kerr.InvalidTxnState.Code, "a transactional batch needs the request's transactional.id"
			case req.Version < 7 && first.Codec() == batch.Zstd:
				code = kerr.UnsupportedCompressionType.Code
			case first.Transactional() && !h.txnProduceOK(ctx, req, first, name, rp.Partition, &code):
			default:
				r := p.AppendAcks(records, req.Acks)
				code, msg = r.ErrorCode, r.ErrorMessage
				if code == 0 && req.Acks == -1 {
					waits = append(waits, ackWait{p: p, topic: len(resp.Topics), partition: len(st.Partitions), next: r.NextOffset})
				}
				if code == kerr.KafkaStorageError.Code {
					h.logStorageError("produce", name, rp.Partition, msg)
				}
				sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = r.BaseOffset, r.LogAppendTime, r.LogStartOffset
				sp.ErrorRecords = recordErrors(r.RecordErrors)
			}
			sp.ErrorCode = code
			if msg != "" {
				sp.ErrorMessage = &msg
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		return nil, nil
	}
	if len(waits) == 0 {
		return resp, nil
	}
	// One deadline for the whole request, as Kafka's DelayedProduce: the
	// partitions are committed independently, so waiting for them in turn
	// waits no longer than for the last.
	deadline := time.Now().Add(time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond)
	return &ackedProduce{ProduceResponse: resp, ctx: ctx, waits: waits, deadline: deadline}, nil
}

// ackedProduce is an acks=all produce's response once its records are
// appended: the server finishes it (server.Deferred) on the connection's
// writer, so that the next produce on the connection is appended while
// this one waits for its followers.
type ackedProduce struct {
	*kmsg.ProduceResponse
	ctx      context.Context
	waits    []ackWait
	deadline time.Time
}

// Finish waits until each partition's high watermark passes its records,
// or the request's deadline, and sets the partitions' codes.
func (r *ackedProduce) Finish() {
	for _, w := range r.waits {
		sp := &r.Topics[w.topic].Partitions[w.partition]
		if code := w.p.WaitForAcks(r.ctx, w.next, time.Until(r.deadline)); code != 0 {
			sp.ErrorCode = code
		}
	}
}

// ackWait is an acks=all partition appended, waiting for the high
// watermark to reach next; topic and partition index its response.
type ackWait struct {
	p                *partition.Partition
	topic, partition int
	next             int64
}

// txnProduceOK checks a transactional batch with its transaction's
// coordinator before it is appended (TxnProduce), setting code if refused.
func (h *Handlers) txnProduceOK(ctx context.Context, req *kmsg.ProduceRequest, first batch.Header, topic string, partition int32, code *int16) bool {
	*code = h.TxnProduce(ctx, *req.TransactionID, first.ProducerID, first.ProducerEpoch, topic, partition, req.Version >= 12)
	return *code == 0
}

// recordErrors lists the records Append refused (v8+ record_errors: each
// record's index in its batch and why), as Kafka does for records that fail
// the key or timestamp checks.
func recordErrors(errs []batch.RecordError) []kmsg.ProduceResponseTopicPartitionErrorRecord {
	if len(errs) == 0 {
		return nil
	}
	out := make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(errs))
	for i, e := range errs {
		out[i].RelativeOffset, out[i].ErrorMessage = e.Index, &e.Message
	}
	return out
}
