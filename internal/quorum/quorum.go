package quorum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/types"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Config configures a metadata quorum node.
type Config struct {
	// Dir holds the raft log, stable store and snapshots, conventionally
	// <data-dir>/__metadata. It is created if missing.
	Dir string
	// NodeID is this node's ID: the broker's node.id and its raft server ID.
	NodeID int32
	// Logger receives raft's warnings and errors; nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds how long WaitReady waits for the node to be ready
	// (see WaitReady) when its context allows longer; 0 means 30 seconds.
	StartTimeout time.Duration
	// Forwarder, if set, takes the proposals of a node that is not the
	// active controller to the one that is. Nil means the controller RPC
	// in a quorum of several nodes, and NOT_CONTROLLER on a standalone one.
	Forwarder Forwarder
	// WALFS holds the raft log's segment files; nil is the operating
	// system's. Tests inject a full disk through it (package walfault).
	WALFS types.VFS

	// Voters are the voters a quorum of several nodes starts with
	// (controller.quorum.voters). Empty, with no Bootstrap either, means a
	// standalone node: the one voter of its quorum, over an in-memory
	// transport. Once raft has state, its configuration is the voter set
	// (AddVoter and RemoveVoter change it); Voters only say whether this
	// node was configured as a voter.
	Voters []Peer
	// Bootstrap is controller.quorum.bootstrap.servers: controller
	// listeners where a node that is not among Voters (a controller to be
	// added with AddVoter, or a broker) finds the quorum.
	Bootstrap []string
	// BrokerOnly marks a node without the controller role
	// (process.roles=broker): it never votes, so AddVoter refuses it and
	// Open refuses raft state that makes it a voter.
	BrokerOnly bool
	// ListenerName is the controller listener's name
	// (controller.listener.names): AddRaftVoter names the new voter's
	// endpoint by it. Empty means CONTROLLER.
	ListenerName string
	// Listen is the address raft and the controller RPC listen on: a
	// voter's controller listener, or for a node that is not a voter the
	// address it receives the metadata log at (port 0 picks one).
	Listen string
	// Advertise is the host:port peers reach Listen at (port 0: the bound
	// port); empty means the node's entry in Voters, else the bound
	// address.
	Advertise string
	// Liveness is the broker heartbeat timings (defaults: 2 s and 9 s).
	Liveness Liveness
	// UncleanLeaderElection resolves unclean.leader.election.enable for a
	// topic, given the dynamic broker configs: whether the active
	// controller may elect an out-of-sync replica of its partitions that
	// have no live ISR member. Nil never does.
	UncleanLeaderElection func(t *metadata.Topic, brokerConfigs map[string]string) bool
	// Dial makes this node's connections to its peers: raft's transport
	// and the controller RPC; nil is a net.Dialer. The cluster test
	// harness routes them through its fault links.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LeaderBalance is the automatic preferred leader election (off
	// unless enabled; reassign.go).
	LeaderBalance LeaderBalance

	// Knobs for tests; zero means the production value.
	snapshotThreshold uint64
	snapshotInterval  time.Duration
	electionTimeout   time.Duration                         // heartbeat and election timeout
	walVFS            types.VFS                             // raft-wal's segment files
	wrapMeta          func(types.MetaStore) types.MetaStore // raft-wal's segment list and stable store
}

// dial connects to a peer through cfg.Dial, else directly.
func (cfg Config) dial(ctx context.Context, addr string) (net.Conn, error) {
	if cfg.Dial != nil {
		return cfg.Dial(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// clustered reports a quorum of several nodes (over TCP).
func (cfg Config) clustered() bool { return len(cfg.Voters) > 0 || len(cfg.Bootstrap) > 0 }

// configuredVoter reports whether node is one of Config.Voters, or the
// node itself on a standalone node.
func (cfg Config) configuredVoter(node int32) bool {
	if !cfg.clustered() {
		return node == cfg.NodeID
	}
	return slices.ContainsFunc(cfg.Voters, func(p Peer) bool { return p.ID == node })
}

// isVoter reports whether node is a voter: the node itself on a standalone
// node, else a voter of raft's latest configuration, or of Voters while
// raft has none (a new quorum before its bootstrap).
func (c *Controller) isVoter(node int32) bool {
	if !c.cfg.clustered() {
		return node == c.cfg.NodeID
	}
	if servers := c.configuration(); len(servers) > 0 {
		return slices.Contains(voterIDs(servers), node)
	}
	return c.cfg.configuredVoter(node)
}

// Timings for a one-voter quorum: nobody else can win an election, so there is
// no reason to wait long before electing ourselves at start-up. A quorum of
// several nodes keeps raft's defaults (heartbeat and election timeouts of
// 1 s, as Kafka's controller.quorum.election.timeout.ms).
const (
	singleVoterHeartbeat = 50 * time.Millisecond
	defaultStartTimeout  = 30 * time.Second
	walSegmentSize       = 4 << 20 // segments are preallocated; metadata records are small
	snapshotsRetained    = 2
)

// Controller is a node of the metadata quorum: it owns raft, the state
// machine and the notifier goroutine. Its methods are safe for concurrent use.
type Controller struct {
	cfg       Config
	logger    *slog.Logger
	raft      *raft.Raft
	fsm       *fsm
	notifier  *notifier
	log       *logStore
	meta      types.MetaStore
	transport raft.Transport
	localAddr raft.ServerAddress
	progress  *progress // the leader's view of each replica (progressTransport)

	running  chan struct{}         // closed once c.raft is set: the controller RPC waits for it
	ready    chan struct{}         // closed once the node is ready (WaitReady)
	waiting  atomic.Pointer[error] // what the starter waits for, while not ready
	quit     chan struct{}         // closed by Close: stops the starter
	ctx      context.Context       // cancelled by Close: bounds RPCs and proposals of our goroutines
	cancel   context.CancelFunc
	starters sync.WaitGroup // the starter, liveness and heartbeat goroutines

	live     liveness                                    // the active controller's view of broker heartbeats
	recov    recovery                                    // the active controller's view of the brokers' log reports
	reporter atomic.Pointer[func() []metadata.LogReport] // this node's broker's log reports (SetLogReporter)
	liveWake chan struct{}                               // wakes the liveness watcher when a session closes
	joined   atomic.Pointer[registration]                // this node's broker registration (Join)
	leaving  atomic.Bool                                 // Shutdown was called: controlled shutdown
	beatNow  chan struct{}                               // wakes the heartbeater
	left     chan struct{}                               // closed once the controlled shutdown is granted
	leftOnce sync.Once

	raftTimings  raft.Config // the configured timeouts, which a suspicion lowers for a while
	suspectMu    sync.Mutex
	suspected    raft.ServerID // guarded by suspectMu: the leader suspected dead, or ""
	suspectTimer *time.Timer   // guarded by suspectMu
	fastTimeouts bool          // guarded by suspectMu: raft runs with lowered timeouts

	closeOnce sync.Once
	closeErr  error
}

// Forwarder takes a proposal of a node that is not the active controller to
// the active controller, which proposes it, and returns apply's result (a
// rejected record's *kerr.Error as the error, as propose does). It is the
// seam for Kafka's forwarding of controller requests; the controller RPC
// (rpcForwarder) implements it.
type Forwarder interface {
	Forward(ctx context.Context, r metadata.Record) (metadata.Result, error)
}

// Open starts raft on cfg.Dir and bootstraps a one-voter quorum if the
// directory is new. It returns once raft runs, without waiting for an
// election: the image may still be behind the log. Callers that need the
// whole image or the controller (the broker, before it serves) call
// WaitReady.
func Open(cfg Config) (*Controller, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = defaultStartTimeout
	}
	if cfg.NodeID < 0 {
		return nil, fmt.Errorf("quorum: negative node ID %d", cfg.NodeID)
	}
	walDir := filepath.Join(cfg.Dir, "wal")
	if err := os.MkdirAll(walDir, 0o755); err != nil {
		return nil, fmt.Errorf("quorum: %w", err)
	}
	cfg.Liveness = cfg.Liveness.withDefaults()
	c := &Controller{cfg: cfg, logger: cfg.Logger, meta: &metadb.BoltMetaDB{},
		running: make(chan struct{}), ready: make(chan struct{}), quit: make(chan struct{}), liveWake: make(chan struct{}, 1),
		beatNow: make(chan struct{}, 1), left: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if cfg.wrapMeta != nil {
		c.meta = cfg.wrapMeta(c.meta)
	}
	if err := c.start(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Controller) start() error {
	start := time.Now()
	hl := newHCLogger(c.logger)
	walDir := filepath.Join(c.cfg.Dir, "wal")
	err := noPanic("open raft log", func() (err error) {
		vfs := c.cfg.WALFS
		if vfs == nil {
			vfs = walfs.New()
		}
		c.log, err = openLogStore(walDir, vfs, c.meta, hl, c.logger)
		return err
	})
	if err != nil && notDamage(err) {
		return fmt.Errorf("quorum: open the metadata log in %s: %w", walDir, err)
	}
	if err == nil {
		err = noPanic("read raft log", func() error { return checkLog(c.log) })
	}
	if err != nil {
		return damaged(walDir, err)
	}
	snapshots, err := raft.NewFileSnapshotStoreWithLogger(c.cfg.Dir, snapshotsRetained, hl)
	if err != nil {
		return fmt.Errorf("quorum: open snapshot store: %w", err)
	}
	existing, err := raft.HasExistingState(c.log, c.log, snapshots)
	if err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	addr, transport, err := newTransport(c.cfg, hl, c.serveRPC)
	if err != nil {
		return err
	}
	c.progress = &progress{}
	var running atomic.Pointer[raft.Raft] // raft's goroutines may send before NewRaft returns
	transport = newProgressTransport(transport, c.progress, func() uint64 {
		if r := running.Load(); r != nil {
			return r.LastIndex() // raft's own, not the log store's (which a reopen after a full disk locks)
		}
		return 0
	})
	c.transport, c.localAddr = transport, addr
	c.notifier = newNotifier()
	c.fsm = newFSM(c.notifier, c.logger)

	conf := c.raftConfig(hl)
	c.raftTimings = raft.Config{HeartbeatTimeout: conf.HeartbeatTimeout, ElectionTimeout: conf.ElectionTimeout, LeaderLeaseTimeout: conf.LeaderLeaseTimeout}
	err = noPanic("start raft", func() (err error) {
		c.raft, err = raft.NewRaft(conf, c.fsm, c.log, c.log, snapshots, transport)
		return err
	})
	if err != nil {
		return fmt.Errorf("quorum: start raft on %s: %w", c.cfg.Dir, err)
	}
	running.Store(c.raft)
	close(c.running)
	switch {
	case existing:
		// Raft's stored configuration says who votes. A node configured
		// as a voter must still be one: one removed since (RemoveVoter)
		// is refused rather than left to wait for an election. A node
		// without the controller role must not be one.
		if c.cfg.configuredVoter(c.cfg.NodeID) {
			if err := c.checkVoter(); err != nil {
				return err
			}
		}
		if c.cfg.BrokerOnly && c.isVoter(c.cfg.NodeID) {
			return fmt.Errorf("quorum: node %d is a voter of the metadata quorum in %s, but config process.roles has no controller role: "+
				"start it with process.roles=broker,controller, or remove it from the voters first (RemoveRaftVoter, samsa cluster quorum remove)",
				c.cfg.NodeID, c.cfg.Dir)
		}
	case !c.cfg.configuredVoter(c.cfg.NodeID):
		// Not a voter: the leader adds it as a non-voter when it
		// registers (Join), and raft's stored configuration after that.
	default:
		if err := c.raft.BootstrapCluster(raft.Configuration{Servers: c.bootstrapServers(addr)}).Error(); err != nil {
			return fmt.Errorf("quorum: bootstrap: %w", err)
		}
	}
	c.starters.Add(3)
	go c.becomeReady(start, existing)
	go c.watchLiveness()
	go c.balanceLeaders()
	return nil
}

// bootstrapServers is the first configuration of a new quorum: this node
// alone when standalone, else every voter. Every voter bootstraps the same
// configuration, which raft accepts; a node with raft state never
// bootstraps again.
func (c *Controller) bootstrapServers(self raft.ServerAddress) []raft.Server {
	if !c.cfg.clustered() {
		return []raft.Server{{Suffrage: raft.Voter, ID: serverID(c.cfg.NodeID), Address: self}}
	}
	servers := make([]raft.Server, len(c.cfg.Voters))
	for i, v := range c.cfg.Voters {
		servers[i] = raft.Server{Suffrage: raft.Voter, ID: serverID(v.ID), Address: raft.ServerAddress(v.Addr)}
	}
	return servers
}

// checkVoter fails fast when Dir belongs to a quorum this node is not a voter
// of (say, node.id changed), instead of waiting StartTimeout for an election
// it cannot win.
func (c *Controller) checkVoter() error {
	future := c.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return fmt.Errorf("quorum: read configuration: %w", err)
	}
	servers := future.Configuration().Servers
	voters := voterIDs(servers)
	if slices.Contains(voters, c.cfg.NodeID) {
		return nil
	}
	if slices.ContainsFunc(servers, func(s raft.Server) bool { return s.ID == serverID(c.cfg.NodeID) }) {
		return fmt.Errorf("quorum: node %d was removed from the voters of the metadata quorum in %s (voters now %v), "+
			"but config controller.quorum.voters still names it: to run it as a broker and observer, start it with "+
			"controller.quorum.bootstrap.servers instead of controller.quorum.voters (and add it back as a voter "+
			"with AddRaftVoter, samsa cluster quorum add, if wanted)", c.cfg.NodeID, c.cfg.Dir, voters)
	}
	return fmt.Errorf("quorum: node %d is not a voter of the metadata quorum in %s (voters %v)", c.cfg.NodeID, c.cfg.Dir, voters)
}

func (c *Controller) raftConfig(hl hclog.Logger) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = serverID(c.cfg.NodeID)
	if !c.cfg.clustered() {
		conf.HeartbeatTimeout = singleVoterHeartbeat
		conf.ElectionTimeout = singleVoterHeartbeat
		conf.LeaderLeaseTimeout = singleVoterHeartbeat
	}
	if c.cfg.electionTimeout > 0 {
		conf.HeartbeatTimeout = c.cfg.electionTimeout
		conf.ElectionTimeout = c.cfg.electionTimeout
		conf.LeaderLeaseTimeout = c.cfg.electionTimeout
	}
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1024
	conf.TrailingLogs = 1024
	if c.cfg.snapshotThreshold > 0 {
		conf.SnapshotThreshold = c.cfg.snapshotThreshold
		conf.TrailingLogs = c.cfg.snapshotThreshold
	}
	if c.cfg.snapshotInterval > 0 {
		conf.SnapshotInterval = c.cfg.snapshotInterval
	}
	conf.NoLegacyTelemetry = true
	// A leader removed from the voters (RemoveVoter demotes it) steps
	// down and follows as a non-voter, as a removed Kafka controller goes
	// on as an observer; raft's default would shut raft down.
	conf.ShutdownOnRemove = false
	conf.Logger = hl
	return conf
}

func serverID(node int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(node))) }

// errNoLeader and errCatchingUp are what a node that is not ready waits for.
var (
	errNoLeader   = errors.New("no leader elected")
	errCatchingUp = errors.New("catching up with the leader's log")
)

// becomeReady is the starter goroutine: it polls until the node is ready
// (tryReady), then closes c.ready. Raft's LeaderCh drops transitions when
// nobody is reading, so polling is the simpler correct wait. It stops when
// Close closes c.quit; Close's raft.Shutdown fails a Barrier or proposal it
// is blocked in.
func (c *Controller) becomeReady(start time.Time, existing bool) {
	defer c.starters.Done()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.tryReady()
		if err == nil {
			close(c.ready)
			c.logger.Info("metadata quorum ready", "node", c.cfg.NodeID, "new", !existing,
				"index", c.Image().Index, "leader", c.leaderID(), "took", time.Since(start))
			return
		}
		c.waiting.Store(&err)
		select {
		case <-c.quit:
			return
		case <-tick.C:
		}
	}
}

// tryReady returns nil once this node's image holds the whole committed log
// and a cluster ID. The leader knows it after a Barrier (every entry before
// it applied); it then sets the cluster ID of a new quorum. A follower is
// ready once it has heard from a leader and applied what that leader told
// it was committed (the path a non-voter broker takes once the quorum has
// more than one node; a one-voter quorum always leads).
func (c *Controller) tryReady() error {
	if c.raft.State() == raft.Leader {
		if err := c.raft.Barrier(0).Error(); err != nil {
			return fmt.Errorf("catch up with the log: %w", err)
		}
		if c.Image().ClusterID == "" {
			id := metadata.NewTopicID().String() // Kafka's cluster IDs are random UUIDs printed the same way
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StartTimeout)
			defer cancel()
			if _, err := c.propose(ctx, metadata.SetClusterID{ClusterID: id}); err != nil {
				return fmt.Errorf("set cluster ID: %w", err)
			}
		}
		return nil
	}
	if _, id := c.raft.LeaderWithID(); id == "" {
		return errNoLeader
	}
	if c.Image().ClusterID == "" || c.raft.AppliedIndex() < c.raft.CommitIndex() {
		return errCatchingUp
	}
	return nil
}

// Ready is closed once the node is ready: see WaitReady.
func (c *Controller) Ready() <-chan struct{} { return c.ready }

// WaitReady waits until this node's image holds the whole committed log and
// the cluster ID: on a one-voter quorum, once it is elected, has applied
// every entry of its log and (on a new directory) set the cluster ID. It
// waits at most StartTimeout (or until ctx is done) and then returns an
// error saying what the node was still waiting for. A node that is ready
// stays ready: losing leadership later does not un-ready it (proposals then
// answer NOT_CONTROLLER).
func (c *Controller) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	select {
	case <-c.ready:
		return nil
	case <-c.quit:
		return errors.New("quorum: closed before it was ready")
	case <-ctx.Done():
		reason := errNoLeader
		if p := c.waiting.Load(); p != nil {
			reason = *p
		}
		return fmt.Errorf("quorum: node %d not ready (%w): %w", c.cfg.NodeID, reason, ctx.Err())
	}
}

// ActiveController returns the node ID of the active controller, which is
// the Raft leader (hashicorp/raft's LeaderWithID), or -1 while no leader is
// known. When the leader is a controller-only node, which Kafka clients
// cannot reach, and this node is a live broker, it returns this node, which
// forwards controller requests: Kafka's KRaft brokers likewise name a live
// broker as controller in Metadata.
func (c *Controller) ActiveController() int32 {
	leader := c.leaderID()
	if leader == -1 || leader == c.cfg.NodeID || !c.cfg.clustered() {
		return leader
	}
	img := c.Image()
	if _, broker := img.Brokers[leader]; broker {
		return leader
	}
	if self, ok := img.Brokers[c.cfg.NodeID]; ok && !self.Fenced {
		return c.cfg.NodeID
	}
	return leader
}

// leaderID is the Raft leader's node ID, or -1.
func (c *Controller) leaderID() int32 {
	_, id := c.raft.LeaderWithID()
	n, err := strconv.ParseInt(string(id), 10, 32)
	if id == "" || err != nil {
		return -1
	}
	return int32(n)
}

// isActive reports whether this node is the active controller.
func (c *Controller) isActive() bool { return c.raft.State() == raft.Leader }

// Image returns the latest applied metadata image. It never blocks.
func (c *Controller) Image() *metadata.Image { return c.fsm.image.Load() }

// Subscribe calls fn from one goroutine, in log order: first once with an
// empty image as prev and the image current at that point, then after every
// applied change. A diff of prev and next therefore always yields the full
// state. fn must not block for long (it delays later notifications, not raft)
// and must not call Close. After cancel returns, fn is not called again,
// except for a call already in progress.
func (c *Controller) Subscribe(fn func(prev, next *metadata.Image)) (cancel func()) {
	return c.notifier.subscribe(fn)
}

// Close stops raft, the notifier and the stores, and waits for their
// goroutines. Undelivered notifications are dropped.
// Close is idempotent; methods called after Close fail with kerr.NotController.
func (c *Controller) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Controller) close() error {
	var errs []error
	close(c.quit)
	c.cancel()
	c.suspectMu.Lock()
	if c.suspectTimer != nil {
		c.suspectTimer.Stop()
	}
	c.suspected = "closed" // no suspicion from here on
	c.suspectMu.Unlock()
	if c.log != nil {
		c.log.abort()
	}
	if c.raft != nil {
		// Shutdown also closes the transport (raft.WithClose).
		errs = append(errs, c.raft.Shutdown().Error())
	} else if t, ok := c.transport.(raft.WithClose); ok {
		errs = append(errs, t.Close())
	}
	c.starters.Wait() // raft is shut down: a Barrier or proposal it waits in has failed
	if c.notifier != nil {
		c.notifier.close()
	}
	if c.log != nil {
		errs = append(errs, c.log.Close())
	}
	errs = append(errs, c.meta.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("quorum: close: %w", err)
	}
	return nil
}
