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
	proposals
}

// alterTimeout bounds one attempt to have a change decided.
const alterTimeout = 10 * time.Second

// send proposes a, the change p proposed, without blocking the caller.
func (s *alterPartitions) send(p *partition.Partition, a *partition.AlterPartition) {
	id := s.topicID(p.Topic)
	if id.IsZero() {
		return // the topic went under it: the metadata stops the replica
	}
	rec := metadata.AlterPartition{
		BrokerID: s.nodeID, BrokerEpoch: s.brokerEpoch(), TopicID: id, Partition: p.Index,
		LeaderEpoch: a.LeaderEpoch, PartitionEpoch: a.PartitionEpoch, ISR: a.ISR, BrokerEpochs: a.BrokerEpochs,
	}
	s.start(func() {
		refused := s.retry(func(ctx context.Context) (*kerr.Error, error) { return s.propose(ctx, rec) },
			func() bool { return p.PendingAlter() == a }, // not answered by the metadata, nor replaced by a new epoch
			"AlterPartition not decided; retrying", "topic", p.Topic, "partition", p.Index, "isr", a.ISR)
		if refused != nil {
			p.AlterPartitionResponse(refused.Code, a.LeaderEpoch, a.PartitionEpoch, a.ISR)
		}
	})
}

// proposals runs proposals to the controller that must be decided, each
// on a goroutine of its own, retried after backoff while not decided (no
// active controller, a timeout, or NOT_CONTROLLER, which Kafka's
// AlterPartitionManager retries). Call init before use.
type proposals struct {
	backoff time.Duration
	logger  *slog.Logger

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool // guarded by mu: start starts nothing more
	wg     sync.WaitGroup
}

func (s *proposals) init() {
	s.ctx, s.cancel = context.WithCancel(context.Background())
}

// start runs fn on a goroutine of its own, unless s is closed.
func (s *proposals) start(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// retry calls propose, each attempt bounded by alterTimeout, until it is
// decided, s closes or wanted (checked after each backoff) says the
// proposal is no longer needed; it logs msg with args on each retry. It
// returns the refusal the controller decided, or nil (accepted or given
// up).
func (s *proposals) retry(propose func(context.Context) (*kerr.Error, error), wanted func() bool, msg string, args ...any) *kerr.Error {
	for {
		ctx, cancel := context.WithTimeout(s.ctx, alterTimeout)
		refused, err := propose(ctx)
		cancel()
		switch {
		case err == nil:
			return nil
		case refused != nil && refused.Code != kerr.NotController.Code:
			return refused
		}
		if s.ctx.Err() != nil {
			return nil
		}
		s.logger.Warn(msg, append(args, "err", err)...)
		select {
		case <-s.ctx.Done():
			return nil
		case <-time.After(s.backoff):
		}
		if !wanted() {
			return nil
		}
	}
}

// close stops the proposals in flight and waits for them.
func (s *proposals) close() {
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
