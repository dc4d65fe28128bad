package group

import (
	"reflect"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// FuzzDecodeRecord: bytes read back from __consumer_offsets never panic
// the decoder, and a KIP-848 value that decodes encodes back to bytes that
// decode to the same value.
func FuzzDecodeRecord(f *testing.F) {
	inst, regex := "i", "t.*"
	f.Add(offsetKey("g", "t", 3), offsetValue(Offset{Offset: 7, LeaderEpoch: 2, Metadata: "m", CommitTime: 9}))
	f.Add(groupKey("g"), groupValue(storedGroup{protocolType: "consumer", generation: 3, protocol: "range", leader: "a"}))
	f.Add(groupKey("g"), []byte(nil))
	f.Add([]byte{0}, []byte{1, 2})
	f.Add(consumerKey{kind: consumerGroupMetadataType}.encode("g"), encodeConsumerGroup(storedConsumerGroup{epoch: 4, topicsHash: 99}))
	f.Add(consumerKey{consumerMemberMetadataType, "m"}.encode("g"), encodeConsumerMember(storedConsumerMember{instanceID: &inst, clientID: "c", clientHost: "h", subscribed: []string{"a", "b"}, regex: &regex, rebalanceTimeoutMs: 500}))
	f.Add(consumerKey{kind: consumerTargetMetadataType}.encode("g"), encodeTargetEpoch(3))
	f.Add(consumerKey{consumerTargetMemberType, "m"}.encode("g"), encodeTargetMember(assignment{{1}: {0, 2}, {2}: {1}}))
	f.Add(consumerKey{consumerCurrentAssignmentTyp, "m"}.encode("g"), encodeCurrentAssignment(storedCurrentAssignment{epoch: 3, previousEpoch: 2, state: memberUnrevokedPartitions, assigned: assignment{{1}: {0}}, revoking: assignment{{1}: {2}}}))
	f.Add(consumerKey{consumerCurrentAssignmentTyp, "m"}.encode("g"), []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		d, err := decodeRecord(batch.Record{Key: key, Value: value})
		if err != nil {
			return
		}
		if d.isOffset && value != nil && d.offset == nil {
			t.Fatal("offset value decoded to a tombstone")
		}
		var again []byte
		switch {
		case d.consumerGroup != nil:
			again = encodeConsumerGroup(*d.consumerGroup)
		case d.consumerMember != nil:
			again = encodeConsumerMember(*d.consumerMember)
		case d.targetEpoch != nil:
			again = encodeTargetEpoch(*d.targetEpoch)
		case d.target != nil:
			again = encodeTargetMember(d.target)
		case d.current != nil:
			again = encodeCurrentAssignment(*d.current)
		default:
			return
		}
		d2, err := decodeRecord(batch.Record{Key: key, Value: again})
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("re-encoded value decodes differently:\n%+v\n%+v", d, d2)
		}
	})
}
