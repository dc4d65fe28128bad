package broker

import (
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/replication"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// localTopic is this broker's replicas of one topic. It is never changed
// once published in partitions.topics: readers hold it without a lock.
type localTopic struct {
	id    metadata.TopicID
	parts []*partition.Partition // by partition index; nil where not local
	cfg   config.Topic
}

// partitions is the replica manager: the registry of local replicas, kept
// in step with the metadata by applying, in log order, the delta between
// the image it followed last and the next (follow). Every local replica is
// opened, made leader or follower, and closed and deleted by a delta, never
// by the request that changed the metadata, so every broker does the same
// and a restart (one delta from the empty image) ends in the same state.
//
// Lookups take a read lock; follow, serialised by followMu (the quorum's
// notifier calls it from one goroutine; closeAll also takes followMu),
// swaps entries under the write lock. Lock order: followMu, then mu or
// appliedMu.
type partitions struct {
	nodeID  int32
	storage *storage.Manager
	config  *config.Broker
	image   func() *metadata.Image
	logger  *slog.Logger
	threads int // num.recovery.threads.per.data.dir: partitions opened or closed at once

	followMu sync.Mutex      // serialises follow and closeAll
	followed *metadata.Image // guarded by followMu: the last image followed
	stopped  bool            // guarded by followMu: follow does nothing more
	offline  offline         // replicas that failed to open

	appliedMu sync.Mutex
	applied   uint64        // guarded by appliedMu: Index of the last image followed
	advanced  chan struct{} // guarded by appliedMu: closed when applied moves or stopped
	done      bool          // guarded by appliedMu: stopped following; Sync returns

	mu     sync.RWMutex
	topics map[string]*localTopic

	// Set before the first follow, read-only after: replica.lag.time.max.ms
	// and the high watermarks of replication-offset-checkpoint at start.
	replicaLagMs   int64
	highWatermarks map[partition.TopicPartition]int64
	// fetchers fetch the followers' records from their leaders; nil in
	// tests that drive the roles alone.
	fetchers *replication.Manager
	// alters sends the leaders' ISR changes to the controller, and
	// offlineReports the replicas whose logs failed (logfailure.go); nil
	// in tests that drive the roles alone.
	alters         *alterPartitions
	offlineReports *offlineReports
	// awaiting is the local replicas the controller's recovery election
	// waits to hear of (recovery.go), set by follow; reportNow, when set,
	// makes the broker heartbeat them at once.
	awaiting  atomic.Pointer[[]awaitingReplica]
	reportNow func()
}

func newPartitions(nodeID int32, sm *storage.Manager, cfg *config.Broker, image func() *metadata.Image, logger *slog.Logger, threads int) *partitions {
	return &partitions{
		nodeID: nodeID, storage: sm, config: cfg, image: image, logger: logger, threads: threads,
		followed: metadata.EmptyImage(),
		advanced: make(chan struct{}),
		topics:   make(map[string]*localTopic),
	}
}

// Get implements api.Partitions.
func (r *partitions) Get(topic string, index int32) *partition.Partition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t := r.topics[topic]
	if t == nil || index < 0 || int(index) >= len(t.parts) {
		return nil
	}
	return t.parts[index]
}

// Sync implements api.Partitions: it waits until the delta up to the
// latest applied metadata image has been followed (replicas opened,
// deleted or moved, groups loaded or unloaded), so a request that changed
// the metadata sees its effect in its response. It returns at once after
// the broker stopped following.
func (r *partitions) Sync() {
	target := r.image().Index
	r.appliedMu.Lock()
	defer r.appliedMu.Unlock()
	for r.applied < target && !r.done {
		ch := r.advanced
		r.appliedMu.Unlock()
		<-ch
		r.appliedMu.Lock()
	}
}

// advance records that the image at index has been followed.
func (r *partitions) advance(index uint64, stop bool) {
	r.appliedMu.Lock()
	defer r.appliedMu.Unlock()
	r.applied = max(r.applied, index)
	r.done = r.done || stop
	close(r.advanced)
	r.advanced = make(chan struct{})
}

// follow moves the local replicas from the image followed last to next and
// then calls also with the same delta (the broker's other side effects),
// before Sync callers waiting for next are released. An image not newer
// than the one followed (the quorum's first notification to a subscriber
// may repeat one) changes nothing.
func (r *partitions) follow(next *metadata.Image, also func(metadata.Delta, *metadata.Image)) {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	if r.stopped {
		return
	}
	if next.Index > r.followed.Index {
		d := metadata.ComputeDelta(r.nodeID, r.followed, next)
		r.apply(d, next)
		if r.noteAwaiting(d, next) && r.reportNow != nil {
			r.reportNow()
		}
		if fenced := fencedBrokers(next); !slices.Equal(fenced, fencedBrokers(r.followed)) || len(d.Leaders) > 0 {
			r.each(func(p *partition.Partition) { p.SetFencedReplicas(ineligible(next, p, fenced)) })
		}
		also(d, next)
		r.followed = next
	}
	r.advance(next.Index, false)
}

// fencedBrokers returns the IDs of img's fenced brokers, sorted.
func fencedBrokers(img *metadata.Image) []int32 {
	var out []int32
	for id, b := range img.Brokers {
		if b.Fenced {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ineligible returns the replicas of p that may not join its ISR, sorted:
// those on fenced brokers, and those whose logs failed (offline) in img.
func ineligible(img *metadata.Image, p *partition.Partition, fenced []int32) []int32 {
	t := img.Topics[p.Topic]
	if t == nil || int(p.Index) >= len(t.Partitions) || len(t.Partitions[p.Index].Offline) == 0 {
		return fenced
	}
	out := slices.Concat(fenced, t.Partitions[p.Index].Offline)
	slices.Sort(out)
	return slices.Compact(out)
}

// atFollowed calls fn with the image followed last, holding off follow
// meanwhile, so fn's view of it cannot go backwards past a delta.
func (r *partitions) atFollowed(fn func(*metadata.Image) error) error {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	return fn(r.followed)
}

// stopFollowing makes later follow calls do nothing and releases Sync
// callers; it waits for a follow in progress.
func (r *partitions) stopFollowing() {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	r.stopped = true
	r.advance(0, true)
}

// apply applies d: stop and delete, then configs, then leaders and
// followers (opening the replicas not open yet, with no role until they
// get theirs). A follower keeps its replica open: it takes no produce and
// serves no consumer (NOT_LEADER_OR_FOLLOWER); the replica fetchers
// (package replication) copy its leader's log into it.
func (r *partitions) apply(d metadata.Delta, next *metadata.Image) {
	r.stop(d.Stop)
	r.reconfigure(d, next)
	var opens []openJob
	for _, lr := range slices.Concat(d.Leaders, d.Followers) {
		if p := r.Get(lr.Topic, lr.Partition.Partition); p != nil && r.topicID(lr.Topic) == lr.TopicID {
			r.become(p, lr)
			continue
		}
		if r.offline.skip(lr.Topic, lr.TopicID, lr.Partition.Partition) {
			continue
		}
		t := next.TopicByID(lr.TopicID)
		opens = append(opens, openJob{replica: lr, size: len(t.Partitions),
			cfg: r.config.ResolveTopic(t.Configs, next.BrokerConfigs)})
	}
	r.open(opens)
}

// become gives p the role lr says, with its epochs, replicas and ISR. A
// change older than the replica's state (ErrStaleEpoch) is logged and
// changes nothing: the metadata log never goes back, so it means a bug.
func (r *partitions) become(p *partition.Partition, lr metadata.LocalReplica) {
	a := lr.Partition
	var err error
	if a.Leader == r.nodeID {
		r.unfetch(p)
		err = p.BecomeLeader(a.LeaderEpoch, a.PartitionEpoch, a.Replicas, a.ISR)
	} else {
		if r.fetchers != nil {
			if l, ok := r.fetchers.Following(p); ok && l != a.Leader {
				r.unfetch(p) // the old leader's answers stop before the new epoch
			}
		}
		err = p.BecomeFollower(a.LeaderEpoch, a.PartitionEpoch, a.Leader, a.Replicas)
		switch {
		case err != nil:
		case a.Leader >= 0:
			if r.fetchers != nil {
				r.fetchers.Follow(p, a.Leader)
			}
		default:
			r.unfetch(p) // no leader to fetch from (offline)
		}
	}
	if err != nil {
		r.logger.Error("a replica refused its state from the metadata", "topic", lr.Topic, "partition", a.Partition, "err", err)
	}
}

// unfetch stops fetching p from a leader, if it was.
func (r *partitions) unfetch(p *partition.Partition) {
	if r.fetchers != nil {
		r.fetchers.Unfollow(p)
	}
}

func (r *partitions) topicID(name string) metadata.TopicID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if lt := r.topics[name]; lt != nil {
		return lt.id
	}
	return metadata.TopicID{}
}

// stop closes and deletes the replicas of stops (ordered by topic), offline
// ones included: their directory may hold what the failed open left.
func (r *partitions) stop(stops []metadata.StopReplica) {
	if len(stops) == 0 {
		return
	}
	var closing []*partition.Partition // by index in stops; nil where not open
	r.mu.Lock()
	for i := 0; i < len(stops); {
		name, id := stops[i].Topic, stops[i].TopicID
		lt := r.topics[name]
		var parts []*partition.Partition
		if lt != nil && lt.id == id {
			parts = slices.Clone(lt.parts) // readers hold the old slice
		}
		for ; i < len(stops) && stops[i].Topic == name && stops[i].TopicID == id; i++ {
			var p *partition.Partition
			if index := int(stops[i].Partition); index < len(parts) {
				p, parts[index] = parts[index], nil
			}
			closing = append(closing, p)
		}
		if parts != nil {
			if slices.ContainsFunc(parts, func(p *partition.Partition) bool { return p != nil }) {
				r.topics[name] = &localTopic{id: id, parts: parts, cfg: lt.cfg}
			} else {
				delete(r.topics, name)
			}
		}
	}
	r.mu.Unlock()
	// Every fetcher lets go of the stopped replicas before any is closed
	// (Kafka's stopPartitions): closing and deleting a replica syncs the
	// disk, and a replica still fetched meanwhile draws the leader's
	// UNKNOWN_TOPIC_ID for as long as those before it take.
	for _, p := range closing {
		if p != nil {
			r.unfetch(p)
		}
	}
	for i, s := range stops {
		wasOffline := r.offline.drop(s.Topic, s.TopicID, s.Partition)
		p := closing[i]
		if p == nil && !wasOffline {
			continue
		}
		if p != nil {
			if err := p.Close(); err != nil {
				r.logger.Warn("closing a stopped replica", "topic", s.Topic, "partition", s.Partition, "err", err)
			}
		}
		if err := r.storage.DeleteLog(s.Topic, s.Partition); err != nil {
			r.logger.Warn("deleting partition data", "topic", s.Topic, "partition", s.Partition, "err", err)
		}
	}
}

// reconfigure hands the local replicas of topics whose resolved config
// changed their new config.
func (r *partitions) reconfigure(d metadata.Delta, next *metadata.Image) {
	names := d.ConfigChanged
	if d.BrokerConfigsChanged {
		r.mu.RLock()
		names = make([]string, 0, len(r.topics))
		for name := range r.topics {
			names = append(names, name)
		}
		r.mu.RUnlock()
	}
	for _, name := range names {
		t := next.Topics[name]
		r.mu.Lock()
		lt := r.topics[name]
		if t == nil || lt == nil || lt.id != t.ID {
			r.mu.Unlock()
			continue
		}
		cfg := r.config.ResolveTopic(t.Configs, next.BrokerConfigs)
		if reflect.DeepEqual(lt.cfg, cfg) {
			r.mu.Unlock()
			continue
		}
		r.topics[name] = &localTopic{id: lt.id, parts: lt.parts, cfg: cfg}
		r.mu.Unlock()
		for _, p := range lt.parts {
			if p != nil {
				p.SetConfig(cfg)
			}
		}
	}
}

// openJob is a replica follow opens.
type openJob struct {
	replica metadata.LocalReplica
	size    int // the topic's partition count
	cfg     config.Topic
	p       *partition.Partition
	err     error
}

// open opens the replicas of jobs, threads at a time (each open reads its
// log's state from disk, and recovers it after a crash), gives each its
// role and installs them.
func (r *partitions) open(jobs []openJob) {
	var wg sync.WaitGroup
	next := make(chan *openJob)
	for range min(max(r.threads, 1), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				lr := j.replica
				j.p, j.err = partition.OpenReplica(r.storage, lr.Topic, lr.Partition.Partition, lr.TopicID, j.cfg,
					partition.Options{NodeID: r.nodeID, ReplicaLagTimeMaxMs: r.replicaLagMs,
						HighWatermark: r.highWatermarks[partition.TopicPartition{Topic: lr.Topic, Partition: lr.Partition.Partition}]})
				if j.err == nil {
					r.become(j.p, lr)
				}
			}
		}()
	}
	for i := range jobs {
		next <- &jobs[i]
	}
	close(next)
	wg.Wait()
	failed := openFailures{}
	defer failed.log(r.logger)
	var refs []metadata.PartitionRef
	defer func() { r.reportOffline(refs) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	copied := map[string]bool{}
	for _, j := range jobs {
		lr := j.replica
		if j.err != nil {
			r.offline.mark(lr.Topic, lr.TopicID, lr.Partition.Partition, j.err)
			failed.add(lr.Topic, lr.Partition.Partition, j.err)
			refs = append(refs, metadata.PartitionRef{TopicID: lr.TopicID, Partition: lr.Partition.Partition})
			continue
		}
		lt := r.topics[lr.Topic]
		if !copied[lr.Topic] {
			// Copy before writing: readers hold the old slice.
			fresh := &localTopic{id: lr.TopicID, cfg: j.cfg}
			if lt != nil && lt.id == lr.TopicID {
				fresh.parts, fresh.cfg = slices.Clone(lt.parts), lt.cfg
			}
			lt = fresh
			r.topics[lr.Topic] = lt
			copied[lr.Topic] = true
		}
		for len(lt.parts) < j.size {
			lt.parts = append(lt.parts, nil)
		}
		lt.parts[lr.Partition.Partition] = j.p
	}
}

// removeStale deletes partition directories on disk of which img has no
// replica here (a topic deleted, or a replica moved away, while the broker
// was down).
func (r *partitions) removeStale(img *metadata.Image) {
	dirs, err := r.storage.LogDirs()
	if err != nil {
		r.logger.Warn("listing log directories", "err", err)
		return
	}
	for _, d := range dirs {
		t := img.Topics[d.Topic]
		if t != nil && int(d.Partition) < len(t.Partitions) && slices.Contains(t.Partitions[d.Partition].Replicas, r.nodeID) {
			continue
		}
		r.logger.Info("removing data of a replica this broker no longer has", "topic", d.Topic, "partition", d.Partition)
		if err := r.storage.DeleteLog(d.Topic, d.Partition); err != nil {
			r.logger.Warn("removing stale partition", "topic", d.Topic, "partition", d.Partition, "err", err)
		}
	}
}

// each calls fn for every local partition.
func (r *partitions) each(fn func(*partition.Partition)) {
	r.mu.RLock()
	var all []*partition.Partition
	for _, lt := range r.topics {
		for _, p := range lt.parts {
			if p != nil {
				all = append(all, p)
			}
		}
	}
	r.mu.RUnlock()
	for _, p := range all {
		fn(p)
	}
}

// closeAll closes every local partition.
func (r *partitions) closeAll() {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	r.stopped = true
	r.advance(0, true)
	r.mu.Lock()
	defer r.mu.Unlock()
	// Each close writes a producer snapshot and the log's index and
	// recovery point (synced once by storage.Manager.Close): run them side by
	// side so that thousands of partitions shut down in seconds.
	r.storage.BeginShutdown()
	work := make(chan *partition.Partition)
	var wg sync.WaitGroup
	for range max(r.threads, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if err := p.Close(); err != nil {
					r.logger.Warn("closing partition", "topic", p.Topic, "partition", p.Index, "err", err)
				}
			}
		}()
	}
	for _, lt := range r.topics {
		for _, p := range lt.parts {
			if p != nil {
				work <- p
			}
		}
	}
	close(work)
	wg.Wait()
	r.topics = map[string]*localTopic{}
}
