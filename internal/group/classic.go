package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group            string
	MemberID         string // empty for a new member
	InstanceID       *string
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID (JoinGroup v4+, KIP-394) makes a new dynamic
	// member get MEMBER_ID_REQUIRED and its ID, and join again with it.
	RequireKnownMemberID bool
}

// JoinResult is a JoinGroup response.
type JoinResult struct {
	Err            int16
	Generation     int32
	ProtocolType   string
	Protocol       string
	Leader         string
	MemberID       string
	Members        []JoinMember // for the leader only
	SkipAssignment bool         // KIP-814: a static leader rejoined a stable group
}

// JoinMember is one member as the leader sees it.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// SyncResult is a SyncGroup response.
type SyncResult struct {
	Err          int16
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

func newMemberID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" + hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:])
}

// JoinGroup joins a member to a group, waiting (until ctx is done) for the
// rebalance it takes part in to complete.
func (c *Coordinator) JoinGroup(ctx context.Context, req JoinRequest) JoinResult {
	// Kafka's order (GroupCoordinatorService.joinGroup): the group ID, then
	// the session timeout, then whether this broker coordinates the group.
	if req.Group == "" {
		return JoinResult{Err: kerr.InvalidGroupID.Code, MemberID: req.MemberID}
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		return JoinResult{Err: kerr.InvalidSessionTimeout.Code, MemberID: req.MemberID}
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	_, g, code := c.lookup(req.Group, req.MemberID == "")
	if code != 0 {
		return JoinResult{Err: code, MemberID: req.MemberID}
	}
	if g == nil {
		return JoinResult{Err: kerr.UnknownMemberID.Code, MemberID: req.MemberID}
	}
	g.mu.Lock()
	wait, res := g.join(req)
	g.mu.Unlock()
	if wait != nil {
		select {
		case res = <-wait:
		case <-ctx.Done():
			return JoinResult{Err: kerr.RebalanceInProgress.Code, MemberID: req.MemberID}
		}
	}
	// The answer waits for the records of the state it tells.
	if code := g.awaitWritten(g.lastWritten()); code != 0 && res.Err == 0 {
		return JoinResult{Err: code, MemberID: res.MemberID}
	}
	return res
}

// join runs JoinGroup under g.mu: it answers at once, or returns the
// channel the answer will come on.
func (g *group) join(req JoinRequest) (chan JoinResult, JoinResult) {
	fail := func(code int16) (chan JoinResult, JoinResult) {
		return nil, JoinResult{Err: code, MemberID: req.MemberID}
	}
	if g.consumer != nil && g.state != Dead {
		if len(g.consumer.members) > 0 {
			return fail(kerr.InconsistentGroupProtocol.Code)
		}
		// An empty KIP-848 group becomes classic; its records go.
		if recs := g.consumer.tombstones(g.id); len(recs) > 0 {
			if code := g.append(recs); code != 0 {
				return fail(code)
			}
		}
		g.consumer = nil
	}
	switch {
	case g.state == Dead:
		return fail(kerr.CoordinatorNotAvailable.Code)
	case !g.supports(req.ProtocolType, req.Protocols):
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	if req.MemberID == "" {
		if req.InstanceID != nil {
			if old := g.static[*req.InstanceID]; old != "" && g.members[old] != nil {
				return g.rejoinStatic(g.members[old], req)
			}
			return g.addMember(req, newMemberID(*req.InstanceID))
		}
		id := newMemberID(req.ClientID)
		if req.RequireKnownMemberID {
			// KIP-394: the member must come back with this ID within its
			// session timeout; until then the rebalance waits for it.
			g.pending[id] = g.c.afterFunc(req.SessionTimeout, func() {
				g.mu.Lock()
				defer g.mu.Unlock()
				if _, ok := g.pending[id]; ok && g.state != Dead {
					delete(g.pending, id)
					g.tryCompleteJoin()
				}
			})
			return nil, JoinResult{Err: kerr.MemberIDRequired.Code, MemberID: id}
		}
		return g.addMember(req, id)
	}
	if t, ok := g.pending[req.MemberID]; ok {
		t.Stop()
		delete(g.pending, req.MemberID)
		return g.addMember(req, req.MemberID)
	}
	m := g.members[req.MemberID]
	if req.InstanceID != nil {
		if id, ok := g.static[*req.InstanceID]; ok && id != req.MemberID {
			return fail(kerr.FencedInstanceID.Code)
		}
	}
	if m == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	switch g.state {
	case PreparingRebalance:
		g.update(m, req)
		wait := g.awaitJoin(m)
		g.tryCompleteJoin()
		return wait, JoinResult{}
	case CompletingRebalance:
		if sameProtocols(m.protocols, req.Protocols) {
			// A retried join: answer as the join phase did.
			return nil, g.joinResult(m, g.leader, false)
		}
		g.update(m, req)
		wait := g.awaitJoin(m)
		g.prepareRebalance()
		return wait, JoinResult{}
	case Stable:
		if m.id == g.leader || !sameProtocols(m.protocols, req.Protocols) {
			g.update(m, req)
			wait := g.awaitJoin(m)
			g.prepareRebalance()
			return wait, JoinResult{}
		}
		g.scheduleSession(m)
		return nil, g.joinResult(m, g.leader, false)
	}
	return fail(kerr.UnknownMemberID.Code)
}

func (g *group) awaitJoin(m *member) chan JoinResult {
	g.answerJoin(m, JoinResult{Err: kerr.RebalanceInProgress.Code, MemberID: m.id}) // an older, superseded join
	m.joinWait = make(chan JoinResult, 1)
	return m.joinWait
}

func (g *group) update(m *member, req JoinRequest) {
	m.protocols = req.Protocols
	m.protocolType = req.ProtocolType
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
}

// addMember adds a new member and starts (or joins) a rebalance.
func (g *group) addMember(req JoinRequest, id string) (chan JoinResult, JoinResult) {
	if len(g.members) >= g.c.cfg.MaxGroupSize {
		return nil, JoinResult{Err: kerr.GroupMaxSizeReached.Code, MemberID: id}
	}
	g.seq++
	m := &member{id: id, instanceID: req.InstanceID, seq: g.seq}
	g.update(m, req)
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.members[id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	g.newMemberAdded = true
	g.scheduleSession(m)
	wait := g.awaitJoin(m)
	switch g.state {
	case PreparingRebalance:
		g.tryCompleteJoin()
	default:
		g.prepareRebalance()
	}
	return wait, JoinResult{}
}

// rejoinStatic handles a known static member joining again with no member
// ID (KIP-345): it gets a new member ID, the old one is fenced, and a
// stable group with unchanged protocols does not rebalance.
func (g *group) rejoinStatic(m *member, req JoinRequest) (chan JoinResult, JoinResult) {
	oldID, oldLeader := m.id, g.leader
	g.answerJoin(m, JoinResult{Err: kerr.FencedInstanceID.Code, MemberID: oldID})
	g.answerSync(m, SyncResult{Err: kerr.FencedInstanceID.Code})
	newID := newMemberID(*req.InstanceID)
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.static[*req.InstanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	unchanged := sameProtocols(m.protocols, req.Protocols)
	oldSession, oldRebalance, oldClient, oldHost := m.sessionTimeout, m.rebalanceTimeout, m.clientID, m.clientHost
	g.update(m, req)
	g.scheduleSession(m)
	switch g.state {
	case Stable:
		if unchanged {
			if code := g.store(); code != 0 {
				// Undo: the old member ID stays the one on record.
				delete(g.members, newID)
				m.id = oldID
				g.members[oldID] = m
				g.static[*req.InstanceID] = oldID
				g.leader = oldLeader
				m.sessionTimeout, m.rebalanceTimeout, m.clientID, m.clientHost = oldSession, oldRebalance, oldClient, oldHost
				return nil, JoinResult{Err: code}
			}
			// The old leader ID keeps a restarted leader from assigning
			// again; v9+ says so with SkipAssignment (KIP-814).
			m.synced = true
			return nil, g.joinResult(m, oldLeader, m.id == g.leader)
		}
		wait := g.awaitJoin(m)
		g.prepareRebalance()
		return wait, JoinResult{}
	case CompletingRebalance:
		// The leader may already be assigning to the old member ID.
		wait := g.awaitJoin(m)
		g.prepareRebalance()
		return wait, JoinResult{}
	default:
		wait := g.awaitJoin(m)
		g.tryCompleteJoin()
		return wait, JoinResult{}
	}
}

// SyncRequest is a SyncGroup request.
type SyncRequest struct {
	Group        string
	Generation   int32
	MemberID     string
	InstanceID   *string
	ProtocolType *string // v5+
	Protocol     *string // v5+
	Assignments  map[string][]byte
}

// SyncGroup hands out the leader's assignment, waiting (until ctx is done)
// for the leader when the member is early.
func (c *Coordinator) SyncGroup(ctx context.Context, req SyncRequest) SyncResult {
	if req.Group == "" {
		return SyncResult{Err: kerr.InvalidGroupID.Code}
	}
	_, g, code := c.lookup(req.Group, false)
	if code != 0 {
		return SyncResult{Err: code}
	}
	if g == nil {
		return SyncResult{Err: kerr.UnknownMemberID.Code}
	}
	g.mu.Lock()
	wait, res := g.sync(req)
	g.mu.Unlock()
	if wait != nil {
		select {
		case res = <-wait:
		case <-ctx.Done():
			return SyncResult{Err: kerr.RebalanceInProgress.Code}
		}
	}
	// An assignment is handed out once its record is committed.
	if code := g.awaitWritten(g.lastWritten()); code != 0 && res.Err == 0 {
		return SyncResult{Err: code}
	}
	return res
}

func (g *group) checkMember(memberID string, instanceID *string, generation int32) (*member, int16) {
	if g.state == Dead {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	// As Kafka's ClassicGroup.validateMember: a request naming an instance
	// ID is judged by it, an unknown one being an unknown member.
	if instanceID != nil {
		id, ok := g.static[*instanceID]
		if !ok {
			return nil, kerr.UnknownMemberID.Code
		}
		if id != memberID {
			return nil, kerr.FencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return m, kerr.IllegalGeneration.Code
	}
	return m, 0
}

func (g *group) sync(req SyncRequest) (chan SyncResult, SyncResult) {
	m, code := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		return nil, SyncResult{Err: code}
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol) {
		return nil, SyncResult{Err: kerr.InconsistentGroupProtocol.Code}
	}
	switch g.state {
	case PreparingRebalance:
		return nil, SyncResult{Err: kerr.RebalanceInProgress.Code}
	case Stable:
		m.synced = true
		g.scheduleSession(m)
		return nil, SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}
	case CompletingRebalance:
	default:
		return nil, SyncResult{Err: kerr.UnknownMemberID.Code}
	}
	m.synced = true
	g.scheduleSession(m)
	if m.syncWait != nil {
		g.answerSync(m, SyncResult{Err: kerr.RebalanceInProgress.Code})
	}
	m.syncWait = make(chan SyncResult, 1)
	wait := m.syncWait
	if m.id != g.leader {
		return wait, SyncResult{}
	}
	for _, o := range g.members {
		o.assignment = req.Assignments[o.id]
	}
	if code := g.store(); code != 0 {
		for _, o := range g.members {
			o.assignment = nil
			g.answerSync(o, SyncResult{Err: code})
		}
		g.prepareRebalance()
		return wait, SyncResult{}
	}
	g.setState(Stable)
	for _, o := range g.members {
		g.answerSync(o, SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: o.assignment})
	}
	return wait, SyncResult{}
}

// Heartbeat keeps a member's session alive and tells it whether a
// rebalance is under way.
func (c *Coordinator) Heartbeat(groupID string, generation int32, memberID string, instanceID *string) int16 {
	if groupID == "" {
		return kerr.InvalidGroupID.Code
	}
	_, g, code := c.lookup(groupID, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	g.mu.Lock()
	code = g.heartbeat(generation, memberID, instanceID)
	end := g.written
	g.mu.Unlock()
	// As Kafka's runtime answers a write that wrote nothing: once the
	// records before it are committed.
	if wc := g.awaitWritten(end); wc != 0 && (code == 0 || code == kerr.RebalanceInProgress.Code) {
		return wc
	}
	return code
}

// heartbeat is Heartbeat under g.mu.
func (g *group) heartbeat(generation int32, memberID string, instanceID *string) int16 {
	m, code := g.checkMember(memberID, instanceID, generation)
	if code != 0 {
		return code
	}
	switch g.state {
	case Empty:
		return kerr.UnknownMemberID.Code
	case PreparingRebalance:
		g.scheduleSession(m)
		return kerr.RebalanceInProgress.Code
	}
	g.scheduleSession(m)
	return 0
}

// LeavingMember is one member of a LeaveGroup request.
type LeavingMember struct {
	MemberID   string
	InstanceID *string
}

// LeaveGroup removes members and rebalances the rest. It returns one error
// code per member.
func (c *Coordinator) LeaveGroup(groupID string, leaving []LeavingMember) (int16, []int16) {
	codes := make([]int16, len(leaving))
	if groupID == "" {
		return kerr.InvalidGroupID.Code, codes
	}
	_, g, code := c.lookup(groupID, false)
	if code != 0 {
		return code, codes
	}
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes
	}
	return g.write(func() int16 { return g.leave(leaving, codes) }), codes
}

// leave is LeaveGroup under g.mu.
func (g *group) leave(leaving []LeavingMember, codes []int16) int16 {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable.Code
	}
	left := false
	for i, l := range leaving {
		id := l.MemberID
		if l.InstanceID != nil {
			sid, ok := g.static[*l.InstanceID]
			switch {
			case !ok:
				codes[i] = kerr.UnknownMemberID.Code
				continue
			case id != "" && sid != id:
				codes[i] = kerr.FencedInstanceID.Code
				continue
			}
			id = sid
		}
		if t, ok := g.pending[id]; ok {
			t.Stop()
			delete(g.pending, id)
			left = true
			continue
		}
		m := g.members[id]
		if m == nil {
			codes[i] = kerr.UnknownMemberID.Code
			continue
		}
		g.removeMember(m)
		left = true
	}
	if left {
		g.memberGone()
	}
	return 0
}
