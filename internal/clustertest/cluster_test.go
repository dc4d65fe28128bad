package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxT(t, 30*time.Second), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func produce(t *testing.T, cl *kgo.Client, topic string, values ...string) {
	t.Helper()
	for _, v := range values {
		r := &kgo.Record{Topic: topic, Value: []byte(v)}
		if err := cl.ProduceSync(ctxT(t, 30*time.Second), r).FirstErr(); err != nil {
			t.Fatalf("produce %q to %s: %v", v, topic, err)
		}
	}
}

// readAll reads partition 0 of topic from the start up to its end offset
// and returns the values, checking that the offsets run 0, 1, 2, ...
func readAll(t *testing.T, n *Node, topic string) []string {
	t.Helper()
	return readPartition(t, n, topic, 0)
}

func values(prefix string, from, to int) []string {
	var vs []string
	for i := from; i < to; i++ {
		vs = append(vs, fmt.Sprintf("%s-%d", prefix, i))
	}
	return vs
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: read %d records %q, want %d %q", what, len(got), got, len(want), want)
	}
}

func cleanMark(n *Node) bool {
	_, err := os.Stat(filepath.Join(n.Dir(), ".clean-shutdown"))
	return err == nil
}

// TestClusterNodes starts three nodes (today three single-node clusters),
// has each serve its own records through franz-go, stops one and starts it
// again under a client that stays connected, and checks that every node
// reads back exactly its records and that nothing of the cluster outlives
// the test.
func TestClusterNodes(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Independent: true, Static: map[string]string{"group.initial.rebalance.delay.ms": "0"}})
	clients := make([]*kgo.Client, 3)
	for i, n := range c.Nodes() {
		createTopic(t, n.Admin(), "t", 1)
		clients[i] = n.Client()
		produce(t, clients[i], "t", values(fmt.Sprint("node", i), 0, 20)...)
	}
	seen := map[string]bool{}
	for i, n := range c.Nodes() {
		equal(t, fmt.Sprint("node ", i), readAll(t, n, "t"), values(fmt.Sprint("node", i), 0, 20))
		if seen[n.Addr()] || seen[n.Dir()] {
			t.Fatalf("node %d shares its address %s or directory %s", i, n.Addr(), n.Dir())
		}
		seen[n.Addr()], seen[n.Dir()] = true, true
	}

	n := c.Node(1)
	addr := n.Addr()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if n.Running() || !cleanMark(n) {
		t.Fatalf("after Stop: running %v, clean-shutdown mark %v", n.Running(), cleanMark(n))
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	if n.Addr() != addr {
		t.Fatalf("restarted on %s, was %s", n.Addr(), addr)
	}
	// The client made before the stop finds the node again.
	produce(t, clients[1], "t", values("node1", 20, 25)...)
	equal(t, "node 1 after a restart", readAll(t, n, "t"), values("node1", 0, 25))
	equal(t, "node 2 beside it", readAll(t, c.Node(2), "t"), values("node2", 0, 20))
}

// TestClusterKill kills a node while an idempotent acks=all producer keeps
// writing to it, starts it again, and checks that every acknowledged record
// is in the log exactly once and in order (records in flight at the kill
// may be there or not), and that the kill was not a clean shutdown.
func TestClusterKill(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 2, Independent: true})
	n := c.Node(1)
	createTopic(t, n.Admin(), "k", 1)
	s := startStream(t, n.Client(kgo.DefaultProduceTopic("k"), kgo.MaxBufferedRecords(50), kgo.RequiredAcks(kgo.AllISRAcks())))
	s.waitFor(300)
	n.Kill()
	if n.Running() || cleanMark(n) {
		t.Fatalf("after Kill: running %v, clean-shutdown mark %v", n.Running(), cleanMark(n))
	}
	// Close tried to write at least its clean-shutdown mark, and failed.
	if n.disk.refused.Load() == 0 {
		t.Fatal("Kill's Close wrote to the dead disk without being refused")
	}
	killedAt := s.count()
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	s.waitFor(killedAt + 300)
	acked := s.finish()
	read := checkLog(t, n, "k", acked)
	t.Logf("%d records acknowledged (%d before the kill), %d read", len(acked), killedAt, read)
}

// TestClusterLinks drives node 1 with a client that dials as node 0 does
// (Cluster.Dialer(0)), so that its traffic crosses Link(0, 1): a cut from 0
// to 1 makes its requests time out, and healing lets them through again.
func TestClusterLinks(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 2, Independent: true})
	cl := newClient(t, []string{c.Node(1).Addr()}, []kgo.Opt{kgo.Dialer(c.Dialer(0))})
	adm := kadm.NewClient(cl)
	createTopic(t, adm, "l", 1)
	produce(t, cl, "l", "through-the-link")
	through := c.Link(0, 1).Stats()
	if through.Bytes[ToTarget] == 0 || through.Bytes[FromTarget] == 0 {
		t.Fatalf("node 0's client bypassed the link: %+v", through)
	}
	if s := c.Link(1, 0).Stats(); s.Accepted != 0 {
		t.Fatalf("link 1->0 carried %+v", s)
	}

	c.Cut(0, 1, Fault{Mode: Blackhole})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := adm.ListEndOffsets(ctx, "l")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ListOffsets across a cut link: %v, want a timeout", err)
	}
	c.Heal()
	ends, err := adm.ListEndOffsets(ctxT(t, 30*time.Second), "l")
	if err != nil {
		t.Fatal(err)
	}
	if end, _ := ends.Lookup("l", 0); end.Err != nil || end.Offset != 1 {
		t.Fatalf("after healing: end offset %d, %v; want 1", end.Offset, end.Err)
	}
}

// TestClusterFaultShapes checks which link directions Cut, Partition and
// Isolate set.
func TestClusterFaultShapes(t *testing.T) {
	c := Start(t, Options{Nodes: 3, Independent: true})
	blackholed := func() map[string]bool {
		got := map[string]bool{}
		for r, l := range c.links {
			for _, d := range []Direction{ToTarget, FromTarget} {
				if l.Fault(d).Mode == Blackhole {
					got[fmt.Sprintf("%d->%d %v", r.from, r.to, d)] = true
				}
			}
		}
		return got
	}
	check := func(what string, want ...string) {
		t.Helper()
		got := blackholed()
		ok := len(got) == len(want)
		for _, w := range want {
			ok = ok && got[w]
		}
		if !ok {
			t.Fatalf("%s blackholes %v, want %v", what, got, want)
		}
		c.Heal()
		if got := blackholed(); len(got) != 0 {
			t.Fatalf("Heal left %v", got)
		}
	}
	c.Cut(0, 1, Fault{Mode: Blackhole})
	check("Cut(0, 1)", "0->1 to-target", "1->0 from-target")
	c.Isolate(2)
	check("Isolate(2)",
		"2->0 to-target", "0->2 from-target", "2->1 to-target", "1->2 from-target",
		"0->2 to-target", "2->0 from-target", "1->2 to-target", "2->1 from-target")
	c.Partition([]int{0}, []int{1})
	check("Partition({0}, {1})", "0->1 to-target", "1->0 from-target", "1->0 to-target", "0->1 from-target")
}

// controllerSeen returns the active controller node n names in Metadata
// (-1 when it names none or does not answer within a second), asked of n
// itself through cl, a client seeded with n alone.
func controllerSeen(cl *kgo.Client) int32 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		return -1
	}
	return resp.(*kmsg.MetadataResponse).ControllerID
}

// waitController waits until every node of nodes names the same active
// controller, one not in not, and returns it.
func waitController(t *testing.T, c *Cluster, nodes []int, not ...int32) int32 {
	t.Helper()
	cls := make([]*kgo.Client, len(nodes))
	for k, i := range nodes {
		cls[k] = c.Node(i).Client()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var seen []int32
		for _, cl := range cls {
			seen = append(seen, controllerSeen(cl))
		}
		if seen[0] > 0 && !slices.Contains(not, seen[0]) && !slices.ContainsFunc(seen, func(id int32) bool { return id != seen[0] }) {
			return seen[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes %v name controllers %v, want one they agree on outside %v", nodes, seen, not)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterIsolateController: Isolate cuts the controller listener's
// links too, so isolating the active controller leaves the other two
// voters without a leader, and they elect one of themselves; the metadata
// changes they make meanwhile (a topic created through them) reach the
// isolated node after the heal, when all three name the same controller
// again and it serves the topic.
func TestClusterIsolateController(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	old := waitController(t, c, []int{0, 1, 2})
	iso := int(old - 1)
	rest := slices.DeleteFunc([]int{0, 1, 2}, func(i int) bool { return i == iso })
	for _, j := range rest {
		if c.ControllerLink(iso, j).Stats().Bytes[ToTarget] == 0 {
			t.Fatalf("the controller's raft traffic to node %d did not cross ControllerLink(%d, %d)", j+1, iso, j)
		}
	}

	c.Isolate(iso)
	isolatedAt := time.Now()
	next := waitController(t, c, rest, old)
	elected := time.Since(isolatedAt)
	createTopic(t, c.Node(rest[0]).Admin(), "during", 1)

	c.Heal()
	waitController(t, c, []int{0, 1, 2})
	cl := c.Node(iso).Client()
	produce(t, cl, "during", "after-the-heal")
	equal(t, "the topic created while node "+fmt.Sprint(old)+" was cut off, read through it", readAll(t, c.Node(iso), "during"), []string{"after-the-heal"})
	t.Logf("controller %d isolated; nodes %d and %d elected %d after %v", old, rest[0]+1, rest[1]+1, next, elected.Round(time.Millisecond))
}
