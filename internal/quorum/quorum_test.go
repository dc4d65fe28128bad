package quorum

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func open(t *testing.T, dir string) *Controller {
	t.Helper()
	start := time.Now()
	c, err := openReady(Config{Dir: dir, NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Open took %v", time.Since(start))
	return c
}

// openReady opens a node and waits until it is ready, as the broker does.
func openReady(cfg Config) (*Controller, error) {
	c, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.WaitReady(context.Background()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// fakeBrokers is the liveness of tests whose brokers register (register)
// but never heartbeat again: a leader elected during the test gives them
// a whole session, not the Grace in which live brokers heartbeat it.
var fakeBrokers = Liveness{Grace: time.Minute}

func register(t *testing.T, c *Controller, ids ...int32) {
	t.Helper()
	for _, id := range ids {
		epoch, err := c.RegisterBroker(ctx(t), metadata.Broker{ID: id, Host: "localhost", Port: 9092 + id})
		if err != nil {
			t.Fatal(err)
		}
		if fenced, err := c.heartbeat(ctx(t), id, epoch, true, nil, 0, 0); err != nil || fenced {
			t.Fatalf("heartbeat of broker %d: fenced %v, %v", id, fenced, err)
		}
	}
}

func wantKerr(t *testing.T, err error, want *kerr.Error) {
	t.Helper()
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke != want {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestCreateDeleteTopic(t *testing.T) {
	c := open(t, t.TempDir())
	defer c.Close()
	if c.Image().ClusterID == "" {
		t.Fatal("no cluster ID")
	}
	register(t, c, 1)
	top, err := c.CreateTopic(ctx(t), "foo", 3, 1, map[string]string{"retention.ms": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	if top.ID.IsZero() || len(top.Partitions) != 3 || top.Configs["retention.ms"] != "1000" {
		t.Fatalf("topic %+v", top)
	}
	if got := c.Image().Topics["foo"]; got != top {
		t.Fatalf("image has %+v", got)
	}
	if err := c.DeleteTopic(ctx(t), top.ID); err != nil {
		t.Fatal(err)
	}
	if c.Image().Topics["foo"] != nil || c.Image().TopicsByID[top.ID] != nil {
		t.Fatal("topic not deleted")
	}
}

func TestRecreateGetsNewID(t *testing.T) {
	c := open(t, t.TempDir())
	defer c.Close()
	register(t, c, 1)
	first, err := c.CreateTopic(ctx(t), "t", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTopic(ctx(t), first.ID); err != nil {
		t.Fatal(err)
	}
	second, err := c.CreateTopic(ctx(t), "t", 2, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID || len(second.Partitions) != 2 {
		t.Fatalf("re-created topic %+v, first ID %v", second, first.ID)
	}
	wantKerr(t, c.DeleteTopic(ctx(t), first.ID), kerr.UnknownTopicID)
}

func TestErrors(t *testing.T) {
	c := open(t, t.TempDir())
	register(t, c, 1, 2)
	_, err := c.CreateTopic(ctx(t), "t", 1, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want *kerr.Error
	}{
		{"exists", second(c.CreateTopic(ctx(t), "t", 1, 1, nil)), kerr.TopicAlreadyExists},
		{"zero partitions", second(c.CreateTopic(ctx(t), "u", 0, 1, nil)), kerr.InvalidPartitions},
		{"negative partitions", second(c.CreateTopic(ctx(t), "u", -1, 1, nil)), kerr.InvalidPartitions},
		{"rf > brokers", second(c.CreateTopic(ctx(t), "u", 1, 3, nil)), kerr.InvalidReplicationFactor},
		{"rf 0", second(c.CreateTopic(ctx(t), "u", 1, 0, nil)), kerr.InvalidReplicationFactor},
		{"bad name", second(c.CreateTopic(ctx(t), "a/b", 1, 1, nil)), kerr.InvalidTopicException},
		{"dot", second(c.CreateTopic(ctx(t), ".", 1, 1, nil)), kerr.InvalidTopicException},
		{"empty", second(c.CreateTopic(ctx(t), "", 1, 1, nil)), kerr.InvalidTopicException},
		{"unknown ID", c.DeleteTopic(ctx(t), metadata.NewTopicID()), kerr.UnknownTopicID},
		{"partitions not increasing", c.CreatePartitions(ctx(t), "t", 1), kerr.InvalidPartitions},
		{"partitions unknown topic", c.CreatePartitions(ctx(t), "nope", 3), kerr.UnknownTopicOrPartition},
		{"alter unknown topic", c.AlterTopicConfigs(ctx(t), "nope", map[string]string{"a": "b"}, nil), kerr.UnknownTopicOrPartition},
		{"bad block size", second(c.AllocateProducerIDs(ctx(t), 0)), kerr.InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) { wantKerr(t, tc.err, tc.want) })
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wantKerr(t, second(c.CreateTopic(ctx(t), "v", 1, 1, nil)), kerr.NotController)
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestConfigsAndPartitions(t *testing.T) {
	c := open(t, t.TempDir())
	defer c.Close()
	register(t, c, 3, 1, 2)
	top, err := c.CreateTopic(ctx(t), "t", 3, 2, map[string]string{"a": "1"})
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for _, p := range top.Partitions {
		if len(p.Replicas) != 2 || p.Replicas[0] == p.Replicas[1] || p.Leader != p.Replicas[0] || len(p.ISR) != 2 {
			t.Fatalf("partition %+v", p)
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders not spread round-robin: %v", leaders)
	}
	if err := c.CreatePartitions(ctx(t), "t", 5); err != nil {
		t.Fatal(err)
	}
	if err := c.AlterTopicConfigs(ctx(t), "t", map[string]string{"b": "2", "c": "3"}, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AlterBrokerConfigs(ctx(t), map[string]string{"x": "1", "y": "2"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.AlterBrokerConfigs(ctx(t), nil, []string{"y"}); err != nil {
		t.Fatal(err)
	}
	img := c.Image()
	got := img.Topics["t"]
	if len(got.Partitions) != 5 || got.Partitions[4].Partition != 4 || got.ID != top.ID {
		t.Fatalf("partitions %+v", got.Partitions)
	}
	if len(got.Configs) != 2 || got.Configs["b"] != "2" || got.Configs["c"] != "3" {
		t.Fatalf("topic configs %v", got.Configs)
	}
	if len(img.BrokerConfigs) != 1 || img.BrokerConfigs["x"] != "1" {
		t.Fatalf("broker configs %v", img.BrokerConfigs)
	}
	if len(top.Partitions) != 3 || top.Configs["a"] != "1" {
		t.Fatal("a published topic was mutated")
	}
}

// TestOpenDoesNotWaitForLeadership opens a node whose election cannot
// happen soon (an election timeout of seconds): Open returns at once, the
// node is not ready, names no controller and answers NOT_CONTROLLER; once
// elected it is ready, names itself and proposes.
func TestOpenDoesNotWaitForLeadership(t *testing.T) {
	start := time.Now()
	c, err := Open(Config{Dir: t.TempDir(), NodeID: 7, electionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opened := time.Since(start)
	if opened > time.Second {
		t.Fatalf("Open took %v: it waited for the election", opened)
	}
	select {
	case <-c.Ready():
		t.Fatal("ready before any election")
	default:
	}
	if id := c.ActiveController(); id != -1 {
		t.Fatalf("active controller %d before any election, want -1", id)
	}
	_, err = c.RegisterBroker(ctx(t), metadata.Broker{ID: 7, Host: "localhost", Port: 9092})
	wantKerr(t, err, kerr.NotController)
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(short); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady before the election: %v", err)
	} else {
		t.Log(err)
	}
	if err := c.WaitReady(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Logf("Open returned after %v, ready after %v", opened, time.Since(start))
	if id := c.ActiveController(); id != 7 {
		t.Fatalf("active controller %d, want 7", id)
	}
	if c.Image().ClusterID == "" {
		t.Fatal("ready without a cluster ID")
	}
	register(t, c, 7)
}

// forwarder records what a node that is not the controller forwards.
type forwarder struct{ got []metadata.Record }

func (f *forwarder) Forward(_ context.Context, r metadata.Record) (metadata.Result, error) {
	f.got = append(f.got, r)
	return metadata.Result{FirstProducerID: 42}, nil
}

// TestNotControllerForwards checks that a node that is not the active
// controller hands its proposals to Config.Forwarder and returns its answer.
func TestNotControllerForwards(t *testing.T) {
	f := &forwarder{}
	c, err := Open(Config{Dir: t.TempDir(), NodeID: 1, electionTimeout: 2 * time.Second, Forwarder: f})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := c.AllocateProducerIDs(ctx(t), 1000)
	if err != nil || first != 42 {
		t.Fatalf("AllocateProducerIDs = %d, %v; want the forwarder's 42", first, err)
	}
	if len(f.got) != 1 || f.got[0] != (metadata.AllocateProducerIDs{BlockSize: 1000}) {
		t.Fatalf("forwarded %+v", f.got)
	}
}
