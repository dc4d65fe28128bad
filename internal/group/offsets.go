package group

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Commit is one offset to commit. Its CommitTime is 0 for now, unless an
// old client gave one; its ExpireTime 0 unless an old client asked for a
// retention time.
type Commit struct {
	TopicPartition
	Offset
}

// CommitRequest is an OffsetCommit request whose partitions all exist (the
// caller answers unknown ones).
type CommitRequest struct {
	Group      string
	Generation int32 // -1 for a commit from outside the group
	MemberID   string
	InstanceID *string
	Commits    []Commit
	// BeforeV9 marks an OffsetCommit older than v9: a member's commit to a
	// group that does not exist is then ILLEGAL_GENERATION (from v9
	// GROUP_ID_NOT_FOUND), and a KIP-848 member may not commit
	// (UNSUPPORTED_VERSION), as in Kafka's OffsetMetadataManager and
	// ConsumerGroup.validateOffsetCommit.
	BeforeV9 bool
}

// CommitOffsets stores offsets. It returns an error for the whole request,
// or one code per commit.
func (c *Coordinator) CommitOffsets(req CommitRequest) (int16, []int16) {
	codes := make([]int16, len(req.Commits))
	// An empty group ID is a group like any other here: Kafka accepts
	// commits for it, for old clients' sake.
	// Generation -1 is a commit from outside the group (an admin tool or
	// a consumer without a group), accepted while the group is empty,
	// whatever member ID it names, as in Kafka.
	simple := req.Generation < 0
	_, g, code := c.lookup(req.Group, simple)
	if code != 0 {
		return code, codes
	}
	if g == nil {
		if req.BeforeV9 {
			return kerr.IllegalGeneration.Code, codes
		}
		return kerr.GroupIDNotFound.Code, codes
	}
	g.mu.Lock()
	code = g.commit(req, codes)
	end := g.written
	g.mu.Unlock()
	if code != 0 {
		return code, codes
	}
	g.awaitCommits(end, codes)
	return 0, codes
}

// awaitCommits answers a commit request once the group's records below
// end are committed: every commit appended, and a request of which none
// was on the group's earlier records it saw. A failed wait's code goes
// to each commit not already refused.
func (g *group) awaitCommits(end int64, codes []int16) {
	if code := g.awaitWritten(end); code != 0 {
		for i := range codes {
			if codes[i] == 0 {
				codes[i] = code
			}
		}
	}
}

// commit is CommitOffsets under g.mu: the request's error, or 0 and each
// commit's code in codes.
func (g *group) commit(req CommitRequest, codes []int16) int16 {
	if code := g.checkCommit(req, false); code != 0 {
		return code
	}
	g.writeCommits(req, codes, -1, -1)
	return 0
}

// checkCommit checks a commit's generation, member and instance against
// the group, as Kafka's validateOffsetCommit: a transactional one
// (TxnOffsetCommit) without a generation, member or instance ID is
// accepted whatever the group's members (a producer from before KIP-447),
// and is not refused during a rebalance nor keeps the member's session.
// g.mu is held.
func (g *group) checkCommit(req CommitRequest, transactional bool) int16 {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable.Code
	}
	simple := req.Generation < 0
	anonymous := simple && req.MemberID == "" && req.InstanceID == nil
	if cg := g.consumer; cg != nil {
		// KIP-848: the generation is the member epoch.
		if simple && len(cg.members) == 0 || transactional && anonymous {
			// from outside the group
		} else if m := cg.members[req.MemberID]; m == nil {
			return kerr.UnknownMemberID.Code
		} else if req.BeforeV9 {
			return kerr.UnsupportedVersion.Code
		} else if req.Generation > m.epoch || req.Generation < min(m.previousEpoch, m.epoch) {
			// Like Kafka 4.3 (KIP-1251), a commit sent just before the
			// heartbeat that moved the member's epoch still counts.
			return kerr.StaleMemberEpoch.Code
		}
	} else if simple && g.state == Empty || transactional && anonymous {
		// from outside the group
	} else if anonymous {
		// Only a member may commit for a group with members.
		return kerr.UnknownMemberID.Code
	} else {
		m, code := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
		if code != 0 {
			return code
		}
		if transactional {
			return 0
		}
		if g.state == CompletingRebalance {
			return kerr.RebalanceInProgress.Code
		}
		g.scheduleSession(m)
	}
	return 0
}

// writeCommits appends the request's commits, as a transactional batch of
// producerID at producerEpoch if it is not -1, and records them: committed
// offsets, or the producer's pending ones. Each commit's code goes to
// codes. g.mu is held.
func (g *group) writeCommits(req CommitRequest, codes []int16, producerID int64, producerEpoch int16) {
	now := g.c.now().UnixMilli()
	var recs []batch.Record
	var ok []int
	for i, cm := range req.Commits {
		if len(cm.Metadata) > g.c.cfg.MaxMetadataBytes {
			codes[i] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		if cm.CommitTime == 0 {
			cm.CommitTime = now
		}
		req.Commits[i] = cm
		recs = append(recs, batch.Record{Key: offsetKey(g.id, cm.Topic, cm.Partition), Value: offsetValue(cm.Offset)})
		ok = append(ok, i)
	}
	if len(recs) == 0 {
		return
	}
	if code := g.appendAs(producerID, producerEpoch, recs); code != 0 {
		for _, i := range ok {
			codes[i] = code
		}
		return
	}
	first := g.written - int64(len(recs))
	for j, i := range ok {
		cm := req.Commits[i]
		if producerID >= 0 {
			g.addPending(producerID, cm.TopicPartition, pendingOffset{cm.Offset, first + int64(j)})
		} else {
			g.setOffset(cm.TopicPartition, &cm.Offset, first+int64(j))
		}
	}
}

// FetchedOffset is one committed offset, or Offset -1 for none. Err is
// UNSTABLE_OFFSET_COMMIT (with Offset -1) for a partition with a pending
// transactional commit when the fetch required stable offsets.
type FetchedOffset struct {
	TopicPartition
	Offset
	Err int16
}

// FetchOffsets returns the group's committed offsets of the given
// partitions, or all of them when partitions is nil.
func (c *Coordinator) FetchOffsets(groupID string, partitions []TopicPartition) ([]FetchedOffset, int16) {
	return c.FetchOffsetsAs(groupID, nil, -1, partitions, false)
}

// FetchOffsetsAs is FetchOffsets on behalf of a KIP-848 member (OffsetFetch
// v9+), whose epoch must be current (STALE_MEMBER_EPOCH). A nil memberID
// fetches as an admin; classic groups ignore the member. requireStable
// (OffsetFetch v7+, KIP-447) answers UNSTABLE_OFFSET_COMMIT for each
// partition with a pending transactional commit, as Kafka's fetchOffsets.
func (c *Coordinator) FetchOffsetsAs(groupID string, memberID *string, memberEpoch int32, partitions []TopicPartition, requireStable bool) ([]FetchedOffset, int16) {
	_, g, code := c.lookup(groupID, false)
	if code != 0 {
		return nil, code
	}
	var out []FetchedOffset
	if g == nil {
		for _, tp := range partitions {
			out = append(out, FetchedOffset{TopicPartition: tp, Offset: Offset{Offset: -1, LeaderEpoch: -1}})
		}
		return out, 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.consumer != nil && memberID != nil {
		m := g.consumer.members[*memberID]
		if m == nil {
			return nil, kerr.UnknownMemberID.Code
		}
		if m.epoch != memberEpoch {
			return nil, kerr.StaleMemberEpoch.Code
		}
	}
	// Only committed records are answered: an offset whose record a
	// failover could still lose is not (commit.go).
	g.pruneUncommitted()
	if partitions == nil {
		seen := map[TopicPartition]bool{}
		add := func(tp TopicPartition) {
			if seen[tp] {
				return
			}
			seen[tp] = true
			if o, ok := g.committedOffset(tp); ok {
				out = append(out, g.fetched(tp, o, requireStable))
			}
		}
		for topic, ps := range g.offsets {
			for p := range ps {
				add(TopicPartition{topic, p})
			}
		}
		for _, ch := range g.uncommitted {
			add(ch.tp)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return out, 0
	}
	for _, tp := range partitions {
		o, ok := g.committedOffset(tp)
		if !ok {
			o = Offset{Offset: -1, LeaderEpoch: -1}
		}
		out = append(out, g.fetched(tp, o, requireStable))
	}
	return out, 0
}

// fetched is the answer for tp's committed offset o. g.mu is held.
func (g *group) fetched(tp TopicPartition, o Offset, requireStable bool) FetchedOffset {
	if requireStable && g.hasPending(tp) {
		return FetchedOffset{TopicPartition: tp, Offset: Offset{Offset: -1, LeaderEpoch: -1}, Err: kerr.UnstableOffsetCommit.Code}
	}
	return FetchedOffset{TopicPartition: tp, Offset: o}
}

// DeleteOffsets removes committed offsets of a group. A group with members
// keeps the offsets of topics it is subscribed to
// (GROUP_SUBSCRIBED_TO_TOPIC).
func (c *Coordinator) DeleteOffsets(groupID string, partitions []TopicPartition) (int16, []int16) {
	codes := make([]int16, len(partitions))
	if groupID == "" {
		return kerr.InvalidGroupID.Code, codes
	}
	_, g, code := c.lookup(groupID, false)
	if code != 0 {
		return code, codes
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code, codes
	}
	return g.write(func() int16 { return g.deleteOffsets(partitions, codes) }), codes
}

// deleteOffsets is DeleteOffsets under g.mu.
func (g *group) deleteOffsets(partitions []TopicPartition, codes []int16) int16 {
	if g.state == Dead {
		return kerr.GroupIDNotFound.Code
	}
	var subscribed map[string]bool
	if cg := g.consumer; cg != nil && len(cg.members) > 0 {
		subscribed = map[string]bool{}
		for _, tp := range partitions {
			subscribed[tp.Topic] = cg.subscribesTo(tp.Topic)
		}
	} else if g.state != Empty {
		if g.protocolType != "consumer" {
			return kerr.NonEmptyGroup.Code
		}
		subscribed = g.subscribedTopics()
	}
	var recs []batch.Record
	var del []TopicPartition
	for i, tp := range partitions {
		if subscribed[tp.Topic] {
			codes[i] = kerr.GroupSubscribedToTopic.Code
			continue
		}
		// As Kafka, a pending transactional commit gets a tombstone too,
		// which drops it.
		if _, ok := g.offsets[tp.Topic][tp.Partition]; ok || g.hasPending(tp) {
			recs = append(recs, batch.Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
			del = append(del, tp)
		}
	}
	if len(recs) > 0 {
		if code := g.append(recs); code != 0 {
			return code
		}
		g.forget(del)
	}
	return 0
}

func (g *group) forget(tps []TopicPartition) {
	for _, tp := range tps {
		g.setOffset(tp, nil, 0)
	}
}

// subscribedTopics decodes the consumer subscriptions of the members.
func (g *group) subscribedTopics() map[string]bool {
	topics := map[string]bool{}
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			continue
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	return topics
}

// ExpireOffsets removes offsets past the offsets retention, as Kafka does
// (KIP-211, KIP-496): those of an empty classic group counting from the
// later of its emptying and each commit; those of an empty KIP-848 group
// or of a group without a protocol (which only commits) by commit time;
// and in a group with members those of topics no member subscribes to, by
// commit time. An offset committed with a retention time (OffsetCommit
// v2-v4) expires at its expire time instead, whichever of these bases
// would apply, as Kafka's old semantics. A group left empty with nothing
// is forgotten.
func (c *Coordinator) ExpireOffsets() {
	now := c.now().UnixMilli()
	retention := c.cfg.OffsetsRetention.Milliseconds()
	for _, s := range c.allShards() {
		for _, g := range s.all() {
			g.mu.Lock()
			g.expireOffsets(s, now, retention)
			g.mu.Unlock()
		}
	}
}

func (g *group) expireOffsets(s *shard, now, retention int64) {
	if g.state == Dead {
		return
	}
	empty := g.empty()
	keep := func(string) bool { return false } // offsets of these topics stay
	switch {
	case empty:
	case g.consumer != nil:
		keep = g.consumer.subscribesTo
	case g.state == Stable && g.protocolType == "consumer":
		subscribed := g.subscribedTopics()
		keep = func(topic string) bool { return subscribed[topic] }
	default:
		return // a rebalance is under way, or not a consumer group
	}
	var del []TopicPartition
	for topic, ps := range g.offsets {
		if keep(topic) {
			continue
		}
		for p, o := range ps {
			if g.hasPending(TopicPartition{topic, p}) {
				continue // Kafka keeps an offset a transaction is committing
			}
			// A classic group's offsets count from when it emptied (Kafka
			// keeps that time in the group's record); a KIP-848 group's
			// from their commit, as in Kafka.
			base := o.CommitTime
			if empty && g.protocolType != "" && g.consumer == nil {
				base = max(base, g.stateTime.UnixMilli())
			}
			if o.ExpireTime != 0 && now >= o.ExpireTime || o.ExpireTime == 0 && now-base >= retention {
				del = append(del, TopicPartition{topic, p})
			}
		}
	}
	g.removeOffsets(s, del)
}

// empty reports whether the group has no members, of either kind.
func (g *group) empty() bool {
	return g.state == Empty && (g.consumer == nil || len(g.consumer.members) == 0)
}

// removeOffsets deletes the offsets del; an empty group left with no
// offsets is forgotten.
func (g *group) removeOffsets(s *shard, del []TopicPartition) {
	empty := g.empty()
	dropGroup := empty && countOffsets(g.offsets) == len(del) && len(g.pendingTxn) == 0
	if len(del) == 0 && !dropGroup {
		return
	}
	recs := make([]batch.Record, 0, len(del)+1)
	for _, tp := range del {
		recs = append(recs, batch.Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
	}
	if dropGroup {
		recs = append(recs, g.deathRecords()...)
	}
	if code := g.append(recs); code != 0 {
		return
	}
	g.forget(del)
	if dropGroup {
		g.state = Dead
		s.remove(g)
	}
}

// TopicsDeleted removes every group's committed offsets of deleted
// topics, as Kafka does when a topic goes, and forgets the empty groups
// this leaves with nothing.
func (c *Coordinator) TopicsDeleted(topics []string) {
	for _, s := range c.allShards() {
		for _, g := range s.all() {
			g.mu.Lock()
			g.dropTopics(s, topics)
			g.mu.Unlock()
		}
	}
}

func (g *group) dropTopics(s *shard, topics []string) {
	if g.state == Dead {
		return
	}
	var del []TopicPartition
	for _, topic := range topics {
		for p := range g.offsets[topic] {
			del = append(del, TopicPartition{topic, p})
		}
		// A pending transactional commit of the topic gets a tombstone
		// too, which drops it: a later COMMIT brings back no offset of
		// a deleted topic.
		for _, ps := range g.pendingTxn {
			for tp := range ps {
				if _, ok := g.offsets[topic][tp.Partition]; tp.Topic == topic && !ok && !slices.Contains(del, tp) {
					del = append(del, tp)
				}
			}
		}
	}
	if len(del) > 0 {
		g.removeOffsets(s, del)
	}
}

// deathRecords are the tombstones of the group itself, of whichever kind.
func (g *group) deathRecords() []batch.Record {
	var recs []batch.Record
	if g.consumer != nil {
		recs = g.consumer.tombstones(g.id)
	}
	return append(recs, batch.Record{Key: groupKey(g.id)})
}

func countOffsets(o map[string]map[int32]Offset) int {
	n := 0
	for _, ps := range o {
		n += len(ps)
	}
	return n
}
