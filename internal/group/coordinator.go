package group

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// Config is what the coordinator needs. Zero durations take Kafka's
// defaults.
type Config struct {
	// MinSessionTimeout and MaxSessionTimeout bound a member's session
	// timeout (group.min.session.timeout.ms, group.max.session.timeout.ms).
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// InitialRebalanceDelay holds the first rebalance of an empty group
	// (group.initial.rebalance.delay.ms); negative means none.
	InitialRebalanceDelay time.Duration
	// OffsetsRetention is how long an empty group keeps its offsets
	// (offsets.retention.minutes), checked every RetentionCheckInterval
	// (offsets.retention.check.interval.ms).
	OffsetsRetention       time.Duration
	RetentionCheckInterval time.Duration
	// MaxMetadataBytes bounds a committed offset's metadata string
	// (offset.metadata.max.bytes).
	MaxMetadataBytes int
	// MaxGroupSize bounds the members of a classic group (group.max.size).
	MaxGroupSize int
	// Consumer configures KIP-848 groups.
	Consumer ConsumerConfig
	Clock    Clock
	Logger   *slog.Logger
}

func (c *Config) defaults() {
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.InitialRebalanceDelay < 0 {
		c.InitialRebalanceDelay = 0
	}
	if c.OffsetsRetention == 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.RetentionCheckInterval == 0 {
		c.RetentionCheckInterval = 10 * time.Minute
	}
	if c.MaxMetadataBytes == 0 {
		c.MaxMetadataBytes = 4096
	}
	if c.MaxGroupSize == 0 {
		c.MaxGroupSize = 1 << 31 / 2
	}
	if c.Consumer.MaxSize == 0 {
		c.Consumer.MaxSize = 1 << 31 / 2
	}
	if c.Consumer.SessionTimeout == 0 {
		c.Consumer.SessionTimeout = 45 * time.Second
	}
	if c.Consumer.HeartbeatInterval == 0 {
		c.Consumer.HeartbeatInterval = 5 * time.Second
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Coordinator coordinates the groups of the __consumer_offsets partitions
// this broker leads.
type Coordinator struct {
	cfg Config

	// life guards closed; timer callbacks register in callbacks under it
	// so that Close can wait for them.
	life      sync.Mutex
	closed    bool
	callbacks sync.WaitGroup

	syncMu sync.Mutex // serialises Sync

	mu         sync.RWMutex
	partitions int32 // of __consumer_offsets; 0 = topic missing
	shards     map[int32]*shard

	quit chan struct{}
	wg   sync.WaitGroup
}

// shard is the state of one __consumer_offsets partition.
type shard struct {
	partition int32
	log       Log

	mu     sync.Mutex
	groups map[string]*group
	// txns are the groups with pending transactional commits of each
	// producer (txn.go), possibly some no longer pending.
	txns map[int64]map[*group]struct{}
}

// New starts a coordinator with no shards; Sync gives it some.
func New(cfg Config) *Coordinator {
	cfg.defaults()
	c := &Coordinator{cfg: cfg, shards: make(map[int32]*shard), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.expireLoop()
	return c
}

// Sync tells the coordinator how many partitions __consumer_offsets has and
// which of them this broker leads. Newly led partitions are loaded from
// their logs before Sync returns; partitions no longer led are unloaded
// (their waiting requests get NOT_COORDINATOR).
func (c *Coordinator) Sync(partitions int32, led map[int32]Log) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	c.partitions = partitions
	var gone []*shard
	for p, s := range c.shards {
		if l, ok := led[p]; !ok || l != s.log {
			gone = append(gone, s)
			delete(c.shards, p)
		}
	}
	var load []int32
	for p := range led {
		if c.shards[p] == nil {
			load = append(load, p)
		}
	}
	c.mu.Unlock()
	for _, s := range gone {
		s.unload()
	}
	sort.Slice(load, func(i, j int) bool { return load[i] < load[j] })
	var errs []error
	for _, p := range load {
		s, err := c.load(p, led[p])
		if err != nil {
			errs = append(errs, fmt.Errorf("group: loading __consumer_offsets-%d: %w", p, err))
			continue
		}
		c.mu.Lock()
		c.shards[p] = s
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Close unloads every shard, stops the timers and the expiry goroutine and
// waits for them.
func (c *Coordinator) Close() {
	c.life.Lock()
	if c.closed {
		c.life.Unlock()
		return
	}
	c.closed = true
	c.life.Unlock()
	close(c.quit)
	c.wg.Wait()
	c.mu.Lock()
	shards := c.shards
	c.shards = map[int32]*shard{}
	c.mu.Unlock()
	for _, s := range shards {
		s.unload()
	}
	c.callbacks.Wait()
}

// afterFunc schedules f on the clock; f does not run once Close has begun,
// and Close waits for an f that is running.
func (c *Coordinator) afterFunc(d time.Duration, f func()) Timer {
	return c.cfg.Clock.AfterFunc(d, func() {
		c.life.Lock()
		if c.closed {
			c.life.Unlock()
			return
		}
		c.callbacks.Add(1)
		c.life.Unlock()
		defer c.callbacks.Done()
		f()
	})
}

func (c *Coordinator) now() time.Time { return c.cfg.Clock.Now() }

// shardOf finds the loaded shard that owns group, or the error to answer.
func (c *Coordinator) shardOf(groupID string) (*shard, int16) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.partitions <= 0 {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	s := c.shards[PartitionFor(groupID, c.partitions)]
	if s == nil {
		return nil, kerr.NotCoordinator.Code
	}
	return s, 0
}

// Owns reports whether this broker coordinates groupID, with the error to
// answer when it does not.
func (c *Coordinator) Owns(groupID string) int16 {
	_, code := c.shardOf(groupID)
	return code
}

// lookup returns the live group, or nil. create makes an Empty one if
// there is none.
func (c *Coordinator) lookup(groupID string, create bool) (*shard, *group, int16) {
	s, code := c.shardOf(groupID)
	if code != 0 {
		return nil, nil, code
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		return nil, nil, kerr.NotCoordinator.Code
	}
	g := s.groups[groupID]
	if g == nil && create {
		g = newGroup(c, s, groupID)
		s.groups[groupID] = g
	}
	return s, g, 0
}

// remove forgets g if it is still the shard's group of that name.
func (s *shard) remove(g *group) {
	s.mu.Lock()
	if s.groups[g.id] == g {
		delete(s.groups, g.id)
	}
	s.mu.Unlock()
}

func (s *shard) all() []*group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	return out
}

func (c *Coordinator) allShards() []*shard {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		out = append(out, s)
	}
	return out
}

// load replays a partition's log into a new shard.
func (c *Coordinator) load(p int32, l Log) (*shard, error) {
	s := &shard{partition: p, log: l, groups: make(map[string]*group)}
	metadata := make(map[string]*storedGroup)
	offsets := make(map[string]map[string]map[int32]Offset)
	consumers := make(map[string]*loadedConsumer)
	// Records above the high watermark (a new leader's, not all
	// replicated yet) are loaded too, as Kafka's loader reads to the log
	// end: the group's answers wait for them (written), and OffsetFetch
	// sees their offsets once committed (uncommitted), as after a write.
	committed := l.Committed()
	written := make(map[string]int64)
	uncommitted := make(map[string][]offsetChange)
	// Transactional commits stay pending until their producer's marker
	// (txn.go), which orders them against plain commits by recordOf.
	recordOf := make(map[string]map[TopicPartition]int64)
	pending := make(map[string]map[int64]map[TopicPartition]pendingOffset)
	// setOffset is group.setOffset for the maps being loaded: the change
	// at log offset at (the record or the marker that made it).
	setOffset := func(groupID string, tp TopicPartition, o *Offset, record, at int64) {
		byTopic := offsets[groupID]
		if at >= committed {
			written[groupID] = at + 1
			prev, had := byTopic[tp.Topic][tp.Partition]
			uncommitted[groupID] = append(uncommitted[groupID], offsetChange{end: at + 1, tp: tp, prev: prev, had: had})
		}
		if o == nil {
			delete(recordOf[groupID], tp)
			for pid, ps := range pending[groupID] {
				delete(ps, tp)
				if len(ps) == 0 {
					delete(pending[groupID], pid)
				}
			}
			if byTopic != nil && byTopic[tp.Topic] != nil {
				delete(byTopic[tp.Topic], tp.Partition)
				if len(byTopic[tp.Topic]) == 0 {
					delete(byTopic, tp.Topic)
				}
				if len(byTopic) == 0 {
					delete(offsets, groupID)
				}
			}
			return
		}
		if byTopic == nil {
			byTopic = make(map[string]map[int32]Offset)
			offsets[groupID] = byTopic
		}
		if byTopic[tp.Topic] == nil {
			byTopic[tp.Topic] = make(map[int32]Offset)
		}
		byTopic[tp.Topic][tp.Partition] = *o
		if recordOf[groupID] == nil {
			recordOf[groupID] = make(map[TopicPartition]int64)
		}
		recordOf[groupID][tp] = record
	}
	err := l.Replay(func(r batch.Record, info BatchInfo) error {
		if info.Control {
			// The producer's marker decides its pending commits, as
			// Kafka's replayEndTransactionMarker.
			for id, byProducer := range pending {
				ps := byProducer[info.ProducerID]
				if ps == nil {
					continue
				}
				delete(byProducer, info.ProducerID)
				if !info.Marker.Commit {
					continue
				}
				for tp, o := range ps {
					if rec, ok := recordOf[id][tp]; ok && rec > o.record {
						continue
					}
					setOffset(id, tp, &o.Offset, o.record, r.Offset)
				}
			}
			return nil
		}
		d, err := decodeRecord(r)
		if err != nil {
			c.cfg.Logger.Warn("skipping undecodable __consumer_offsets record", "partition", p, "offset", r.Offset, "err", err)
			return nil
		}
		transactional := info.Transactional && info.ProducerID >= 0
		if !d.ignore && r.Offset >= committed {
			written[d.group] = r.Offset + 1
		}
		switch {
		case d.ignore:
			return nil
		case d.kind >= consumerGroupMetadataType:
			replayConsumer(consumers, d)
			return nil
		case d.isOffset && transactional:
			tp := TopicPartition{d.topic, d.partition}
			if pending[d.group] == nil {
				pending[d.group] = make(map[int64]map[TopicPartition]pendingOffset)
			}
			ps := pending[d.group][info.ProducerID]
			if ps == nil {
				ps = make(map[TopicPartition]pendingOffset)
				pending[d.group][info.ProducerID] = ps
			}
			if d.offset == nil {
				delete(ps, tp)
			} else {
				ps[tp] = pendingOffset{*d.offset, r.Offset}
			}
			return nil
		case d.isOffset:
			setOffset(d.group, TopicPartition{d.topic, d.partition}, d.offset, r.Offset, r.Offset)
			return nil
		}
		// A classic group's tombstone: a deleted group's offsets have
		// tombstones of their own, and a group that became a KIP-848
		// group keeps them.
		if d.metadata == nil {
			delete(metadata, d.group)
			return nil
		}
		metadata[d.group] = d.metadata
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id, m := range metadata {
		g := newGroup(c, s, id)
		g.restore(m)
		s.groups[id] = g
	}
	for id, lc := range consumers {
		if lc.group == nil || s.groups[id] != nil {
			continue // no group record, or a classic group wrote after it
		}
		g := newGroup(c, s, id)
		g.restoreConsumer(lc)
		s.groups[id] = g
	}
	for id, o := range offsets {
		g := s.groups[id]
		if g == nil {
			g = newGroup(c, s, id)
			s.groups[id] = g
		}
		g.offsets = o
	}
	for id, byProducer := range pending {
		for pid, ps := range byProducer {
			if len(ps) == 0 {
				continue
			}
			g := s.groups[id]
			if g == nil {
				g = newGroup(c, s, id)
				s.groups[id] = g
			}
			for tp, o := range ps {
				g.addPending(pid, tp, o)
			}
		}
	}
	for id, g := range s.groups {
		g.written, g.uncommitted = written[id], uncommitted[id]
		if recordOf[id] != nil {
			g.recordOf = recordOf[id]
		}
	}
	return s, nil
}

// unload answers every waiting request of the shard's groups with
// NOT_COORDINATOR and stops their timers.
func (s *shard) unload() {
	s.mu.Lock()
	groups := s.groups
	s.groups = nil
	s.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.unload()
		g.mu.Unlock()
	}
}

// expireLoop expires offsets every RetentionCheckInterval.
func (c *Coordinator) expireLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			c.ExpireOffsets()
		}
	}
}
