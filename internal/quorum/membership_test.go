package quorum

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// startObserver starts node id as a controller outside the configured
// voters (controller.quorum.bootstrap.servers): it listens on addr,
// registers, and receives the log as a raft non-voter.
func (tc *testCluster) startObserver(id int32, addr string) {
	tc.t.Helper()
	cfg := Config{Dir: filepath.Join(tc.dir, fmt.Sprint(id)), NodeID: id, Listen: addr,
		electionTimeout: 300 * time.Millisecond, Liveness: tc.live, StartTimeout: 20 * time.Second}
	for _, v := range tc.voters {
		cfg.Bootstrap = append(cfg.Bootstrap, v.Addr)
	}
	c, err := Open(cfg)
	if err != nil {
		tc.t.Fatalf("open node %d: %v", id, err)
	}
	tc.nodes[id] = c
	if _, err := c.Join(ctx(tc.t), metadata.Broker{Host: "localhost", Port: 9092 + id}, false); err != nil {
		tc.t.Fatal(err)
	}
	tc.waitReady(id)
}

// propose commits a change of broker config key through c (forwarded
// unless it leads) and waits until every running node has applied it.
func (tc *testCluster) propose(c *Controller, key string) {
	tc.t.Helper()
	if err := c.AlterBrokerConfigs(ctx(tc.t), map[string]string{key: "1"}, nil); err != nil {
		tc.t.Fatalf("propose %s through node %d: %v", key, c.cfg.NodeID, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for id, n := range tc.nodes {
		for n.Image().BrokerConfigs[key] != "1" {
			if time.Now().After(deadline) {
				tc.t.Fatalf("node %d never applied %s", id, key)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// raftLeader waits until the running nodes agree on one raft leader among
// them (ActiveController may name a broker instead: see there).
func (tc *testCluster) raftLeader() int32 {
	tc.t.Helper()
	var leader int32
	waitFor(tc.t, "a leader all agree on", func() bool {
		leader = -1
		for _, c := range tc.nodes {
			if c.isActive() {
				leader = c.cfg.NodeID
			}
		}
		for _, c := range tc.nodes {
			if c.leaderID() != leader {
				return false
			}
		}
		return leader != -1
	})
	return leader
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitQuorum waits until the leader's description satisfies ok.
func (tc *testCluster) waitQuorum(what string, ok func(Description) bool) Description {
	tc.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last Description
	var err error
	for time.Now().Before(deadline) {
		leader := tc.raftLeader()
		if last, err = tc.nodes[leader].DescribeQuorum(ctx(tc.t)); err == nil && ok(last) {
			return last
		}
		time.Sleep(10 * time.Millisecond)
	}
	tc.t.Fatalf("quorum never %s: last %+v, %v", what, last, err)
	return last
}

// endpoint is addr on the controller listener.
func endpoint(addr string) []Endpoint {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return []Endpoint{{Name: "controller", Host: host, Port: uint16(n)}}
}

func ids(vs []Voter) []int32 {
	out := []int32{}
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func wantMessage(t *testing.T, err error, code *kerr.Error, substr string) {
	t.Helper()
	wantKerr(t, err, code)
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q lacks %q", err, substr)
	}
}

// TestDescribeQuorum: the leader describes three voters and an observer
// (a controller started with bootstrap servers) with the raft term, the
// commit index as high watermark and each replica's last index once it has
// caught up; a follower's description is the leader's, forwarded.
func TestDescribeQuorum(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.start(1, 2, 3)
	tc.startObserver(4, freeAddrs(t, 1)[0])
	leader := tc.raftLeader()
	lc := tc.nodes[leader]
	tc.propose(lc, "t")
	d := tc.waitQuorum("caught up", func(d Description) bool {
		last := int64(lc.raft.LastIndex())
		for _, v := range append(slices.Clone(d.Voters), d.Observers...) {
			if v.LogEndOffset != last || v.LastCaughtUp < 0 {
				return false
			}
		}
		return d.HighWatermark == last
	})
	if d.LeaderID != leader || d.LeaderEpoch != int32(lc.raft.CurrentTerm()) || d.LeaderEpoch < 1 {
		t.Fatalf("leader %d epoch %d, want %d and term %d", d.LeaderID, d.LeaderEpoch, leader, lc.raft.CurrentTerm())
	}
	if !slices.Equal(ids(d.Voters), []int32{1, 2, 3}) || !slices.Equal(ids(d.Observers), []int32{4}) {
		t.Fatalf("voters %v observers %v", ids(d.Voters), ids(d.Observers))
	}
	for _, v := range d.Voters {
		if v.Addr != tc.voters[v.ID-1].Addr {
			t.Fatalf("voter %d at %s, configured %s", v.ID, v.Addr, tc.voters[v.ID-1].Addr)
		}
		if v.LastFetch < v.LastCaughtUp || time.Since(time.UnixMilli(v.LastFetch)) > time.Minute {
			t.Fatalf("voter %d: last fetch %d, caught up %d", v.ID, v.LastFetch, v.LastCaughtUp)
		}
	}
	follower := tc.follower(leader)
	fd, err := tc.nodes[follower].DescribeQuorum(ctx(t))
	if err != nil {
		t.Fatalf("forwarded: %v", err)
	}
	if fd.LeaderID != leader || fd.LeaderEpoch != d.LeaderEpoch || !slices.Equal(ids(fd.Voters), []int32{1, 2, 3}) {
		t.Fatalf("forwarded description %+v", fd)
	}
	// Not forwarded again: a node that does not lead answers
	// NOT_LEADER_OR_FOLLOWER to a forwarded request.
	_, err = tc.nodes[follower].describeQuorumHop(ctx(t), 1)
	wantKerr(t, err, kerr.NotLeaderForPartition)
}

// TestAddRemoveVoters: a controller started with bootstrap servers is
// added to a running quorum of three (through a follower, forwarded), the
// quorum of four keeps working with one voter down, voters are removed
// (the removed ones stay observers), a removed voter restarting with the
// old controller.quorum.voters is refused, removing the leader hands the
// leadership over, and the last voter cannot be removed.
func TestAddRemoveVoters(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.start(1, 2, 3)
	addr4 := freeAddrs(t, 1)[0]
	tc.startObserver(4, addr4)
	leader := tc.raftLeader()
	follower := tc.follower(leader)

	wantMessage(t, tc.nodes[follower].AddVoter(ctx(t), 4, endpoint("127.0.0.1:1")), kerr.InvalidRequest, "is not the one it receives the metadata log at")
	wantMessage(t, tc.nodes[follower].AddVoter(ctx(t), 9, endpoint("127.0.0.1:1")), kerr.RequestTimedOut, "does not receive the metadata log")
	wantMessage(t, tc.nodes[follower].AddVoter(ctx(t), -1, endpoint(addr4)), kerr.InvalidRequest, "valid voter")
	wantMessage(t, tc.nodes[follower].AddVoter(ctx(t), 4, []Endpoint{{Name: "OTHER", Host: "h", Port: 1}}), kerr.InvalidRequest, "for the default listener CONTROLLER")
	wantMessage(t, tc.nodes[follower].AddVoter(ctx(t), leader, endpoint("x:1")), kerr.DuplicateVoter, "already part of the set of voters [1 2 3]")
	tc.waitQuorum("with 4 caught up", func(d Description) bool {
		return len(d.Observers) == 1 && d.Observers[0].LastCaughtUp > 0
	})
	if err := tc.nodes[follower].AddVoter(ctx(t), 4, endpoint(addr4)); err != nil {
		t.Fatalf("add voter 4: %v", err)
	}
	d := tc.waitQuorum("four voters", func(d Description) bool { return len(d.Voters) == 4 })
	if !slices.Equal(ids(d.Voters), []int32{1, 2, 3, 4}) || len(d.Observers) != 0 {
		t.Fatalf("voters %v observers %v", ids(d.Voters), ids(d.Observers))
	}
	waitFor(t, "node 4 to see itself a voter", func() bool { return tc.nodes[4].isVoter(4) })
	wantKerr(t, tc.nodes[leader].AddVoter(ctx(t), 4, endpoint(addr4)), kerr.DuplicateVoter)

	// Four voters, one down: three make a majority.
	down := int32(1)
	if leader == down {
		down = 2
	}
	tc.stop(down)
	leader = tc.raftLeader()
	tc.propose(tc.nodes[leader], "one-down")

	// Remove the stopped voter (it misses its removal).
	wantMessage(t, tc.nodes[leader].RemoveVoter(ctx(t), 7), kerr.VoterNotFound, "Cannot remove voter 7")
	if err := tc.nodes[tc.follower(leader)].RemoveVoter(ctx(t), down); err != nil {
		t.Fatalf("remove voter %d: %v", down, err)
	}
	d = tc.waitQuorum("three voters", func(d Description) bool { return len(d.Voters) == 3 })
	if slices.Contains(ids(d.Voters), down) || !slices.Equal(ids(d.Observers), []int32{down}) {
		t.Fatalf("voters %v observers %v", ids(d.Voters), ids(d.Observers))
	}
	term := tc.nodes[leader].raft.CurrentTerm()
	// Restarted with the old controller.quorum.voters, the removed node's
	// own log still names it a voter; the leader's pre-vote checks keep it
	// from disrupting the quorum, and the leader tells it the new
	// configuration.
	c, err := Open(tc.config(down))
	if err != nil {
		t.Fatalf("restart removed voter %d: %v", down, err)
	}
	tc.nodes[down] = c
	deadline := time.Now().Add(60 * time.Second) // the leader's replication to it backs off while it is down
	for c.isVoter(down) {
		if time.Now().After(deadline) {
			t.Fatalf("node %d never learned its removal", down)
		}
		if testing.Verbose() {
			for id, n := range tc.nodes {
				t.Logf("node %d: state %v term %d leader %d", id, n.raft.State(), n.raft.CurrentTerm(), n.leaderID())
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := tc.raftLeader(); got != leader || tc.nodes[leader].raft.CurrentTerm() != term {
		t.Fatalf("leader %d term %d after the removed voter's restart, was %d term %d", got, tc.nodes[leader].raft.CurrentTerm(), leader, term)
	}
	tc.propose(tc.nodes[leader], "after-removed-restart")
	// Knowing it was removed, it is refused at start-up.
	tc.stop(down)
	_, err = Open(tc.config(down))
	if err == nil || !strings.Contains(err.Error(), "was removed from the voters") || !strings.Contains(err.Error(), "controller.quorum.bootstrap.servers") {
		t.Fatalf("restart of a removed voter: %v", err)
	}

	// Removing the leader: it steps down, another voter leads.
	old := leader
	if err := tc.nodes[old].RemoveVoter(ctx(t), old); err != nil {
		t.Fatalf("remove leader %d: %v", old, err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for leader = tc.raftLeader(); leader == old; leader = tc.raftLeader() {
		if time.Now().After(deadline) {
			t.Fatal("the removed leader still leads")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tc.propose(tc.nodes[old], "after-leader-removed")
	d = tc.waitQuorum("two voters", func(d Description) bool { return len(d.Voters) == 2 })
	if slices.Contains(ids(d.Voters), old) || !slices.Contains(ids(d.Observers), old) {
		t.Fatalf("voters %v observers %v", ids(d.Voters), ids(d.Observers))
	}

	// Down to one voter; the last cannot go.
	other := tc.follower(leader)
	if err := tc.nodes[leader].RemoveVoter(ctx(t), other); err != nil {
		t.Fatal(err)
	}
	wantMessage(t, tc.nodes[leader].RemoveVoter(ctx(t), leader), kerr.InvalidRequest, "last voter")
	d = tc.waitQuorum("one voter", func(d Description) bool { return len(d.Voters) == 1 })
	if d.Voters[0].ID != leader {
		t.Fatalf("voters %v", ids(d.Voters))
	}
	tc.propose(tc.nodes[other], "one-voter")
}

// TestBrokerOnlyCannotVote: a broker-only node receiving the log is not
// made a voter (the leader asks it first, as Kafka's sends ApiVersions),
// and a node started broker-only on raft state that makes it a voter is
// refused.
func TestBrokerOnlyCannotVote(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.start(1, 2, 3)
	cfg := tc.config(5)
	cfg.BrokerOnly = true
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc.nodes[5] = c
	if _, err := c.Join(ctx(t), metadata.Broker{Host: "localhost", Port: 9097}, false); err != nil {
		t.Fatal(err)
	}
	tc.waitReady(5)
	leader := tc.raftLeader()
	tc.waitQuorum("with 5 caught up", func(d Description) bool {
		return len(d.Observers) == 1 && d.Observers[0].LastCaughtUp > 0
	})
	wantMessage(t, tc.nodes[leader].AddVoter(ctx(t), 5, endpoint(string(c.localAddr))), kerr.InvalidRequest, "node 5 cannot vote: config process.roles has no controller role")
	if d := tc.waitQuorum("described", func(Description) bool { return true }); len(d.Voters) != 3 {
		t.Fatalf("voters %v", ids(d.Voters))
	}

	follower := tc.follower(leader)
	tc.stop(follower)
	cfg = tc.config(follower)
	cfg.BrokerOnly = true
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "process.roles has no controller role") {
		t.Fatalf("a voter restarted broker-only: %v", err)
	}
}

// TestProgressRecords: the leader's view of a replica follows the
// answers it gets, per term.
func TestProgressRecords(t *testing.T) {
	var p progress
	now := time.UnixMilli(1000)
	id := raft.ServerID("2")
	// A heartbeat says nothing of the log.
	p.appended(id, &raft.AppendEntriesRequest{Term: 3}, &raft.AppendEntriesResponse{Term: 3, Success: true, LastLog: 9}, 10, now)
	if r, _ := p.seen(id, 3); r.match != -1 || !r.lastContact.Equal(now) || !r.caughtUp.IsZero() {
		t.Fatalf("after a heartbeat: %+v", r)
	}
	entries := []*raft.Log{{Index: 9}, {Index: 10}}
	p.appended(id, &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 8, Entries: entries}, &raft.AppendEntriesResponse{Term: 3, Success: true}, 12, now.Add(time.Second))
	if r, _ := p.seen(id, 3); r.match != 10 || !r.caughtUp.IsZero() {
		t.Fatalf("behind the leader: %+v", r)
	}
	p.appended(id, &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 10, Entries: entries[:1]}, &raft.AppendEntriesResponse{Term: 3, Success: false}, 12, now.Add(2*time.Second))
	if r, _ := p.seen(id, 3); r.match != 10 || !r.lastContact.Equal(now.Add(time.Second)) {
		t.Fatalf("a refusal moved it: %+v", r)
	}
	p.record(id, 3, 12, 12, now.Add(3*time.Second))
	if r, _ := p.seen(id, 3); r.match != 12 || !r.caughtUp.Equal(now.Add(3*time.Second)) {
		t.Fatalf("caught up: %+v", r)
	}
	if _, ok := p.seen(id, 4); ok {
		t.Fatal("known in a later term")
	}
	p.record(id, 4, -1, 12, now)
	if r, _ := p.seen(id, 4); r.match != -1 {
		t.Fatalf("a new term starts unknown: %+v", r)
	}
	p.record(id, 3, 20, 12, now) // an answer to the old term's leader
	if _, ok := p.seen(id, 3); ok {
		t.Fatal("old term recorded")
	}
}

func FuzzDecodeDescription(f *testing.F) {
	f.Add(encodeDescription(Description{LeaderID: 1, LeaderEpoch: 2, HighWatermark: 3,
		Voters: []Voter{{ID: 1, Addr: "h:1", LogEndOffset: 3, LastFetch: 4, LastCaughtUp: 4}}}))
	f.Add([]byte(`{"voters":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDescription(b)
		if err != nil {
			return
		}
		again, err := decodeDescription(encodeDescription(d))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(d) {
			t.Fatalf("round trip: %+v, %v, was %+v", again, err, d)
		}
	})
}

// TestObserverDropped: a broker observer that stops is fenced and, after
// ObserverTimeout without a heartbeat, no longer a raft non-voter (the
// leader stops replicating to it, DescribeQuorum stops listing it); one
// that restarts is an observer again. A running broker that is not a
// non-voter (dropped while cut off) is added back by its next heartbeat.
func TestObserverDropped(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.live = Liveness{HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: time.Second, Grace: 300 * time.Millisecond, ObserverTimeout: time.Second}
	tc.start(1, 2, 3)
	addr := freeAddrs(t, 1)[0]
	tc.startObserver(4, addr)
	observers := func(want ...int32) {
		t.Helper()
		tc.waitQuorum(fmt.Sprintf("observers %v", want), func(d Description) bool {
			return slices.Equal(ids(d.Observers), want)
		})
	}
	observers(4)

	tc.stop(4)
	observers()

	tc.startObserver(4, addr)
	tc.waitQuorum("4 caught up again", func(d Description) bool {
		return slices.Equal(ids(d.Observers), []int32{4}) && d.Observers[0].LastCaughtUp > 0
	})

	leader := tc.nodes[tc.raftLeader()]
	if err := leader.raft.RemoveServer(serverID(4), 0, transportTimeout).Error(); err != nil {
		t.Fatal(err)
	}
	observers(4)
	tc.propose(leader, "after-readd") // 4 receives the log again
	tc.broker(4, 4, false, 15*time.Second)
}
