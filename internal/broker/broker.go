package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft-wal/types"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/quorum"
	"github.com/samsa-streaming/samsa/internal/replication"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/txncoord"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Config is what a broker needs to start.
type Config struct {
	// DataDir holds the metadata quorum and every partition.
	DataDir string
	// Listen is the Kafka listener's host:port; port 0 picks a free port.
	Listen string
	// Advertise is the host:port clients are told to connect to; empty
	// means the address actually listened on.
	Advertise string
	// Static are broker configs (from --config and --set), Kafka's names.
	Static map[string]string
	Logger *slog.Logger
	// FS holds the partition logs; nil is the operating system's. Tests
	// inject faults (a full disk) through it.
	FS vfs.FS
	// MetadataFS holds the metadata log's segment files (quorum.Config.WALFS);
	// nil is the operating system's. Tests inject a full disk through it.
	MetadataFS types.VFS
	// Dial makes the node's connections to other nodes: the replica
	// fetchers' to other brokers, and the metadata quorum's (raft and the
	// controller RPC, quorum.Config.Dial) to controllers; nil is a
	// net.Dialer. The cluster test harness routes them through its fault
	// links.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Broker is one running Samsa node.
type Broker struct {
	cfg         Config
	logger      *slog.Logger
	lock        *os.File
	controller  *quorum.Controller
	storage     *storage.Manager
	partitions  *partitions
	server      *server.Server
	handlers    *api.Handlers
	groups      *group.Coordinator
	txns        *txncoord.Coordinator
	txnTopicMu  sync.Mutex                           // one creation of __transaction_state at a time
	txnAdd      struct{ backoff, max time.Duration } // add.partitions.to.txn.retry.backoff(.max).ms
	peers       *peerClients
	listeners   []listener // the inter-broker one first
	unsub       func()
	unsubLimits func()
	stop        chan struct{}
	hws         *highWatermarks // nil until the partitions exist
	fetchers    *replication.Manager
	alters      *alterPartitions
	offline     *offlineReports
	// handover bounds the controlled shutdown; 0 (a controller-only
	// node, or Abort) skips it.
	handover  time.Duration
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start builds and starts a broker. On error everything already started is
// stopped again.
func Start(cfg Config) (_ *Broker, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Broker{cfg: cfg, logger: cfg.Logger, stop: make(chan struct{})}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	brokerCfg, err := config.NewBroker(cfg.Static)
	if err != nil {
		return nil, err
	}
	static := brokerCfg.Static()
	nodeID := static.NodeID
	connLimits, err := brokerCfg.ConnectionLimits(nil)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	if b.lock, err = lockDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if static.Cluster.Roles.Controller && !static.Cluster.Roles.Broker {
		if err = b.startController(cfg, brokerCfg); err != nil {
			return nil, err
		}
		return b, nil
	}
	// The Kafka listeners are bound first: their advertised addresses go
	// into the broker's registration, the inter-broker one's (the first)
	// as the address other brokers dial.
	listeners, err := bindListeners(cfg, static, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			for _, l := range listeners {
				l.ln.Close()
			}
		}
	}()
	b.listeners = listeners
	cfg.Listen = listeners[0].bind
	host, port := listeners[0].advertise.Host, listeners[0].advertise.Port
	endpoints := make([]metadata.Endpoint, len(listeners))
	for i, l := range listeners {
		endpoints[i] = l.advertise
	}
	dial, err := interBrokerDial(cfg.Dial, static.Security.Listeners[listeners[0].info.Name], cfg.Logger)
	if err != nil {
		return nil, err
	}
	interBrokerOpts, err := interBrokerSASL(static.Security)
	if err != nil {
		return nil, err
	}
	b.controller, err = quorum.Open(quorumConfig(cfg, brokerCfg, host))
	if err != nil {
		return nil, fmt.Errorf("broker: metadata quorum: %w", err)
	}
	// The logs are opened before the broker registers: whether they were
	// shut down cleanly goes into the registration (an unclean broker
	// leaves the ISRs it was the last member of: metadata.RegisterBroker).
	failures := newLogFailures()
	b.storage, err = storage.NewManager(cfg.DataDir, storage.Options{
		OnFailure:       failures.add,
		FS:              cfg.FS,
		Logger:          cfg.Logger,
		Cleaner:         cleanerOptions(static.Cleaner),
		RecoveryThreads: static.RecoveryThreads,
		MaxOpenSegments: maxOpenSegments(),
	}, static.RetentionCheckInterval)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A broker that is not a voter receives the metadata log once the
	// active controller has its registration, so it registers first.
	brokerEpoch, err := b.controller.Join(ctx, metadata.Broker{Host: host, Port: port, Rack: static.Cluster.Rack, Listeners: endpoints}, !b.storage.CleanStart())
	if err != nil {
		return nil, fmt.Errorf("broker: register: %w", err)
	}
	// Nothing below may act on a partial image: the partitions and the
	// groups follow the whole committed log.
	if err := b.controller.WaitReady(context.Background()); err != nil {
		return nil, fmt.Errorf("broker: metadata quorum: %w", err)
	}
	// Only unfenced brokers get replicas and are in Metadata responses:
	// the first heartbeat after the node is ready unfences it.
	if err := b.controller.WaitUnfenced(ctx); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}

	b.partitions = newPartitions(nodeID, b.storage, brokerCfg, b.controller.Image, cfg.Logger, static.RecoveryThreads)
	b.partitions.removeStale(b.controller.Image())
	b.partitions.replicaLagMs = static.ReplicaLagTimeMax.Milliseconds()
	b.fetchers = replication.New(replication.Config{
		NodeID:      nodeID,
		BrokerEpoch: func() int64 { return brokerEpoch },
		Address: func(id int32) (string, bool) {
			br, ok := b.controller.Image().Brokers[id]
			return net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))), ok
		},
		Dial:                  dial,
		ClientOpts:            interBrokerOpts,
		FetchMaxBytes:         static.ReplicaFetch.MaxBytes,
		FetchResponseMaxBytes: static.ReplicaFetch.ResponseMaxBytes,
		FetchMinBytes:         static.ReplicaFetch.MinBytes,
		FetchWaitMax:          static.ReplicaFetch.WaitMax,
		FetchBackoff:          static.ReplicaFetch.Backoff,
		Logger:                b.logger,
	})
	b.partitions.fetchers = b.fetchers
	b.alters = &alterPartitions{
		nodeID: nodeID, brokerEpoch: func() int64 { return brokerEpoch }, topicID: b.partitions.topicID,
		propose: b.controller.AlterPartition, proposals: proposals{backoff: alterBackoff, logger: b.logger},
	}
	b.alters.init()
	b.partitions.alters = b.alters
	b.partitions.reportNow = b.controller.ReportNow
	b.controller.SetLogReporter(b.partitions.logReports)
	b.offline = &offlineReports{
		nodeID: nodeID, brokerEpoch: func() int64 { return brokerEpoch },
		propose: b.controller.OfflineReplicas, proposals: proposals{backoff: alterBackoff, logger: b.logger},
	}
	b.offline.init()
	b.partitions.offlineReports = b.offline
	b.wg.Add(1)
	go b.handleLogFailures(failures)
	if b.partitions.highWatermarks, err = partition.ReadHighWatermarks(b.logFS(), cfg.DataDir); err != nil {
		// Starting every replica at high watermark 0 is safe: a leader
		// moves it by its ISR, a follower learns the leader's.
		b.logger.Warn("ignoring the high-watermark checkpoint", "err", err)
		err = nil
	}
	b.groups = b.newGroups(static)
	producerIDs := txn.NewIDAllocator(func(ctx context.Context) (int64, int64, error) {
		const block = 1000
		first, err := b.controller.AllocateProducerIDs(ctx, block)
		return first, block, err
	})
	b.peers = &peerClients{dial: dial, opts: interBrokerOpts}
	b.txns = b.newTxns(static, producerIDs)
	b.txnAdd.backoff, b.txnAdd.max = static.Txn.AddRetryBackoff, static.Txn.AddRetryBackoffMax
	// Every side effect of the metadata follows from here, in log order: the
	// first call is the delta from the empty image to the current one.
	b.unsub = b.controller.Subscribe(func(_, next *metadata.Image) {
		b.partitions.follow(next, func(d metadata.Delta, next *metadata.Image) {
			b.followGroups(d, next)
			b.followTxns(d, next)
		})
	})
	b.partitions.Sync()
	if err := b.startGroups(static); err != nil {
		return nil, err
	}

	b.handlers = &api.Handlers{
		NodeID:         nodeID,
		Controller:     b.controller,
		Config:         brokerCfg,
		Partitions:     b.partitions,
		ProducerIDs:    producerIDs,
		Sessions:       api.NewFetchSessions(1000),
		Groups:         b.groups,
		Txns:           b.txns,
		CreateTxnTopic: b.createTxnTopic,
		TxnProduce:     b.txnProduce,
		// The markers of transactions on __consumer_offsets decide their
		// pending offset commits.
		CompleteGroupTxn: b.groups.CompleteTxn,
		Logger:           cfg.Logger,
		LogDir:           cfg.DataDir,
	}
	auth, err := newSASLListeners(static.Security, b.controller.Image)
	if err != nil {
		return nil, err
	}
	if auth != nil {
		b.handlers.Authenticator = auth
	}
	b.server = server.New(server.Config{
		MaxRequestBytes: static.SocketRequestMaxBytes,
		Limits:          b.startLimits(brokerCfg, connLimits),
		Logger:          cfg.Logger,
	}, b.handlers)
	for _, l := range listeners {
		if err := b.server.ServeListener(l.ln, l.info); err != nil {
			return nil, err
		}
	}
	b.unsubLimits = b.followConnectionLimits(brokerCfg)
	b.handover = min(static.Cluster.SessionTimeout, maxHandover)
	b.wg.Add(1)
	go b.expireProducers(brokerCfg)
	b.wg.Add(1)
	go b.expireISR(static.ReplicaLagTimeMax / 2)
	b.hws = &highWatermarks{fs: b.logFS(), dir: cfg.DataDir}
	b.wg.Add(1)
	go b.checkpointHighWatermarks(b.hws, static.HighWatermarkCheckpointInterval)
	for _, l := range listeners {
		b.logger.Info("samsa broker listening", "listener", l.info.Name, "addr", l.ln.Addr().String(), "advertised", net.JoinHostPort(l.advertise.Host, strconv.Itoa(int(l.advertise.Port))), "data-dir", cfg.DataDir, "node-id", nodeID)
	}
	return b, nil
}

// Addr is the address the Kafka listener is bound to: the inter-broker
// listener when there are several. A controller-only node has none: "".
func (b *Broker) Addr() string {
	if len(b.listeners) == 0 {
		return ""
	}
	return b.listeners[0].ln.Addr().String()
}

// ListenerAddr is the address the Kafka listener name is bound to, or "".
func (b *Broker) ListenerAddr(name string) string {
	for _, l := range b.listeners {
		if l.info.Name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// Image is the metadata image this node has applied last (tests read the
// cluster's state through it).
func (b *Broker) Image() *metadata.Image { return b.controller.Image() }

// Close stops the broker: first its controlled shutdown (handOver: the
// controller moves its leaderships, within a few seconds), then in-flight
// requests are answered, the logs are flushed and closed and the quorum
// stops. Later calls return the first call's result.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

// maxHandover bounds a controlled shutdown: a few seconds, then the
// broker stops anyway and its leaderships move when its session closes.
const maxHandover = 5 * time.Second

// Abort is Close without the controlled shutdown: the broker's leaderships
// stay until the controller fences it, as after a crash (the test
// harness's Kill).
func (b *Broker) Abort() error {
	b.closeOnce.Do(func() {
		b.handover = 0
		b.closeErr = b.close()
	})
	return b.closeErr
}

// handOver is the controlled shutdown (Kafka's): if this broker leads a
// partition with another live ISR member, it asks the active controller to
// move its leaderships (quorum.Controller.Shutdown) and waits until its
// replicas have followed the change, so that producers are told
// NOT_LEADER_OR_FOLLOWER with the new leader while it still answers. It
// gives up after b.handover.
func (b *Broker) handOver() {
	if b.handover <= 0 || b.partitions == nil || !leadsWithOthers(b.controller.Image(), b.partitions.nodeID) {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), b.handover)
	defer cancel()
	if err := b.controller.Shutdown(ctx); err != nil {
		b.logger.Warn("controlled shutdown: leaderships not handed over; they move when the controller fences this broker", "err", err)
		return
	}
	b.partitions.Sync()
	// The other nodes apply the change a moment later (raft tells
	// followers of a commit in its next append or heartbeat, within
	// HeartbeatTimeout/10: 100 ms); until they do, their Metadata still
	// names this broker, and a client dialling it as it closes would find
	// a connection reset under its first request, which franz-go does not
	// retry. Answering NOT_LEADER_OR_FOLLOWER meanwhile costs nothing.
	select {
	case <-time.After(handoverLinger):
	case <-ctx.Done():
	}
	b.logger.Info("controlled shutdown: leaderships handed over", "took", time.Since(start).Round(time.Millisecond))
}

// handoverLinger is how long a broker keeps answering after its
// leaderships moved.
const handoverLinger = 200 * time.Millisecond

// leadsWithOthers reports whether node leads a partition whose ISR has
// another unfenced member, to which the controller could move it.
func leadsWithOthers(img *metadata.Image, node int32) bool {
	for _, t := range img.Topics {
		for _, p := range t.Partitions {
			if p.Leader != node {
				continue
			}
			for _, id := range p.ISR {
				if b, ok := img.Brokers[id]; ok && id != node && !b.Fenced {
					return true
				}
			}
		}
	}
	return false
}

func (b *Broker) close() error {
	var errs []error
	b.handOver()
	if b.server != nil {
		errs = append(errs, b.server.Close())
	}
	close(b.stop)
	b.wg.Wait()
	if b.alters != nil {
		b.alters.close() // after the ISR ticker (wg) and the fetches (server)
	}
	if b.offline != nil {
		b.offline.close() // after the log failure handler (wg)
	}
	if b.unsubLimits != nil {
		b.unsubLimits()
	}
	if b.unsub != nil {
		b.unsub()
	}
	if b.partitions != nil {
		b.partitions.stopFollowing() // waits for a delta in progress
	}
	if b.fetchers != nil {
		b.fetchers.Close() // no follower appends while the partitions close
	}
	if b.groups != nil {
		b.groups.Close()
	}
	if b.txns != nil {
		b.txns.Close() // its marker senders stop before the partitions close
	}
	if b.peers != nil {
		b.peers.close()
	}
	if b.hws != nil {
		b.writeHighWatermarks(b.hws) // the ticker has stopped (wg)
	}
	if b.partitions != nil {
		b.partitions.closeAll()
	}
	if b.storage != nil {
		errs = append(errs, b.storage.Close())
	}
	if b.controller != nil {
		errs = append(errs, b.controller.Close())
	}
	if b.lock != nil {
		b.lock.Close()
	}
	return errors.Join(errs...)
}

// expireProducers periodically forgets idempotent producers that have not
// written for producer.id.expiration.ms, as Kafka does, so that producer
// state does not grow without bound.
func (b *Broker) expireProducers(cfg *config.Broker) {
	defer b.wg.Done()
	t := time.NewTicker(cfg.Static().ProducerIDExpirationCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			expiration := cfg.Dynamic(b.controller.Image().BrokerConfigs).ProducerIDExpiration
			b.partitions.each(func(p *partition.Partition) { p.ExpireProducers(now, expiration) })
		}
	}
}

// advertised decides the host and port clients are told: the --advertise
// address, else the bound one (a wildcard bind advertises localhost).
func advertised(advertise string, bound net.Addr) (string, int32, error) {
	hostPort := advertise
	if hostPort == "" {
		hostPort = bound.String()
	}
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", 0, fmt.Errorf("broker: advertised address %q: %w", hostPort, err)
	}
	port, err := strconv.ParseInt(portStr, 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("broker: advertised port %q: %w", portStr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return host, int32(port), nil
}

// maxOpenSegments is the budget of segment file handles: a quarter of the
// descriptors the process may open (Go raises the soft limit to the hard one),
// leaving the rest to connections and the metadata quorum, so that no number
// of partitions runs the broker out of descriptors.
func maxOpenSegments() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1000
	}
	return int(max(64, min(lim.Cur/4, 1<<20)))
}

// lockDir takes an exclusive lock on the data directory so that two
// brokers never share one.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("broker: data directory %s is in use by another process: %w", dir, err)
	}
	return f, nil
}
