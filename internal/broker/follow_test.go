package broker_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestartReplaysDeltas: a broker's replicas follow from the metadata
// deltas, and at start-up from one delta from the empty image. After topics
// are created, grown, deleted and re-created under the same name, the
// restarted broker serves exactly the surviving replicas with their data,
// the deleted topic's directories are gone, a producer writes to every
// partition at once after each change, and Metadata names this node (the
// Raft leader) as controller.
func TestRestartReplaysDeltas(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := ctxT(t)
	createTopic(t, adm, "kept", 2, nil)
	createTopic(t, adm, "gone", 2, nil)
	createTopic(t, adm, "again", 1, nil)
	if _, err := adm.CreatePartitions(ctx, 1, "kept"); err != nil {
		t.Fatal(err)
	}
	cl := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(topic string, partition int32, value string) {
		t.Helper()
		r := &kgo.Record{Topic: topic, Partition: partition, Value: []byte(value)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s[%d]: %v", topic, partition, err)
		}
	}
	for p := range int32(3) {
		produce("kept", p, "k")
	}
	produce("gone", 1, "g")
	produce("again", 0, "old")
	if resp, err := adm.DeleteTopics(ctx, "gone", "again"); err != nil || resp.Error() != nil {
		t.Fatalf("delete: %v %v", err, resp.Error())
	}
	createTopic(t, adm, "again", 2, nil)
	cl = tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())) // no cached metadata of the old "again"
	produce("again", 1, "new")

	tb = tb.restart()
	adm = tb.admin()
	for _, p := range []string{"gone-0", "gone-1"} {
		if _, err := os.Stat(filepath.Join(tb.dir, p)); !os.IsNotExist(err) {
			t.Errorf("directory %s of a deleted topic: %v", p, err)
		}
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("gone") || len(topics["again"].Partitions) != 2 || len(topics["kept"].Partitions) != 3 {
		t.Fatalf("topics after restart: %v", topics.Names())
	}
	ends, err := adm.ListEndOffsets(ctx, "kept", "again")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{"kept": {0: 1, 1: 1, 2: 1}, "again": {0: 0, 1: 1}}
	for topic, ps := range want {
		for p, end := range ps {
			if o, ok := ends.Lookup(topic, p); !ok || o.Err != nil || o.Offset != end {
				t.Errorf("%s[%d] after restart: end %d (%v), want %d", topic, p, o.Offset, o.Err, end)
			}
		}
	}
	got := consumeAll(t, tb, "again", 1)
	if string(got[0].Value) != "new" || got[0].Partition != 1 {
		t.Fatalf("re-created topic holds %q in partition %d", got[0].Value, got[0].Partition)
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Controller != 1 || len(meta.Brokers) != 1 || meta.Brokers[0].NodeID != 1 {
		t.Fatalf("controller %d, brokers %+v; want node 1 for both", meta.Controller, meta.Brokers)
	}
}
