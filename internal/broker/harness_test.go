package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/clustertest"
)

// testBroker is a broker started in-process on 127.0.0.1:0, a node of the
// cluster harness (clustertest.StartNode) when startBroker made it.
type testBroker struct {
	*broker.Broker
	t      *testing.T
	node   *clustertest.Node // nil for a broker a test started itself
	dir    string
	static map[string]string
}

func startBroker(t *testing.T, dir string, static map[string]string) *testBroker {
	t.Helper()
	n := clustertest.StartNode(t, clustertest.NodeConfig{Dir: dir, Static: static})
	return &testBroker{Broker: n.Broker(), t: t, node: n, dir: n.Dir(), static: static}
}

// restart closes the broker and starts a new one on the same directory.
func (tb *testBroker) restart() *testBroker {
	tb.t.Helper()
	if err := tb.Close(); err != nil {
		tb.t.Fatalf("close: %v", err)
	}
	return startBroker(tb.t, tb.dir, tb.static)
}

// restartInPlace is restart on the same address, so that clients
// already connected find the broker again.
func (tb *testBroker) restartInPlace() *testBroker {
	tb.t.Helper()
	if tb.node == nil {
		tb.t.Fatal("restartInPlace: the broker was not started by startBroker")
	}
	if err := tb.Close(); err != nil {
		tb.t.Fatalf("close: %v", err)
	}
	if err := tb.node.Restart(); err != nil {
		tb.t.Fatal(err)
	}
	return &testBroker{Broker: tb.node.Broker(), t: tb.t, node: tb.node, dir: tb.dir, static: tb.static}
}

func (tb *testBroker) client(opts ...kgo.Opt) *kgo.Client {
	tb.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(tb.Addr()), kgo.RetryTimeout(10 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(cl.Close)
	return cl
}

func (tb *testBroker) admin() *kadm.Client {
	return kadm.NewClient(tb.client())
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxT(t), partitions, 1, configs, name)
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", name, resp.Err, resp.ErrMessage)
	}
}

func strp(s string) *string { return &s }

// consumeAll reads exactly n records from topic, from the start.
func consumeAll(t *testing.T, tb *testBroker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := tb.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxT(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("consumed %d records, want %d", len(out), n)
	}
	return out
}
