package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/quorum/walfault"
)

// NodeConfig is what one node starts with.
type NodeConfig struct {
	// Dir is the data directory; "" is a new t.TempDir().
	Dir string
	// Listen is the Kafka listener; "" is 127.0.0.1:0. Whatever port the
	// first start binds, restarts bind again.
	Listen string
	// Static are the broker configs (Kafka's names), as --set gives them.
	Static map[string]string
	Logger *slog.Logger
	// Dial is the broker's way out to other brokers (broker.Config.Dial:
	// the replica fetchers'); nil dials directly. Cluster.Dialer gives one
	// through the cluster's links.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Node is one in-process broker that can be stopped, killed and started
// again on the same directory and address. Safe for concurrent use: a chaos
// test may kill and restart nodes from its own goroutines (the methods
// return errors instead of failing the test).
type Node struct {
	t   testing.TB
	cfg NodeConfig

	mu      sync.Mutex
	b       *broker.Broker // nil while down
	disk    *crashFS       // the running broker's partition logs
	metaLog *walfault.Disk // and its metadata log
	addr    string
}

// StartNode starts a node and stops it (cleanly) when the test ends. It
// fails the test if the broker does not start.
func StartNode(t testing.TB, cfg NodeConfig) *Node {
	t.Helper()
	n := newNode(t, cfg)
	if err := n.start(); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	t.Cleanup(func() { n.Stop() })
	return n
}

// newNode makes a node that has not started yet. A node whose Static sets
// listeners binds what they say (its ports fixed by the caller) and leaves
// Listen empty, since the broker refuses both.
func newNode(t testing.TB, cfg NodeConfig) *Node {
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if _, ok := cfg.Static["listeners"]; !ok && cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	cfg.Static = maps.Clone(cfg.Static)
	return &Node{t: t, cfg: cfg, addr: cfg.Listen}
}

// start starts the broker; n.mu is held or n is not shared yet.
func (n *Node) start() error {
	disk, metaLog := newCrashFS(), walfault.New()
	listen := n.addr // the port the first start bound
	if n.cfg.Listen == "" {
		listen = "" // listeners fixed it
	}
	b, err := broker.Start(broker.Config{
		DataDir:    n.cfg.Dir,
		Listen:     listen,
		Static:     n.cfg.Static,
		Logger:     n.cfg.Logger,
		FS:         disk,
		MetadataFS: metaLog,
		Dial:       n.cfg.Dial,
	})
	if err != nil {
		return fmt.Errorf("start broker in %s on %s: %w", n.cfg.Dir, n.addr, err)
	}
	n.b, n.disk, n.metaLog, n.addr = b, disk, metaLog, b.Addr()
	return nil
}

// Addr is the Kafka listener's address; it stays the same across restarts.
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// ID is the node's node.id.
func (n *Node) ID() int32 {
	id, err := strconv.ParseInt(n.cfg.Static["node.id"], 10, 32)
	if err != nil {
		panic(fmt.Sprintf("clustertest: node.id %q of the node in %s: %v", n.cfg.Static["node.id"], n.cfg.Dir, err))
	}
	return int32(id)
}

// Dir is the node's data directory.
func (n *Node) Dir() string { return n.cfg.Dir }

// Static returns the node's broker configs.
func (n *Node) Static() map[string]string { return maps.Clone(n.cfg.Static) }

// Broker is the running broker, nil while the node is down. A restart
// makes a new one.
func (n *Node) Broker() *broker.Broker {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.b
}

// Running reports whether the node is up.
func (n *Node) Running() bool { return n.Broker() != nil }

// Stop closes the broker cleanly (broker.Close: hand its leaderships over,
// answer what is in flight,
// flush and close the logs, mark the clean shutdown, stop the quorum). A
// node already down stays down.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.b == nil {
		return nil
	}
	err := n.b.Close()
	n.b = nil
	return err
}

// Kill stops the node as close to kill -9 as a process that must go on
// running allows: first its disk dies — every write, sync, rename or remove
// of the partition logs and of the metadata log's segments fails from this
// instant, while what was written stays, as the kernel keeps it for a
// killed process — and then broker.Abort (Close without the controlled
// shutdown: a killed broker hands nothing over) runs on the dead disk, so that
// nothing it would flush or mark (indexes, producer snapshots, checkpoints,
// the clean-shutdown mark) reaches the directory and the next start
// recovers as after a crash. It also closes every goroutine, listener and
// descriptor, which a test process needs and kill -9 does for free.
//
// What differs from kill -9: requests in flight are still answered (writes
// with errors, since the disk is gone) and connections end with FIN after
// that rather than at once; raft's vote store and snapshots are not
// behind a fault-injecting filesystem, so they are not frozen (the quorum's
// Close writes to neither: raft.Shutdown takes no snapshot). A node
// already down stays down.
func (n *Node) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.b == nil {
		return
	}
	n.disk.kill()
	n.metaLog.Full.Store(true)
	// Close fails on the dead disk by design; only its goroutines and
	// descriptors matter here. Abort: a killed broker hands nothing over.
	_ = n.b.Abort()
	n.b = nil
}

// Restart starts the node again on the same directory and address, after
// stopping it cleanly if it is running: clients that knew the address
// reconnect to it. It fails if something else bound the port while the node
// was down.
func (n *Node) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	if n.b != nil {
		errs = append(errs, n.b.Close())
		n.b = nil
	}
	errs = append(errs, n.start())
	return errors.Join(errs...)
}

// Client returns a franz-go client seeded with this node, closed when the
// test ends. It fails the test on bad options.
func (n *Node) Client(opts ...kgo.Opt) *kgo.Client {
	return newClient(n.t, []string{n.Addr()}, opts)
}

// Admin returns an admin client on Client.
func (n *Node) Admin(opts ...kgo.Opt) *kadm.Client { return kadm.NewClient(n.Client(opts...)) }

func newClient(t testing.TB, seeds []string, opts []kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RetryTimeout(30 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("clustertest: client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}
