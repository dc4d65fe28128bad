package api

// DescribeTopicPartitions v0 (KIP-966): Metadata's topic and partition
// state for tools (kafka-topics.sh --describe since Kafka 3.8), with each
// partition's eligible leader replicas, paged by a cursor, as Kafka's
// DescribeTopicPartitionsRequestHandler and KRaftMetadataCache serve it:
//
//   - no topics: every topic from the cursor's on, sorted by name, those
//     that do not exist skipped; else the named ones from the cursor's on
//     (the cursor's topic must be among them, INVALID_REQUEST otherwise;
//     an unknown one answers UNKNOWN_TOPIC_OR_PARTITION, a bad name
//     INVALID_TOPIC_EXCEPTION);
//   - at most min(ResponsePartitionLimit, max.request.partition.size.limit
//     2000), and at least 1, partitions in all; NextCursor is the first
//     partition left out, or the next topic's first once the limit is met
//     exactly at a topic's end;
//   - EligibleLeaderReplicas are the partition's LastKnownISR (metadata's
//     adaptation of KIP-966's ELR: the replicas that left the ISR while it
//     was below two members, which with the ISR hold every acknowledged
//     record, and lead after a recovery election); LastKnownELR stays empty,
//     as our recovery election keeps no separate last-known set.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// maxRequestPartitionSizeLimit is Kafka's max.request.partition.size.limit
// default: the most partitions one DescribeTopicPartitions answers.
const maxRequestPartitionSizeLimit = 2000

func describeTopicPartitions(h *Handlers, ctx context.Context, req *kmsg.DescribeTopicPartitionsRequest) (*kmsg.DescribeTopicPartitionsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	img := h.image()
	from, start := "", int32(0)
	if req.Cursor != nil {
		from, start = req.Cursor.Topic, req.Cursor.Partition
	}
	all := len(req.Topics) == 0
	var names []string
	if all {
		for name := range img.Topics {
			if name >= from {
				names = append(names, name)
			}
		}
	} else {
		for _, rt := range req.Topics {
			if rt.Topic >= from && !slices.Contains(names, rt.Topic) {
				names = append(names, rt.Topic)
			}
		}
	}
	slices.Sort(names)
	if req.Cursor != nil && (start < 0 || !slices.Contains(names, from)) {
		// Kafka's error response: every requested topic with the code.
		for _, rt := range req.Topics {
			t := kmsg.NewDescribeTopicPartitionsResponseTopic()
			name := rt.Topic
			t.Topic, t.ErrorCode = &name, kerr.InvalidRequest.Code
			t.AuthorizedOperations = authorizedOperationsOmitted
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil
	}

	remaining := max(min(int(req.ResponsePartitionLimit), maxRequestPartitionSizeLimit), 1)
	for _, name := range names {
		if remaining == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		t := img.Topics[name]
		if t == nil {
			if all {
				continue
			}
			rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
			rt.Topic = &name
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if metadata.ValidateTopicName(name) != nil {
				rt.ErrorCode = kerr.InvalidTopicException.Code
			}
			rt.IsInternal = isInternalTopic(name)
			rt.AuthorizedOperations = authorizedOperationsOmitted
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		first := int32(0)
		if name == from {
			first = start
		}
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic = &t.Name
		rt.TopicID = t.ID
		rt.IsInternal = isInternalTopic(t.Name)
		rt.AuthorizedOperations = authorizedOperationsOmitted
		for i := first; i < int32(len(t.Partitions)); i++ {
			if remaining == 0 {
				resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: i}
				break
			}
			p := t.Partitions[i]
			rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LeaderID = p.Leader
			rp.LeaderEpoch = p.LeaderEpoch
			rp.Replicas = p.Replicas
			rp.ISR = p.ISR
			rp.EligibleLeaderReplicas = append([]int32{}, p.LastKnownISR...)
			rp.LastKnownELR = []int32{}
			rp.ErrorCode, rp.OfflineReplicas = h.partitionHealth(t, p)
			rt.Partitions = append(rt.Partitions, rp)
			remaining--
		}
		resp.Topics = append(resp.Topics, rt)
		if resp.NextCursor != nil {
			break
		}
	}
	return resp, nil
}
