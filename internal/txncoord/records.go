package txncoord

import (
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// errSkip marks a record of a key version this coordinator does not know,
// which loading skips, as Kafka's TransactionLog.readTxnRecordKey.
var errSkip = errors.New("txncoord: unknown record key version")

func encodeKey(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = id
	return k.AppendTo(nil)
}

// encodeValue is m as Kafka's TransactionLogValue: version 0 for a
// transactions v1 client, 1 (flexible, with the producer IDs of KIP-890's
// tagged fields) for v2, as Kafka 4 writes.
func encodeValue(m *txnMeta) []byte {
	v := kmsg.NewTxnMetadataValue()
	if m.version >= 2 {
		v.Version = 1
	}
	v.ProducerID, v.ProducerEpoch = m.producerID, m.epoch
	v.TimeoutMillis = m.timeoutMs
	v.State = kmsg.TransactionState(m.state)
	v.LastUpdateTimestamp, v.StartTimestamp = m.updateMs, m.startMs
	v.PreviousProducerID, v.NextProducerID = m.prevProducerID, m.nextProducerID
	v.ClientTransactionVersion = m.version
	v.NextProducerEpoch = -1
	for _, t := range byTopic(m.sortedPartitions()) {
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic, vt.Partitions = t.topic, t.partitions
		v.Topics = append(v.Topics, vt)
	}
	return v.AppendTo(nil)
}

// decodeRecord reads one record of __transaction_state: the
// transactional.id and its state, or nil for a tombstone. A key of an
// unknown version is errSkip; anything else unreadable or impossible (an
// unknown state, an empty transaction with partitions) is an error.
func decodeRecord(key, value []byte) (string, *txnMeta, error) {
	k := kmsg.NewTxnMetadataKey()
	if len(key) < 2 {
		return "", nil, fmt.Errorf("txncoord: short record key (%d bytes)", len(key))
	}
	if v := int16(key[0])<<8 | int16(key[1]); v != 0 {
		return "", nil, errSkip
	}
	if err := k.ReadFrom(key); err != nil {
		return "", nil, fmt.Errorf("txncoord: decoding record key: %w", err)
	}
	if value == nil {
		return k.TransactionalID, nil, nil
	}
	if len(value) < 2 {
		return "", nil, fmt.Errorf("txncoord: short record value of %q", k.TransactionalID)
	}
	if ver := int16(value[0])<<8 | int16(value[1]); ver < 0 || ver > 1 {
		return "", nil, fmt.Errorf("txncoord: record value of %q has unknown version %d", k.TransactionalID, ver)
	}
	v := kmsg.NewTxnMetadataValue()
	if err := v.ReadFrom(value); err != nil {
		return "", nil, fmt.Errorf("txncoord: decoding record value of %q: %w", k.TransactionalID, err)
	}
	st := State(v.State)
	if st < Empty || st > PrepareEpochFence {
		return "", nil, fmt.Errorf("txncoord: record of %q has unknown state %d", k.TransactionalID, v.State)
	}
	if st == Empty && len(v.Topics) > 0 {
		return "", nil, fmt.Errorf("txncoord: record of %q: an Empty transaction with partitions", k.TransactionalID)
	}
	m := &txnMeta{
		id: k.TransactionalID, producerID: v.ProducerID, prevProducerID: v.PreviousProducerID,
		nextProducerID: v.NextProducerID, epoch: v.ProducerEpoch, lastEpoch: -1,
		timeoutMs: v.TimeoutMillis, state: st, startMs: v.StartTimestamp, updateMs: v.LastUpdateTimestamp,
		version: v.ClientTransactionVersion, partitions: map[TopicPartition]struct{}{},
	}
	if v.Version == 0 {
		m.prevProducerID, m.nextProducerID, m.version = -1, -1, 0
	}
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			m.partitions[TopicPartition{t.Topic, p}] = struct{}{}
		}
	}
	return k.TransactionalID, m, nil
}

// TopicPartition names one partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (m *txnMeta) sortedPartitions() []TopicPartition {
	out := make([]TopicPartition, 0, len(m.partitions))
	for tp := range m.partitions {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

type topicPartitions struct {
	topic      string
	partitions []int32
}

// byTopic groups sorted partitions by topic, as the log and the
// responses list them.
func byTopic(parts []TopicPartition) []topicPartitions {
	var out []topicPartitions
	for _, p := range parts {
		if n := len(out); n > 0 && out[n-1].topic == p.Topic {
			out[n-1].partitions = append(out[n-1].partitions, p.Partition)
			continue
		}
		out = append(out, topicPartitions{p.Topic, []int32{p.Partition}})
	}
	return out
}
