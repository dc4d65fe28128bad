package group

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// CommitTimeout bounds the wait for a group's records to be committed
// before a request is answered (Kafka's offsets.commit.timeout.ms
// default).
const CommitTimeout = 5 * time.Second

// Writes and their commit, as Kafka's CoordinatorRuntime: a request's
// records are appended under the group's lock (so the log's order is the
// order of the group's state changes), the lock is let go, and the answer
// waits until the high watermark passes every record the group wrote
// until then (awaitWritten), so that no request is answered on a record a
// failover could lose, and no replication round trip holds the lock.
//
// The state the records change is changed at once, as Kafka's runtime
// applies a write to its timeline before the commit: later requests of
// the group build on it. What a reader sees differs for committed offsets
// only: OffsetFetch answers from the committed records (Kafka reads its
// timeline at the last committed offset), through the changes kept in
// uncommitted until the high watermark passes them. The other reads
// (DescribeGroups, ConsumerGroupDescribe, ListGroups) take the latest
// state under the lock and answer it once the group's records written by
// then are committed (read), so they never show a state a failover could
// take back; they may show one newer than the log's only where the state
// changed without a record (a classic group preparing a rebalance, as in
// Kafka). A group deleted (DeleteGroups, or emptied and expired) is gone
// from the coordinator as soon as its tombstones are appended.

// offsetChange is a change of one committed offset whose record ends at
// end (the log offset after it), not known to be committed: prev is the
// offset it replaced (had false: there was none).
type offsetChange struct {
	end  int64
	tp   TopicPartition
	prev Offset
	had  bool
}

// setOffset records that tp's committed offset is o (nil: deleted), whose
// record is at log offset record, as of the group's last append. A
// deletion also drops the partition's pending transactional commits, as
// Kafka's replay of a plain tombstone does. g.mu is held.
func (g *group) setOffset(tp TopicPartition, o *Offset, record int64) {
	prev, had := g.offsets[tp.Topic][tp.Partition]
	if g.written > g.s.log.Committed() {
		g.pruneUncommitted()
		g.uncommitted = append(g.uncommitted, offsetChange{end: g.written, tp: tp, prev: prev, had: had})
	}
	if o == nil {
		delete(g.recordOf, tp)
		g.dropPending(tp)
		delete(g.offsets[tp.Topic], tp.Partition)
		if len(g.offsets[tp.Topic]) == 0 {
			delete(g.offsets, tp.Topic)
		}
		return
	}
	if g.offsets[tp.Topic] == nil {
		g.offsets[tp.Topic] = make(map[int32]Offset)
	}
	g.offsets[tp.Topic][tp.Partition] = *o
	g.recordOf[tp] = record
}

// pruneUncommitted drops the changes the high watermark passed. g.mu is
// held.
func (g *group) pruneUncommitted() {
	hw := g.s.log.Committed()
	n := 0
	for n < len(g.uncommitted) && g.uncommitted[n].end <= hw {
		n++
	}
	if n > 0 {
		g.uncommitted = append(g.uncommitted[:0], g.uncommitted[n:]...)
	}
}

// committedOffset is tp's offset as the committed records have it: the
// value before its first change not yet committed, else the current one.
// g.mu is held, and pruneUncommitted was called.
func (g *group) committedOffset(tp TopicPartition) (Offset, bool) {
	for _, ch := range g.uncommitted {
		if ch.tp == tp {
			return ch.prev, ch.had
		}
	}
	o, ok := g.offsets[tp.Topic][tp.Partition]
	return o, ok
}

// lastWritten is the offset after the group's last record (0: none).
func (g *group) lastWritten() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.written
}

// write runs f under g.mu and, if it succeeded, waits for the group's
// records to be committed (awaitWritten) after letting go of g.mu.
func (g *group) write(f func() int16) int16 {
	g.mu.Lock()
	code := f()
	end := g.written
	g.mu.Unlock()
	if code == 0 {
		code = g.awaitWritten(end)
	}
	return code
}

// read runs f under g.mu and waits, after letting go of g.mu, until the
// group's records written by then are committed (awaitWritten), so that
// what f saw is no state a failover could take back.
func (g *group) read(f func()) int16 {
	g.mu.Lock()
	f()
	end := g.written
	g.mu.Unlock()
	return g.awaitWritten(end)
}

// awaitWritten waits, without g.mu, until the group's records below end
// are committed, and returns the code to answer instead if they are not
// within CommitTimeout.
func (g *group) awaitWritten(end int64) int16 {
	if end <= g.s.log.Committed() {
		return 0
	}
	if err := g.s.log.WaitCommitted(end, CommitTimeout); err != nil {
		g.c.cfg.Logger.Warn("waiting for __consumer_offsets records to be committed", "group", g.id, "partition", g.s.partition, "end", end, "err", err)
		return logErrorCode(err)
	}
	return 0
}

// logErrorCode is what a client is told of a failed write, as Kafka's
// group coordinator normalises it: the partition's leadership gone or its
// disk failing is NOT_COORDINATOR (the client looks for the coordinator
// again), a transactional commit's fenced producer epoch
// INVALID_PRODUCER_EPOCH (Kafka passes it through), anything else (too
// few in-sync replicas, a timeout) COORDINATOR_NOT_AVAILABLE (it retries).
func logErrorCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke.Code {
		case kerr.NotLeaderForPartition.Code, kerr.KafkaStorageError.Code:
			return kerr.NotCoordinator.Code
		case kerr.InvalidProducerEpoch.Code:
			return ke.Code
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}
