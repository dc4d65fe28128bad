package group

// KIP-848 consumer groups: members heartbeat with ConsumerGroupHeartbeat,
// the coordinator computes the target assignment with a server-side
// assignor whenever the group epoch moves (a member joins, leaves or
// changes its subscription, or a subscribed topic changes), and each
// member is reconciled towards its target: partitions it must give up are
// revoked first, and a partition is handed to its new owner only once the
// old owner has acknowledged the revocation (by no longer listing it), so
// that no partition is ever owned twice. Every change is written to
// __consumer_offsets in Kafka's records (see consumer_store.go), so after
// a restart or a coordinator move the members carry on where they were.

import (
	"crypto/rand"
	"encoding/base64"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// consumerGroup is the KIP-848 state of a group; the group's mutex guards
// it.
type consumerGroup struct {
	epoch           int32 // group epoch
	assignmentEpoch int32 // epoch of target
	target          map[string]assignment
	members         map[string]*consumerMember
	static          map[string]string // instance ID -> member ID
	topicsHash      uint64            // of the subscribed topics when target was computed
	// subscriptions counts changes of membership and subscriptions; the
	// topics hash was last computed for hashedSubscriptions and the
	// topics of hashedTopics.
	subscriptions       uint64
	hashedSubscriptions uint64
	hashedTopics        uint64

	// What __consumer_offsets holds for the group, by record, and what
	// may differ from it (see consumer_store.go).
	written     map[consumerKey][]byte
	dirty       map[string]bool // members touched since the last write
	targetDirty bool            // target recomputed since the last write
	dropClassic bool            // the group was classic: tombstone its record
}

type consumerMember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	subscribed       []string
	regex            string
	assignor         string

	epoch         int32
	previousEpoch int32
	assigned      assignment // what the member owns, as far as we know
	revoking      assignment // what it must give up before its epoch moves
	sent          assignment // the assignment last sent, nil for none
	left          bool       // a static member that left temporarily (epoch -2)

	session    Timer
	sessionSeq uint64
	revoke     Timer
	revokeSeq  uint64
}

// ConsumerHeartbeat is a ConsumerGroupHeartbeat request. Nil fields mean
// "unchanged" (the client sends them only when they change).
type ConsumerHeartbeat struct {
	Group            string
	MemberID         string
	MemberEpoch      int32
	InstanceID       *string
	RackID           *string
	RebalanceTimeout time.Duration // negative: unchanged
	SubscribedTopics []string
	SubscribedRegex  *string
	ServerAssignor   *string
	Owned            map[[16]byte][]int32 // nil: unchanged
	ClientID         string
	ClientHost       string
	// Topics are the cluster's topics, by name, and TopicsVersion
	// changes whenever they do (0: unknown), so that the subscribed
	// topics need not be resolved again on every heartbeat.
	Topics        map[string]TopicInfo
	TopicsVersion uint64
}

// ConsumerHeartbeatResult is a ConsumerGroupHeartbeat response.
type ConsumerHeartbeatResult struct {
	Err               int16
	ErrMessage        string
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Assignment        map[[16]byte][]int32 // nil: unchanged
}

// ConsumerConfig is the KIP-848 part of the coordinator's configuration.
type ConsumerConfig struct {
	// SessionTimeout (group.consumer.session.timeout.ms) and
	// HeartbeatInterval (group.consumer.heartbeat.interval.ms).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	// MaxSize bounds the members of a group (group.consumer.max.size).
	MaxSize int
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{target: map[string]assignment{}, members: map[string]*consumerMember{}, static: map[string]string{}}
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ConsumerGroupHeartbeat runs one KIP-848 heartbeat: joins (epoch 0),
// leaves (-1, or -2 for a static member that will come back), or keeps a
// member alive and moves it towards its target assignment.
func (c *Coordinator) ConsumerGroupHeartbeat(req ConsumerHeartbeat) ConsumerHeartbeatResult {
	fail := func(code int16, msg string) ConsumerHeartbeatResult {
		return ConsumerHeartbeatResult{Err: code, ErrMessage: msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != "" {
		known := false
		for _, a := range Assignors {
			known = known || a == *req.ServerAssignor
		}
		if !known {
			return fail(kerr.UnsupportedAssignor.Code, "ServerAssignor "+*req.ServerAssignor+" is not supported. Supported assignors: "+strings.Join(Assignors, ", ")+".")
		}
	}
	if req.SubscribedRegex != nil && *req.SubscribedRegex != "" {
		if _, err := regexp.Compile(*req.SubscribedRegex); err != nil {
			return fail(kerr.InvalidRegularExpression.Code, err.Error())
		}
	}
	_, g, code := c.lookup(req.Group, req.MemberEpoch == 0)
	if code != 0 {
		return fail(code, "")
	}
	if g == nil {
		return fail(kerr.UnknownMemberID.Code, "")
	}
	g.mu.Lock()
	res := g.lockedConsumerHeartbeat(req, fail)
	end := g.written
	g.mu.Unlock()
	if code := g.awaitWritten(end); code != 0 && res.Err == 0 {
		return fail(code, "the group's records in __consumer_offsets were not committed")
	}
	return res
}

// lockedConsumerHeartbeat is ConsumerGroupHeartbeat under g.mu.
func (g *group) lockedConsumerHeartbeat(req ConsumerHeartbeat, fail func(int16, string) ConsumerHeartbeatResult) ConsumerHeartbeatResult {
	if g.state == Dead {
		return fail(kerr.CoordinatorNotAvailable.Code, "")
	}
	if g.consumer == nil {
		if len(g.members) > 0 || g.state != Empty {
			return fail(kerr.GroupIDNotFound.Code, "group "+g.id+" is a classic group with members")
		}
		g.consumer = newConsumerGroup()
		g.consumer.dropClassic = true
		g.protocolType = "consumer"
	}
	res := g.consumerHeartbeat(req)
	if code := g.persistConsumer(); code != 0 && res.Err == 0 {
		return fail(code, "writing the group to __consumer_offsets failed")
	}
	return res
}

func (g *group) consumerHeartbeat(req ConsumerHeartbeat) ConsumerHeartbeatResult {
	cg := g.consumer
	fail := func(code int16, msg string) ConsumerHeartbeatResult {
		return ConsumerHeartbeatResult{Err: code, ErrMessage: msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if req.MemberEpoch < 0 {
		m := cg.members[req.MemberID]
		if m == nil && req.InstanceID != nil {
			m = cg.members[cg.static[*req.InstanceID]]
		}
		if m == nil {
			return fail(kerr.UnknownMemberID.Code, "")
		}
		cg.touch(m.id)
		if req.MemberEpoch == -2 && m.instanceID != nil {
			// The static member keeps its assignment until its session
			// times out or it rejoins. It has stopped consuming, so what
			// it was revoking is free, as in Kafka; its previous epoch
			// no longer matters (Kafka's record keeps only one epoch).
			m.left, m.previousEpoch, m.revoking = true, m.epoch, assignment{}
			m.stopRevokeTimer()
			g.scheduleConsumerSession(m)
		} else {
			g.removeConsumerMember(m)
		}
		return ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: req.MemberEpoch}
	}

	var m *consumerMember
	joined := false
	if req.MemberEpoch == 0 {
		if req.MemberID == "" {
			req.MemberID = newUUID()
		}
		if req.InstanceID != nil {
			if oldID, ok := cg.static[*req.InstanceID]; ok && oldID != req.MemberID {
				old := cg.members[oldID]
				switch {
				case old == nil:
					delete(cg.static, *req.InstanceID)
				case !old.left:
					return fail(kerr.UnreleasedInstanceID.Code, "instance "+*req.InstanceID+" is in use by member "+oldID)
				default:
					// The returning static member takes over its old
					// incarnation's assignment and epoch: no rebalance.
					target, hasTarget := cg.target[oldID]
					cg.touch(oldID)
					delete(cg.members, oldID)
					delete(cg.target, oldID)
					if hasTarget {
						cg.target[req.MemberID] = target
					}
					old.id, old.left, old.sent = req.MemberID, false, nil
					cg.members[req.MemberID] = old
					cg.static[*req.InstanceID] = req.MemberID
				}
			}
		}
		m = cg.members[req.MemberID]
		if m == nil {
			if len(cg.members) >= g.c.cfg.Consumer.MaxSize {
				return fail(kerr.GroupMaxSizeReached.Code, "")
			}
			m = &consumerMember{id: req.MemberID, assigned: assignment{}, revoking: assignment{}}
			cg.members[m.id] = m
			cg.subscriptions++
			if req.InstanceID != nil {
				cg.static[*req.InstanceID] = m.id
			}
			joined = true
		} else if !m.left {
			// Rejoining at epoch 0 with a known ID is how a member
			// recovers from a lost response: it owns nothing now.
			m.assigned, m.revoking, m.epoch, m.sent = assignment{}, assignment{}, 0, nil
		}
		m.left = false
	} else {
		m = cg.members[req.MemberID]
		if m == nil {
			return fail(kerr.UnknownMemberID.Code, "")
		}
		if m.left {
			// Kafka records the static member's epoch as -2: it must
			// come back at epoch 0.
			return fail(kerr.FencedMemberEpoch.Code, "")
		}
		if req.MemberEpoch != m.epoch {
			ownedOK := req.Owned == nil || subsetOf(req.Owned, m.assigned)
			if req.MemberEpoch != m.previousEpoch || !ownedOK {
				return fail(kerr.FencedMemberEpoch.Code, "")
			}
		}
	}

	cg.touch(m.id)
	changed := joined          // one group epoch for everything this heartbeat changes
	if req.InstanceID != nil { // keepalive heartbeats leave it out
		m.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.RebalanceTimeout >= 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.SubscribedTopics != nil {
		subs := append([]string(nil), req.SubscribedTopics...)
		sort.Strings(subs)
		if !equalStrings(subs, m.subscribed) {
			m.subscribed, changed = subs, true
			cg.subscriptions++
		}
	}
	if req.SubscribedRegex != nil && *req.SubscribedRegex != m.regex {
		m.regex, changed = *req.SubscribedRegex, true
		cg.subscriptions++
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor, changed = *req.ServerAssignor, true
	}
	if req.TopicsVersion == 0 || req.TopicsVersion != cg.hashedTopics || cg.subscriptions != cg.hashedSubscriptions {
		// Resolving every member's subscription (regular expressions
		// against every topic) is the costly part of a heartbeat: only
		// when the topics or the subscriptions changed.
		cg.hashedTopics, cg.hashedSubscriptions = req.TopicsVersion, cg.subscriptions
		if h := g.subscribedTopicsHash(req.Topics); h != cg.topicsHash {
			cg.topicsHash, changed = h, true
		}
	}
	if changed {
		cg.epoch++
	}
	if cg.epoch > cg.assignmentEpoch {
		g.computeTarget(req.Topics)
	}
	g.reconcile(m, req.Owned)
	g.scheduleConsumerSession(m)

	res := ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch, HeartbeatInterval: g.c.cfg.Consumer.HeartbeatInterval}
	if req.Owned != nil || m.sent == nil || !equalAssignments(m.sent, m.assigned) {
		res.Assignment = m.assigned
		m.sent = m.assigned
	}
	return res
}

// subscribedTopicsHash fingerprints the topics the members subscribe to,
// so that a new topic or new partitions move the group epoch.
func (g *group) subscribedTopicsHash(topics map[string]TopicInfo) uint64 {
	h := fnv.New64a()
	for _, t := range g.subscribedTopicInfos(topics) {
		h.Write([]byte(t.Name))
		h.Write(t.ID[:])
		h.Write([]byte{byte(t.Partitions >> 24), byte(t.Partitions >> 16), byte(t.Partitions >> 8), byte(t.Partitions)})
	}
	return h.Sum64()
}

func (g *group) subscribedTopicInfos(topics map[string]TopicInfo) []TopicInfo {
	seen := map[string]bool{}
	var out []TopicInfo
	for _, m := range g.consumer.members {
		for _, t := range memberTopics(m, topics) {
			if !seen[t.Name] {
				seen[t.Name] = true
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// memberTopics resolves a member's subscription against the cluster's
// topics, sorted by name.
func memberTopics(m *consumerMember, topics map[string]TopicInfo) []TopicInfo {
	var out []TopicInfo
	seen := map[string]bool{}
	for _, name := range m.subscribed {
		if t, ok := topics[name]; ok && !seen[name] {
			seen[name] = true
			out = append(out, t)
		}
	}
	if re := m.subscribedRegexp(); re != nil {
		for name, t := range topics {
			if !seen[name] && re.MatchString(name) {
				seen[name] = true
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// chooseAssignor is the assignor most members ask for, the default when
// none do. Like Kafka's preferred server assignor it is derived from the
// members, not kept.
func (cg *consumerGroup) chooseAssignor() string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	chosen, best := Assignors[0], 0
	for _, a := range Assignors {
		if votes[a] > best {
			chosen, best = a, votes[a]
		}
	}
	return chosen
}

// computeTarget runs the group's assignor over its members.
func (g *group) computeTarget(topics map[string]TopicInfo) {
	cg := g.consumer
	cg.targetDirty = true
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	members := make([]assignorMember, len(ids))
	for i, id := range ids {
		members[i] = assignorMember{id: id, topics: memberTopics(cg.members[id], topics)}
	}
	if cg.chooseAssignor() == "range" {
		cg.target = assignRange(members)
	} else {
		cg.target = assignUniform(members, cg.target)
	}
	cg.assignmentEpoch = cg.epoch
}

// reconcile moves m towards its target: first it must revoke what it
// owns outside its target; then it gets the target epoch and every target
// partition no other member still owns.
func (g *group) reconcile(m *consumerMember, owned map[[16]byte][]int32) {
	cg := g.consumer
	if owned != nil && len(m.revoking) > 0 {
		ownedSet := assignment(owned).set()
		still := map[topicPartition]bool{}
		for tp := range m.revoking.set() {
			if ownedSet[tp] {
				still[tp] = true
			}
		}
		m.revoking = fromSet(still)
	}
	if len(m.revoking) > 0 {
		return
	}
	m.stopRevokeTimer()
	if m.epoch == cg.assignmentEpoch && equalAssignments(m.assigned, cg.target[m.id]) {
		return // reconciled: the keepalive of a stable member
	}
	target := cg.target[m.id].set()
	revoke := map[topicPartition]bool{}
	keep := map[topicPartition]bool{}
	for tp := range m.assigned.set() {
		if target[tp] {
			keep[tp] = true
		} else {
			revoke[tp] = true
		}
	}
	if len(revoke) > 0 {
		m.assigned, m.revoking = fromSet(keep), fromSet(revoke)
		g.scheduleRevokeTimeout(m)
		return
	}
	others := map[topicPartition]bool{}
	for _, o := range cg.members {
		if o == m {
			continue
		}
		for tp := range o.assigned.set() {
			others[tp] = true
		}
		for tp := range o.revoking.set() {
			others[tp] = true
		}
	}
	next := map[topicPartition]bool{}
	for tp := range target {
		if !others[tp] {
			next[tp] = true
		}
	}
	if m.epoch != cg.assignmentEpoch {
		m.previousEpoch, m.epoch = m.epoch, cg.assignmentEpoch
	}
	m.assigned = fromSet(next)
}

func (m *consumerMember) stopRevokeTimer() {
	if m.revoke != nil {
		m.revoke.Stop()
		m.revoke = nil
	}
	m.revokeSeq++
}

// scheduleRevokeTimeout fences m if it has not revoked within its
// rebalance timeout.
func (g *group) scheduleRevokeTimeout(m *consumerMember) {
	m.stopRevokeTimer()
	seq := m.revokeSeq
	d := m.rebalanceTimeout
	if d <= 0 {
		d = g.c.cfg.Consumer.SessionTimeout
	}
	m.revoke = g.c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.consumer == nil || g.consumer.members[m.id] != m || m.revokeSeq != seq || g.state == Dead {
			return
		}
		g.c.cfg.Logger.Info("consumer group member did not revoke in time", "group", g.id, "member", m.id)
		g.removeConsumerMember(m)
		g.persistAfterTimer()
	})
}

func (g *group) scheduleConsumerSession(m *consumerMember) {
	if m.session != nil {
		m.session.Stop()
	}
	m.sessionSeq++
	seq := m.sessionSeq
	m.session = g.c.afterFunc(g.c.cfg.Consumer.SessionTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.consumer == nil || g.consumer.members[m.id] != m || m.sessionSeq != seq || g.state == Dead {
			return
		}
		g.c.cfg.Logger.Info("consumer group member session expired", "group", g.id, "member", m.id)
		g.removeConsumerMember(m)
		g.persistAfterTimer()
	})
}

// removeConsumerMember drops m, freeing its partitions, and moves the
// group epoch so that the others get them.
func (g *group) removeConsumerMember(m *consumerMember) {
	cg := g.consumer
	cg.touch(m.id)
	if m.session != nil {
		m.session.Stop()
	}
	m.sessionSeq++
	m.stopRevokeTimer()
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	cg.subscriptions++
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
	cg.epoch++
	if len(cg.members) == 0 {
		g.stateTime = g.c.now()
	}
}

// subscribedRegexp is the member's regular expression, which must match a
// whole topic name (as Kafka's RE2J matches()), or nil for none.
func (m *consumerMember) subscribedRegexp() *regexp.Regexp {
	if m.regex == "" {
		return nil
	}
	re, err := regexp.Compile("^(?:" + m.regex + ")$")
	if err != nil {
		return nil // refused when the member sent it
	}
	return re
}

// subscribesTo reports whether a member subscribes to topic, by name or
// by regular expression.
func (cg *consumerGroup) subscribesTo(topic string) bool {
	for _, m := range cg.members {
		if slices.Contains(m.subscribed, topic) {
			return true
		}
		if re := m.subscribedRegexp(); re != nil && re.MatchString(topic) {
			return true
		}
	}
	return false
}

// persistAfterTimer writes what a timer changed; a failure is retried
// with the next change.
func (g *group) persistAfterTimer() {
	if code := g.persistConsumer(); code != 0 {
		g.c.cfg.Logger.Warn("writing consumer group to __consumer_offsets", "group", g.id, "err", kerr.ErrorForCode(code))
	}
}

// consumerState is a KIP-848 group's state as ListGroups and
// ConsumerGroupDescribe report it.
func (cg *consumerGroup) state() string {
	if len(cg.members) == 0 {
		return "Empty"
	}
	if cg.epoch != cg.assignmentEpoch {
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || len(m.revoking) > 0 {
			return "Reconciling"
		}
	}
	return "Stable"
}

func subsetOf(a map[[16]byte][]int32, b assignment) bool {
	bs := b.set()
	for tp := range assignment(a).set() {
		if !bs[tp] {
			return false
		}
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalAssignments(a, b assignment) bool {
	as, bs := a.set(), b.set()
	if len(as) != len(bs) {
		return false
	}
	for tp := range as {
		if !bs[tp] {
			return false
		}
	}
	return true
}

// ConsumerMemberDescription is one KIP-848 member as
// ConsumerGroupDescribe reports it.
type ConsumerMemberDescription struct {
	MemberID         string
	InstanceID       *string
	RackID           *string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	SubscribedTopics []string
	SubscribedRegex  *string
	Assignment       map[[16]byte][]int32
	TargetAssignment map[[16]byte][]int32
}

// ConsumerDescription is a KIP-848 group as ConsumerGroupDescribe reports
// it.
type ConsumerDescription struct {
	Err             int16
	ErrMessage      string
	Group           string
	State           string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// DescribeConsumerGroup describes a KIP-848 group.
func (c *Coordinator) DescribeConsumerGroup(groupID string) ConsumerDescription {
	d := ConsumerDescription{Group: groupID}
	if groupID == "" {
		d.Err = kerr.InvalidGroupID.Code
		return d
	}
	_, g, code := c.lookup(groupID, false)
	if code != 0 {
		d.Err = code
		return d
	}
	if g == nil {
		d.Err, d.ErrMessage = kerr.GroupIDNotFound.Code, "group "+groupID+" not found"
		return d
	}
	if code := g.read(func() { g.describeConsumer(&d) }); code != 0 {
		return ConsumerDescription{Group: groupID, Err: code}
	}
	return d
}

// describeConsumer fills d in (DescribeConsumerGroup, which answers it
// once the group's records are committed, as DescribeGroup). g.mu is held.
func (g *group) describeConsumer(d *ConsumerDescription) {
	if g.state == Dead || g.consumer == nil {
		d.Err, d.ErrMessage = kerr.GroupIDNotFound.Code, "group "+d.Group+" is not a consumer group"
		return
	}
	cg := g.consumer
	d.State, d.Epoch, d.AssignmentEpoch, d.Assignor = cg.state(), cg.epoch, cg.assignmentEpoch, cg.chooseAssignor()
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := cg.members[id]
		md := ConsumerMemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch,
			ClientID: m.clientID, ClientHost: m.clientHost, SubscribedTopics: m.subscribed,
			Assignment: m.assigned, TargetAssignment: cg.target[m.id],
		}
		if m.regex != "" {
			r := m.regex
			md.SubscribedRegex = &r
		}
		d.Members = append(d.Members, md)
	}
}
