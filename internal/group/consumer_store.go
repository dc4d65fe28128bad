package group

// Persistence of KIP-848 groups. After every change (a heartbeat, a member
// timed out or fenced) the group writes the records of its state that
// differ from what __consumer_offsets already holds for it: the group
// epoch (record 3), the target assignment epoch (6), and for each member
// it touched its metadata (5), target (7) and current assignment (8), or
// tombstones for a member that is gone. A broker that loads the partition
// rebuilds the group from them, so members carry on with their IDs,
// epochs and partitions across a restart or a coordinator move.

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// The order of a batch's records is Kafka's, so that a Kafka broker could
// replay them too: tombstones first (a departing member's partitions are
// released before anyone else's record claims them), current assignment,
// target, target epoch, member and the group's own record last; then the
// writes: a member's metadata before the group epoch it moved, targets
// before the target epoch, current assignments last.
var (
	tombstoneOrder = map[int16]int{
		consumerCurrentAssignmentTyp: 0, consumerTargetMemberType: 1, consumerTargetMetadataType: 2,
		consumerMemberMetadataType: 3, consumerGroupMetadataType: 4,
	}
	consumerRecordOrder = map[int16]int{
		consumerMemberMetadataType: 0, consumerGroupMetadataType: 1, consumerTargetMemberType: 2,
		consumerTargetMetadataType: 3, consumerCurrentAssignmentTyp: 4,
	}
)

// touch marks a member whose records may have changed.
func (cg *consumerGroup) touch(id string) {
	if cg.dirty == nil {
		cg.dirty = map[string]bool{}
	}
	cg.dirty[id] = true
}

// consumerChange is one record to write: a nil value is a tombstone.
type consumerChange struct {
	key   consumerKey
	value []byte
}

// wanted is what the group's record under k should hold now, nil for
// none.
func (g *group) wanted(k consumerKey) []byte {
	cg := g.consumer
	switch k.kind {
	case consumerGroupMetadataType:
		return encodeConsumerGroup(storedConsumerGroup{epoch: cg.epoch, topicsHash: cg.topicsHash})
	case consumerTargetMetadataType:
		return encodeTargetEpoch(storedTargetEpoch(cg.assignmentEpoch))
	case consumerTargetMemberType:
		if a, ok := cg.target[k.member]; ok && cg.members[k.member] != nil {
			return encodeTargetMember(a)
		}
		return nil
	}
	m := cg.members[k.member]
	if m == nil {
		return nil
	}
	if k.kind == consumerMemberMetadataType {
		return encodeConsumerMember(m.stored())
	}
	cur := storedCurrentAssignment{epoch: m.epoch, previousEpoch: m.previousEpoch, state: cg.memberState(m), assigned: m.assigned, revoking: m.revoking}
	if m.left {
		cur.epoch, cur.previousEpoch = staticLeftEpoch, m.epoch
	}
	return encodeCurrentAssignment(cur)
}

func (m *consumerMember) stored() storedConsumerMember {
	s := storedConsumerMember{
		instanceID: m.instanceID, rackID: m.rackID, clientID: m.clientID, clientHost: m.clientHost,
		subscribed: m.subscribed, rebalanceTimeoutMs: int32(m.rebalanceTimeout.Milliseconds()),
	}
	if m.rebalanceTimeout <= 0 {
		s.rebalanceTimeoutMs = -1
	}
	if m.regex != "" {
		r := m.regex
		s.regex = &r
	}
	if m.assignor != "" {
		a := m.assignor
		s.assignor = &a
	}
	return s
}

// memberState is Kafka's MemberState of m.
func (cg *consumerGroup) memberState(m *consumerMember) int8 {
	switch {
	case len(m.revoking) > 0:
		return memberUnrevokedPartitions
	case m.epoch == cg.assignmentEpoch && !equalAssignments(m.assigned, cg.target[m.id]):
		return memberUnreleasedPartitions
	}
	return memberStable
}

// changes lists the records that differ from what was written: the
// group's own, those of the touched members, every target when the target
// was recomputed, or with all every record the group has or had.
func (g *group) changes(all bool) []consumerChange {
	cg := g.consumer
	keys := map[consumerKey]bool{{kind: consumerGroupMetadataType}: true, {kind: consumerTargetMetadataType}: true}
	memberKeys := func(id string) {
		for _, kind := range []int16{consumerMemberMetadataType, consumerTargetMemberType, consumerCurrentAssignmentTyp} {
			keys[consumerKey{kind, id}] = true
		}
	}
	for id := range cg.dirty {
		memberKeys(id)
	}
	if all {
		for id := range cg.members {
			memberKeys(id)
		}
	}
	if cg.targetDirty || all {
		for id := range cg.target {
			keys[consumerKey{consumerTargetMemberType, id}] = true
		}
		for k := range cg.written {
			if k.kind == consumerTargetMemberType || all {
				keys[k] = true
			}
		}
	}
	var out []consumerChange
	for k := range keys {
		v := g.wanted(k)
		if w, ok := cg.written[k]; (v == nil && !ok) || (ok && bytes.Equal(v, w)) {
			continue
		}
		out = append(out, consumerChange{k, v})
	}
	sortChanges(out)
	return out
}

func sortChanges(cs []consumerChange) {
	slices.SortFunc(cs, func(a, b consumerChange) int {
		at, bt := a.value == nil, b.value == nil
		switch {
		case at != bt:
			if at {
				return -1
			}
			return 1
		case a.key.kind != b.key.kind && at:
			return tombstoneOrder[a.key.kind] - tombstoneOrder[b.key.kind]
		case a.key.kind != b.key.kind:
			return consumerRecordOrder[a.key.kind] - consumerRecordOrder[b.key.kind]
		}
		return strings.Compare(a.key.member, b.key.member)
	})
}

// persistConsumer writes what changed in the group's KIP-848 state since
// the last write. On failure nothing is marked written, so the next
// persist tries again.
func (g *group) persistConsumer() int16 {
	cg := g.consumer
	cs := g.changes(false)
	var recs []batch.Record
	if cg.dropClassic {
		// The group was classic: its metadata record must not bring it
		// back as one.
		recs = append(recs, batch.Record{Key: groupKey(g.id)})
	}
	for _, c := range cs {
		recs = append(recs, batch.Record{Key: c.key.encode(g.id), Value: c.value})
	}
	if len(recs) > 0 {
		if code := g.append(recs); code != 0 {
			return code
		}
	}
	cg.markWritten(cs)
	cg.dropClassic = false
	return 0
}

func (cg *consumerGroup) markWritten(cs []consumerChange) {
	if cg.written == nil {
		cg.written = map[consumerKey][]byte{}
	}
	for _, c := range cs {
		if c.value == nil {
			delete(cg.written, c.key)
		} else {
			cg.written[c.key] = c.value
		}
	}
	cg.dirty, cg.targetDirty = nil, false
}

// tombstones deletes every record the group has written, its own record
// last.
func (cg *consumerGroup) tombstones(groupID string) []batch.Record {
	cs := make([]consumerChange, 0, len(cg.written))
	for k := range cg.written {
		cs = append(cs, consumerChange{key: k})
	}
	sortChanges(cs)
	recs := make([]batch.Record, len(cs))
	for i, c := range cs {
		recs[i] = batch.Record{Key: c.key.encode(groupID)}
	}
	return recs
}

// loadedConsumer is a KIP-848 group as its records describe it.
type loadedConsumer struct {
	group       *storedConsumerGroup
	targetEpoch int32
	members     map[string]*storedConsumerMember
	targets     map[string]assignment
	current     map[string]*storedCurrentAssignment
}

// replayConsumer applies one KIP-848 record to what was loaded so far.
func replayConsumer(loaded map[string]*loadedConsumer, d decoded) {
	lc := loaded[d.group]
	if lc == nil {
		if d.kind == consumerGroupMetadataType && d.consumerGroup == nil {
			return
		}
		lc = &loadedConsumer{members: map[string]*storedConsumerMember{}, targets: map[string]assignment{}, current: map[string]*storedCurrentAssignment{}}
		loaded[d.group] = lc
	}
	switch d.kind {
	case consumerGroupMetadataType:
		if d.consumerGroup == nil {
			delete(loaded, d.group) // the group was deleted
			return
		}
		lc.group = d.consumerGroup
	case consumerTargetMetadataType:
		if d.targetEpoch != nil {
			lc.targetEpoch = int32(*d.targetEpoch)
		}
	case consumerMemberMetadataType:
		if d.consumerMember == nil {
			delete(lc.members, d.member)
		} else {
			lc.members[d.member] = d.consumerMember
		}
	case consumerTargetMemberType:
		if d.target == nil {
			delete(lc.targets, d.member)
		} else {
			lc.targets[d.member] = d.target
		}
	case consumerCurrentAssignmentTyp:
		if d.current == nil {
			delete(lc.current, d.member)
		} else {
			lc.current[d.member] = d.current
		}
	}
}

// restoreConsumer rebuilds a KIP-848 group from its records. Its members
// must heartbeat within the session timeout to stay; those that were
// revoking partitions get their rebalance timeout again.
func (g *group) restoreConsumer(lc *loadedConsumer) {
	cg := newConsumerGroup()
	cg.epoch, cg.topicsHash, cg.assignmentEpoch = lc.group.epoch, lc.group.topicsHash, lc.targetEpoch
	for id, sm := range lc.members {
		m := &consumerMember{
			id: id, instanceID: sm.instanceID, rackID: sm.rackID, clientID: sm.clientID, clientHost: sm.clientHost,
			subscribed: slices.Sorted(slices.Values(sm.subscribed)), assigned: assignment{}, revoking: assignment{},
		}
		if sm.rebalanceTimeoutMs > 0 {
			m.rebalanceTimeout = time.Duration(sm.rebalanceTimeoutMs) * time.Millisecond
		}
		if sm.regex != nil {
			m.regex = *sm.regex
		}
		if sm.assignor != nil {
			m.assignor = *sm.assignor
		}
		if cur := lc.current[id]; cur != nil {
			m.epoch, m.previousEpoch, m.assigned, m.revoking = cur.epoch, cur.previousEpoch, cur.assigned, cur.revoking
			if cur.epoch == staticLeftEpoch {
				m.left, m.epoch = m.instanceID != nil, cur.previousEpoch
			}
		}
		cg.members[id] = m
		if m.instanceID != nil {
			cg.static[*m.instanceID] = id
		}
	}
	for id, a := range lc.targets {
		if cg.members[id] != nil {
			cg.target[id] = a
		}
	}
	g.consumer, g.protocolType, g.state = cg, "consumer", Empty
	cg.markWritten(g.changes(true))
	for _, m := range cg.members {
		g.scheduleConsumerSession(m)
		if len(m.revoking) > 0 {
			g.scheduleRevokeTimeout(m)
		}
	}
}
