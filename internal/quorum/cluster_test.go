package quorum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// testCluster is a quorum of voters (and maybe non-voters) in this process,
// talking over real TCP on 127.0.0.1.
type testCluster struct {
	t      *testing.T
	dir    string
	voters []Peer
	nodes  map[int32]*Controller
	live   Liveness
	logger *slog.Logger // the nodes' logger; nil discards
}

// freeAddrs reserves n ports on 127.0.0.1: listen on port 0, note the
// port, close. The voters' addresses must be known before any node starts.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func newTestCluster(t *testing.T, voters int) *testCluster {
	tc := &testCluster{t: t, dir: t.TempDir(), nodes: map[int32]*Controller{}, live: fakeBrokers}
	for i, addr := range freeAddrs(t, voters) {
		tc.voters = append(tc.voters, Peer{ID: int32(i + 1), Addr: addr})
	}
	t.Cleanup(func() {
		for _, c := range tc.nodes {
			c.Close()
		}
	})
	return tc
}

func (tc *testCluster) config(id int32) Config {
	cfg := Config{Dir: filepath.Join(tc.dir, fmt.Sprint(id)), NodeID: id, Voters: tc.voters,
		electionTimeout: 300 * time.Millisecond, Liveness: tc.live, StartTimeout: 20 * time.Second, Logger: tc.logger}
	for _, v := range tc.voters {
		if v.ID == id {
			cfg.Listen = v.Addr
		}
	}
	if cfg.Listen == "" {
		cfg.Listen, cfg.Advertise = "127.0.0.1:0", "127.0.0.1:0"
	}
	return cfg
}

// start opens the nodes at once (a voter alone cannot be elected) and
// waits until each is ready.
func (tc *testCluster) start(ids ...int32) {
	tc.t.Helper()
	for _, id := range ids {
		c, err := Open(tc.config(id))
		if err != nil {
			tc.t.Fatalf("open node %d: %v", id, err)
		}
		tc.nodes[id] = c
	}
	tc.waitReady(ids...)
}

func (tc *testCluster) waitReady(ids ...int32) {
	tc.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = tc.nodes[id].WaitReady(context.Background()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tc.t.Fatal(err)
	}
}

func (tc *testCluster) stop(id int32) {
	tc.t.Helper()
	if err := tc.nodes[id].Close(); err != nil {
		tc.t.Fatalf("close node %d: %v", id, err)
	}
	delete(tc.nodes, id)
}

// leader waits until the running nodes agree on one leader among them.
func (tc *testCluster) leader() int32 {
	tc.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		leader, agreed := int32(-1), true
		for _, c := range tc.nodes {
			id := c.ActiveController()
			if leader == -1 {
				leader = id
			}
			agreed = agreed && id == leader && id != -1
		}
		if agreed && tc.nodes[leader] != nil && tc.nodes[leader].isActive() {
			return leader
		}
		time.Sleep(10 * time.Millisecond)
	}
	tc.t.Fatal("no leader agreed on")
	return -1
}

func (tc *testCluster) follower(leader int32) int32 {
	for id, c := range tc.nodes {
		if id != leader && c.isVoter(id) {
			return id
		}
	}
	tc.t.Fatal("no follower")
	return -1
}

// converged waits until every running node's image has applied index and
// has topic names.
func (tc *testCluster) converged(topics ...string) {
	tc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing := ""
		for id, c := range tc.nodes {
			img := c.Image()
			for _, name := range topics {
				if img.Topics[name] == nil {
					missing = fmt.Sprintf("node %d lacks topic %s", id, name)
				}
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatal(missing)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClusterReplicates: three voters over TCP elect one leader that every
// node names, a proposal on the leader and one made on a follower
// (forwarded over the controller RPC) commit on all three with the same
// topic ID — a forwarded one in the follower's image when it answers — and
// the cluster ID is the same everywhere.
func TestClusterReplicates(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.start(1, 2, 3)
	leader := tc.leader()
	follower := tc.follower(leader)
	for _, id := range []int32{1, 2, 3} {
		register(t, tc.nodes[leader], id)
	}
	onLeader, err := tc.nodes[leader].CreateTopic(ctx(t), "on-leader", 3, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	onFollower, err := tc.nodes[follower].CreateTopic(ctx(t), "on-follower", 2, 2, nil)
	if err != nil {
		t.Fatalf("proposal on follower %d: %v", follower, err)
	}
	// A forwarded change is in the forwarding node's own image when it
	// is answered (awaitApplied), every time.
	for i := range 10 {
		name := fmt.Sprintf("read-own-%d", i)
		if _, err := tc.nodes[follower].CreateTopic(ctx(t), name, 1, 1, nil); err != nil {
			t.Fatal(err)
		}
		if tc.nodes[follower].Image().Topics[name] == nil {
			t.Fatalf("topic %s created through follower %d is not in its image when answered", name, follower)
		}
	}
	tc.converged("on-leader", "on-follower")
	cluster := tc.nodes[leader].Image().ClusterID
	for id, c := range tc.nodes {
		img := c.Image()
		if img.ClusterID != cluster || cluster == "" {
			t.Fatalf("node %d cluster ID %q, leader's %q", id, img.ClusterID, cluster)
		}
		if img.Topics["on-leader"].ID != onLeader.ID || img.Topics["on-follower"].ID != onFollower.ID {
			t.Fatalf("node %d has other topic IDs", id)
		}
		if len(img.Topics["on-leader"].Partitions[0].Replicas) != 3 {
			t.Fatalf("node %d: replicas %v", id, img.Topics["on-leader"].Partitions[0].Replicas)
		}
	}
	// A rejection travels back through the forward with its Kafka code.
	_, err = tc.nodes[follower].CreateTopic(ctx(t), "on-leader", 1, 1, nil)
	wantKerr(t, err, kerr.TopicAlreadyExists)
	// So does a producer-ID block, with its result.
	first, err := tc.nodes[follower].AllocateProducerIDs(ctx(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := tc.nodes[leader].AllocateProducerIDs(ctx(t), 10); again != first+10 {
		t.Fatalf("blocks %d then %d", first, again)
	}
}

// TestClusterFailover: closing the leader elects another voter, with no
// committed record lost; the cluster keeps working with one voter down; with
// two down the last one refuses proposals with a clear error; the closed
// nodes restart from their directories, rejoin and catch up.
func TestClusterFailover(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.start(1, 2, 3)
	first := tc.leader()
	register(t, tc.nodes[first], 1, 2, 3)
	for i := range 5 {
		if _, err := tc.nodes[first].CreateTopic(ctx(t), fmt.Sprintf("before-%d", i), 1, 3, nil); err != nil {
			t.Fatal(err)
		}
	}
	tc.stop(first)
	second := tc.leader()
	if second == first {
		t.Fatalf("leader %d again", second)
	}
	// Every record committed before the leader's loss is on both nodes
	// left (a follower may apply the last ones a moment later).
	var before []string
	for i := range 5 {
		before = append(before, fmt.Sprintf("before-%d", i))
	}
	tc.converged(before...)
	// A minority down: proposals commit on the two left.
	if _, err := tc.nodes[tc.follower(second)].CreateTopic(ctx(t), "minority-down", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	tc.converged("minority-down")

	// A majority down: the last voter cannot commit.
	tc.stop(second)
	last := tc.follower(-1)
	short, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := tc.nodes[last].CreateTopic(short, "majority-down", 1, 1, nil)
	if !errors.Is(err, kerr.NotController) && !errors.Is(err, kerr.RequestTimedOut) {
		t.Fatalf("proposal with a majority down: %v, want NOT_CONTROLLER or REQUEST_TIMED_OUT", err)
	}
	t.Logf("with a majority down: %v", err)
	if tc.nodes[last].Image().Topics["majority-down"] != nil {
		t.Fatal("committed without a majority")
	}

	// Restart both: they rejoin with their logs and catch up.
	for _, id := range []int32{first, second} {
		c, err := Open(tc.config(id))
		if err != nil {
			t.Fatalf("reopen node %d: %v", id, err)
		}
		tc.nodes[id] = c
	}
	tc.waitReady(first, second)
	leader := tc.leader()
	if _, err := tc.nodes[leader].CreateTopic(ctx(t), "after-restart", 1, 3, nil); err != nil {
		t.Fatal(err)
	}
	tc.converged("before-0", "before-4", "minority-down", "after-restart")
}
