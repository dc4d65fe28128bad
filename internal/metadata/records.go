package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
)

// RecordType tags a record in the Raft log. Values are persisted: never
// renumber, only add.
type RecordType uint8

const (
	TypeSetClusterID        RecordType = 1
	TypeRegisterBroker      RecordType = 2
	TypeCreateTopic         RecordType = 3
	TypeDeleteTopic         RecordType = 4
	TypeCreatePartitions    RecordType = 5
	TypeAlterTopicConfigs   RecordType = 6
	TypeAlterBrokerConfigs  RecordType = 7
	TypeAllocateProducerIDs RecordType = 8
	TypeFenceBroker         RecordType = 9
	TypeUnfenceBroker       RecordType = 10
	TypeAlterPartition      RecordType = 11
	// TypeAlterPartitionReassignment and TypeElectLeader: reassign.go,
	// elect.go; TypeOfflineReplicas (15): offline.go.
	TypeAlterPartitionReassignment RecordType = 12
	TypeElectLeader                RecordType = 13
	TypeRecoverLeader              RecordType = 14 // recover.go
)

// Record is one change to the metadata. The set of records is closed: only the
// types of this package implement it.
type Record interface {
	Type() RecordType
}

// SetClusterID sets the cluster ID once, when the quorum is bootstrapped.
type SetClusterID struct {
	ClusterID string
}

// RegisterBroker adds a broker or replaces the registration with the same
// ID. The broker is fenced until a heartbeat unfences it, and its epoch is
// the record's Raft index (Broker.Epoch is set by apply, not the proposer).
// A registration equal to the current one (same incarnation and
// endpoints: a retry) changes nothing and keeps the epoch. Any other
// replaces the previous registration, which is fenced first in the same
// record (its leaderships move within the ISR), so a new incarnation never
// keeps the old one's leaderships. UncleanShutdown says the broker's data
// directory was not shut down cleanly (no clean-shutdown mark: kill -9,
// power loss, a new disk), so its logs may lack records it had
// acknowledged: the broker also leaves every ISR of several replicas it is
// still in (those it was the last member of), which are left empty and
// without a leader until the recovery election (RecoverLeader) rather than
// elect it with less than the committed data (KIP-966; doc.go).
type RegisterBroker struct {
	Broker          Broker
	UncleanShutdown bool `json:",omitempty"`
}

// FenceBroker fences the broker registered with ID and Epoch: Metadata
// responses stop listing it. The active controller proposes it when the
// broker's heartbeats stop for broker.session.timeout.ms.
type FenceBroker struct {
	ID    int32
	Epoch int64
}

// UnfenceBroker unfences the broker registered with ID and Epoch, on a
// heartbeat from a broker that has caught up with the metadata log.
type UnfenceBroker struct {
	ID    int32
	Epoch int64
}

// AlterPartition is a partition leader's ISR change (Kafka's AlterPartition
// request for one partition): the leader registered as BrokerID with
// BrokerEpoch, leading in LeaderEpoch, asks that the partition, at
// PartitionEpoch, get ISR. BrokerEpochs, by ISR position, are the broker
// epochs the members fetched with (-1: not known; KIP-903). Apply checks
// it as Kafka's ReplicationControlManager does and bumps the partition
// epoch.
type AlterPartition struct {
	BrokerID       int32
	BrokerEpoch    int64
	TopicID        TopicID
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
	BrokerEpochs   []int64 `json:",omitempty"`
}

// AlterPartitionReassignment starts or replaces the reassignment of one
// partition to Replicas, or with Replicas nil cancels the one in progress
// (Kafka's AlterPartitionReassignments for one partition; reassign.go).
type AlterPartitionReassignment struct {
	TopicID   TopicID
	Partition int32
	Replicas  []int32
}

// ElectLeader elects the preferred replica of one partition, or with
// Unclean any live replica of a partition without a live leader (Kafka's
// ElectLeaders for one partition; elect.go).
type ElectLeader struct {
	TopicID   TopicID
	Partition int32
	Unclean   bool `json:",omitempty"`
}

// CreateTopic creates a topic. The proposer chooses the ID and the placement.
type CreateTopic struct {
	Name       string
	ID         TopicID
	Partitions []Partition
	Configs    map[string]string
}

// DeleteTopic deletes the topic with the given ID.
type DeleteTopic struct {
	ID TopicID
}

// CreatePartitions appends partitions to a topic; New must continue the
// numbering of the existing partitions.
type CreatePartitions struct {
	TopicID TopicID
	New     []Partition
}

// AlterTopicConfigs sets and deletes dynamic configs of one topic. A key both
// set and deleted is deleted.
type AlterTopicConfigs struct {
	Name   string
	Set    map[string]string
	Delete []string
}

// AlterBrokerConfigs sets and deletes cluster-wide dynamic broker configs.
type AlterBrokerConfigs struct {
	Set    map[string]string
	Delete []string
}

// AllocateProducerIDs reserves BlockSize producer IDs; the Result carries the
// first one. IDs are never handed out twice.
type AllocateProducerIDs struct {
	BlockSize int64
}

func (SetClusterID) Type() RecordType               { return TypeSetClusterID }
func (RegisterBroker) Type() RecordType             { return TypeRegisterBroker }
func (CreateTopic) Type() RecordType                { return TypeCreateTopic }
func (DeleteTopic) Type() RecordType                { return TypeDeleteTopic }
func (CreatePartitions) Type() RecordType           { return TypeCreatePartitions }
func (AlterTopicConfigs) Type() RecordType          { return TypeAlterTopicConfigs }
func (AlterBrokerConfigs) Type() RecordType         { return TypeAlterBrokerConfigs }
func (AllocateProducerIDs) Type() RecordType        { return TypeAllocateProducerIDs }
func (FenceBroker) Type() RecordType                { return TypeFenceBroker }
func (UnfenceBroker) Type() RecordType              { return TypeUnfenceBroker }
func (AlterPartition) Type() RecordType             { return TypeAlterPartition }
func (AlterPartitionReassignment) Type() RecordType { return TypeAlterPartitionReassignment }
func (ElectLeader) Type() RecordType                { return TypeElectLeader }
func (RecoverLeader) Type() RecordType              { return TypeRecoverLeader }

// ErrCorruptRecord is returned by DecodeRecord for bytes that are not a record.
var ErrCorruptRecord = errors.New("metadata: corrupt record")

// EncodeRecord returns the log representation of r: its type byte and JSON.
func EncodeRecord(r Record) ([]byte, error) {
	payload, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode %T: %w", r, err)
	}
	return append([]byte{byte(r.Type())}, payload...), nil
}

// DecodeRecord parses bytes written by EncodeRecord. It never panics; bad
// input yields an error wrapping ErrCorruptRecord.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorruptRecord)
	}
	var r Record
	var err error
	payload := b[1:]
	switch RecordType(b[0]) {
	case TypeSetClusterID:
		r, err = decodeAs[SetClusterID](payload)
	case TypeRegisterBroker:
		r, err = decodeAs[RegisterBroker](payload)
	case TypeCreateTopic:
		r, err = decodeAs[CreateTopic](payload)
	case TypeDeleteTopic:
		r, err = decodeAs[DeleteTopic](payload)
	case TypeCreatePartitions:
		r, err = decodeAs[CreatePartitions](payload)
	case TypeAlterTopicConfigs:
		r, err = decodeAs[AlterTopicConfigs](payload)
	case TypeAlterBrokerConfigs:
		r, err = decodeAs[AlterBrokerConfigs](payload)
	case TypeAllocateProducerIDs:
		r, err = decodeAs[AllocateProducerIDs](payload)
	case TypeFenceBroker:
		r, err = decodeAs[FenceBroker](payload)
	case TypeUnfenceBroker:
		r, err = decodeAs[UnfenceBroker](payload)
	case TypeAlterPartition:
		r, err = decodeAs[AlterPartition](payload)
	case TypeAlterPartitionReassignment:
		r, err = decodeAs[AlterPartitionReassignment](payload)
	case TypeElectLeader:
		r, err = decodeAs[ElectLeader](payload)
	case TypeRecoverLeader:
		r, err = decodeAs[RecoverLeader](payload)
	case TypeOfflineReplicas:
		r, err = decodeAs[OfflineReplicas](payload)
	case TypeAlterScramCredentials:
		r, err = decodeAs[AlterScramCredentials](payload)
	case TypeAlterACLs:
		r, err = decodeAs[AlterACLs](payload)
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrCorruptRecord, b[0])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: type %d: %w", ErrCorruptRecord, b[0], err)
	}
	return r, nil
}

func decodeAs[T Record](payload []byte) (Record, error) {
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		return nil, err
	}
	return v, nil
}
