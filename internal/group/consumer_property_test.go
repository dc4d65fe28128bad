package group

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestConsumerGroupRandomReloads drives a KIP-848 group with random joins,
// heartbeats, leaves, temporary static leaves, silences long enough for
// sessions to expire, a growing topic and reloads of the coordinator. After
// every step no partition is owned twice (counting partitions still being
// revoked), and every reload gives back exactly the group it started from.
func TestConsumerGroupRandomReloads(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomReloads(t, seed) })
	}
}

type randomMember struct {
	id       string
	instance *string
	epoch    int32
	owned    map[[16]byte][]int32
	joined   bool
	heard    time.Time // the last successful heartbeat
}

func randomReloads(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 848))
	c, clock := consumerEnv(t)
	topic := topicT
	topicsVersion := uint64(1) // as the API layer does: it moves with the topics
	inst := "static"
	members := []*randomMember{{id: "a"}, {id: "b"}, {id: "c"}, {id: "d", instance: &inst}}
	incarnation := 0
	var steps []string

	heartbeat := func(m *randomMember, epoch int32) ConsumerHeartbeatResult {
		req := ConsumerHeartbeat{Group: "g", MemberID: m.id, MemberEpoch: epoch, InstanceID: m.instance, RebalanceTimeout: time.Second, Owned: m.owned, Topics: map[string]TopicInfo{"t": topic}, TopicsVersion: topicsVersion}
		if epoch == 0 {
			req.SubscribedTopics, req.Owned = []string{"t"}, map[[16]byte][]int32{}
		}
		return c.ConsumerGroupHeartbeat(req)
	}
	for step := range 300 {
		m := members[rng.IntN(len(members))]
		switch op := rng.IntN(10); {
		case op < 5: // heartbeat, joining if need be
			epoch := m.epoch
			if !m.joined {
				epoch, m.owned = 0, nil
			}
			r := heartbeat(m, epoch)
			switch r.Err {
			case 0:
				m.joined, m.epoch, m.heard = true, r.MemberEpoch, clock.Now()
				if r.Assignment != nil {
					m.owned = r.Assignment
				}
			case kerr.UnknownMemberID.Code, kerr.FencedMemberEpoch.Code:
				// Expired or fenced: the client gives up its partitions
				// and joins again.
				m.joined, m.owned, m.epoch = false, nil, 0
			case kerr.UnreleasedInstanceID.Code:
				// The static member's old incarnation is still live.
			default:
				t.Fatalf("step %d: heartbeat of %s: %v %s\n%v", step, m.id, kerr.ErrorForCode(r.Err), r.ErrMessage, steps)
			}
			steps = append(steps, fmt.Sprintf("hb %s@%d -> %v", m.id, epoch, kerr.ErrorForCode(r.Err)))
		case op == 5 && m.joined: // leave
			epoch := int32(-1)
			if m.instance != nil {
				epoch = -2
			}
			r := heartbeat(m, epoch)
			steps = append(steps, fmt.Sprintf("leave %s@%d -> %v", m.id, epoch, kerr.ErrorForCode(r.Err)))
			m.joined, m.owned, m.epoch = false, nil, 0
			if m.instance != nil { // it comes back as a new incarnation
				incarnation++
				m.id = fmt.Sprintf("d%d", incarnation)
			}
		case op == 6:
			d := time.Duration(rng.IntN(700)) * time.Millisecond
			clock.Advance(d)
			steps = append(steps, fmt.Sprintf("advance %v", d))
		case op == 7 && topic.Partitions < 12:
			topic.Partitions++
			topicsVersion++
			steps = append(steps, fmt.Sprintf("partitions %d", topic.Partitions))
		default:
			before := snapshot(c)
			c = reload(t, c, clock)
			if after := snapshot(c); !reflect.DeepEqual(before, after) {
				t.Fatalf("step %d: reload changed the group:\nbefore %+v\nafter  %+v\n%v", step, before, after, steps)
			}
			steps = append(steps, "reload")
		}
		checkOwnedOnce(t, c, step, steps)
		// What the clients believe they own, as long as they have heard
		// from the coordinator within the session timeout, is disjoint too.
		owner := map[string]string{}
		for _, m := range members {
			if !m.joined || clock.Now().Sub(m.heard) >= time.Second {
				continue
			}
			for id, ps := range m.owned {
				for _, p := range ps {
					k := fmt.Sprint(id[0], "/", p)
					if o, ok := owner[k]; ok {
						t.Fatalf("step %d: clients %s and %s both own %s\n%v", step, o, m.id, k, steps)
					}
					owner[k] = m.id
				}
			}
		}
	}
}

// memberSnapshot is what a reload must keep of a member.
type memberSnapshot struct {
	instanceID, rackID                   *string
	clientID, clientHost, regex, assignr string
	subscribed                           []string
	rebalanceTimeout                     time.Duration
	epoch, previousEpoch                 int32
	assigned, revoking, target           assignment
	left                                 bool
}

type groupSnapshot struct {
	epoch, assignmentEpoch int32
	topicsHash             uint64
	members                map[string]memberSnapshot
	static                 map[string]string
}

func snapshot(c *Coordinator) *groupSnapshot {
	_, g, _ := c.lookup("g", false)
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cg := g.consumer
	if cg == nil {
		return nil
	}
	s := &groupSnapshot{epoch: cg.epoch, assignmentEpoch: cg.assignmentEpoch, topicsHash: cg.topicsHash, members: map[string]memberSnapshot{}, static: cg.static}
	norm := func(a assignment) assignment {
		out := assignment{}
		for id, ps := range a {
			if len(ps) > 0 {
				out[id] = ps
			}
		}
		return out
	}
	for id, m := range cg.members {
		s.members[id] = memberSnapshot{
			instanceID: m.instanceID, rackID: m.rackID, clientID: m.clientID, clientHost: m.clientHost, regex: m.regex, assignr: m.assignor,
			subscribed: m.subscribed, rebalanceTimeout: m.rebalanceTimeout, epoch: m.epoch, previousEpoch: m.previousEpoch,
			assigned: norm(m.assigned), revoking: norm(m.revoking), target: norm(cg.target[id]), left: m.left,
		}
	}
	return s
}

// checkOwnedOnce fails if two members of the group own, or are still
// revoking, one partition.
func checkOwnedOnce(t *testing.T, c *Coordinator, step int, steps []string) {
	t.Helper()
	_, g, _ := c.lookup("g", false)
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.consumer == nil {
		return
	}
	owner := map[topicPartition]string{}
	for id, m := range g.consumer.members {
		for _, a := range []assignment{m.assigned, m.revoking} {
			for tp := range a.set() {
				if o, ok := owner[tp]; ok && o != id {
					t.Fatalf("step %d: partition %d owned by %s and %s\n%v", step, tp.partition, o, id, steps)
				}
				owner[tp] = id
			}
		}
	}
}
