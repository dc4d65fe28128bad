package quorum

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// join registers node id's broker as the broker does and waits until it
// is ready and unfenced; it returns the broker epoch.
func (tc *testCluster) join(id int32) int64 {
	tc.t.Helper()
	epoch, err := tc.nodes[id].Join(ctx(tc.t), metadata.Broker{Host: "localhost", Port: 9000 + id, Rack: "r"}, false)
	if err != nil {
		tc.t.Fatalf("join %d: %v", id, err)
	}
	if err := tc.nodes[id].WaitReady(ctx(tc.t)); err != nil {
		tc.t.Fatal(err)
	}
	if err := tc.nodes[id].WaitUnfenced(ctx(tc.t)); err != nil {
		tc.t.Fatal(err)
	}
	return epoch
}

// broker waits until node's image has broker id in state fenced and
// returns it.
func (tc *testCluster) broker(node, id int32, fenced bool, within time.Duration) metadata.Broker {
	tc.t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, ok := tc.nodes[node].Image().Brokers[id]
		if ok && b.Fenced == fenced {
			return b
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("node %d: broker %d is %+v, want fenced=%v", node, id, b, fenced)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBrokerFencing: every combined node registers and is unfenced with
// its registration's index as broker epoch; a node that stops heartbeating
// is fenced by the active controller (here within Grace, as its session
// connection closed; its epoch kept), and leaves Metadata's brokers; restarted, it has a new
// incarnation and a new epoch and is unfenced again; a heartbeat with the
// old epoch is stale.
func TestBrokerFencing(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.live = Liveness{HeartbeatInterval: 50 * time.Millisecond, SessionTimeout: 800 * time.Millisecond}
	for _, id := range []int32{1, 2, 3} {
		c, err := Open(tc.config(id))
		if err != nil {
			t.Fatal(err)
		}
		tc.nodes[id] = c
	}
	epochs := map[int32]int64{}
	for _, id := range []int32{1, 2, 3} {
		epochs[id] = tc.join(id)
	}
	leader := tc.leader()
	for id, epoch := range epochs {
		b := tc.broker(leader, id, false, time.Second)
		if b.Epoch != epoch || b.Port != 9000+id || b.Rack != "r" || b.Incarnation.IsZero() {
			t.Fatalf("broker %d: %+v, want epoch %d", id, b, epoch)
		}
	}
	if live := tc.nodes[leader].Image().LiveBrokers(); len(live) != 3 {
		t.Fatalf("live brokers %+v", live)
	}
	old := tc.nodes[leader].Image().Brokers[3]
	moves, err := tc.nodes[leader].CreateTopic(ctx(t), "moves", 6, 3, nil)
	if err != nil {
		t.Fatal(err)
	}

	tc.stop(3)
	leader = tc.leader()
	start := time.Now()
	fenced := tc.broker(leader, 3, true, 10*time.Second)
	t.Logf("broker 3 fenced %v after its node stopped", time.Since(start))
	if fenced.Epoch != old.Epoch || fenced.Incarnation != old.Incarnation {
		t.Fatalf("fenced %+v, registered %+v", fenced, old)
	}
	for _, id := range []int32{1, 2} {
		if b := tc.nodes[leader].Image().Brokers[id]; b.Fenced || b.Epoch != epochs[id] {
			t.Fatalf("broker %d: %+v", id, b)
		}
	}
	live := tc.nodes[leader].Image().LiveBrokers()
	if len(live) != 2 || live[0].ID != 1 || live[1].ID != 2 {
		t.Fatalf("live brokers %+v", live)
	}
	// In the fencing record, broker 3 left every ISR and its leaderships
	// moved to the next ISR member in replica order, with a new leader
	// epoch.
	after := tc.nodes[leader].Image().Topics["moves"]
	for i, p := range after.Partitions {
		was := moves.Partitions[i]
		want := was.Leader
		if was.Leader == 3 {
			want = was.Replicas[1]
		}
		if p.Leader != want || slices.Contains(p.ISR, 3) || len(p.ISR) != 2 || p.PartitionEpoch != 1 ||
			(p.LeaderEpoch == 1) != (was.Leader == 3) {
			t.Fatalf("partition %d after fencing 3: %+v, was %+v", i, p, was)
		}
	}
	// New replicas go to unfenced brokers only.
	if _, err := tc.nodes[leader].CreateTopic(ctx(t), "three", 1, 3, nil); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("RF 3 with broker 3 fenced: %v", err)
	}

	c, err := Open(tc.config(3))
	if err != nil {
		t.Fatal(err)
	}
	tc.nodes[3] = c
	epoch := tc.join(3)
	if epoch <= old.Epoch {
		t.Fatalf("new epoch %d, old %d", epoch, old.Epoch)
	}
	again := tc.broker(tc.leader(), 3, false, 5*time.Second)
	if again.Epoch != epoch || again.Incarnation == old.Incarnation {
		t.Fatalf("re-registered %+v, old %+v", again, old)
	}
	if _, err := tc.nodes[3].heartbeat(ctx(t), 3, old.Epoch, true, nil, 0, 0); err != kerr.StaleBrokerEpoch {
		t.Fatalf("heartbeat with the old epoch: %v", err)
	}
}

// TestBrokerOnlyNode: a node that is not a voter registers through a
// voter, is added by the leader as a raft non-voter at the address it
// listens on, receives the whole metadata log (the same image), names the
// leader as active controller, and forwards its own proposals.
func TestBrokerOnlyNode(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.start(1, 2, 3)
	leader := tc.leader()
	register(t, tc.nodes[leader], 1, 2, 3)
	if _, err := tc.nodes[leader].CreateTopic(ctx(t), "before", 2, 3, nil); err != nil {
		t.Fatal(err)
	}
	c, err := Open(tc.config(4))
	if err != nil {
		t.Fatal(err)
	}
	tc.nodes[4] = c
	epoch := tc.join(4)
	if got := c.ActiveController(); got != leader {
		t.Fatalf("node 4 names %d as controller, leader is %d", got, leader)
	}
	future := tc.nodes[leader].raft.GetConfiguration()
	if err := future.Error(); err != nil {
		t.Fatal(err)
	}
	var suffrage = map[raft.ServerID]raft.ServerSuffrage{}
	for _, s := range future.Configuration().Servers {
		suffrage[s.ID] = s.Suffrage
		if s.ID == "4" && string(s.Address) != string(c.localAddr) {
			t.Fatalf("node 4 added at %s, listens at %s", s.Address, c.localAddr)
		}
	}
	if suffrage["1"] != raft.Voter || suffrage["2"] != raft.Voter || suffrage["3"] != raft.Voter || suffrage["4"] != raft.Nonvoter || len(suffrage) != 4 {
		t.Fatalf("raft configuration %v", suffrage)
	}
	if _, err := c.CreateTopic(ctx(t), "from-broker", 1, 1, nil); err != nil {
		t.Fatalf("proposal on the broker-only node: %v", err)
	}
	tc.converged("before", "from-broker")
	if b := tc.nodes[leader].Image().Brokers[4]; b.Epoch != epoch || b.Fenced || b.MetadataAddr != string(c.localAddr) {
		t.Fatalf("broker 4 %+v", b)
	}
	img, want := c.Image(), tc.nodes[leader].Image()
	if img.ClusterID != want.ClusterID || img.Topics["before"].ID != want.Topics["before"].ID {
		t.Fatal("node 4's image differs from the leader's")
	}
	// It restarts from its directory, re-registers and follows again.
	tc.stop(4)
	if _, err := tc.nodes[leader].CreateTopic(ctx(t), "while-down", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if c, err = Open(tc.config(4)); err != nil {
		t.Fatal(err)
	}
	tc.nodes[4] = c
	if again := tc.join(4); again <= epoch {
		t.Fatalf("epoch %d after restart, was %d", again, epoch)
	}
	tc.converged("while-down")
}

// TestHeartbeatFailureLogs: the active controller stops, so the other
// brokers' heartbeats fail until a new one is elected, a second or so
// into a session of a minute: each failure is logged at info, retried, and
// none is a warning (cluster local's nodes log at warn, and a clean stop of
// all of them, the controllers with the brokers, must log nothing there).
func TestHeartbeatFailureLogs(t *testing.T) {
	logs := &lockedBuffer{}
	tc := newTestCluster(t, 3)
	tc.live = Liveness{HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: time.Minute}
	tc.logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	tc.start(1, 2, 3)
	for _, id := range []int32{1, 2, 3} {
		tc.join(id)
	}
	first := tc.leader()
	tc.stop(first)
	second := tc.leader()
	tc.broker(second, first, true, 30*time.Second)
	for id := range tc.nodes {
		if id != first {
			tc.broker(second, id, false, 5*time.Second)
		}
	}
	if logs.count(`level=INFO msg="quorum: broker heartbeat failed; retrying"`) == 0 {
		t.Fatal("no heartbeat failed while the controller changed")
	}
	if n := logs.count(`level=WARN msg="quorum: broker heartbeat`); n != 0 {
		t.Fatalf("a controller change logged %d heartbeat warnings", n)
	}
}

// startJoined starts voters 1..3 with raft's production timeouts when
// production (heartbeat and election 1 s, lease 500 ms), joins each as a
// broker, and returns the leader.
func startJoined(t *testing.T, live Liveness, production bool) *testCluster {
	t.Helper()
	tc := newTestCluster(t, 3)
	tc.live = live
	for _, id := range []int32{1, 2, 3} {
		cfg := tc.config(id)
		if production {
			cfg.electionTimeout = 0
		}
		c, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tc.nodes[id] = c
	}
	for _, id := range []int32{1, 2, 3} {
		tc.join(id)
	}
	return tc
}

// TestSessionClosedFences: a broker whose session connection to the
// active controller closes (its node stopped: a killed process's kernel
// closes it the same way) is fenced within Grace of it, not after
// broker.session.timeout.ms, which here is a minute; the other brokers,
// heartbeating over their sessions, stay unfenced.
func TestSessionClosedFences(t *testing.T) {
	tc := startJoined(t, Liveness{HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: time.Minute}, false)
	leader := tc.leader()
	victim := tc.follower(leader)
	start := time.Now()
	tc.stop(victim)
	tc.broker(leader, victim, true, 30*time.Second)
	t.Logf("broker %d fenced %v after its node stopped (session timeout 1m, grace 250ms)", victim, time.Since(start).Round(time.Millisecond))
	for id := range tc.nodes {
		if b := tc.nodes[leader].Image().Brokers[id]; b.Fenced {
			t.Fatalf("broker %d fenced: %+v", id, b)
		}
	}
}

// TestControllerLossFences: the active controller's node stops (it is a
// broker too). The other voters' brokers find its listener refusing them
// and lower raft's timeouts (restored once a leader is seen), a new
// leader is elected, gives every broker Grace rather than a whole
// session, hears at once from the live brokers, which heartbeat a new
// controller as soon as raft names it, and fences only the lost one,
// well before the minute of broker.session.timeout.ms.
func TestControllerLossFences(t *testing.T) {
	tc := startJoined(t, Liveness{HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: time.Minute}, true)
	first := tc.leader()
	start := time.Now()
	tc.stop(first)
	second := tc.leader()
	elected := time.Since(start)
	tc.broker(second, first, true, 30*time.Second)
	t.Logf("controller %d stopped: %d elected after %v, broker %d fenced after %v", first, second, elected.Round(time.Millisecond), first, time.Since(start).Round(time.Millisecond))
	for id := range tc.nodes {
		if b := tc.nodes[second].Image().Brokers[id]; b.Fenced {
			t.Fatalf("broker %d fenced: %+v", id, b)
		}
	}
	// Raft's timeouts are back once a leader is known.
	deadline := time.Now().Add(10 * time.Second)
	for id, c := range tc.nodes {
		for c.raft.ReloadableConfig().HeartbeatTimeout != time.Second {
			if time.Now().After(deadline) {
				t.Fatalf("node %d: raft heartbeat timeout %v", id, c.raft.ReloadableConfig().HeartbeatTimeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestShutdownMovesLeaderships: a broker's controlled shutdown (Shutdown)
// fences it through the active controller, whichever node that is, in one
// record that moves its leaderships within the ISR; Shutdown returns once
// its own image has it, and the broker stays fenced: it heartbeats no
// more, where a heartbeat would unfence it.
func TestShutdownMovesLeaderships(t *testing.T) {
	tc := startJoined(t, Liveness{HeartbeatInterval: 50 * time.Millisecond, SessionTimeout: time.Minute}, false)
	leader := tc.leader()
	top, err := tc.nodes[leader].CreateTopic(ctx(t), "t", 6, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range []int32{tc.follower(leader), leader} {
		if err := tc.nodes[node].Shutdown(ctx(t)); err != nil {
			t.Fatalf("shutdown of %d: %v", node, err)
		}
		if b := tc.nodes[node].Image().Brokers[node]; !b.Fenced {
			t.Fatalf("broker %d not fenced in its own image after Shutdown: %+v", node, b)
		}
		after := tc.nodes[node].Image().TopicByID(top.ID)
		for i, p := range after.Partitions {
			if p.Leader == node || p.Leader == -1 || slices.Contains(p.ISR, node) {
				t.Fatalf("partition %d after %d's shutdown: %+v (was %+v)", i, node, p, top.Partitions[i])
			}
		}
		// Four heartbeat intervals: a heartbeat would have unfenced it.
		time.Sleep(200 * time.Millisecond)
		if b := tc.nodes[leader].Image().Brokers[node]; !b.Fenced {
			t.Fatalf("broker %d unfenced again after its shutdown", node)
		}
	}
}
