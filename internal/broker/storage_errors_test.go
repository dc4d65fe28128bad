package broker_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestStorageErrorsLogged checks that a produce failing on the disk (an
// injected write fault standing in for a full disk) is logged with its
// partition and reason, once however often the client retries within the
// interval, and answered with KAFKA_STORAGE_ERROR.
func TestStorageErrorsLogged(t *testing.T) {
	logs := &syncBuffer{}
	fs := vfs.NewFaulty(vfs.OS())
	b, err := broker.Start(broker.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", FS: fs,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Broker: b, t: t}
	t.Cleanup(func() { b.Close() })
	createTopic(t, tb.admin(), "full", 1, nil)
	var produces atomic.Int32
	cl := tb.client(kgo.WithHooks(produceCounter{&produces}), kgo.DefaultProduceTopic("full"), kgo.RecordRetries(4), kgo.MetadataMinAge(10*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce before the fault: %v", err)
	}
	fs.FailAfterWrites(1)
	produces.Store(0)
	err = cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("after")}).FirstErr()
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce on a failing disk: %v, want KAFKA_STORAGE_ERROR", err)
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "storage error") {
			lines = append(lines, l)
		}
	}
	if n := produces.Load(); len(lines) != 1 || n < 2 {
		t.Fatalf("%d storage-error lines for %d failed produce requests within 10 s, want 1 for several:\n%s", len(lines), n, strings.Join(lines, "\n"))
	}
	t.Logf("%d produce requests failed, 1 line logged", produces.Load())
	for _, want := range []string{"level=ERROR", "op=produce", "topic=full", "partition=0", vfs.ErrInjected.Error()} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the line lacks %q: %s", want, lines[0])
		}
	}
}

// produceCounter counts the Produce requests a client writes.
type produceCounter struct{ n *atomic.Int32 }

func (c produceCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		c.n.Add(1)
	}
}
