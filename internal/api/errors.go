package api

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// errorCode maps an error from a subsystem to a Kafka error code: a
// *kerr.Error keeps its code, a timeout becomes REQUEST_TIMED_OUT, and
// anything else is UNKNOWN_SERVER_ERROR.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}

// errorMessage is the message to send with err: nil for none, or for a
// bare Kafka error, whose code says it all.
func errorMessage(err error) *string {
	var ke *kerr.Error
	if err == nil || (errors.As(err, &ke) && err.Error() == ke.Error()) {
		return nil
	}
	s := err.Error()
	return &s
}

// checkLeaderEpoch compares a client's current leader epoch (-1: not
// checked) with the partition's: an older one is FENCED_LEADER_EPOCH, a
// newer one UNKNOWN_LEADER_EPOCH (this broker has not caught up yet). Then,
// as Kafka's localLogWithEpochOrThrow, a replica this broker does not lead
// (a follower, or one given no role yet) is NOT_LEADER_OR_FOLLOWER.
func checkLeaderEpoch(p *partition.Partition, current int32) int16 {
	switch epoch := p.LeaderEpoch(); {
	case current >= 0 && current < epoch:
		return kerr.FencedLeaderEpoch.Code
	case current > epoch:
		return kerr.UnknownLeaderEpoch.Code
	}
	return notLeader(p)
}

// notLeader is NOT_LEADER_OR_FOLLOWER for a replica this broker does not
// lead, else 0: clients' requests go to the leader only.
func notLeader(p *partition.Partition) int16 {
	if p.Role() != partition.RoleLeader {
		return kerr.NotLeaderForPartition.Code
	}
	return 0
}

// notHosted answers a produce or fetch for a partition this broker's
// metadata has but whose replica it does not host: not yet (the replica
// manager opens it a moment after the image that created it or moved it
// here is applied, and Metadata already answers from that image) or no
// longer. Kafka's ReplicaManager.getPartitionOrError answers
// NOT_LEADER_OR_FOLLOWER then, which clients retry after a metadata
// refresh; UNKNOWN_TOPIC_OR_PARTITION, kept for a partition the metadata
// lacks, makes franz-go fail every buffered record after UnknownTopicRetries
// (4) such answers in a row.
var notHosted = kerr.NotLeaderForPartition.Code

// hasPartition reports whether t (nil: a topic the metadata lacks) has
// partition p.
func hasPartition(t *metadata.Topic, p int32) bool {
	return t != nil && p >= 0 && int(p) < len(t.Partitions)
}
