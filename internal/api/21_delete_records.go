package api

// DeleteRecords v0-v2: move partitions' log start offsets forward. An
// offset of -1 means the high watermark; beyond it is OFFSET_OUT_OF_RANGE.
// The log start stops at the last stable offset: the first records of an
// open transaction stay (Partition.DeleteRecords), and the low watermark
// answered says where it stopped.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func deleteRecords(h *Handlers, _ context.Context, req *kmsg.DeleteRecordsRequest) (*kmsg.DeleteRecordsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			if p := h.Partitions.Get(rt.Topic, rp.Partition); p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if sp.ErrorCode = notLeader(p); sp.ErrorCode == 0 {
				sp.LowWatermark, sp.ErrorCode = p.DeleteRecords(rp.Offset)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
