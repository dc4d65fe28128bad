package quorum

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// The recovery election (KIP-966's unclean recovery, "balanced"): a
// partition whose ISR is empty (metadata.Partition.AwaitsRecovery) gets
// as leader the recovery candidate with the longest log once every
// candidate is live and has reported its log (metadata.RecoverLeader).
// Brokers report with their heartbeats (Controller.SetLogReporter): for
// each such partition they hold a candidate replica of, the leader epoch
// of the log's last batch and its end offset. The active controller keeps
// the reports in memory, as Kafka's controller keeps heartbeats: a new
// one hears them again at the next heartbeats. With
// unclean.leader.election.enable a partition that has waited
// recoveryBound without every candidate reporting gets an unclean
// election instead (its first live replica leads; records only the
// missing candidates had are lost).

// maxReports bounds the reports one heartbeat carries: what fits in a
// frame.
const maxReports = (maxRPCFrame - rpcRequestHead - 4) / reportSize

const reportSize = 16 + 4 + 4 + 4 + 8

// appendReports appends the encoding of reports (see the controller RPC's
// format); none appends nothing, as heartbeats were before reports.
func appendReports(b []byte, reports []metadata.LogReport) []byte {
	if len(reports) == 0 {
		return b
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(reports)))
	for _, r := range reports {
		b = append(b, r.TopicID[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(r.Partition))
		b = binary.BigEndian.AppendUint32(b, uint32(r.PartitionEpoch))
		b = binary.BigEndian.AppendUint32(b, uint32(r.LastEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(r.LogEndOffset))
	}
	return b
}

// decodeReports parses what appendReports wrote. It never panics.
func decodeReports(b []byte) ([]metadata.LogReport, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: heartbeat reports of %d bytes", errBadFrame, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || n > maxReports || len(b)-4 != int(n)*reportSize {
		return nil, fmt.Errorf("%w: %d heartbeat reports in %d bytes", errBadFrame, n, len(b))
	}
	out := make([]metadata.LogReport, n)
	for i := range out {
		e := b[4+i*reportSize:]
		r := &out[i]
		copy(r.TopicID[:], e)
		r.Partition = int32(binary.BigEndian.Uint32(e[16:]))
		r.PartitionEpoch = int32(binary.BigEndian.Uint32(e[20:]))
		r.LastEpoch = int32(binary.BigEndian.Uint32(e[24:]))
		r.LogEndOffset = int64(binary.BigEndian.Uint64(e[28:]))
	}
	return out, nil
}

// SetLogReporter sets what this node's broker reports with each heartbeat
// (see metadata.LogReport): its replicas' logs of the partitions awaiting
// recovery of which it is a candidate. fn must not block for long: it
// runs on the heartbeat's path.
func (c *Controller) SetLogReporter(fn func() []metadata.LogReport) { c.reporter.Store(&fn) }

// ReportNow makes this node's broker heartbeat at once, so that the
// active controller hears its reports (a partition began to await
// recovery) without waiting for the next heartbeat.
func (c *Controller) ReportNow() {
	select {
	case c.beatNow <- struct{}{}:
	default:
	}
}

// logReports is what the reporter says now, at most maxReports of it.
func (c *Controller) logReports() []metadata.LogReport {
	fn := c.reporter.Load()
	if fn == nil {
		return nil
	}
	reports := (*fn)()
	return reports[:min(len(reports), maxReports)]
}

type partitionKey struct {
	topic     metadata.TopicID
	partition int32
}

type brokerReport struct {
	epoch int64 // the registration that reported
	metadata.LogReport
}

// recovery is the active controller's memory of the reports and of when
// it first saw each partition await recovery, for its raft term.
type recovery struct {
	mu      sync.Mutex
	term    uint64                                  // guarded by mu
	reports map[partitionKey]map[int32]brokerReport // guarded by mu
	since   map[partitionKey]time.Time              // guarded by mu: when this term first saw it await
	changed bool                                    // guarded by mu: a report changed since the last pass
}

// forTerm resets r for term; r.mu is held.
func (r *recovery) forTerm(term uint64) {
	if r.reports == nil || r.term != term {
		r.term, r.reports, r.since = term, map[partitionKey]map[int32]brokerReport{}, map[partitionKey]time.Time{}
	}
}

// recordReports keeps, on the active controller, the reports of broker
// registered with epoch, and wakes the liveness watcher to elect when one
// changed.
func (c *Controller) recordReports(broker int32, epoch int64, reports []metadata.LogReport) {
	if len(reports) == 0 {
		return
	}
	term := c.raft.CurrentTerm()
	r := &c.recov
	r.mu.Lock()
	r.forTerm(term)
	changed := false
	for _, rep := range reports {
		key := partitionKey{rep.TopicID, rep.Partition}
		byBroker := r.reports[key]
		if byBroker == nil {
			byBroker = map[int32]brokerReport{}
			r.reports[key] = byBroker
		}
		next := brokerReport{epoch: epoch, LogReport: rep}
		if byBroker[broker] != next {
			byBroker[broker] = next
			changed = true
		}
	}
	r.changed = r.changed || changed
	r.mu.Unlock()
	if changed {
		select {
		case c.liveWake <- struct{}{}:
		default:
		}
	}
}

// recoveryPass reports whether the liveness watcher should look at the
// partitions awaiting recovery now: a report changed, or one is waiting
// (its bound may have run out).
func (c *Controller) recoveryPass() bool {
	r := &c.recov
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed || len(r.since) > 0
}

// recoveryBound is how long a partition awaiting recovery waits for all
// its candidates before unclean.leader.election.enable lets an unclean
// election take it: a broker's session, in which a live broker is heard
// from.
func (c *Controller) recoveryBound() time.Duration { return c.cfg.Liveness.SessionTimeout }

// recoverLeaders runs on the active controller (the liveness watcher):
// every partition of img that awaits recovery gets its recovery election
// once all its candidates have reported, or, once it has waited
// recoveryBound and its unclean.leader.election.enable resolves true, an
// unclean one.
func (c *Controller) recoverLeaders(img *metadata.Image, now time.Time) {
	type job struct {
		name    string
		t       *metadata.Topic
		p       metadata.Partition
		reports map[int32]metadata.LogReport
		waited  time.Duration
	}
	var jobs []job
	r := &c.recov
	r.mu.Lock()
	r.forTerm(c.raft.CurrentTerm())
	r.changed = false
	awaiting := map[partitionKey]bool{}
	for name, t := range img.Topics { // each proposal stands alone: order does not matter
		for _, p := range t.Partitions {
			if !p.AwaitsRecovery() {
				continue
			}
			key := partitionKey{t.ID, p.Partition}
			awaiting[key] = true
			first, ok := r.since[key]
			if !ok {
				first = now
				r.since[key] = now
			}
			reports := map[int32]metadata.LogReport{}
			for id, rep := range r.reports[key] {
				if b, ok := img.Brokers[id]; ok && b.Epoch == rep.epoch {
					reports[id] = rep.LogReport
				}
			}
			jobs = append(jobs, job{name: name, t: t, p: p, reports: reports, waited: now.Sub(first)})
		}
	}
	for key := range r.since {
		if !awaiting[key] {
			delete(r.since, key)
			delete(r.reports, key)
		}
	}
	r.mu.Unlock()

	for _, j := range jobs {
		leader, waiting, ok := img.RecoveryLeader(j.p, j.reports)
		if ok {
			rec := metadata.RecoverLeader{TopicID: j.t.ID, Partition: j.p.Partition, PartitionEpoch: j.p.PartitionEpoch, Leader: leader,
				BrokerEpochs: img.CandidateEpochs(j.p)}
			if c.proposeElection(rec, j.name, j.p.Partition) {
				c.logger.Warn("quorum: recovery election: the last-known in-sync replica with the longest log leads a partition whose ISR was emptied by unclean restarts",
					"topic", j.name, "partition", j.p.Partition, "leader", leader, "candidates", j.p.RecoveryCandidates(), "logs", j.reports)
			}
			continue
		}
		allowed := c.cfg.UncleanLeaderElection
		if j.waited < c.recoveryBound() || allowed == nil || !allowed(j.t, img.BrokerConfigs) || !img.NeedsUncleanElection(j.p) {
			continue
		}
		if c.proposeElection(metadata.ElectLeader{TopicID: j.t.ID, Partition: j.p.Partition, Unclean: true}, j.name, j.p.Partition) {
			c.logger.Warn("quorum: unclean leader election (unclean.leader.election.enable): a partition awaiting recovery did not hear from all its last-known in-sync replicas in time; records only they had are lost",
				"topic", j.name, "partition", j.p.Partition, "leader", c.leaderOf(j.name, j.p.Partition), "waiting-for", waiting, "waited", j.waited.Round(time.Millisecond))
		}
	}
}

// proposeElection proposes rec, an election of partition of topic, and
// reports whether it was applied; a failure is logged.
func (c *Controller) proposeElection(rec metadata.Record, topic string, partition int32) bool {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Liveness.SessionTimeout)
	defer cancel()
	if _, err := c.propose(ctx, rec); err != nil {
		c.logger.Warn("quorum: leader election failed", "topic", topic, "partition", partition, "record", fmt.Sprintf("%T", rec), "err", err)
		return false
	}
	return true
}

// leaderOf is the leader of partition of topic in the current image, or -1.
func (c *Controller) leaderOf(topic string, partition int32) int32 {
	if t := c.Image().Topics[topic]; t != nil && int(partition) < len(t.Partitions) {
		return t.Partitions[partition].Leader
	}
	return -1
}
