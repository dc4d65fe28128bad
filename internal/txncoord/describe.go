package txncoord

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Describe is DescribeTransactions for ids, as Kafka's
// handleDescribeTransactions: an ID this broker does not coordinate is
// NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS while loading), an
// unknown one TRANSACTIONAL_ID_NOT_FOUND.
func (c *Coordinator) Describe(ids []string) []kmsg.DescribeTransactionsResponseTransactionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]kmsg.DescribeTransactionsResponseTransactionState, 0, len(ids))
	for _, id := range ids {
		s := kmsg.NewDescribeTransactionsResponseTransactionState()
		s.TransactionalID, s.ProducerID, s.ProducerEpoch, s.StartTimestamp = id, -1, -1, -1
		tp, code := c.lookup(id)
		var m *txnMeta
		if code == 0 {
			if m = tp.txns[id]; m == nil {
				code = kerr.TransactionalIDNotFound.Code
			}
		}
		if s.ErrorCode = code; code == 0 {
			s.State, s.TimeoutMillis, s.StartTimestamp = m.state.String(), m.timeoutMs, m.startMs
			s.ProducerID, s.ProducerEpoch = m.producerID, m.epoch
			for _, g := range byTopic(m.sortedPartitions()) {
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic, t.Partitions = g.topic, g.partitions
				s.Topics = append(s.Topics, t)
			}
		}
		out = append(out, s)
	}
	return out
}

// List is ListTransactions, as Kafka's listTransactionStates: the
// transactions of every loaded partition in one of states (all if
// empty), of one of pids (all if empty) and, if minDurationMs >= 0,
// running for at least that long (v1). Filter states that are not
// states are returned as unknown; while a partition loads the answer is
// COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) List(states []string, pids []int64, minDurationMs int64) (txns []kmsg.ListTransactionsResponseTransactionState, unknown []string, code int16) {
	want := map[State]bool{}
	for _, name := range states {
		if s, ok := stateByName(name); ok {
			want[s] = true
		} else {
			unknown = append(unknown, name)
		}
	}
	if len(states) > 0 && len(want) == 0 {
		return nil, unknown, 0
	}
	wantPID := map[int64]bool{}
	for _, p := range pids {
		wantPID[p] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.loading) > 0 {
		return nil, unknown, kerr.CoordinatorLoadInProgress.Code
	}
	now := c.cfg.Now().UnixMilli()
	for _, tp := range c.parts {
		for _, m := range tp.txns {
			if m.state == Dead || (len(want) > 0 && !want[m.state]) || (len(wantPID) > 0 && !wantPID[m.producerID]) {
				continue
			}
			if minDurationMs >= 0 && (m.startMs < 0 || now-m.startMs < minDurationMs) {
				continue
			}
			t := kmsg.NewListTransactionsResponseTransactionState()
			t.TransactionalID, t.ProducerID, t.TransactionState = m.id, m.producerID, m.state.String()
			txns = append(txns, t)
		}
	}
	sort.Slice(txns, func(i, j int) bool { return txns[i].TransactionalID < txns[j].TransactionalID })
	return txns, unknown, 0
}
