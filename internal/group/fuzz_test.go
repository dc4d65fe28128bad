package group

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// FuzzDecodeRecord: bytes read back from __consumer_offsets never panic
// the decoder.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(offsetKey("g", "t", 3), offsetValue(Offset{Offset: 7, LeaderEpoch: 2, Metadata: "m", CommitTime: 9}))
	f.Add(groupKey("g"), groupValue(storedGroup{protocolType: "consumer", generation: 3, protocol: "range", leader: "a"}))
	f.Add(groupKey("g"), []byte(nil))
	f.Add([]byte{0}, []byte{1, 2})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		d, err := decodeRecord(batch.Record{Key: key, Value: value})
		if err == nil && d.isOffset && value != nil && d.offset == nil {
			t.Fatal("offset value decoded to a tombstone")
		}
	})
}
