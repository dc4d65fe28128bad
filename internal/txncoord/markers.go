package txncoord

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// complete starts sending the markers of m, which is in a prepare state,
// then writes its completion, as Kafka's TransactionMarkerChannelManager.
// c.mu is held.
func (c *Coordinator) complete(tp *txnPartition, m *txnMeta) {
	mk := Marker{
		ProducerID: m.producerID, ProducerEpoch: m.epoch, CoordinatorEpoch: tp.epoch,
		Commit: m.state == PrepareCommit, Partitions: m.sortedPartitions(),
	}
	if m.version >= 2 {
		mk.TransactionVersion = 2
	}
	if m.sending {
		return
	}
	m.sending, m.attempts = true, 0
	c.wg.Add(1)
	go c.sendMarkers(tp, m, mk)
}

// sendMarkers writes mk to each partition until every one has it, as
// Kafka's TransactionMarkerRequestCompletionHandler: a partition whose
// leader moved or is behind is retried, one that does not take the
// message format is left out, and a producer epoch or coordinator epoch
// fenced there means a newer coordinator owns the transaction, so this one
// stops. Then the completion is written (retried while this broker
// coordinates the partition).
func (c *Coordinator) sendMarkers(tp *txnPartition, m *txnMeta, mk Marker) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		m.sending = false
		c.mu.Unlock()
	}()
	left := mk.Partitions
	for len(left) > 0 {
		req := mk
		req.Partitions = left
		codes := c.cfg.Markers.Write(tp.ctx, req)
		c.mu.Lock()
		m.attempts++
		c.mu.Unlock()
		var retry []TopicPartition
		for _, p := range left {
			code, ok := codes[p]
			switch {
			case !ok:
				retry = append(retry, p)
			case code == 0, code == kerr.UnsupportedForMessageFormat.Code, code == kerr.UnsupportedVersion.Code:
			case code == kerr.InvalidProducerEpoch.Code, code == kerr.TransactionCoordinatorFenced.Code:
				c.cfg.Logger.Warn("transaction markers fenced: a newer coordinator or producer epoch owns the transaction",
					"transactional.id", m.id, "topic", p.Topic, "partition", p.Partition, "err", kerr.ErrorForCode(code))
				return
			default:
				retry = append(retry, p)
			}
		}
		if left = retry; len(left) > 0 && !c.sleep(tp) {
			return
		}
	}
	for {
		c.mu.Lock()
		if c.parts[tp.index] != tp || (m.state != PrepareCommit && m.state != PrepareAbort) {
			c.mu.Unlock()
			return
		}
		next := m.clone()
		next.state = CompleteAbort
		if m.state == PrepareCommit {
			next.state = CompleteCommit
		}
		next.partitions = map[TopicPartition]struct{}{}
		next.updateMs = c.cfg.Now().UnixMilli()
		if m.nextProducerID >= 0 {
			next.prevProducerID, next.producerID, next.epoch, next.lastEpoch = m.producerID, m.nextProducerID, 0, -1
			next.nextProducerID = -1
		}
		code := c.write(tp, m, next)
		c.mu.Unlock()
		if code == 0 || code == kerr.NotCoordinator.Code || !c.sleep(tp) {
			return
		}
	}
}

// sleep waits MarkerRetry, false if the partition was unloaded meanwhile.
func (c *Coordinator) sleep(tp *txnPartition) bool {
	t := time.NewTimer(c.cfg.MarkerRetry)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-tp.ctx.Done():
		return false
	}
}
