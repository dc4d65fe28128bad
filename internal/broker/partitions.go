package broker

import (
	"log/slog"
	"reflect"
	"sync"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// localTopic is this broker's replicas of one topic.
type localTopic struct {
	id    metadata.TopicID
	parts []*partition.Partition // by partition index; nil where not local
	cfg   config.Topic
}

// partitions is the registry of local replicas. Lookups take a read lock;
// reconcile, serialised by syncMu, swaps entries under the write lock.
type partitions struct {
	nodeID  int32
	storage *storage.Manager
	config  *config.Broker
	image   func() *metadata.Image
	logger  *slog.Logger
	threads int // num.recovery.threads.per.data.dir: partitions opened or closed at once

	syncMu  sync.Mutex // serialises reconcile
	offline offline    // replicas that failed to open

	mu     sync.RWMutex
	topics map[string]*localTopic
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

// Sync implements api.Partitions.
func (r *partitions) Sync() { r.reconcile(r.image()) }

// reconcile makes the local replicas match img.
func (r *partitions) reconcile(img *metadata.Image) {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()

	// Topics deleted, or deleted and re-created under a new ID.
	r.mu.RLock()
	var gone []string
	for name, lt := range r.topics {
		if t := img.Topics[name]; t == nil || t.ID != lt.id {
			gone = append(gone, name)
		}
	}
	r.mu.RUnlock()
	for _, name := range gone {
		r.mu.Lock()
		lt := r.topics[name]
		delete(r.topics, name)
		r.mu.Unlock()
		offline := r.offline.forget(name)
		for i, p := range lt.parts {
			if p == nil && offline[int32(i)] == nil {
				continue
			}
			if p == nil {
				// Offline: its directory may hold what the failed open left.
			} else if err := p.Close(); err != nil {
				r.logger.Warn("closing partition of deleted topic", "topic", name, "partition", i, "err", err)
			}
			if err := r.storage.DeleteLog(name, int32(i)); err != nil {
				r.logger.Warn("deleting partition data", "topic", name, "partition", i, "err", err)
			}
		}
	}

	var opens []openJob
	for name, t := range img.Topics {
		cfg := r.config.ResolveTopic(t.Configs, img.BrokerConfigs)
		r.mu.RLock()
		lt := r.topics[name]
		r.mu.RUnlock()
		if lt == nil {
			lt = &localTopic{id: t.ID, cfg: cfg}
		} else if !reflect.DeepEqual(lt.cfg, cfg) {
			for _, p := range lt.parts {
				if p != nil {
					p.SetConfig(cfg)
				}
			}
			lt.cfg = cfg
		}
		parts := lt.parts
		for _, mp := range t.Partitions {
			for int(mp.Partition) >= len(parts) {
				parts = append(parts, nil)
			}
			if mp.Leader != r.nodeID {
				continue
			}
			if p := parts[mp.Partition]; p != nil {
				if p.LeaderEpoch() != mp.LeaderEpoch {
					p.SetLeaderEpoch(mp.LeaderEpoch)
				}
				continue
			}
			if r.offline.skip(name, t.ID, mp.Partition) {
				continue
			}
			opens = append(opens, openJob{topic: name, id: t.ID, index: mp.Partition, epoch: mp.LeaderEpoch, cfg: cfg})
		}
		if r.topics[name] == nil || len(parts) != len(lt.parts) {
			r.mu.Lock()
			r.topics[name] = &localTopic{id: t.ID, parts: parts, cfg: lt.cfg}
			r.mu.Unlock()
		}
	}
	r.open(opens)
}

// openJob is a partition reconcile opens.
type openJob struct {
	topic string
	id    metadata.TopicID
	index int32
	epoch int32
	cfg   config.Topic
	p     *partition.Partition
	err   error
}

// open opens the partitions of jobs, threads at a time (each open reads its
// log's state from disk, and recovers it after a crash), and installs them.
func (r *partitions) open(jobs []openJob) {
	var wg sync.WaitGroup
	next := make(chan *openJob)
	for range min(max(r.threads, 1), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				j.p, j.err = partition.Open(r.storage, j.topic, j.index, j.id, j.epoch, j.cfg, nil)
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
	r.mu.Lock()
	defer r.mu.Unlock()
	copied := map[string]bool{}
	for _, j := range jobs {
		if j.err != nil {
			r.offline.mark(j.topic, j.id, j.index, j.err)
			failed.add(j.topic, j.index, j.err)
			continue
		}
		lt := r.topics[j.topic]
		if j.p == nil || lt == nil {
			continue
		}
		if !copied[j.topic] {
			// Copy before writing: readers hold the old slice.
			lt = &localTopic{id: lt.id, parts: append([]*partition.Partition(nil), lt.parts...), cfg: lt.cfg}
			r.topics[j.topic] = lt
			copied[j.topic] = true
		}
		lt.parts[j.index] = j.p
	}
}

// removeStale deletes partition directories on disk that belong to no
// topic in img (a topic deleted while the broker was down).
func (r *partitions) removeStale(img *metadata.Image) {
	dirs, err := r.storage.LogDirs()
	if err != nil {
		r.logger.Warn("listing log directories", "err", err)
		return
	}
	for _, d := range dirs {
		t := img.Topics[d.Topic]
		if t != nil && int(d.Partition) < len(t.Partitions) {
			continue
		}
		r.logger.Info("removing data of a deleted partition", "topic", d.Topic, "partition", d.Partition)
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
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
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
