package api

// DescribeProducers v0: the idempotent producers each partition remembers,
// with their epoch, last sequence and last timestamp. Transactions do not
// exist yet, so the coordinator epoch and transaction start are -1.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeProducers(h *Handlers, _ context.Context, req *kmsg.DescribeProducersRequest) (*kmsg.DescribeProducersResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, idx := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = idx
			p := h.Partitions.Get(rt.Topic, idx)
			if p == nil || notLeader(p) != 0 {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if p != nil {
					sp.ErrorCode = notLeader(p)
				}
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			for _, e := range p.Producers() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID = e.ProducerID
				ap.ProducerEpoch = int32(e.ProducerEpoch)
				ap.LastSequence = e.LastSequence
				ap.LastTimestamp = e.LastTimestamp
				ap.CoordinatorEpoch = -1
				ap.CurrentTxnStartOffset = -1
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
