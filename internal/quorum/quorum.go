package quorum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
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
	// StartTimeout bounds how long Open waits for leadership and for the log
	// to be applied; 0 means 30 seconds.
	StartTimeout time.Duration
	// WALFS holds the raft log's segment files; nil is the operating
	// system's. Tests inject a full disk through it (package walfault).
	WALFS types.VFS

	// Knobs for tests; zero means the production value.
	snapshotThreshold uint64
	snapshotInterval  time.Duration
	walVFS            types.VFS                             // raft-wal's segment files
	wrapMeta          func(types.MetaStore) types.MetaStore // raft-wal's segment list and stable store
}

// Timings for a one-voter quorum: nobody else can win an election, so there is
// no reason to wait long before electing ourselves at start-up.
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

	closeOnce sync.Once
	closeErr  error
}

// Open starts raft on cfg.Dir, bootstraps a one-voter quorum (and a random
// cluster ID) if the directory is new, and returns once this node is the
// leader and has applied the whole log.
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
	c := &Controller{cfg: cfg, logger: cfg.Logger, meta: &metadb.BoltMetaDB{}}
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
	addr, transport := newTransport(c.cfg)
	c.transport = transport
	c.notifier = newNotifier()
	c.fsm = newFSM(c.notifier, c.logger)

	err = noPanic("start raft", func() (err error) {
		c.raft, err = raft.NewRaft(c.raftConfig(hl), c.fsm, c.log, c.log, snapshots, transport)
		return err
	})
	if err != nil {
		return fmt.Errorf("quorum: start raft on %s: %w", c.cfg.Dir, err)
	}
	if existing {
		if err := c.checkVoter(); err != nil {
			return err
		}
	} else {
		servers := []raft.Server{{Suffrage: raft.Voter, ID: serverID(c.cfg.NodeID), Address: addr}}
		if err := c.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			return fmt.Errorf("quorum: bootstrap: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StartTimeout)
	defer cancel()
	if err := c.awaitLeadership(ctx); err != nil {
		return err
	}
	if err := c.raft.Barrier(time.Until(deadline(ctx))).Error(); err != nil {
		return fmt.Errorf("quorum: catch up with the log: %w", err)
	}
	if c.Image().ClusterID == "" {
		id := metadata.NewTopicID().String() // Kafka's cluster IDs are random UUIDs printed the same way
		if _, err := c.propose(ctx, metadata.SetClusterID{ClusterID: id}); err != nil {
			return fmt.Errorf("quorum: set cluster ID: %w", err)
		}
	}
	c.logger.Info("metadata quorum ready", "node", c.cfg.NodeID, "new", !existing,
		"index", c.Image().Index, "took", time.Since(start))
	return nil
}

// checkVoter fails fast when Dir belongs to a quorum this node is not a voter
// of (say, node.id changed), instead of waiting StartTimeout for an election
// it cannot win.
func (c *Controller) checkVoter() error {
	future := c.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return fmt.Errorf("quorum: read configuration: %w", err)
	}
	var voters []raft.ServerID
	for _, s := range future.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			if s.ID == serverID(c.cfg.NodeID) {
				return nil
			}
			voters = append(voters, s.ID)
		}
	}
	return fmt.Errorf("quorum: node %d is not a voter of the metadata quorum in %s (voters %v)", c.cfg.NodeID, c.cfg.Dir, voters)
}

func (c *Controller) raftConfig(hl hclog.Logger) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = serverID(c.cfg.NodeID)
	conf.HeartbeatTimeout = singleVoterHeartbeat
	conf.ElectionTimeout = singleVoterHeartbeat
	conf.LeaderLeaseTimeout = singleVoterHeartbeat
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
	conf.Logger = hl
	return conf
}

func serverID(node int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(node))) }

// newTransport returns this node's raft transport. A single node talks to no
// one, so it is in memory with a fixed address; a restart with the same Dir
// finds itself in the stored configuration under that address.
func newTransport(cfg Config) (raft.ServerAddress, raft.Transport) {
	return raft.NewInmemTransport(raft.ServerAddress("samsa-node-" + strconv.Itoa(int(cfg.NodeID))))
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// awaitLeadership polls until this node is the leader: raft's LeaderCh drops
// transitions when nobody is reading, so polling is the simpler correct wait.
func (c *Controller) awaitLeadership(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for c.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("quorum: node %d not elected leader within %v: %w", c.cfg.NodeID, c.cfg.StartTimeout, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

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
	if c.log != nil {
		c.log.abort()
	}
	if c.raft != nil {
		// Shutdown also closes the transport (raft.WithClose).
		errs = append(errs, c.raft.Shutdown().Error())
	} else if t, ok := c.transport.(raft.WithClose); ok {
		errs = append(errs, t.Close())
	}
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
