package broker_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestStorageErrorsLogged checks that a produce failing on the disk (an
// injected write fault standing in for a full disk) is answered with
// KAFKA_STORAGE_ERROR and takes the replica offline, as a failed log
// directory in Kafka: every later produce is KAFKA_STORAGE_ERROR too, even
// once the disk works again, Metadata lists the broker as an offline
// replica, and the failure is logged with its partition and reason once
// however often the client retries within the interval. A restart brings
// the partition back with what was written before.
func TestStorageErrorsLogged(t *testing.T) {
	logs := &syncBuffer{}
	fs := vfs.NewFaulty(vfs.OS())
	dir := t.TempDir()
	b, err := broker.Start(broker.Config{
		DataDir: dir, Listen: "127.0.0.1:0", FS: fs,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Broker: b, t: t, dir: dir}
	t.Cleanup(func() { tb.Close() })
	createTopic(t, tb.admin(), "full", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("full"))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce before the fault: %v", err)
	}
	fs.FailAfterWrites(1)
	raw := tb.client()
	record := func(v string) []byte {
		return batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1}, []batch.Record{{Value: []byte(v), Timestamp: time.Now().UnixMilli()}})
	}
	for i := range 5 {
		if i == 2 {
			fs.Heal() // the disk works again: the replica stays offline until a restart
		}
		if r := rawProduce(t, raw, "full", record("after"), int16(i%2*2-1)); r.ErrorCode != kerr.KafkaStorageError.Code {
			t.Fatalf("produce %d on a failed log: error %d, want KAFKA_STORAGE_ERROR", i, r.ErrorCode)
		}
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "storage error") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d storage-error lines for 5 failed produce requests within 10 s, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"level=ERROR", "op=produce", "topic=full", "partition=0", vfs.ErrInjected.Error()} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the line lacks %q: %s", want, lines[0])
		}
	}
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("full")
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctxT(t), raw)
	if err != nil {
		t.Fatal(err)
	}
	if p := mresp.Topics[0].Partitions[0]; p.ErrorCode != kerr.LeaderNotAvailable.Code || len(p.OfflineReplicas) != 1 || p.OfflineReplicas[0] != 1 {
		t.Fatalf("metadata of the failed partition: error %d, offline replicas %v", p.ErrorCode, p.OfflineReplicas)
	}

	if err := tb.Close(); err != nil {
		t.Fatal(err) // the failed log closed when it failed; the mark does not vouch for it
	}
	tb = startBroker(t, dir, nil)
	got := consumeAll(t, tb, "full", 1)
	if string(got[0].Value) != "before" {
		t.Fatalf("after the restart: %q", got[0].Value)
	}
	if err := tb.client(kgo.DefaultProduceTopic("full")).ProduceSync(ctxT(t), &kgo.Record{Value: []byte("again")}).FirstErr(); err != nil {
		t.Fatalf("produce after the restart: %v", err)
	}
}
