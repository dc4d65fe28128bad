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

// offsetsTopicWait is how long a starting broker waits for enough brokers
// to register for __consumer_offsets' replication factor.
const offsetsTopicWait = 30 * time.Second

// startGroups creates __consumer_offsets if it is missing, waits until the
// delta that creates it has loaded its partitions into the coordinator, and
// fails if a partition this broker leads could not be loaded.
func (b *Broker) startGroups(ctx context.Context, s config.Static) error {
	o := s.Offsets
	if b.controller.Image().Topics[api.OffsetsTopic] == nil {
		rf, err := b.offsetsReplicationFactor(ctx, s)
		if err != nil {
			return err
		}
		n := o.TopicNumPartitions
		configs := map[string]string{
			"cleanup.policy": "compact",
			"segment.bytes":  strconv.Itoa(int(o.TopicSegmentBytes)),
		}
		// Nodes of a cluster started together register within moments of
		// each other: too few brokers for the replication factor is waited
		// out for a while (another node may create the topic meanwhile)
		// before it fails the start as before.
		deadline := time.Now().Add(offsetsTopicWait)
		for {
			_, err := b.controller.CreateTopic(ctx, api.OffsetsTopic, n, rf, configs)
			if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
				break
			}
			if !errors.Is(err, kerr.InvalidReplicationFactor) || time.Now().After(deadline) || b.controller.Image().Topics[api.OffsetsTopic] != nil {
				if b.controller.Image().Topics[api.OffsetsTopic] != nil {
					break
				}
				return fmt.Errorf("broker: creating %s: %w", api.OffsetsTopic, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("broker: creating %s: %w", api.OffsetsTopic, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
		b.partitions.Sync()
	}
	// The deltas logged any failure to load; this retries those partitions
	// once more and refuses to start without them.
	return b.partitions.atFollowed(b.syncGroups)
}

// offsetsReplicationFactor is the replication factor __consumer_offsets
// is created with: offsets.topic.replication.factor (3 by default, as
// Kafka's) once that many brokers are live. In a cluster of fewer than
// three brokers it is capped by the live brokers once every broker is
// live, with a warning (Kafka would refuse to create the topic), so that
// a single node or a pair serves groups; a standalone node says so at
// info level, as it always was one replica. The cluster's size is the
// registered brokers, and for a node that is both broker and controller
// at least the voters, which are then brokers too. It waits for the
// brokers (up to ctx), since the nodes of a new cluster start together.
func (b *Broker) offsetsReplicationFactor(ctx context.Context, s config.Static) (int16, error) {
	want := s.Offsets.TopicReplicationFactor
	changed := make(chan struct{}, 1)
	unsub := b.controller.Subscribe(func(_, _ *metadata.Image) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer unsub()
	for {
		img := b.controller.Image()
		live, size := len(img.LiveBrokers()), len(img.Brokers)
		if s.Cluster.Roles.Broker && s.Cluster.Roles.Controller {
			size = max(size, len(s.Cluster.Voters))
		}
		switch {
		case live >= int(want):
			return want, nil
		case size < 3 && live >= size:
			level := slog.LevelWarn
			if s.Cluster.Roles.Standalone() {
				level = slog.LevelInfo
			}
			b.logger.Log(ctx, level, "creating "+api.OffsetsTopic+" with fewer replicas than offsets.topic.replication.factor: the cluster has fewer brokers",
				"offsets.topic.replication.factor", want, "brokers", live)
			return int16(live), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, fmt.Errorf("broker: creating %s: offsets.topic.replication.factor is %d, but only %d of the cluster's %d brokers are live: %w",
				api.OffsetsTopic, want, live, size, ctx.Err())
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

func (l offsetsLog) WaitCommitted(end int64, timeout time.Duration) error {
	if code := l.p.WaitForAcks(context.Background(), end, timeout); code != 0 {
		return fmt.Errorf("broker: waiting for %s-%d to commit offset %d: %w", l.p.Topic, l.p.Index, end, kerr.ErrorForCode(code))
	}
	return nil
}

func (l offsetsLog) Committed() int64 { return l.p.HighWatermark() }

// Replay reads to the log end, as a follower reads: the records above the
// high watermark are the coordinator's to hold back (group.Log).
func (l offsetsLog) Replay(fn func(batch.Record) error) error {
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
			if !h.Control() {
				recs, err := batch.Records(b)
				if err != nil {
					ferr = fmt.Errorf("broker: %s-%d offset %d: %w", l.p.Topic, l.p.Index, h.BaseOffset, err)
					return false
				}
				for _, r := range recs {
					if r.Offset < from {
						continue
					}
					if ferr = fn(r); ferr != nil {
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
