package partition

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestCompactedTopicRefusesKeylessRecords: a compacted topic refuses a
// batch holding a record without a key with INVALID_RECORD (whatever its
// codec), and accepts it again once cleanup.policy is delete.
func TestCompactedTopicRefusesKeylessRecords(t *testing.T) {
	m, compact := testManager(t, vfs.NewMem(), "/data", map[string]string{"cleanup.policy": "compact,delete"})
	defer m.Close()
	p, err := Open(m, "c", 0, [16]byte{3}, 0, compact, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.log.Config().Compact || !p.log.Config().Delete {
		t.Fatalf("storage config %+v", p.log.Config())
	}
	now := time.Now().UnixMilli()
	build := func(codec batch.Codec, keys ...[]byte) []byte {
		var recs []batch.Record
		for _, k := range keys {
			recs = append(recs, batch.Record{Key: k, Value: []byte("v"), Timestamp: now})
		}
		return batch.Build(batch.BuildOptions{Codec: codec, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
	}
	for _, codec := range []batch.Codec{batch.None, batch.Zstd} {
		if r := p.Append(build(codec, []byte("a"), nil)); r.ErrorCode != kerr.InvalidRecord.Code {
			t.Fatalf("%v: keyless record: %+v", codec, r)
		}
		if r := p.Append(build(codec, []byte("a"), []byte{})); r.ErrorCode != 0 {
			t.Fatalf("%v: keyed records (one key empty): %+v", codec, r)
		}
	}
	p.SetConfig(topicConfig(t, map[string]string{"cleanup.policy": "delete"}))
	if r := p.Append(build(batch.None, nil)); r.ErrorCode != 0 {
		t.Fatalf("keyless record with cleanup.policy=delete: %+v", r)
	}
	if p.log.Config().Compact {
		t.Fatal("storage still compacts")
	}
}
