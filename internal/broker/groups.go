package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// newGroups builds the group coordinator, with no partition of
// __consumer_offsets loaded yet: the metadata deltas load them (followGroups).
func (b *Broker) newGroups(s config.Static) *group.Coordinator {
	o, g := s.Offsets, s.Group
	return group.New(group.Config{
		MinSessionTimeout:      g.MinSessionTimeout,
		MaxSessionTimeout:      g.MaxSessionTimeout,
		InitialRebalanceDelay:  g.InitialRebalanceDelay,
		OffsetsRetention:       o.Retention,
		RetentionCheckInterval: o.RetentionCheckInterval,
		MaxMetadataBytes:       o.MetadataMaxBytes,
		MaxGroupSize:           g.MaxSize,
		Consumer: group.ConsumerConfig{
			SessionTimeout:    g.ConsumerSessionTimeout,
			HeartbeatInterval: g.ConsumerHeartbeatInterval,
			MaxSize:           g.ConsumerMaxSize,
		},
		Logger: b.logger,
	})
}

// startGroups creates __consumer_offsets if it is missing and enough
// brokers are live for its replication factor, waits until the delta that
// creates it has loaded its partitions into the coordinator, and fails if a
// partition this broker leads could not be loaded. With too few brokers
// live (a node of a new cluster whose peers have not started yet, or a
// cluster that lost brokers before the topic was ever made) it does not
// hold the start: a goroutine creates the topic once they are live, and
// until then FindCoordinator answers COORDINATOR_NOT_AVAILABLE, which
// clients retry — as Kafka, which creates the topic at the first
// FindCoordinator and answers so while it cannot.
func (b *Broker) startGroups(s config.Static) error {
	if b.controller.Image().Topics[api.OffsetsTopic] != nil {
		return b.partitions.atFollowed(b.syncGroups)
	}
	if rf, ok := b.offsetsReplicationFactor(s); ok {
		if err := b.createOffsetsTopic(context.Background(), s, rf); err != nil {
			return err
		}
		// The deltas logged any failure to load; this retries those
		// partitions once more and refuses to start without them.
		return b.partitions.atFollowed(b.syncGroups)
	}
	b.logger.Info("waiting for brokers to create "+api.OffsetsTopic+": groups answer COORDINATOR_NOT_AVAILABLE until then",
		"offsets.topic.replication.factor", s.Offsets.TopicReplicationFactor, "live-brokers", len(b.controller.Image().LiveBrokers()))
	ctx, cancel := context.WithCancel(context.Background())
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		defer cancel()
		select {
		case <-b.stop:
		case <-ctx.Done():
		}
	}()
	go func() {
		defer b.wg.Done()
		defer cancel()
		rf, err := b.awaitOffsetsReplicationFactor(ctx, s)
		if err == nil {
			err = b.createOffsetsTopic(ctx, s, rf)
		}
		if err != nil && ctx.Err() == nil {
			b.logger.Error("creating "+api.OffsetsTopic, "err", err)
		}
	}()
	return nil
}

// createOffsetsTopic creates __consumer_offsets with rf replicas, unless
// another broker did first, and waits until this broker has applied it.
func (b *Broker) createOffsetsTopic(ctx context.Context, s config.Static, rf int16) error {
	o := s.Offsets
	configs := map[string]string{
		"cleanup.policy": "compact",
		"segment.bytes":  strconv.Itoa(int(o.TopicSegmentBytes)),
	}
	for {
		_, err := b.controller.CreateTopic(ctx, api.OffsetsTopic, o.TopicNumPartitions, rf, configs)
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) || b.controller.Image().Topics[api.OffsetsTopic] != nil {
			break
		}
		// A broker that was live a moment ago may be fenced by now: the
		// controller refuses the replication factor, and the brokers are
		// waited for again.
		if !errors.Is(err, kerr.InvalidReplicationFactor) {
			return fmt.Errorf("broker: creating %s: %w", api.OffsetsTopic, err)
		}
		if rf, err = b.awaitOffsetsReplicationFactor(ctx, s); err != nil {
			return err
		}
	}
	b.partitions.Sync()
	return nil
}

// offsetsReplicationFactor is the replication factor __consumer_offsets
// is created with, and whether it can be created now:
// offsets.topic.replication.factor (3 by default, as Kafka's) once that
// many brokers are live. In a cluster of fewer than three brokers it is
// capped by the live brokers once every broker is live, with a warning
// (Kafka would refuse to create the topic), so that a single node or a
// pair serves groups; a standalone node says so at info level, as it
// always was one replica. The cluster's size is the registered brokers,
// and for a node that is both broker and controller at least the voters,
// which are then brokers too.
func (b *Broker) offsetsReplicationFactor(s config.Static) (int16, bool) {
	return b.internalReplicationFactor(s, api.OffsetsTopic, "offsets.topic.replication.factor", s.Offsets.TopicReplicationFactor)
}

// internalReplicationFactor is offsetsReplicationFactor for the internal
// topic name, whose config (named for the log) asks for want replicas.
func (b *Broker) internalReplicationFactor(s config.Static, name, configName string, want int16) (int16, bool) {
	img := b.controller.Image()
	live, size := len(img.LiveBrokers()), len(img.Brokers)
	if s.Cluster.Roles.Broker && s.Cluster.Roles.Controller {
		size = max(size, len(s.Cluster.Voters))
	}
	switch {
	case live >= int(want):
		return want, true
	case size < 3 && live >= size:
		level := slog.LevelWarn
		if s.Cluster.Roles.Standalone() {
			level = slog.LevelInfo
		}
		b.logger.Log(context.Background(), level, "creating "+name+" with fewer replicas than "+configName+": the cluster has fewer brokers",
			configName, want, "brokers", live)
		return int16(live), true
	}
	return 0, false
}

// awaitOffsetsReplicationFactor waits (up to ctx) until
// offsetsReplicationFactor allows the topic, and returns its factor.
func (b *Broker) awaitOffsetsReplicationFactor(ctx context.Context, s config.Static) (int16, error) {
	changed := make(chan struct{}, 1)
	unsub := b.controller.Subscribe(func(_, _ *metadata.Image) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer unsub()
	for {
		if rf, ok := b.offsetsReplicationFactor(s); ok {
			return rf, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, fmt.Errorf("broker: creating %s: offsets.topic.replication.factor is %d, but only %d brokers are live: %w",
				api.OffsetsTopic, s.Offsets.TopicReplicationFactor, len(b.controller.Image().LiveBrokers()), ctx.Err())
		}
	}
}

// followGroups is the coordinator's part of following a metadata delta, run
// by the replica manager after it applied d: the committed offsets of
// deleted topics go (every broker drops them from the groups it
// coordinates), and the coordinator loads the __consumer_offsets partitions
// this broker now leads and unloads the others, whose groups then answer
// NOT_COORDINATOR.
func (b *Broker) followGroups(d metadata.Delta, next *metadata.Image) {
	if len(d.DeletedTopics) > 0 {
		names := make([]string, len(d.DeletedTopics))
		for i, t := range d.DeletedTopics {
			names[i] = t.Name
		}
		b.groups.TopicsDeleted(names)
	}
	if d.Touches(api.OffsetsTopic) {
		if err := b.syncGroups(next); err != nil {
			b.logger.Error("loading group coordinator state", "err", err)
		}
	}
}

// syncGroups hands the coordinator the __consumer_offsets partitions this
// broker leads in img.
func (b *Broker) syncGroups(img *metadata.Image) error {
	t := img.Topics[api.OffsetsTopic]
	if t == nil {
		return b.groups.Sync(0, nil)
	}
	led := make(map[int32]group.Log)
	for i, mp := range t.Partitions {
		if mp.Leader != b.partitions.nodeID {
			continue
		}
		if p := b.partitions.Get(api.OffsetsTopic, int32(i)); p != nil {
			led[int32(i)] = offsetsLog{p}
		}
	}
	return b.groups.Sync(int32(len(t.Partitions)), led)
}

// offsetsLog is a __consumer_offsets partition as the coordinator sees it.
type offsetsLog struct{ p *partition.Partition }

// Append is an acks=all append that does not wait: too few in-sync
// replicas refuse it (NOT_ENOUGH_REPLICAS) before anything is written, and
// the coordinator waits for the high watermark after letting go of the
// group's lock (WaitCommitted).
func (l offsetsLog) Append(recs []batch.Record) (int64, error) {
	res := l.p.AppendAcks(batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs), -1)
	if res.ErrorCode != 0 {
		return 0, fmt.Errorf("broker: appending to %s-%d: %w %s", l.p.Topic, l.p.Index, kerr.ErrorForCode(res.ErrorCode), res.ErrorMessage)
	}
	return res.NextOffset, nil
}

// AppendTxn appends the producer's transactional batch (sequence -1, as
// Kafka's group coordinator writes a TxnOffsetCommit) as a coordinator's
// append: the producer epoch is checked, no sequence.
func (l offsetsLog) AppendTxn(producerID int64, producerEpoch int16, recs []batch.Record) (int64, error) {
	b := batch.Build(batch.BuildOptions{ProducerID: producerID, ProducerEpoch: producerEpoch, BaseSequence: -1, Transactional: true}, recs)
	res := l.p.AppendCoordinator(b)
	if res.ErrorCode != 0 {
		return 0, fmt.Errorf("broker: appending producer %d's offsets to %s-%d: %w %s", producerID, l.p.Topic, l.p.Index, kerr.ErrorForCode(res.ErrorCode), res.ErrorMessage)
	}
	return res.NextOffset, nil
}

func (l offsetsLog) WaitCommitted(end int64, timeout time.Duration) error {
	if code := l.p.WaitForAcks(context.Background(), end, timeout); code != 0 {
		return fmt.Errorf("broker: waiting for %s-%d to commit offset %d: %w", l.p.Topic, l.p.Index, end, kerr.ErrorForCode(code))
	}
	return nil
}

func (l offsetsLog) Committed() int64 { return l.p.HighWatermark() }

// Replay reads to the log end, as a follower reads: the records above the
// high watermark are the coordinator's to hold back (group.Log). A
// transaction marker comes as its offset with the decoded marker; a
// control batch that holds none (Kafka's unknown control types) is
// skipped, as Kafka's loader skips it.
func (l offsetsLog) Replay(fn func(batch.Record, group.BatchInfo) error) error {
	from := l.p.LogStartOffset()
	for from < l.p.LogEndOffset() {
		chunk, err := l.p.ReadFor(true, from, 1<<20)
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			from = l.p.LogStartOffset()
			continue
		}
		if err != nil {
			return err
		}
		if len(chunk) == 0 {
			break
		}
		next := from
		var ferr error
		err = batch.Iterate(chunk, func(h batch.Header, b []byte) bool {
			info := group.BatchInfo{ProducerID: h.ProducerID, Transactional: h.Transactional(), Control: h.Control()}
			if h.Control() {
				m, err := txn.DecodeMarker(b)
				if err == nil && h.BaseOffset >= from {
					info.Marker = m
					ferr = fn(batch.Record{Offset: h.BaseOffset}, info)
				}
				if ferr != nil {
					return false
				}
			} else {
				recs, err := batch.Records(b)
				if err != nil {
					ferr = fmt.Errorf("broker: %s-%d offset %d: %w", l.p.Topic, l.p.Index, h.BaseOffset, err)
					return false
				}
				for _, r := range recs {
					if r.Offset < from {
						continue
					}
					if ferr = fn(r, info); ferr != nil {
						return false
					}
				}
			}
			next = h.LastOffset() + 1
			return true
		})
		if ferr != nil {
			return ferr
		}
		if err != nil && next == from {
			return err
		}
		if next <= from {
			break
		}
		from = next
	}
	return nil
}
