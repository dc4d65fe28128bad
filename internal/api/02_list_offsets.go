package api

// ListOffsets v1-v8. Timestamps -2 (earliest), -1 (latest: the high
// watermark, or the last stable offset for read_committed), -3 (v7+, the
// record with the largest timestamp, KIP-734), -4 (v8+, earliest local,
// which is the log start offset since nothing is tiered), or a timestamp:
// the first record whose timestamp is at or after it.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/partition"
)

func listOffsets(h *Handlers, _ context.Context, req *kmsg.ListOffsetsRequest) (*kmsg.ListOffsetsResponse, error) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, -1
			p := h.Partitions.Get(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				sp.ErrorCode = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			}
			if sp.ErrorCode == 0 {
				sp.Offset, sp.Timestamp, sp.ErrorCode = offsetFor(p, rp.Timestamp, req.IsolationLevel)
				if sp.Offset >= 0 {
					sp.LeaderEpoch = p.LeaderEpoch()
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// offsetFor answers one ListOffsets query: the offset and its timestamp
// (-1 where Kafka sends -1).
func offsetFor(p *partition.Partition, ts int64, isolation int8) (offset, timestamp int64, code int16) {
	switch ts {
	case -2, -4:
		return p.LogStartOffset(), -1, 0
	case -1:
		if isolation == 1 {
			return p.LastStableOffset(), -1, 0
		}
		return p.HighWatermark(), -1, 0
	case -3:
		b, found, err := p.MaxTimestampBatch()
		if err != nil {
			return -1, -1, kerr.KafkaStorageError.Code
		}
		if !found {
			return -1, -1, 0
		}
		off, t := recordWithMaxTimestamp(b)
		return off, t, 0
	}
	if ts < 0 {
		return -1, -1, kerr.InvalidRequest.Code
	}
	b, found, err := p.FindBatchByTimestamp(ts)
	if err != nil {
		return -1, -1, kerr.KafkaStorageError.Code
	}
	if !found {
		return -1, -1, 0
	}
	off, t := firstRecordAtOrAfter(b, ts)
	return off, t, 0
}

// firstRecordAtOrAfter finds, in one batch, the first record whose
// timestamp is >= ts. In a LogAppendTime batch every record carries the
// batch's max timestamp.
func firstRecordAtOrAfter(b []byte, ts int64) (int64, int64) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return -1, -1
	}
	if h.LogAppendTime() {
		return h.BaseOffset, h.MaxTimestamp
	}
	recs, err := batch.Records(b)
	if err != nil {
		return h.BaseOffset, h.MaxTimestamp
	}
	for _, r := range recs {
		if r.Timestamp >= ts {
			return r.Offset, r.Timestamp
		}
	}
	return h.LastOffset(), h.MaxTimestamp
}

// recordWithMaxTimestamp finds the first record holding the batch's max
// timestamp.
func recordWithMaxTimestamp(b []byte) (int64, int64) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return -1, -1
	}
	if h.LogAppendTime() {
		return h.BaseOffset, h.MaxTimestamp
	}
	recs, err := batch.Records(b)
	if err != nil || len(recs) == 0 {
		return h.LastOffset(), h.MaxTimestamp
	}
	best := recs[0]
	for _, r := range recs[1:] {
		if r.Timestamp > best.Timestamp {
			best = r
		}
	}
	return best.Offset, best.Timestamp
}
