package api

// TxnOffsetCommit v0-v5: a transactional producer's offset commits for a
// group (KIP-98; the member fields of v3+ are KIP-447's). The group
// coordinator writes them to the group's __consumer_offsets partition as
// a transactional batch of the producer, in the format of OffsetCommit's
// records, and keeps them pending until the producer's marker on that
// partition (WriteTxnMarkers) commits or aborts them; OffsetFetch does not
// answer them before (group/txn.go). As Kafka's validateOffsetCommit for a
// transactional commit: v3+'s generation, member and instance ID are
// checked against the group (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID; STALE_MEMBER_EPOCH for a KIP-848 group), a
// generation of -1 with no member skips the check, a group that does not
// exist is created by a commit of generation -1 (else ILLEGAL_GENERATION),
// and no rebalance refuses it. An older producer epoch than the
// partition's producer state has is INVALID_PRODUCER_EPOCH; a partition of
// an unknown topic UNKNOWN_TOPIC_OR_PARTITION and metadata over
// offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE, each. The shard of
// a group is loaded before it is served, so COORDINATOR_LOAD_IN_PROGRESS
// is never answered; a group this broker does not coordinate is
// NOT_COORDINATOR.
//
// Before the write the transaction's coordinator is asked, as Kafka's
// group coordinator does through its AddPartitionsToTxnManager (KIP-890):
// up to v4 (transactions v1) the transaction must already hold the
// group's __consumer_offsets partition (AddOffsetsToTxn), else
// INVALID_TXN_STATE; v5 (transactions v2, "the same as version 4") adds
// it to the transaction. A fenced producer is INVALID_PRODUCER_EPOCH; a
// coordinator moving, loading or busy with the transaction
// COORDINATOR_NOT_AVAILABLE, which the client retries (Kafka's
// normalisation of NOT_ENOUGH_REPLICAS).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
)

func txnOffsetCommit(h *Handlers, ctx context.Context, req *kmsg.TxnOffsetCommitRequest) (*kmsg.TxnOffsetCommitResponse, error) {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	img := h.image()
	tr := group.TxnCommitRequest{
		CommitRequest: group.CommitRequest{Group: req.Group, Generation: -1},
		ProducerID:    req.ProducerID,
		ProducerEpoch: req.ProducerEpoch,
	}
	if req.Version >= 3 {
		tr.Generation, tr.MemberID, tr.InstanceID = req.Generation, req.MemberID, req.InstanceID
	}
	type slot struct{ topic, partition, commit int }
	var slots []slot
	for ti, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		t := img.Topic(rt.Topic)
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				epoch := int32(-1)
				if req.Version >= 2 {
					epoch = rp.LeaderEpoch
				}
				var meta string
				if rp.Metadata != nil {
					meta = *rp.Metadata
				}
				slots = append(slots, slot{ti, pi, len(tr.Commits)})
				tr.Commits = append(tr.Commits, group.Commit{
					TopicPartition: group.TopicPartition{Topic: t.Name, Partition: rp.Partition},
					Offset:         group.Offset{Offset: rp.Offset, LeaderEpoch: epoch, Metadata: meta},
				})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(tr.Commits) == 0 {
		return resp, nil
	}
	code := h.Groups.Owns(req.Group)
	if code == 0 {
		code = h.verifyTxnOffsets(ctx, req)
	}
	codes := make([]int16, len(tr.Commits))
	if code == 0 {
		code, codes = h.Groups.CommitTxnOffsets(tr)
	}
	for _, s := range slots {
		c := codes[s.commit]
		if code != 0 {
			c = code
		}
		resp.Topics[s.topic].Partitions[s.partition].ErrorCode = c
	}
	return resp, nil
}

// verifyTxnOffsets asks the transaction's coordinator whether the
// transaction holds the group's __consumer_offsets partition (v5: adds
// it), and returns the code to answer every partition with (0: write).
func (h *Handlers) verifyTxnOffsets(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) int16 {
	if h.TxnProduce == nil {
		return 0
	}
	t := h.image().Topic(OffsetsTopic)
	if t == nil || len(t.Partitions) == 0 {
		return kerr.CoordinatorNotAvailable.Code
	}
	p := group.PartitionFor(req.Group, int32(len(t.Partitions)))
	code := h.TxnProduce(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, OffsetsTopic, p, req.Version >= 5)
	if code == kerr.NotEnoughReplicas.Code {
		return kerr.CoordinatorNotAvailable.Code
	}
	return code
}
