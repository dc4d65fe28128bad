package broker

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// txnRecords builds a transactional batch of producer pid's values.
func txnRecords(pid int64, epoch int16, seq int32, values ...string) []byte {
	var recs []batch.Record
	for _, v := range values {
		recs = append(recs, batch.Record{Value: []byte(v)})
	}
	return batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: true}, recs)
}

// writeMarker sends one WriteTxnMarkers request (v2) of one marker for
// the partitions of topics and returns its codes by "topic/partition".
func writeMarker(t *testing.T, ctx context.Context, cl *kgo.Client, pid int64, epoch int16, coordEpoch int32, commit bool, topics map[string][]int32) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed = pid, epoch, coordEpoch, commit
	for topic, parts := range topics {
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, parts
		m.Topics = append(m.Topics, mt)
	}
	req.Markers = append(req.Markers, m)
	// To the broker itself: kgo shards a WriteTxnMarkers by partition
	// leader and fails it for unknown partitions.
	kresp, err := cl.DiscoveredBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.WriteTxnMarkersResponse)
	codes := map[string]int16{}
	for _, rm := range resp.Markers {
		if rm.ProducerID != pid {
			t.Fatalf("answer for producer %d", rm.ProducerID)
		}
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				codes[fmt.Sprintf("%s/%d", rt.Topic, rp.Partition)] = rp.ErrorCode
			}
		}
	}
	return codes
}

// TestWriteTxnMarkers: the coordinator's markers end a producer's
// transaction on the partitions this broker leads (an abort indexed, the
// last stable offset past it), with Kafka's per-partition errors.
func TestWriteTxnMarkers(t *testing.T) {
	b, ctx, cl := startLeader(t)
	p := b.partitions.Get("t", 0)
	if r := p.Append(txnRecords(100, 0, 0, "a", "b", "c")); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("append %+v", r)
	}
	if lso := p.LastStableOffset(); lso != 0 {
		t.Fatalf("last stable offset %d with the transaction open", lso)
	}
	codes := writeMarker(t, ctx, cl, 100, 0, 5, false, map[string][]int32{"t": {0, 7}, "nope": {0}})
	want := map[string]int16{"t/0": 0, "t/7": kerr.UnknownTopicOrPartition.Code, "nope/0": kerr.UnknownTopicOrPartition.Code}
	for k, c := range want {
		if codes[k] != c {
			t.Fatalf("codes %v, want %v", codes, want)
		}
	}
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != 4 || hw != 4 {
		t.Fatalf("after the abort: last stable offset %d, high watermark %d", lso, hw)
	}
	got, err := p.AbortedTxns(0, 4)
	if err != nil || !slices.Equal(got, []storage.AbortedTxn{{ProducerID: 100, FirstOffset: 0, LastOffset: 3, LastStableOffset: 4}}) {
		t.Fatalf("aborted %v, %v", got, err)
	}
	// A coordinator of an older epoch is a zombie.
	if c := writeMarker(t, ctx, cl, 100, 0, 4, true, map[string][]int32{"t": {0}}); c["t/0"] != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("zombie coordinator: %v", c)
	}

}
