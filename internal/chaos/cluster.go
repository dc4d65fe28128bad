package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/localcluster"
	"github.com/samsa-streaming/samsa/internal/netfault"
)

// cluster is the run's samsa serve processes and the fault proxies every
// connection between them passes through: node i reaches node j's Kafka
// and controller listeners only through links[i][j] (samsa serve
// --internal-dial-overrides), so cutting a link cuts replica fetches,
// raft and the controller RPC (registration, heartbeats) between them.
// Clients of the workload reach every node directly.
type cluster struct {
	exe      string
	dir      string
	logLevel string
	sets     []string
	kafka    []int
	ctl      []int
	links    [][]*nodeLinks // [from][to], 0-based; nil on the diagonal

	mu    sync.Mutex
	nodes []*localcluster.Node // 0-based; replaced on restart

	netMu  sync.Mutex
	cuts   map[[2]int]map[int]bool          // (from, to) -> faults blocking what from sends to
	delays map[[2]int]map[int]time.Duration // (from, to) -> faults delaying it
}

// nodeLinks are the two links from one node to another.
type nodeLinks struct{ kafka, ctl *netfault.Link }

func (l *nodeLinks) set(dir netfault.Direction, f netfault.Fault) {
	l.kafka.Set(dir, f)
	l.ctl.Set(dir, f)
}

func newCluster(exe, dir string, n int, logLevel string, sets []string, seed uint64) (*cluster, error) {
	kafka, ctl, err := localcluster.Ports(n, 0)
	if err != nil {
		return nil, err
	}
	c := &cluster{exe: exe, dir: dir, logLevel: logLevel, sets: sets, kafka: kafka, ctl: ctl,
		nodes: make([]*localcluster.Node, n), cuts: map[[2]int]map[int]bool{}, delays: map[[2]int]map[int]time.Duration{}}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	c.links = make([][]*nodeLinks, n)
	for i := range n {
		c.links[i] = make([]*nodeLinks, n)
		for j := range n {
			if i == j {
				continue
			}
			k, err := netfault.NewLink(netfault.LinkConfig{Target: localcluster.HostPort(kafka[j]), Seed: seed + uint64(i*n+j), Logger: quiet})
			if err != nil {
				c.closeLinks()
				return nil, err
			}
			ct, err := netfault.NewLink(netfault.LinkConfig{Target: localcluster.HostPort(ctl[j]), Seed: seed + uint64(i*n+j) + 1<<32, Logger: quiet})
			if err != nil {
				k.Close()
				c.closeLinks()
				return nil, err
			}
			c.links[i][j] = &nodeLinks{kafka: k, ctl: ct}
		}
	}
	return c, nil
}

func (c *cluster) size() int { return len(c.kafka) }

func (c *cluster) closeLinks() {
	for _, row := range c.links {
		for _, l := range row {
			if l != nil {
				l.kafka.Close()
				l.ctl.Close()
			}
		}
	}
}

// addrs are the nodes' Kafka listeners, the clients' bootstrap list.
func (c *cluster) addrs() []string {
	out := make([]string, c.size())
	for i, p := range c.kafka {
		out[i] = localcluster.HostPort(p)
	}
	return out
}

// args is node id's samsa serve command line (id counts from 1): cluster
// local's, with its dials to the others sent through its links.
func (c *cluster) args(id int) []string {
	var overrides []string
	for j, l := range c.links[id-1] {
		if l == nil {
			continue
		}
		overrides = append(overrides,
			localcluster.HostPort(c.kafka[j])+"=>"+l.kafka.Addr(),
			localcluster.HostPort(c.ctl[j])+"=>"+l.ctl.Addr())
	}
	args := localcluster.ServeArgs(c.dir, id, c.kafka, c.ctl, c.logLevel, c.sets)
	return append(args, "--internal-dial-overrides", strings.Join(overrides, ","))
}

// start starts node id (from 1).
func (c *cluster) start(id int) error {
	n, err := localcluster.Start(c.exe, id, localcluster.HostPort(c.kafka[id-1]), localcluster.LogPath(c.dir, id), c.args(id))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes[id-1] = n
	c.mu.Unlock()
	return nil
}

func (c *cluster) node(id int) *localcluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id-1]
}

func (c *cluster) all() []*localcluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*localcluster.Node
	for _, n := range c.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// kill kills node id with SIGKILL and waits until it is gone.
func (c *cluster) kill(id int) { c.node(id).Kill() }

// running reports whether node id's process has not exited.
func (c *cluster) running(id int) bool {
	n := c.node(id)
	return n != nil && !n.Exited()
}

func (c *cluster) signal(id int, sig syscall.Signal) error { return c.node(id).Signal(sig) }

// waitReady waits until every running node answers Metadata listing them all.
func (c *cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	return localcluster.WaitReady(ctx, c.all(), timeout)
}

// waitServing waits until node id answers Metadata (listing any broker),
// the node exits, or timeout passes.
func (c *cluster) waitServing(ctx context.Context, id int, timeout time.Duration) error {
	n := c.node(id)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if n.Exited() {
			return &localcluster.Exited{Node: n}
		}
		_, err := localcluster.MetadataBrokers(ctx, n.Addr)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("node %d not answering Metadata after %v: %v", id, timeout, err)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// stopAll stops every node (SIGTERM, SIGKILL after timeout).
func (c *cluster) stopAll(timeout time.Duration) error {
	return localcluster.StopAll(c.all(), timeout)
}

// cut blocks what from sends to (node ids from 1) for fault id; uncut
// lets it go again. A direction is blocked while any fault blocks it.
func (c *cluster) cut(id, from, to int) {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	k := [2]int{from, to}
	if c.cuts[k] == nil {
		c.cuts[k] = map[int]bool{}
	}
	c.cuts[k][id] = true
	c.applyLocked(from, to)
}

// delay adds latency d to what from sends to for fault id.
func (c *cluster) delay(id, from, to int, d time.Duration) {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	k := [2]int{from, to}
	if c.delays[k] == nil {
		c.delays[k] = map[int]time.Duration{}
	}
	c.delays[k][id] = d
	c.applyLocked(from, to)
}

// heal takes fault id's cuts and delays away.
func (c *cluster) heal(id int) {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	for from := 1; from <= c.size(); from++ {
		for to := 1; to <= c.size(); to++ {
			k := [2]int{from, to}
			if c.cuts[k][id] || c.delays[k][id] != 0 {
				delete(c.cuts[k], id)
				delete(c.delays[k], id)
				c.applyLocked(from, to)
			}
		}
	}
}

// healAll takes every cut and delay away.
func (c *cluster) healAll() {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	clear(c.cuts)
	clear(c.delays)
	for from := 1; from <= c.size(); from++ {
		for to := 1; to <= c.size(); to++ {
			if from != to {
				c.applyLocked(from, to)
			}
		}
	}
}

// applyLocked sets the links carrying what from sends to: to-target on
// from's links to to (connections from opened), from-target on to's links
// to from (connections to opened).
func (c *cluster) applyLocked(from, to int) {
	k := [2]int{from, to}
	var f netfault.Fault
	if len(c.cuts[k]) > 0 {
		f.Mode = netfault.Blackhole
	} else if len(c.delays[k]) > 0 {
		f.Delay = slices.Max(slices.Collect(maps.Values(c.delays[k])))
	}
	c.links[from-1][to-1].set(netfault.ToTarget, f)
	c.links[to-1][from-1].set(netfault.FromTarget, f)
}

// admin is a client of every node for the runner's own questions
// (metadata, end offsets), refreshing metadata at most every 100ms.
func (c *cluster) admin() (*kadm.Client, *kgo.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryTimeout(5*time.Second), kgo.DialTimeout(time.Second), kgo.RequestTimeoutOverhead(2*time.Second))
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

// leaders returns each partition's leader and the active controller as
// some node answering Metadata sees them, within a second; ok is false if
// none answered.
func leaders(ctx context.Context, adm *kadm.Client, topic string) (led map[int32]int, controller int, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, 0, false
	}
	led = map[int32]int{}
	for p, pd := range md.Topics[topic].Partitions {
		if pd.Err == nil && pd.Leader >= 0 {
			led[p] = int(pd.Leader)
		}
	}
	return led, int(md.Controller), true
}

func nodeName(id int) string { return fmt.Sprintf("node %d", id) }
