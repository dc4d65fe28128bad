package broker

import (
	"context"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// Log failures: Kafka's LogDirFailureChannel, ReplicaManager's
// handleLogDirFailure and the offline log directories of KIP-858, for one
// log at a time.
//
// When a write or fsync of a partition's log fails (EIO, ENOSPC), the
// replica goes offline at once (partition.Partition.Fail: it acknowledges
// and serves nothing more) and the storage Manager's OnFailure hands the
// log to logFailures. Its goroutine then does what Kafka's
// handleLogDirFailure does for the partitions of a failed directory: it
// takes the replicas off the replica fetchers, out of the replica manager
// (produce and fetch answer KAFKA_STORAGE_ERROR, Metadata lists this
// broker as an offline replica, later deltas leave them alone: offline)
// and closes their logs without a clean close, and it reports them to the
// controller (metadata.OfflineReplicas, proposed through the quorum as an
// AlterPartition is, and retried until decided), which moves their
// leaderships to other ISR members and takes this broker out of their
// ISRs. A restart, once the disk is fixed, recovers the logs as after a
// crash; the broker then follows the leaders again and rejoins the ISRs by
// catching up. Replicas that fail to open are reported the same way.
//
// The unit is the log, not the data directory as in Kafka. Kafka's JBOD
// has several directories per broker and gives up a whole one on any
// IOException, and a broker whose every directory failed halts. Samsa has
// one data directory per broker: giving it up whole would halt the broker
// on a failure that may concern one file (an fsync error is reported on
// the file whose pages were lost), and would take down the replicas that
// never failed to write — a full disk refuses only the logs that write,
// and the others stay consistent and readable. Taking exactly the logs
// whose writes failed offline acknowledges nothing unwritten, keeps the
// rest serving, and a full disk takes every log that writes offline one
// by one, which is what a whole-directory rule would do, a little later.
// The metadata log is the quorum's (its own rules: package quorum).

// logFailures carries the storage Manager's OnFailure calls, made with the
// log's lock held, to the goroutine that takes the replicas offline
// (handleLogFailures). Safe for concurrent use.
type logFailures struct {
	mu      sync.Mutex
	pending []failedLog // guarded by mu
	signal  chan struct{}
}

type failedLog struct {
	topic     string
	partition int32
	err       error
}

func newLogFailures() *logFailures { return &logFailures{signal: make(chan struct{}, 1)} }

// add queues a failed log; it never blocks.
func (f *logFailures) add(topic string, partition int32, err error) {
	f.mu.Lock()
	f.pending = append(f.pending, failedLog{topic, partition, err})
	f.mu.Unlock()
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

func (f *logFailures) take() []failedLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.pending
	f.pending = nil
	return out
}

// handleLogFailures takes the replicas of failed logs offline as they
// come, until the broker stops.
func (b *Broker) handleLogFailures(f *logFailures) {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case <-f.signal:
			b.partitions.takeOffline(f.take())
		}
	}
}

// takeOffline takes the local replicas of failed out of service (see
// above) and reports them to the controller. It is serialised with the
// deltas (followMu), so that a delta in progress does not give a replica
// a role after it went.
func (r *partitions) takeOffline(failed []failedLog) {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	if r.stopped {
		return
	}
	var refs []metadata.PartitionRef
	for _, f := range failed {
		p, id := r.remove(f.topic, f.partition, f.err)
		if p == nil {
			continue // a log being opened, or a replica stopped meanwhile
		}
		p.Fail(f.err)
		r.unfetch(p)
		_ = p.Close() // fails: the log failed, and the close says so
		r.logger.Error("replica offline (KAFKA_STORAGE_ERROR) until the broker restarts: its log failed; reporting it to the controller",
			"topic", f.topic, "partition", f.partition, "err", f.err)
		refs = append(refs, metadata.PartitionRef{TopicID: id, Partition: f.partition})
	}
	r.reportOffline(refs)
}

// remove takes replica index of topic out of the registry and marks it
// offline with err; it returns the replica (nil if there is none) and its
// topic's ID.
func (r *partitions) remove(topic string, index int32, err error) (*partition.Partition, metadata.TopicID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lt := r.topics[topic]
	if lt == nil || index < 0 || int(index) >= len(lt.parts) || lt.parts[index] == nil {
		return nil, metadata.TopicID{}
	}
	parts := slices.Clone(lt.parts) // readers hold the old slice
	p := parts[index]
	parts[index] = nil
	if slices.ContainsFunc(parts, func(p *partition.Partition) bool { return p != nil }) {
		r.topics[topic] = &localTopic{id: lt.id, parts: parts, cfg: lt.cfg}
	} else {
		delete(r.topics, topic)
	}
	r.offline.mark(topic, lt.id, index, err)
	return p, lt.id
}

// reportOffline sends refs to the controller, if there are any and a
// reporter (tests that drive the roles alone have none).
func (r *partitions) reportOffline(refs []metadata.PartitionRef) {
	if len(refs) > 0 && r.offlineReports != nil {
		r.offlineReports.send(refs)
	}
}

// offlineReports proposes OfflineReplicas records, one goroutine per
// report, each retried until the controller decides it (accepted, or
// refused: STALE_BROKER_EPOCH means a new registration of this broker,
// which starts without the replicas' failure) or the broker stops.
type offlineReports struct {
	nodeID      int32
	brokerEpoch func() int64
	propose     func(context.Context, metadata.OfflineReplicas) (*kerr.Error, error)
	proposals
}

func (s *offlineReports) send(refs []metadata.PartitionRef) {
	rec := metadata.OfflineReplicas{BrokerID: s.nodeID, BrokerEpoch: s.brokerEpoch(), Replicas: refs}
	s.start(func() {
		refused := s.retry(func(ctx context.Context) (*kerr.Error, error) { return s.propose(ctx, rec) },
			func() bool { return true }, "offline replicas report not decided; retrying", "count", len(refs))
		if refused != nil {
			s.logger.Warn("offline replicas report refused", "err", refused)
		}
	})
}
