package txncoord

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRecordRoundTrip: a state written as Kafka's TransactionLog value
// (v0 and v1) reads back the same, and its bytes are what kmsg, which
// encodes Kafka's own schema, decodes field by field.
func TestRecordRoundTrip(t *testing.T) {
	for _, version := range []int16{0, 2} {
		m := &txnMeta{id: "tx", producerID: 7, prevProducerID: -1, nextProducerID: -1, epoch: 3, lastEpoch: -1,
			timeoutMs: 60000, state: Ongoing, startMs: 10, updateMs: 20, version: version,
			partitions: map[TopicPartition]struct{}{{"b", 1}: {}, {"a", 2}: {}, {"a", 0}: {}}}
		value := encodeValue(m)
		id, got, err := decodeRecord(encodeKey("tx"), value)
		if err != nil || id != "tx" {
			t.Fatalf("version %d: decode: %q %v", version, id, err)
		}
		if metaString(got) != metaString(m) {
			t.Fatalf("version %d: got %s want %s", version, metaString(got), metaString(m))
		}
		v := kmsg.NewTxnMetadataValue()
		if err := v.ReadFrom(value); err != nil {
			t.Fatal(err)
		}
		want := int16(0)
		if version >= 2 {
			want = 1
		}
		if v.Version != want || len(v.Topics) != 2 || v.Topics[0].Topic != "a" || len(v.Topics[0].Partitions) != 2 || v.State != 1 {
			t.Fatalf("version %d: kmsg reads %+v", version, v)
		}
	}
	// Kafka's key bytes: version 0, then the string.
	if k := encodeKey("ab"); !bytes.Equal(k, []byte{0, 0, 0, 2, 'a', 'b'}) {
		t.Fatalf("key %v", k)
	}
	if id, m, err := decodeRecord(encodeKey("gone"), nil); err != nil || id != "gone" || m != nil {
		t.Fatalf("tombstone: %q %v %v", id, m, err)
	}
	if _, _, err := decodeRecord([]byte{0, 1, 0, 0}, nil); err != errSkip {
		t.Fatalf("unknown key version: %v", err)
	}
	bad := &txnMeta{id: "x", state: Empty, partitions: map[TopicPartition]struct{}{{"a", 0}: {}}}
	if _, _, err := decodeRecord(encodeKey("x"), encodeValue(bad)); err == nil {
		t.Fatal("an Empty transaction with partitions was accepted")
	}
}

// FuzzDecodeRecord: any bytes in __transaction_state decode or fail, never
// panic, and what decodes encodes back to a record that decodes the same.
func FuzzDecodeRecord(f *testing.F) {
	m := &txnMeta{id: "tx", producerID: 7, prevProducerID: -1, nextProducerID: -1, epoch: 3, timeoutMs: 60000,
		state: PrepareCommit, startMs: 10, updateMs: 20, version: 2,
		partitions: map[TopicPartition]struct{}{{"a", 0}: {}}}
	f.Add(encodeKey("tx"), encodeValue(m))
	m.version = 0
	f.Add(encodeKey("tx"), encodeValue(m))
	f.Add(encodeKey("tx"), []byte(nil))
	f.Add([]byte{0, 1}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		id, m, err := decodeRecord(key, value)
		if err != nil || m == nil {
			return
		}
		id2, m2, err := decodeRecord(encodeKey(id), encodeValue(m))
		if err != nil || id2 != id || metaString(m2) != metaString(m) {
			t.Fatalf("re-encoded %q: %v\n%s%s", id, err, metaString(m), metaString(m2))
		}
	})
}
