package api

// Produce v0-v12. v0-v2 carry message sets of magic 0 or 1, which Kafka 4
// no longer accepts; like Kafka 3.x we convert them to one v2 batch
// (batch.UpConvert) before the normal append path. As Kafka 3.x, v0-v2 may
// also carry a v2 batch, which goes through unchanged (ProduceRequest's
// validateRecords checks magic only from v3). From v3 each partition
// carries exactly one record batch (magic v2; a magic 0/1 set gets
// INVALID_RECORD); zstd needs v7+ (UNSUPPORTED_COMPRESSION_TYPE before).
// acks=0 gets no response at all. Transactions are not served yet, so a
// transactional produce is refused with INVALID_TXN_STATE. Every record of
// every batch is checked (batch.Validate); records refused for their key or
// timestamp are listed in v8+ record_errors, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// legacyMagicPos is where both a v0/v1 message and a v2 batch keep their magic.
const legacyMagicPos = 16

func produce(h *Handlers, _ context.Context, req *kmsg.ProduceRequest) (*kmsg.ProduceResponse, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	img := h.image()
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
			case p == nil && req.Version >= 13:
				code = kerr.UnknownTopicID.Code
			case p == nil:
				code = kerr.UnknownTopicOrPartition.Code
			case legacyCode != 0:
				code, msg = legacyCode, legacyMsg
			case req.TransactionID != nil || first.Transactional():
				// No transaction coordinator yet: nothing could have begun a transaction.
				code, msg = kerr.InvalidTxnState.Code, "transactions are not supported by this broker yet"
			case req.Version < 7 && first.Codec() == batch.Zstd:
				code = kerr.UnsupportedCompressionType.Code
			default:
				r := p.Append(records)
				code, msg = r.ErrorCode, r.ErrorMessage
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
	return resp, nil
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
