package api

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// localPartitions hosts the given replicas, by topic (partition 0).
type localPartitions map[string]*partition.Partition

func (l localPartitions) Get(topic string, index int32) *partition.Partition {
	if index != 0 {
		return nil
	}
	return l[topic]
}
func (localPartitions) Sync()                                                          {}
func (localPartitions) Offline(string, int32) error                                    { return nil }
func (localPartitions) CheckCapacity(int) error                                        { return nil }
func (localPartitions) AlterPartition(*partition.Partition, *partition.AlterPartition) {}

// TestWriteTxnMarkersCompletesGroups: a marker written to a partition of
// __consumer_offsets is handed to the group coordinator
// (CompleteGroupTxn) with the partitions it reached; its error answers
// them; markers elsewhere do not reach it.
func TestWriteTxnMarkersCompletesGroups(t *testing.T) {
	m, err := storage.NewManager("/data", storage.Options{FS: vfs.NewMem()}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bc, err := config.NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := localPartitions{}
	for _, topic := range []string{OffsetsTopic, "t"} {
		p, err := partition.Open(m, topic, 0, [16]byte{1}, 0, bc.ResolveTopic(nil, nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		parts[topic] = p
	}
	type call struct {
		pid    int64
		parts  []int32
		commit bool
	}
	var calls []call
	var fail error
	h := &Handlers{Partitions: parts, CompleteGroupTxn: func(pid int64, p []int32, commit bool) error {
		calls = append(calls, call{pid, p, commit})
		return fail
	}}
	send := func(pid int64, commit bool, topics ...string) map[string]int16 {
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		req.Version = 2
		mk := kmsg.NewWriteTxnMarkersRequestMarker()
		mk.ProducerID, mk.Committed = pid, commit
		for _, topic := range topics {
			mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			mt.Topic, mt.Partitions = topic, []int32{0, 1}
			mk.Topics = append(mk.Topics, mt)
		}
		req.Markers = append(req.Markers, mk)
		resp, err := writeTxnMarkers(h, context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		codes := map[string]int16{}
		for _, rt := range resp.Markers[0].Topics {
			for _, rp := range rt.Partitions {
				codes[rt.Topic+"/"+string(rune('0'+rp.Partition))] = rp.ErrorCode
			}
		}
		return codes
	}
	unknown := kerr.UnknownTopicOrPartition.Code
	if c := send(7, true, "t"); c["t/0"] != 0 || c["t/1"] != unknown || len(calls) != 0 {
		t.Fatalf("marker on t: %v, calls %v", c, calls)
	}
	if c := send(8, false, OffsetsTopic, "t"); c[OffsetsTopic+"/0"] != 0 || c[OffsetsTopic+"/1"] != unknown || c["t/0"] != 0 {
		t.Fatalf("marker on the offsets topic: %v", c)
	}
	if len(calls) != 1 || calls[0].pid != 8 || calls[0].commit || !slices.Equal(calls[0].parts, []int32{0}) {
		t.Fatalf("group coordinator calls %+v", calls)
	}
	fail = kerr.CoordinatorLoadInProgress
	if c := send(9, true, OffsetsTopic, "t"); c[OffsetsTopic+"/0"] != kerr.CoordinatorLoadInProgress.Code || c["t/0"] != 0 {
		t.Fatalf("group coordinator's error: %v", c)
	}
	if got := parts[OffsetsTopic].LogEndOffset(); got != 2 {
		t.Fatalf("offsets partition log end %d, want its two markers", got)
	}
}
