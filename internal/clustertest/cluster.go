package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/localcluster"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configures a Cluster.
type Options struct {
	// Nodes is how many nodes to start; at least 1.
	Nodes int
	// Independent starts the nodes as single-node clusters that know
	// nothing of each other (each its own controller), instead of one
	// cluster of combined broker,controller nodes that are all voters.
	Independent bool
	// Static are the broker configs every node gets.
	Static map[string]string
	// Node, if set, returns node i's own configs, applied over Static
	// (broker.rack, say). Node i's node.id is i+1 unless set here.
	Node func(i int) map[string]string
	// Absent are nodes Start does not start (a cluster one of whose nodes
	// has not come up yet): they are configured and linked like the others
	// and start with Node.Restart. Not with Independent.
	Absent []int
	// Seed seeds the links' Loss draws (link i→j gets Seed+i*Nodes+j).
	Seed   uint64
	Logger *slog.Logger
}

// route is one ordered pair of nodes, to the Kafka listener of to or to
// its controller listener.
type route struct {
	from, to   int
	controller bool
}

// Cluster is N in-process nodes with a Link for every ordered pair (i, j),
// the path node i takes to reach node j's Kafka listener, and unless
// Options.Independent a second one to its controller listener. Nodes are
// indexed from 0.
type Cluster struct {
	t           testing.TB
	nodes       []*Node
	addrs       []string // node i's Kafka listener, for its whole life
	controllers []string // and its controller listener; nil if Independent
	links       map[route]*Link
}

// Start starts opts.Nodes nodes in subdirectories of one t.TempDir(), each
// on its own 127.0.0.1 ports, and the links between them; the test's end
// stops them all (cleanly) and closes the links. It fails the test if a
// node does not start.
//
// Unless opts.Independent, the nodes are one cluster: every node is a
// broker and a voter of the metadata quorum (process.roles
// broker,controller, listeners PLAINTEXT and CONTROLLER on ports reserved
// before the first start and kept across restarts, controller.quorum.voters
// naming all of them), started together since a voter alone cannot elect a
// leader. Node i dials other nodes through Dialer(i), so its replica
// fetchers cross Link(i, j) and its quorum connections (raft's transport
// and the controller RPC, quorum.Config.Dial) ControllerLink(i, j). Unless
// some are Absent, it returns once every node's image has every node
// unfenced (and __consumer_offsets).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes < 1 {
		t.Fatalf("clustertest: Options.Nodes is %d, want at least 1", opts.Nodes)
	}
	root := t.TempDir()
	c := &Cluster{t: t, links: make(map[route]*Link)}
	statics := make([]map[string]string, opts.Nodes)
	for i := range statics {
		static := maps.Clone(opts.Static)
		if static == nil {
			static = map[string]string{}
		}
		static["node.id"] = strconv.Itoa(i + 1)
		statics[i] = static
	}
	if opts.Independent {
		for i, static := range statics {
			if opts.Node != nil {
				maps.Copy(static, opts.Node(i))
			}
			n := StartNode(t, NodeConfig{Dir: filepath.Join(root, fmt.Sprintf("node%d", i)), Static: static, Logger: opts.Logger})
			c.nodes, c.addrs = append(c.nodes, n), append(c.addrs, n.Addr())
		}
		c.link(opts)
		return c
	}

	// The ports stay bound until the nodes start, so that the links'
	// listeners made meanwhile cannot be given one of them.
	held := reservePorts(t, 2*opts.Nodes)
	var kafka, controller []string
	for i, l := range held {
		if i < opts.Nodes {
			kafka = append(kafka, l.Addr().String())
		} else {
			controller = append(controller, l.Addr().String())
		}
	}
	c.addrs, c.controllers = kafka, controller
	var voters []string
	for i, p := range controller {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, p))
	}
	c.link(opts)
	for i, static := range statics {
		static["process.roles"] = "broker,controller"
		static["controller.listener.names"] = "CONTROLLER"
		static["controller.quorum.voters"] = strings.Join(voters, ",")
		static["listeners"] = "PLAINTEXT://" + kafka[i] + ",CONTROLLER://" + controller[i]
		if opts.Node != nil {
			maps.Copy(static, opts.Node(i))
		}
		c.nodes = append(c.nodes, newNode(t, NodeConfig{
			Dir:    filepath.Join(root, fmt.Sprintf("node%d", i)),
			Static: static,
			Logger: opts.Logger,
			Dial:   c.Dialer(i),
		}))
	}
	for _, l := range held {
		l.Close()
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		if !slices.Contains(opts.Absent, i) {
			wg.Go(func() { errs[i] = n.start() })
		}
	}
	wg.Wait()
	for _, n := range c.nodes {
		t.Cleanup(func() { n.Stop() })
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if len(opts.Absent) == 0 {
		c.waitUnfenced()
		c.awaitOffsetsTopic()
	}
	return c
}

// awaitOffsetsTopic waits until every node's metadata has
// __consumer_offsets, which the first node to see enough brokers
// registered creates after the starts returned, so that tests start from
// a cluster whose groups have coordinators.
func (c *Cluster) awaitOffsetsTopic() {
	c.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ready := true
		for _, n := range c.nodes {
			if b := n.Broker(); b != nil && b.Image().Topics["__consumer_offsets"] == nil {
				ready = false
			}
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("clustertest: __consumer_offsets not created 30 s after the start")
		}
	}
}

// waitUnfenced waits until every node's image has every node registered
// and unfenced. A node's start returns once it has registered, but the
// controller unfences it only at a later heartbeat, and the other nodes
// apply that a moment after: a CreateTopics of replication factor N made
// at once could be refused INVALID_REPLICATION_FACTOR, and a node's
// Metadata could still leave a broker out.
func (c *Cluster) waitUnfenced() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var behind []string
		for i, n := range c.nodes {
			live := map[int32]bool{}
			for _, b := range n.Broker().Image().LiveBrokers() {
				live[b.ID] = true
			}
			for _, m := range c.nodes {
				if id := m.ID(); !live[id] {
					behind = append(behind, fmt.Sprintf("node %d does not see node %d unfenced", i+1, id))
				}
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("clustertest: 30 s after the start: %s", strings.Join(behind, "; "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reservePorts binds n free 127.0.0.1 ports (localcluster.ReservePorts:
// outside the ephemeral range, so no outgoing connection takes one while
// its node is down), for nodes to bind for the rest of the test once the
// caller closes these listeners; the test's end closes them if it fails
// before.
func reservePorts(t testing.TB, n int) []net.Listener {
	t.Helper()
	ls, err := localcluster.ReservePorts(n)
	if err != nil {
		t.Fatalf("clustertest: reserve ports: %v", err)
	}
	for _, l := range ls {
		t.Cleanup(func() { l.Close() })
	}
	return ls
}

// link makes the links between c.addrs, and between c.controllers. Nodes
// keep their addresses across restarts, so a link made once stays right.
func (c *Cluster) link(opts Options) {
	for k, targets := range [][]string{c.addrs, c.controllers} {
		for i := range targets {
			for j := range targets {
				if i == j {
					continue
				}
				// Controller links draw after every Kafka link's seed.
				seed := opts.Seed + uint64((k*opts.Nodes+i)*opts.Nodes+j)
				l, err := NewLink(LinkConfig{Target: targets[j], Seed: seed, Logger: opts.Logger})
				if err != nil {
					c.t.Fatalf("clustertest: %v", err)
				}
				c.t.Cleanup(func() { l.Close() })
				c.links[route{i, j, k == 1}] = l
			}
		}
	}
}

// Node returns node i.
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Nodes returns every node, in order.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Seeds returns every node's address, for a client's seed list.
func (c *Cluster) Seeds() []string {
	return slices.Clone(c.addrs)
}

// Client returns a franz-go client with every node as a seed, closed when
// the test ends. With Options.Independent use Node.Client instead: one
// client seeing several clusters gets metadata that disagrees.
func (c *Cluster) Client(opts ...kgo.Opt) *kgo.Client { return newClient(c.t, c.Seeds(), opts) }

// Admin returns an admin client on Client.
func (c *Cluster) Admin(opts ...kgo.Opt) *kadm.Client { return kadm.NewClient(c.Client(opts...)) }

// Link returns the link node from takes to reach node to's Kafka
// listener.
func (c *Cluster) Link(from, to int) *Link {
	l, ok := c.links[route{from, to, false}]
	if !ok {
		panic(fmt.Sprintf("clustertest: no link from node %d to node %d in a cluster of %d", from, to, len(c.nodes)))
	}
	return l
}

// ControllerLink returns the link node from takes to reach node to's
// controller listener: raft's traffic between them and the controller
// RPC (forwarded proposals, broker heartbeats). An Independent cluster has
// none.
func (c *Cluster) ControllerLink(from, to int) *Link {
	l, ok := c.links[route{from, to, true}]
	if !ok {
		panic(fmt.Sprintf("clustertest: no controller link from node %d to node %d in a cluster of %d", from, to, len(c.nodes)))
	}
	return l
}

// Dialer returns node i's way out: a dial function (the shape of
// kgo.Dialer and net.Dialer.DialContext) that reaches every other node's
// Kafka address through Link(i, j), its controller address through
// ControllerLink(i, j), and anything else directly. Node i's inter-node
// connections go through it, so that the links' faults cut them.
func (c *Cluster) Dialer(i int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	via := make(map[string]string)
	for j, addr := range c.addrs {
		if j != i {
			via[addr] = c.Link(i, j).Addr()
		}
	}
	for j, addr := range c.controllers {
		if j != i {
			via[addr] = c.ControllerLink(i, j).Addr()
		}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if l, ok := via[addr]; ok {
			addr = l
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// Cut applies f to every packet from node from to node to, on both
// listeners: the requests on from's connections to to (Link(from, to) and
// ControllerLink(from, to), ToTarget) and the answers on to's connections
// to from (Link(to, from) and ControllerLink(to, from), FromTarget).
// Cut(a, b, Fault{Mode: Blackhole}) alone is a one-way partition; with
// Cut(b, a, ...) too, a full one between the two.
func (c *Cluster) Cut(from, to int, f Fault) {
	for _, controller := range []bool{false, true} {
		if l, ok := c.links[route{from, to, controller}]; ok {
			l.Set(ToTarget, f)
		}
		if l, ok := c.links[route{to, from, controller}]; ok {
			l.Set(FromTarget, f)
		}
	}
}

// Partition blackholes all traffic between the groups of nodes, both ways;
// nodes in one group still reach each other. Nodes in no group keep all
// their links (a bridge between the groups when they are listed nowhere).
func (c *Cluster) Partition(groups ...[]int) {
	for g, a := range groups {
		for h, b := range groups {
			if g == h {
				continue
			}
			for _, i := range a {
				for _, j := range b {
					c.Cut(i, j, Fault{Mode: Blackhole})
				}
			}
		}
	}
}

// Isolate blackholes all traffic between node i and every other node.
func (c *Cluster) Isolate(i int) {
	var rest []int
	for j := range c.nodes {
		if j != i {
			rest = append(rest, j)
		}
	}
	c.Partition([]int{i}, rest)
}

// Heal passes every link again.
func (c *Cluster) Heal() {
	for _, l := range c.links {
		l.Heal()
	}
}
