package api

// ListOffsets v0-v9 (Kafka 3.9's range). Timestamps -2 (earliest), -1
// (latest: the high watermark, or the last stable offset for
// read_committed; for a replica, any replica ID but the consumer's -1, the
// log end offset, as Kafka answers a follower resetting its fetch offset
// with no isolation level), -3 (v7+, the record with the largest timestamp,
// KIP-734), -4 (v8+, earliest local, which is the log start offset since
// nothing is tiered), -5 (v9+, the last tiered offset, KIP-1005: like Kafka
// without remote storage, offset -1 and no error), or a timestamp: the
// first record whose timestamp is at or after it.
//
// v0 (Kafka 4 removed it; Burrow and other old tools still send it) answers
// differently, as Kafka 3.9's legacyFetchOffsetsBefore did: up to
// max_num_offsets offsets in old_style_offsets, newest first, taken from a
// table of segment starts (each segment's base offset with its file's
// modification time) followed, if the active segment holds data, by the
// log end offset with the current time. Latest starts from the end of the
// table, earliest from its start, and any other timestamp from the last
// segment modified at or before it (none: an empty list). For a consumer
// (replica ID -1) offsets above the high watermark are replaced by it.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/partition"
)

func listOffsets(h *Handlers, _ context.Context, req *kmsg.ListOffsetsRequest) (*kmsg.ListOffsetsResponse, error) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	if req.Version == 0 {
		return listOffsetsV0(h, req, resp), nil
	}
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
				var err error
				sp.Offset, sp.Timestamp, sp.ErrorCode, err = offsetFor(p, rp.Timestamp, req.IsolationLevel, req.ReplicaID != -1)
				if err != nil {
					h.logStorageError("list_offsets", rt.Topic, rp.Partition, err.Error())
				}
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

func listOffsetsV0(h *Handlers, req *kmsg.ListOffsetsRequest, resp *kmsg.ListOffsetsResponse) *kmsg.ListOffsetsResponse {
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.OldStyleOffsets = []int64{}
			switch p := h.Partitions.Get(rt.Topic, rp.Partition); {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case notLeader(p) != 0:
				sp.ErrorCode = notLeader(p)
			case rp.MaxNumOffsets < 0:
				// Kafka 3.9 failed here on a negative array size and said
				// UNKNOWN_SERVER_ERROR; the request is what is wrong.
				sp.ErrorCode = kerr.InvalidRequest.Code
			default:
				offsets, err := offsetsBefore(p, rp.Timestamp, rp.MaxNumOffsets, h.Now().UnixMilli())
				if err != nil {
					sp.ErrorCode = kerr.KafkaStorageError.Code
					h.logStorageError("list_offsets", rt.Topic, rp.Partition, err.Error())
					break
				}
				if hw := p.HighWatermark(); req.ReplicaID == -1 && len(offsets) > 0 && offsets[0] > hw {
					i := 0
					for i < len(offsets) && offsets[i] > hw {
						i++
					}
					offsets = append([]int64{hw}, offsets[i:]...)
				}
				sp.OldStyleOffsets = offsets
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// offsetsBefore is Kafka's legacyFetchOffsetsBefore: at most maxOffsets
// offsets from the table of segment starts, newest first (see the top of
// the file).
func offsetsBefore(p *partition.Partition, ts int64, maxOffsets int32, now int64) ([]int64, error) {
	segs, err := p.SegmentStarts()
	if err != nil {
		return nil, err
	}
	type entry struct{ offset, modified int64 }
	table := make([]entry, 0, len(segs)+1)
	for _, s := range segs {
		table = append(table, entry{s.Offset, s.LastModified})
	}
	if n := len(segs); n > 0 && segs[n-1].Size > 0 {
		table = append(table, entry{p.LogEndOffset(), now})
	}
	var start int
	switch ts {
	case -1:
		start = len(table) - 1
	case -2:
		start = 0
	default:
		start = len(table) - 1
		for start >= 0 && table[start].modified > ts {
			start--
		}
	}
	n := min(int(maxOffsets), start+1)
	if len(table) == 0 || n <= 0 {
		return []int64{}, nil
	}
	out := make([]int64, 0, n)
	for i := start; i > start-n; i-- {
		out = append(out, table[i].offset)
	}
	// The table ascends (base offsets do, the log start only raises the
	// first ones, the log end is above all), so out descends as Kafka's.
	return out, nil
}

// offsetFor answers one ListOffsets query: the offset and its timestamp
// (-1 where Kafka sends -1). A read of the log that fails is
// KAFKA_STORAGE_ERROR, with the error for the log.
func offsetFor(p *partition.Partition, ts int64, isolation int8, replica bool) (offset, timestamp int64, code int16, err error) {
	switch ts {
	case -2, -4:
		return p.LogStartOffset(), -1, 0, nil
	case -1:
		if replica {
			return p.LogEndOffset(), -1, 0, nil
		}
		if isolation == 1 {
			return p.LastStableOffset(), -1, 0, nil
		}
		return p.HighWatermark(), -1, 0, nil
	case -5:
		return -1, -1, 0, nil
	case -3:
		b, found, err := p.MaxTimestampBatch()
		if err != nil {
			return -1, -1, kerr.KafkaStorageError.Code, err
		}
		if !found {
			return -1, -1, 0, nil
		}
		off, t := recordWithMaxTimestamp(b)
		return off, t, 0, nil
	}
	if ts < 0 {
		return -1, -1, kerr.InvalidRequest.Code, nil
	}
	b, found, err := p.FindBatchByTimestamp(ts)
	if err != nil {
		return -1, -1, kerr.KafkaStorageError.Code, err
	}
	if !found {
		return -1, -1, 0, nil
	}
	off, t := firstRecordAtOrAfter(b, ts)
	// A consumer is not told of an offset it could not fetch yet, as
	// Kafka's fetchOffsetForTimestamp filters by its last fetchable offset.
	if !replica && (isolation == 1 && off >= p.LastStableOffset() || off >= p.HighWatermark()) {
		return -1, -1, 0, nil
	}
	return off, t, 0, nil
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
