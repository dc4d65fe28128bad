package api

// OffsetCommit v0-v10 (Kafka 3.9's minimum, Kafka 4.2's maximum). Commits
// from group members are checked against the group's generation
// (ILLEGAL_GENERATION) and members (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID
// for v7+ static members); a generation of -1 commits for a group without
// members, whatever member ID it names (a simple consumer or an admin
// tool), as in Kafka. Partitions of unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION each. v6+ stores the leader epoch. For a
// KIP-848 group the generation is the member epoch (STALE_MEMBER_EPOCH when
// it is not the member's current one). v10 names topics by ID only, request
// and response (KIP-848, KAFKA-14690): like Kafka, an ID the metadata image
// does not know gets UNKNOWN_TOPIC_ID on each of its partitions, and a
// missing partition of a known topic still UNKNOWN_TOPIC_OR_PARTITION.
// Offsets are stored by topic name, so v9 by name and v10 by ID read and
// write the same commits.
//
// The versions Kafka 4 removed, as Kafka 3.9 served them: v0 has neither
// generation nor member, so it commits as generation -1 does. Kafka 3.9
// wrote v0 commits to ZooKeeper (and refused them without one); Samsa has
// no ZooKeeper, so they go to the group coordinator like the others and
// every OffsetFetch version reads them. v1's per-partition commit
// timestamp, when not -1, is the commit time from which
// offsets.retention.minutes counts. v2-v4's retention time, when not -1,
// replaces offsets.retention.minutes for those offsets: they expire that
// long after the commit (KIP-211's old semantics).
//
// As in Kafka, an empty group ID is a group like any other; a member's
// commit to a group that does not exist is GROUP_ID_NOT_FOUND from v9
// (ILLEGAL_GENERATION before), and a KIP-848 member must commit with v9+
// (UNSUPPORTED_VERSION).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

func offsetCommit(h *Handlers, _ context.Context, req *kmsg.OffsetCommitRequest) (*kmsg.OffsetCommitResponse, error) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	img := h.image()
	byID := req.Version >= 10
	cr := group.CommitRequest{Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: req.InstanceID, BeforeV9: req.Version < 9}
	// v2-v4 with a retention time: the offsets expire that long after
	// their commit time, both from one reading of the clock, as Kafka's
	// (the coordinator's own "now" would be a moment later).
	var now, expire int64
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		now = h.Now().UnixMilli()
		expire = now + req.RetentionTimeMillis
	}
	type slot struct{ topic, partition, commit int }
	var slots []slot
	for ti, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *metadata.Topic
		if byID {
			t = img.TopicByID(metadata.TopicID(rt.TopicID))
		} else {
			t = img.Topic(rt.Topic)
		}
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case t == nil && byID:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				epoch := int32(-1)
				if req.Version >= 6 {
					epoch = rp.LeaderEpoch
				}
				var meta string
				if rp.Metadata != nil {
					meta = *rp.Metadata
				}
				commitTime := now // 0: the coordinator's now
				if req.Version == 1 && rp.Timestamp != -1 {
					commitTime = rp.Timestamp
				}
				slots = append(slots, slot{ti, pi, len(cr.Commits)})
				cr.Commits = append(cr.Commits, group.Commit{
					TopicPartition: group.TopicPartition{Topic: t.Name, Partition: rp.Partition},
					Offset:         group.Offset{Offset: rp.Offset, LeaderEpoch: epoch, Metadata: meta, CommitTime: commitTime, ExpireTime: expire},
				})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(cr.Commits) == 0 {
		// Like Kafka, a request with nothing to commit does not reach the
		// coordinator, so it cannot create an empty group.
		return resp, nil
	}
	code, codes := h.Groups.CommitOffsets(cr)
	for _, s := range slots {
		c := codes[s.commit]
		if code != 0 {
			c = code
		}
		resp.Topics[s.topic].Partitions[s.partition].ErrorCode = c
	}
	return resp, nil
}
