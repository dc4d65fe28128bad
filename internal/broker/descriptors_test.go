package broker_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestCreateNearDescriptorLimit lowers the process's descriptor limit. Within
// 50 of what is open (less than the reserve of 64), creating partitions is
// refused up front with POLICY_VIOLATION saying what to raise, instead of a
// spiral of "too many open files", and nothing is created. With 300 to
// spare, 1,000 partitions are created and serve, since a partition holds no
// descriptor of its own.
func TestCreateNearDescriptorLimit(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := ctxT(t)
	createTopic(t, adm, "grow", 1, nil)

	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	openFDs := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(fds)
	}
	setLimit := func(cur int) {
		t.Helper()
		low := saved
		low.Cur = uint64(cur)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
			t.Fatal(err)
		}
	}()

	setLimit(openFDs() + 50)
	wantRefused := func(what string, err error, msg string) {
		t.Helper()
		if !errors.Is(err, kerr.PolicyViolation) || !strings.Contains(msg, "file descriptors") || !strings.Contains(msg, "ulimit -n") {
			t.Fatalf("%s: %v %q", what, err, msg)
		}
		t.Logf("%s: %s", what, msg)
	}
	resp, _ := adm.CreateTopic(ctx, 10, 1, nil, "many")
	wantRefused("CreateTopics of 10", resp.Err, resp.ErrMessage)
	presp, err := adm.UpdatePartitions(ctx, 11, "grow")
	if err != nil {
		t.Fatal(err)
	}
	wantRefused("CreatePartitions to 11", presp["grow"].Err, presp["grow"].ErrMessage)
	if dirs, _ := filepath.Glob(filepath.Join(tb.dir, "many-*")); len(dirs) != 0 {
		t.Fatalf("%d directories of the refused topic", len(dirs))
	}

	before := openFDs()
	setLimit(before + 300)
	createTopic(t, adm, "few", 1000, nil)
	if dirs, _ := filepath.Glob(filepath.Join(tb.dir, "few-*")); len(dirs) != 1000 {
		t.Fatalf("%d directories of topic few, want 1000", len(dirs))
	}
	cl := tb.client(kgo.DefaultProduceTopic("few"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, p := range []int32{0, 500, 999} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("fits")}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", p, err)
		}
	}
	if n := openFDs(); n > before+100 {
		t.Fatalf("%d descriptors open after creating 1,000 partitions, %d before", n, before)
	}
}

// TestPartitionOpenFailureOffline makes the disk fail while a committed
// topic's partitions are being created: they are logged once (one line for
// the topic), answer KAFKA_STORAGE_ERROR, are not retried on every metadata
// change, and the rest of the broker keeps serving; a restart opens them.
func TestPartitionOpenFailureOffline(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	fs := vfs.NewFaulty(vfs.OS())
	b, err := broker.Start(broker.Config{DataDir: dir, Listen: "127.0.0.1:0", FS: fs, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Broker: b, t: t, dir: dir}
	t.Cleanup(func() { b.Close() })
	adm := tb.admin()
	ctx := ctxT(t)
	createTopic(t, adm, "ok", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("ok"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("one")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	fs.FailAfterWrites(1)
	createTopic(t, adm, "gone", 2, nil) // committed: the metadata log is not on fs
	createTopic(t, adm, "bad", 3, nil)
	fs.Heal()
	createTopic(t, adm, "later", 1, nil) // another metadata change: no retry of "bad"

	// Produce and fetch on the offline partitions answer KAFKA_STORAGE_ERROR.
	lost := batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1}, []batch.Record{{Value: []byte("lost"), Timestamp: time.Now().UnixMilli()}})
	if code := rawProduce(t, tb.client(), "bad", lost, -1).ErrorCode; code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce to an offline partition: error %d", code)
	}
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("bad")
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, tb.client())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range mresp.Topics[0].Partitions {
		if len(p.OfflineReplicas) != 1 || p.OfflineReplicas[0] != 1 {
			t.Fatalf("metadata of partition %d: offline replicas %v", p.Partition, p.OfflineReplicas)
		}
	}

	freq := kmsg.NewPtrFetchRequest()
	freq.MaxWaitMillis, freq.MinBytes, freq.MaxBytes = 0, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "bad", mresp.Topics[0].TopicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.PartitionMaxBytes = 1, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp, err := freq.RequestWith(ctx, tb.client())
	if err != nil {
		t.Fatal(err)
	}
	if code := fresp.Topics[0].Partitions[0].ErrorCode; code != kerr.KafkaStorageError.Code {
		t.Fatalf("fetch from an offline partition: error %d", code)
	}
	// A deleted offline topic leaves no directories (the failed open made
	// one), and its name can be used again.
	if dirs, _ := filepath.Glob(filepath.Join(dir, "gone-*")); len(dirs) == 0 {
		t.Fatal("the failed open left no directory: the check below would prove nothing")
	}
	if resp, err := adm.DeleteTopic(ctx, "gone"); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	if dirs, _ := filepath.Glob(filepath.Join(dir, "gone-*")); len(dirs) != 0 {
		t.Fatalf("directories of the deleted offline topic: %v", dirs)
	}
	createTopic(t, adm, "gone", 1, nil)
	again := tb.client(kgo.DefaultProduceTopic("gone"))
	if err := again.ProduceSync(ctx, &kgo.Record{Value: []byte("again")}).FirstErr(); err != nil {
		t.Fatalf("produce to the re-created topic: %v", err)
	}

	// One line per topic, however many partitions and metadata changes.
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "offline") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.Contains(logs.String(), "topic=bad count=3") || !strings.Contains(logs.String(), "topic=gone count=2") {
		t.Fatalf("logged:\n%s", strings.Join(lines, "\n"))
	}
	t.Log(lines[0])

	// Everything else serves.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("two")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if recs := consumeAll(t, tb, "ok", 2); string(recs[1].Value) != "two" {
		t.Fatalf("read %q", recs[1].Value)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	tb = startBroker(t, dir, nil)
	bad := tb.client(kgo.DefaultProduceTopic("bad"))
	if err := bad.ProduceSync(ctx, &kgo.Record{Value: []byte("after restart")}).FirstErr(); err != nil {
		t.Fatalf("produce to the topic after restart: %v", err)
	}
}
