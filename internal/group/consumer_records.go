package group

// The KIP-848 records of __consumer_offsets, in Kafka's format. kmsg has
// codecs for the classic records only, so these are written here with
// kbin's primitives. A key is an int16 record type followed by the key's
// fields in the non-flexible encoding (int16-length strings); a value is
// an int16 version (0) followed by the value's fields in the flexible
// encoding (uvarint-length compact strings and arrays, a tagged-field
// section after every struct):
//
//	3 ConsumerGroupMetadata          key group           value epoch int32, tag 0: metadata hash int64
//	5 ConsumerGroupMemberMetadata    key group, member   value instance ID?, rack ID?, client ID, client host,
//	                                                           [subscribed topic], regex?, rebalance timeout ms int32,
//	                                                           server assignor?
//	6 ConsumerGroupTargetAssignmentMetadata key group    value assignment epoch int32
//	7 ConsumerGroupTargetAssignmentMember   key group, member value [topic ID uuid, [partition int32]]
//	8 ConsumerGroupCurrentMemberAssignment  key group, member value member epoch int32, previous epoch int32,
//	                                                           state int8, [assigned], [pending revocation]
//
// "?" marks a nullable string. Record type 4 (partition metadata, which
// Kafka 4.1 replaced with the metadata hash) and 16 (resolved regular
// expressions) are read and ignored. The metadata hash Samsa writes is its
// own fingerprint of the subscribed topics, not Kafka's: a Kafka broker
// reading it would only recompute the assignment.

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
)

// The record types (key versions) of KIP-848 consumer groups.
const (
	consumerGroupMetadataType    int16 = 3
	consumerPartitionMetadata    int16 = 4
	consumerMemberMetadataType   int16 = 5
	consumerTargetMetadataType   int16 = 6
	consumerTargetMemberType     int16 = 7
	consumerCurrentAssignmentTyp int16 = 8
	consumerRegexType            int16 = 16
)

// Kafka's MemberState values in the current assignment record.
const (
	memberStable               int8 = 0
	memberUnrevokedPartitions  int8 = 1
	memberUnreleasedPartitions int8 = 2
)

// staticLeftEpoch is the member epoch Kafka records for a static member
// that left temporarily (it heartbeat with epoch -2).
const staticLeftEpoch = -2

// consumerKey names one KIP-848 record of a group: its type and, for
// per-member records, the member.
type consumerKey struct {
	kind   int16
	member string
}

func (k consumerKey) encode(group string) []byte {
	b := kbin.AppendInt16(nil, k.kind)
	b = kbin.AppendString(b, group)
	if k.kind != consumerGroupMetadataType && k.kind != consumerTargetMetadataType {
		b = kbin.AppendString(b, k.member)
	}
	return b
}

// storedConsumerGroup is record 3's value.
type storedConsumerGroup struct {
	epoch      int32
	topicsHash uint64
}

// storedConsumerMember is record 5's value.
type storedConsumerMember struct {
	instanceID         *string
	rackID             *string
	clientID           string
	clientHost         string
	subscribed         []string
	regex              *string
	rebalanceTimeoutMs int32
	assignor           *string
}

// storedCurrentAssignment is record 8's value.
type storedCurrentAssignment struct {
	epoch         int32
	previousEpoch int32
	state         int8
	assigned      assignment
	revoking      assignment
}

// storedTargetEpoch is record 6's value; a record 7 value is an
// assignment.
type storedTargetEpoch int32

const valueVersion0 = 0

func appendNoTags(b []byte) []byte { return kbin.AppendUvarint(b, 0) }

func encodeConsumerGroup(v storedConsumerGroup) []byte {
	b := kbin.AppendInt16(nil, valueVersion0)
	b = kbin.AppendInt32(b, v.epoch)
	if v.topicsHash == 0 {
		return appendNoTags(b)
	}
	b = kbin.AppendUvarint(b, 1) // one tagged field
	b = kbin.AppendUvarint(b, 0) // tag 0: MetadataHash
	b = kbin.AppendUvarint(b, 8)
	return kbin.AppendInt64(b, int64(v.topicsHash))
}

func encodeConsumerMember(v storedConsumerMember) []byte {
	b := kbin.AppendInt16(nil, valueVersion0)
	b = kbin.AppendCompactNullableString(b, v.instanceID)
	b = kbin.AppendCompactNullableString(b, v.rackID)
	b = kbin.AppendCompactString(b, v.clientID)
	b = kbin.AppendCompactString(b, v.clientHost)
	b = kbin.AppendCompactArrayLen(b, len(v.subscribed))
	for _, t := range v.subscribed {
		b = kbin.AppendCompactString(b, t)
	}
	b = kbin.AppendCompactNullableString(b, v.regex)
	b = kbin.AppendInt32(b, v.rebalanceTimeoutMs)
	b = kbin.AppendCompactNullableString(b, v.assignor)
	return appendNoTags(b)
}

func encodeTargetEpoch(epoch storedTargetEpoch) []byte {
	b := kbin.AppendInt16(nil, valueVersion0)
	b = kbin.AppendInt32(b, int32(epoch))
	return appendNoTags(b)
}

func encodeTargetMember(a assignment) []byte {
	b := kbin.AppendInt16(nil, valueVersion0)
	b = appendTopicPartitions(b, a)
	return appendNoTags(b)
}

func encodeCurrentAssignment(v storedCurrentAssignment) []byte {
	b := kbin.AppendInt16(nil, valueVersion0)
	b = kbin.AppendInt32(b, v.epoch)
	b = kbin.AppendInt32(b, v.previousEpoch)
	b = kbin.AppendInt8(b, v.state)
	b = appendTopicPartitions(b, v.assigned)
	b = appendTopicPartitions(b, v.revoking)
	return appendNoTags(b)
}

// appendTopicPartitions writes an assignment as a compact array of
// (topic ID, partitions) in topic ID order, so that equal assignments
// encode to equal bytes.
func appendTopicPartitions(b []byte, a assignment) []byte {
	ids := a.sortedIDs()
	b = kbin.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		b = kbin.AppendUuid(b, id)
		b = kbin.AppendCompactArrayLen(b, len(a[id]))
		for _, p := range a[id] {
			b = kbin.AppendInt32(b, p)
		}
		b = appendNoTags(b)
	}
	return b
}

// decodeConsumerRecord decodes a KIP-848 record of type kind. A nil value
// decodes to a nil result (a tombstone); types 4 and 16 decode to nil
// with ignore set.
func decodeConsumerRecord(kind int16, key, value []byte) (d decoded, err error) {
	r := kbin.Reader{Src: key[2:]}
	d.kind = kind
	d.group = r.String()
	if kind != consumerGroupMetadataType && kind != consumerTargetMetadataType && kind != consumerPartitionMetadata {
		d.member = r.String()
	}
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return decoded{}, fmt.Errorf("%w: key of record type %d", ErrCorrupt, kind)
	}
	if kind == consumerPartitionMetadata || kind == consumerRegexType {
		d.ignore = true
		return d, nil
	}
	if value == nil {
		return d, nil
	}
	if len(value) < 2 {
		return decoded{}, fmt.Errorf("%w: value of %d bytes", ErrCorrupt, len(value))
	}
	if v := int16(binary.BigEndian.Uint16(value)); v != valueVersion0 {
		return decoded{}, fmt.Errorf("%w: record type %d value version %d", ErrCorrupt, kind, v)
	}
	r = kbin.Reader{Src: value[2:]}
	switch kind {
	case consumerGroupMetadataType:
		v := storedConsumerGroup{epoch: r.Int32()}
		readTags(&r, func(tag uint32, field []byte) {
			if tag == 0 && len(field) == 8 {
				v.topicsHash = binary.BigEndian.Uint64(field)
			}
		})
		d.consumerGroup = &v
	case consumerMemberMetadataType:
		v := storedConsumerMember{
			instanceID: r.CompactNullableString(),
			rackID:     r.CompactNullableString(),
			clientID:   r.CompactString(),
			clientHost: r.CompactString(),
		}
		n := r.CompactArrayLen()
		for i := int32(0); i < n && r.Ok(); i++ {
			v.subscribed = append(v.subscribed, r.CompactString())
		}
		v.regex = r.CompactNullableString()
		v.rebalanceTimeoutMs = r.Int32()
		v.assignor = r.CompactNullableString()
		readTags(&r, nil) // tag 0, a classic member's protocols, is for mixed groups
		d.consumerMember = &v
	case consumerTargetMetadataType:
		v := storedTargetEpoch(r.Int32())
		readTags(&r, nil)
		d.targetEpoch = &v
	case consumerTargetMemberType:
		a := readTopicPartitions(&r)
		readTags(&r, nil)
		if a == nil {
			a = assignment{}
		}
		d.target = a
	case consumerCurrentAssignmentTyp:
		v := storedCurrentAssignment{epoch: r.Int32(), previousEpoch: r.Int32(), state: r.Int8()}
		v.assigned = readTopicPartitions(&r)
		v.revoking = readTopicPartitions(&r)
		readTags(&r, nil)
		d.current = &v
	}
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return decoded{}, fmt.Errorf("%w: value of record type %d", ErrCorrupt, kind)
	}
	return d, nil
}

func readTopicPartitions(r *kbin.Reader) assignment {
	a := assignment{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		id := r.Uuid()
		np := r.CompactArrayLen()
		var ps []int32
		for j := int32(0); j < np && r.Ok(); j++ {
			ps = append(ps, r.Int32())
		}
		readTags(r, nil) // tag 0: KIP-1251 assignment epochs
		a[id] = append(a[id], ps...)
	}
	a.normalize()
	return a
}

// readTags reads a tagged-field section, handing each field to fn (if not
// nil).
func readTags(r *kbin.Reader, fn func(tag uint32, field []byte)) {
	n := r.Uvarint()
	for i := uint32(0); i < n && r.Ok(); i++ {
		tag := r.Uvarint()
		field := r.Span(int(r.Uvarint())) // too long marks the reader bad
		if fn != nil && r.Ok() {
			fn(tag, field)
		}
	}
}
