package group

import (
	"bytes"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// State is a classic group's state.
type State int8

// The states of Kafka's classic group state machine.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// String is the state's name as DescribeGroups and ListGroups report it.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// Protocol is one assignment protocol a member supports, with its
// metadata (for consumers, its subscription).
type Protocol struct {
	Name     string
	Metadata []byte
}

// member is one member of a group.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []Protocol
	assignment       []byte
	seq              uint64 // join order: the first is the default leader

	joinWait chan JoinResult // set while the member waits in JoinGroup
	syncWait chan SyncResult // set while the member waits in SyncGroup
	synced   bool            // sent SyncGroup in this generation

	session    Timer
	sessionSeq uint64
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func sameProtocols(a, b []Protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

// group is one group's state machine and committed offsets; mu guards
// every field below it.
type group struct {
	c  *Coordinator
	s  *shard
	id string

	mu           sync.Mutex
	state        State
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string // instance ID -> member ID
	pending      map[string]Timer  // member IDs handed out with MEMBER_ID_REQUIRED
	offsets      map[string]map[int32]Offset
	// written is the log offset after the group's last record (0: none
	// since the shard loaded), which a request's answer waits to be
	// committed; uncommitted are the changes of offsets its records made
	// that the high watermark has not passed yet, oldest first (commit.go).
	written     int64
	uncommitted []offsetChange
	// recordOf is the log offset of each committed offset's record, which
	// orders it against a transactional commit (txn.go); pendingTxn holds
	// the transactional commits of each producer not decided yet.
	recordOf   map[TopicPartition]int64
	pendingTxn map[int64]map[TopicPartition]pendingOffset
	stateTime  time.Time
	seq        uint64
	// consumer is set for a KIP-848 group; the classic fields above are
	// then unused (no members, state Empty unless Dead).
	consumer *consumerGroup

	// timer is the one pending group timer: the initial rebalance delay,
	// the rebalance timeout or the wait for SyncGroups.
	timer          Timer
	timerSeq       uint64
	initialDelay   bool      // the pending timer is the initial delay
	initialEnd     time.Time // the initial delay cannot extend past this
	newMemberAdded bool      // a member joined during the initial delay
}

func newGroup(c *Coordinator, s *shard, id string) *group {
	return &group{
		c: c, s: s, id: id,
		members:   make(map[string]*member),
		static:    make(map[string]string),
		pending:   make(map[string]Timer),
		offsets:   make(map[string]map[int32]Offset),
		recordOf:  make(map[TopicPartition]int64),
		stateTime: c.now(),
	}
}

// restore rebuilds the group from its metadata record. Members come back
// as of their last stable generation and must heartbeat within their
// session timeout to stay.
func (g *group) restore(m *storedGroup) {
	g.protocolType, g.generation, g.protocol, g.leader = m.protocolType, m.generation, m.protocol, m.leader
	if m.stateTime > 0 {
		g.stateTime = time.UnixMilli(m.stateTime)
	}
	if len(m.members) == 0 {
		g.state = Empty
		g.leader = ""
		return
	}
	g.state = Stable
	for _, sm := range m.members {
		g.seq++
		mem := &member{
			id: sm.MemberID, instanceID: sm.InstanceID, clientID: sm.ClientID, clientHost: sm.ClientHost,
			sessionTimeout: time.Duration(sm.SessionTimeoutMillis) * time.Millisecond, rebalanceTimeout: time.Duration(sm.RebalanceTimeoutMillis) * time.Millisecond,
			protocolType: m.protocolType, protocols: []Protocol{{Name: m.protocol, Metadata: sm.Subscription}},
			assignment: sm.Assignment, seq: g.seq, synced: true,
		}
		if mem.rebalanceTimeout <= 0 {
			mem.rebalanceTimeout = mem.sessionTimeout
		}
		g.members[mem.id] = mem
		if mem.instanceID != nil {
			g.static[*mem.instanceID] = mem.id
		}
		g.scheduleSession(mem)
	}
}

// unload ends the group on this broker: its shard moved away or the
// coordinator is closing.
func (g *group) unload() {
	g.stopTimer()
	for _, t := range g.pending {
		t.Stop()
	}
	for _, m := range g.members {
		if m.session != nil {
			m.session.Stop()
		}
		g.answerJoin(m, JoinResult{Err: kerr.NotCoordinator.Code})
		g.answerSync(m, SyncResult{Err: kerr.NotCoordinator.Code})
	}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			if m.session != nil {
				m.session.Stop()
			}
			m.sessionSeq++
			m.stopRevokeTimer()
		}
	}
	g.state = Dead
}

// sorted lists the members in join order.
func (g *group) sorted() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
	return ms
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) setState(s State) {
	g.state = s
	g.stateTime = g.c.now()
}

// schedule replaces the group timer with f after d.
func (g *group) schedule(d time.Duration, f func()) {
	g.stopTimer()
	g.timerSeq++
	seq := g.timerSeq
	g.timer = g.c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.timerSeq != seq || g.state == Dead {
			return
		}
		g.timer = nil
		f()
	})
}

func (g *group) stopTimer() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.timerSeq++
	g.initialDelay = false
}

// scheduleSession restarts m's session timeout: a member not heard from
// within it is removed, unless it is waiting in JoinGroup or SyncGroup
// (the rebalance timeout covers those).
func (g *group) scheduleSession(m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	m.sessionSeq++
	seq := m.sessionSeq
	m.session = g.c.afterFunc(m.sessionTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.members[m.id] != m || m.sessionSeq != seq || g.state == Dead {
			return
		}
		if m.joinWait != nil || m.syncWait != nil {
			g.scheduleSession(m)
			return
		}
		g.c.cfg.Logger.Info("group member session expired", "group", g.id, "member", m.id)
		g.removeMember(m)
		g.memberGone()
	})
}

func (g *group) answerJoin(m *member, r JoinResult) {
	if m.joinWait != nil {
		m.joinWait <- r
		m.joinWait = nil
	}
}

func (g *group) answerSync(m *member, r SyncResult) {
	if m.syncWait != nil {
		m.syncWait <- r
		m.syncWait = nil
	}
}

// removeMember drops m from the group without deciding what happens next
// (see memberGone).
func (g *group) removeMember(m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	m.sessionSeq++
	g.answerJoin(m, JoinResult{Err: kerr.UnknownMemberID.Code})
	g.answerSync(m, SyncResult{Err: kerr.UnknownMemberID.Code})
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		for _, o := range g.sorted() {
			g.leader = o.id
			break
		}
	}
}

// memberGone moves the state machine on after members left.
func (g *group) memberGone() {
	switch g.state {
	case Stable, CompletingRebalance:
		g.prepareRebalance()
	case PreparingRebalance:
		g.tryCompleteJoin()
	}
}

// prepareRebalance starts a rebalance: every member must rejoin within the
// rebalance timeout. A new group's first rebalance waits for the initial
// rebalance delay instead, extended while members keep arriving.
func (g *group) prepareRebalance() {
	if g.state == CompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			g.answerSync(m, SyncResult{Err: kerr.RebalanceInProgress.Code})
		}
	}
	initial := g.state == Empty
	g.setState(PreparingRebalance)
	timeout := g.maxRebalanceTimeout()
	if delay := g.c.cfg.InitialRebalanceDelay; initial && delay > 0 {
		g.initialEnd = g.c.now().Add(timeout)
		g.newMemberAdded = false
		g.schedule(min(delay, timeout), g.initialDelayOver)
		g.initialDelay = true
		return
	}
	g.schedule(timeout, g.completeJoin)
	g.tryCompleteJoin()
}

func (g *group) initialDelayOver() {
	now := g.c.now()
	if g.newMemberAdded && now.Before(g.initialEnd) {
		g.newMemberAdded = false
		g.schedule(min(g.c.cfg.InitialRebalanceDelay, g.initialEnd.Sub(now)), g.initialDelayOver)
		g.initialDelay = true
		return
	}
	g.completeJoin()
}

// tryCompleteJoin completes the rebalance once every member has rejoined.
func (g *group) tryCompleteJoin() {
	if g.state != PreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinWait == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoin ends the join phase: dynamic members that did not rejoin
// are dropped, the generation advances, and every waiting member learns
// the outcome (the leader with the members' metadata to assign from).
func (g *group) completeJoin() {
	g.stopTimer()
	if g.state != PreparingRebalance {
		return
	}
	for _, m := range g.sorted() {
		if m.joinWait == nil && m.instanceID == nil {
			g.removeMember(m)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.setState(Empty)
		if code := g.store(); code != 0 {
			g.c.cfg.Logger.Warn("storing empty group", "group", g.id, "err", kerr.ErrorForCode(code))
		}
		return
	}
	g.protocol = g.selectProtocol()
	if g.members[g.leader] == nil {
		g.leader = ""
		for _, m := range g.sorted() {
			if m.joinWait != nil {
				g.leader = m.id
				break
			}
		}
		if g.leader == "" {
			g.leader = g.sorted()[0].id
		}
	}
	g.setState(CompletingRebalance)
	for _, m := range g.members {
		m.synced = false
		if m.joinWait != nil {
			g.answerJoin(m, g.joinResult(m, g.leader, false))
		}
		g.scheduleSession(m)
	}
	gen := g.generation
	g.schedule(g.maxRebalanceTimeout(), func() { g.syncTimeout(gen) })
}

// syncTimeout drops members that did not send SyncGroup within the
// rebalance timeout after the join completed, and rebalances.
func (g *group) syncTimeout(gen int32) {
	if g.generation != gen || (g.state != CompletingRebalance && g.state != Stable) {
		return
	}
	removed := false
	for _, m := range g.sorted() {
		if !m.synced {
			g.c.cfg.Logger.Info("group member did not sync in time", "group", g.id, "member", m.id)
			g.removeMember(m)
			removed = true
		}
	}
	if removed {
		g.prepareRebalance()
	}
}

// selectProtocol picks the protocol every member supports that the most
// members prefer, ties going to the leader's (or first member's) order.
func (g *group) selectProtocol() string {
	members := g.sorted()
	supported := map[string]int{}
	for _, m := range members {
		for _, p := range m.protocols {
			supported[p.Name]++
		}
	}
	votes := map[string]int{}
	for _, m := range members {
		for _, p := range m.protocols {
			if supported[p.Name] == len(members) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range members[0].protocols {
		if supported[p.Name] == len(members) && votes[p.Name] > bestVotes {
			best, bestVotes = p.Name, votes[p.Name]
		}
	}
	return best
}

// supports reports whether protocols can join the group: same protocol
// type and at least one protocol every current member supports.
func (g *group) supports(protocolType string, protocols []Protocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	counts := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			counts[p.Name]++
		}
	}
	for _, p := range protocols {
		if counts[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

func (g *group) joinResult(m *member, leader string, skip bool) JoinResult {
	r := JoinResult{
		Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol,
		Leader: leader, MemberID: m.id, SkipAssignment: skip,
	}
	if m.id == g.leader {
		for _, o := range g.sorted() {
			r.Members = append(r.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: o.metadataFor(g.protocol)})
		}
	}
	return r
}

// store writes the group's metadata record.
func (g *group) store() int16 {
	sg := storedGroup{protocolType: g.protocolType, generation: g.generation, protocol: g.protocol, leader: g.leader, stateTime: g.stateTime.UnixMilli()}
	for _, m := range g.sorted() {
		sm := kmsg.NewGroupMetadataValueMember()
		sm.MemberID, sm.InstanceID, sm.ClientID, sm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		sm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		sm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		sm.Subscription = m.metadataFor(g.protocol)
		if sm.Subscription == nil {
			sm.Subscription = []byte{}
		}
		sm.Assignment = m.assignment
		if sm.Assignment == nil {
			sm.Assignment = []byte{}
		}
		sg.members = append(sg.members, sm)
	}
	return g.append([]batch.Record{{Key: groupKey(g.id), Value: groupValue(sg)}})
}

// append writes recs to the group's log under g.mu, without waiting for
// their commit (the request's answer does: awaitWritten).
func (g *group) append(recs []batch.Record) int16 {
	return g.appendAs(-1, -1, recs)
}

// appendAs is append as producerID's transactional batch at
// producerEpoch (-1: a plain batch).
func (g *group) appendAs(producerID int64, producerEpoch int16, recs []batch.Record) int16 {
	now := g.c.now().UnixMilli()
	for i := range recs {
		recs[i].Timestamp = now
	}
	var end int64
	var err error
	if producerID >= 0 {
		end, err = g.s.log.AppendTxn(producerID, producerEpoch, recs)
	} else {
		end, err = g.s.log.Append(recs)
	}
	if err != nil {
		g.c.cfg.Logger.Warn("appending to __consumer_offsets", "group", g.id, "partition", g.s.partition, "err", err)
		return logErrorCode(err)
	}
	g.written = end
	return 0
}
