package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// alterPartitions sends the ISR changes the partitions this broker leads
// propose to the controller (Kafka's AlterPartitionManager), one goroutine
// per change in flight (the replica core keeps at most one per partition).
// An accepted change reaches the partition through the metadata (the
// delta's BecomeLeader with the new partition epoch); a refusal goes back
// to the replica core (AlterPartitionResponse), which drops the change or
// waits for the metadata; a change not decided (no active controller, a
// timeout, or NOT_CONTROLLER, which Kafka's AlterPartitionManager retries)
// is sent again while it is still the partition's pending one.
type alterPartitions struct {
	nodeID      int32
	brokerEpoch func() int64
	topicID     func(topic string) metadata.TopicID
	propose     func(context.Context, metadata.AlterPartition) (*kerr.Error, error)
	backoff     time.Duration
	logger      *slog.Logger

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool // guarded by mu: send starts nothing more
	wg     sync.WaitGroup
}

// alterTimeout bounds one attempt to have a change decided.
const alterTimeout = 10 * time.Second

func (s *alterPartitions) init() {
	s.ctx, s.cancel = context.WithCancel(context.Background())
}

// send proposes a, the change p proposed, without blocking the caller.
func (s *alterPartitions) send(p *partition.Partition, a *partition.AlterPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	id := s.topicID(p.Topic)
	if id.IsZero() {
		return // the topic went under it: the metadata stops the replica
	}
	rec := metadata.AlterPartition{
		BrokerID: s.nodeID, BrokerEpoch: s.brokerEpoch(), TopicID: id, Partition: p.Index,
		LeaderEpoch: a.LeaderEpoch, PartitionEpoch: a.PartitionEpoch, ISR: a.ISR, BrokerEpochs: a.BrokerEpochs,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(p, a, rec)
	}()
}

func (s *alterPartitions) run(p *partition.Partition, a *partition.AlterPartition, rec metadata.AlterPartition) {
	for {
		ctx, cancel := context.WithTimeout(s.ctx, alterTimeout)
		refused, err := s.propose(ctx, rec)
		cancel()
		switch {
		case err == nil:
			return
		case refused != nil && refused.Code != kerr.NotController.Code:
			p.AlterPartitionResponse(refused.Code, a.LeaderEpoch, a.PartitionEpoch, a.ISR)
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		s.logger.Warn("AlterPartition not decided; retrying", "topic", p.Topic, "partition", p.Index, "isr", a.ISR, "err", err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(s.backoff):
		}
		if p.PendingAlter() != a {
			return // answered by the metadata, or replaced by a new epoch
		}
	}
}

// close stops the sends in flight and waits for them.
func (s *alterPartitions) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// AlterPartition implements api.Partitions.
func (r *partitions) AlterPartition(p *partition.Partition, a *partition.AlterPartition) {
	if r.alters != nil {
		r.alters.send(p, a)
	}
}

// expireISR runs every partition this broker leads through the ISR check
// every replica.lag.time.max.ms/2 (Kafka's isr-expiration task) and sends
// the shrinks it proposes.
func (b *Broker) expireISR(interval time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(max(interval, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.partitions.each(func(p *partition.Partition) {
				if p.Role() != partition.RoleLeader {
					return
				}
				if a := p.Tick(); a != nil {
					b.partitions.AlterPartition(p, a)
				}
			})
		}
	}
}

// alterBackoff is the wait before a change that was not decided is sent
// again (Kafka's AlterPartitionManager retries after 50 ms to 10 s).
const alterBackoff = 100 * time.Millisecond
