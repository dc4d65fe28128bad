package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// startGroups creates __consumer_offsets if it is missing and starts the
// group coordinator on the partitions of it this broker leads.
func (b *Broker) startGroups(ctx context.Context, cfg *config.Broker) error {
	if b.controller.Image().Topics[api.OffsetsTopic] == nil {
		n := cfg.Int32("offsets.topic.num.partitions", nil)
		rf := int16(cfg.Int32("offsets.topic.replication.factor", nil))
		configs := map[string]string{
			"cleanup.policy": "compact",
			"segment.bytes":  cfg.Get("offsets.topic.segment.bytes", nil),
		}
		if _, err := b.controller.CreateTopic(ctx, api.OffsetsTopic, n, rf, configs); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("broker: creating %s: %w", api.OffsetsTopic, err)
		}
		b.partitions.Sync()
	}
	ms := func(name string) time.Duration { return time.Duration(cfg.Int64(name, nil)) * time.Millisecond }
	b.groups = group.New(group.Config{
		MinSessionTimeout:      ms("group.min.session.timeout.ms"),
		MaxSessionTimeout:      ms("group.max.session.timeout.ms"),
		InitialRebalanceDelay:  ms("group.initial.rebalance.delay.ms"),
		OffsetsRetention:       time.Duration(cfg.Int64("offsets.retention.minutes", nil)) * time.Minute,
		RetentionCheckInterval: ms("offsets.retention.check.interval.ms"),
		MaxMetadataBytes:       int(cfg.Int32("offset.metadata.max.bytes", nil)),
		MaxGroupSize:           int(cfg.Int32("group.max.size", nil)),
		Consumer: group.ConsumerConfig{
			SessionTimeout:    ms("group.consumer.session.timeout.ms"),
			HeartbeatInterval: ms("group.consumer.heartbeat.interval.ms"),
			MaxSize:           int(cfg.Int32("group.consumer.max.size", nil)),
		},
		Logger: b.logger,
	})
	return b.syncGroups()
}

// syncGroups hands the coordinator the __consumer_offsets partitions this
// broker leads now.
func (b *Broker) syncGroups() error {
	if b.groups == nil {
		return nil
	}
	t := b.controller.Image().Topics[api.OffsetsTopic]
	if t == nil {
		return b.groups.Sync(0, nil)
	}
	led := make(map[int32]group.Log)
	for i := range t.Partitions {
		if p := b.partitions.Get(api.OffsetsTopic, int32(i)); p != nil {
			led[int32(i)] = offsetsLog{p}
		}
	}
	return b.groups.Sync(int32(len(t.Partitions)), led)
}

// offsetsLog is a __consumer_offsets partition as the coordinator sees it.
type offsetsLog struct{ p *partition.Partition }

func (l offsetsLog) Append(recs []batch.Record) error {
	res := l.p.Append(batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs))
	if res.ErrorCode != 0 {
		return fmt.Errorf("broker: appending to %s-%d: %w %s", l.p.Topic, l.p.Index, kerr.ErrorForCode(res.ErrorCode), res.ErrorMessage)
	}
	return nil
}

func (l offsetsLog) Replay(fn func(batch.Record) error) error {
	from := l.p.LogStartOffset()
	for from < l.p.HighWatermark() {
		chunk, err := l.p.Read(from, 1<<20)
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
