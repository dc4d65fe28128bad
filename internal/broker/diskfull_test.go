package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/quorum/walfault"
)

// TestMetadataDiskFull is issue 9's jammed quorum seen by clients: with the
// metadata log's disk full, new idempotent producers cannot start
// (InitProducerId) and topics cannot be created — both answer
// KAFKA_STORAGE_ERROR — while the partitions keep serving reads and the
// producers already running; once space returns, both work again without a
// restart.
func TestMetadataDiskFull(t *testing.T) {
	disk := walfault.New()
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", MetadataFS: disk})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Broker: b, t: t}
	t.Cleanup(func() { b.Close() })
	ctx := ctxT(t)
	adm := tb.admin()
	createTopic(t, adm, "t", 1, nil)
	running := tb.client(kgo.DefaultProduceTopic("t")) // idempotent: has its producer ID
	if err := running.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	disk.Full.Store(true)
	raw := tb.client()
	initPID := func() int16 {
		resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	// The first InitProducerId may be served from the block allocated
	// before; use it up (blocks are 1,000 IDs).
	code := int16(0)
	for range 2000 {
		if code = initPID(); code != 0 {
			break
		}
	}
	if code != kerr.KafkaStorageError.Code {
		t.Fatalf("InitProducerId with the metadata disk full: error %d, want KAFKA_STORAGE_ERROR", code)
	}
	if resp, _ := adm.CreateTopic(ctx, 1, 1, nil, "during"); resp.Err != kerr.KafkaStorageError {
		t.Fatalf("CreateTopics with the metadata disk full: %v", resp.Err)
	}
	if err := running.ProduceSync(ctx, &kgo.Record{Value: []byte("during")}).FirstErr(); err != nil {
		t.Fatalf("produce by a running producer: %v", err)
	}
	if recs := consumeAll(t, tb, "t", 2); string(recs[1].Value) != "during" {
		t.Fatalf("read %q", recs[1].Value)
	}
	// Past a few of the quorum's retries, it still answers at once.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code := initPID(); code != kerr.KafkaStorageError.Code {
			t.Fatalf("InitProducerId with the metadata disk full: error %d", code)
		}
	}

	disk.Full.Store(false)
	start := time.Now()
	for initPID() != 0 {
		if time.Since(start) > 15*time.Second {
			t.Fatal("InitProducerId still failing 15 s after space returned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("InitProducerId works %v after space returned (%d ENOSPC injected)", time.Since(start).Round(time.Millisecond), disk.Failures())
	fresh := tb.client(kgo.DefaultProduceTopic("t"))
	if err := fresh.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("a new idempotent producer: %v", err)
	}
	createTopic(t, adm, "after", 1, nil)
	if recs := consumeAll(t, tb, "t", 3); string(recs[2].Value) != "after" {
		t.Fatalf("read %q", recs[2].Value)
	}
}
