package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// ErrCorrupt marks a __consumer_offsets record the coordinator cannot
// decode.
var ErrCorrupt = errors.New("group: corrupt __consumer_offsets record")

// Log is the coordinator's view of one __consumer_offsets partition, led
// by this broker.
type Log interface {
	// Append stores recs as one batch, in order, in the leader's log and
	// returns the offset after the batch, without waiting for the
	// followers: the coordinator calls it under a group's lock, so that
	// the log's order is the order of the state changes, and waits for
	// the commit (WaitCommitted) after letting go of the lock.
	Append(recs []batch.Record) (int64, error)
	// AppendTxn is Append as a transactional batch of the producer at
	// producerEpoch (sequence -1, as Kafka's coordinator writes a
	// TxnOffsetCommit's records): the producer's marker on this partition
	// decides them. An older producer epoch is refused
	// (INVALID_PRODUCER_EPOCH).
	AppendTxn(producerID int64, producerEpoch int16, recs []batch.Record) (int64, error)
	// WaitCommitted waits until every record below end is committed (the
	// high watermark reached end: the whole ISR has them), timeout passes
	// or this broker stops leading the partition; it returns why it
	// stopped waiting, nil once committed.
	WaitCommitted(end int64, timeout time.Duration) error
	// Committed is the offset below which records are committed.
	Committed() int64
	// Replay calls fn with every record from the log start to its end
	// (above the high watermark too), in offset order, with the batch it
	// came in; a transaction marker comes as a record of its offset alone,
	// with Control set. An error from fn stops the replay and is returned.
	Replay(fn func(batch.Record, BatchInfo) error) error
}

// BatchInfo says which batch a replayed record is of.
type BatchInfo struct {
	ProducerID    int64 // -1: none
	Transactional bool
	// Control marks a transaction marker of ProducerID: Marker holds it.
	Control bool
	Marker  txn.Marker
}

// Offset is one committed offset.
type Offset struct {
	Offset      int64
	LeaderEpoch int32 // -1 when the client did not say
	Metadata    string
	// CommitTime is when the offset was committed, in unix milliseconds:
	// the coordinator's clock, or the commit timestamp an OffsetCommit v1
	// client gave.
	CommitTime int64
	// ExpireTime, if not 0, is when the offset expires (unix
	// milliseconds): the retention time an OffsetCommit v2-v4 client
	// asked for, which replaces offsets.retention.minutes (KIP-211).
	ExpireTime int64
}

const (
	offsetKeyVersion        = 1
	offsetValueVersion      = 3
	groupKeyVersion         = 2
	groupMetadataValueVersn = 3
)

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

// offsetValue encodes o as version 3, or as version 1, the only one with
// an expire timestamp, when o has one (as Kafka does; the commits that set
// it, v2-v4, carry no leader epoch to lose).
func offsetValue(o Offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if o.ExpireTime != 0 {
		v.Version = 1
		v.ExpireTimestamp = o.ExpireTime
	}
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.Offset, o.LeaderEpoch, o.Metadata, o.CommitTime
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// storedGroup is a group as its metadata record describes it.
type storedGroup struct {
	protocolType string
	generation   int32
	protocol     string
	leader       string
	stateTime    int64
	members      []kmsg.GroupMetadataValueMember
}

func groupValue(s storedGroup) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupMetadataValueVersn
	v.ProtocolType = s.protocolType
	v.Generation = s.generation
	if s.protocol != "" {
		v.Protocol = &s.protocol
	}
	if s.leader != "" {
		v.Leader = &s.leader
	}
	v.CurrentStateTimestamp = s.stateTime
	v.Members = s.members
	return v.AppendTo(nil)
}

// decoded is one __consumer_offsets record: an offset (topic set), a
// classic group's metadata, or one of a KIP-848 group's records (kind 3 to
// 8, see consumer_records.go). A nil value field is a tombstone.
type decoded struct {
	kind      int16 // the key version: 0 and 1 offsets, 2 classic group
	group     string
	topic     string
	partition int32
	isOffset  bool
	offset    *Offset
	metadata  *storedGroup

	member         string // of kinds 5, 7 and 8
	ignore         bool   // a record type Samsa does not use
	consumerGroup  *storedConsumerGroup
	consumerMember *storedConsumerMember
	targetEpoch    *storedTargetEpoch
	target         assignment
	current        *storedCurrentAssignment
}

func decodeRecord(r batch.Record) (decoded, error) {
	if len(r.Key) < 2 {
		return decoded{}, fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(r.Key))
	}
	version := int16(binary.BigEndian.Uint16(r.Key))
	switch version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.Key); err != nil {
			return decoded{}, fmt.Errorf("%w: offset key: %v", ErrCorrupt, err)
		}
		d := decoded{kind: version, group: k.Group, topic: k.Topic, partition: k.Partition, isOffset: true}
		if r.Value != nil {
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.Value); err != nil {
				return decoded{}, fmt.Errorf("%w: offset value: %v", ErrCorrupt, err)
			}
			epoch := int32(-1)
			if v.Version >= 3 {
				epoch = v.LeaderEpoch
			}
			d.offset = &Offset{Offset: v.Offset, LeaderEpoch: epoch, Metadata: v.Metadata, CommitTime: v.CommitTimestamp}
			if v.Version == 1 && v.ExpireTimestamp != -1 {
				d.offset.ExpireTime = v.ExpireTimestamp
			}
		}
		return d, nil
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(r.Key); err != nil {
			return decoded{}, fmt.Errorf("%w: group key: %v", ErrCorrupt, err)
		}
		d := decoded{kind: version, group: k.Group}
		if r.Value != nil {
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(r.Value); err != nil {
				return decoded{}, fmt.Errorf("%w: group value: %v", ErrCorrupt, err)
			}
			s := &storedGroup{protocolType: v.ProtocolType, generation: v.Generation, stateTime: v.CurrentStateTimestamp, members: v.Members}
			if v.Protocol != nil {
				s.protocol = *v.Protocol
			}
			if v.Leader != nil {
				s.leader = *v.Leader
			}
			d.metadata = s
		}
		return d, nil
	case consumerGroupMetadataType, consumerPartitionMetadata, consumerMemberMetadataType,
		consumerTargetMetadataType, consumerTargetMemberType, consumerCurrentAssignmentTyp, consumerRegexType:
		return decodeConsumerRecord(version, r.Key, r.Value)
	}
	return decoded{}, fmt.Errorf("%w: key version %d", ErrCorrupt, version)
}
