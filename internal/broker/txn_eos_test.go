package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// eosStage is one member of a read-process-write stage: a franz-go
// GroupTransactSession consuming from, producing to and committing its
// offsets in one transaction per poll.
type eosStage struct {
	sess *kgo.GroupTransactSession
	stop chan struct{}
	done chan error
}

func startEOSMember(t *testing.T, addr, group, id, from, to string) *eosStage {
	t.Helper()
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(addr),
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(10*time.Second),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(from),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryTimeout(30*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	m := &eosStage{sess: sess, stop: make(chan struct{}), done: make(chan error, 1)}
	go func() { m.done <- m.run(from, to) }()
	return m
}

func (m *eosStage) run(from, to string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-m.stop
		cancel()
	}()
	for {
		fetches := m.sess.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := m.sess.Begin(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			m.sess.Produce(ctx, &kgo.Record{Topic: to, Partition: r.Partition, Key: r.Key, Value: append(append([]byte(nil), r.Value...), "+"+from...)}, nil)
		})
		if _, err := m.sess.End(ctx, kgo.TryCommit); err != nil && ctx.Err() == nil {
			// A failed commit aborts; the session goes on (the records
			// are consumed again from the committed offsets).
			continue
		}
	}
}

// close stops the member and leaves its group.
func (m *eosStage) close(t *testing.T) {
	t.Helper()
	close(m.stop)
	if err := <-m.done; err != nil {
		t.Errorf("member: %v", err)
	}
	m.sess.Close()
}

// eosTarget is the broker of an exactly-once test: its address now, and
// a restart (a no-op where it cannot).
type eosTarget struct {
	addr    func() string
	restart func()
	read    func(t *testing.T, topic string, n int) []*kgo.Record
}

// testExactlyOnce: 300 records to in (3 partitions) pass through two
// stages of GroupTransactSession members (in -> mid -> out), members
// joining and leaving and the broker restarted in the middle; out, read
// read_committed, holds every input record exactly once, processed by
// both stages.
func testExactlyOnce(t *testing.T, tgt eosTarget) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(tgt.addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 300
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Topic: "eos-in", Partition: int32(i % 3), Value: fmt.Appendf(nil, "v%03d", i)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 100)
	a := startEOSMember(t, tgt.addr(), "eos-1", "eos-1-a", "eos-in", "eos-mid")
	b := startEOSMember(t, tgt.addr(), "eos-2", "eos-2-a", "eos-mid", "eos-out")
	time.Sleep(2 * time.Second)
	c := startEOSMember(t, tgt.addr(), "eos-1", "eos-1-b", "eos-in", "eos-mid") // joins: a rebalance
	produce(100, 200)
	time.Sleep(time.Second)
	a.close(t) // leaves: another
	d := startEOSMember(t, tgt.addr(), "eos-2", "eos-2-b", "eos-mid", "eos-out")
	tgt.restart()
	produce(200, n)
	time.Sleep(time.Second)
	b.close(t)

	got := tgt.read(t, "eos-out", n)
	c.close(t)
	d.close(t)
	count := map[string]int{}
	for _, r := range got {
		count[string(r.Value)]++
	}
	var wrong []string
	for i := range n {
		v := fmt.Sprintf("v%03d+eos-in+eos-mid", i)
		if count[v] != 1 {
			wrong = append(wrong, fmt.Sprintf("%s x%d", v, count[v]))
		}
		delete(count, v)
	}
	for v, k := range count {
		wrong = append(wrong, fmt.Sprintf("unexpected %s x%d", v, k))
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		t.Fatalf("eos-out is not every input exactly once: %v", wrong)
	}
}

// readCommitted reads n records of topic read_committed from addr.
func readCommitted(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records", topic, len(out), n)
		}
		out = append(out, fetches.Records()...)
	}
	// Anything beyond n (a duplicate) arrives with the next fetches.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	out = append(out, cl.PollFetches(ctx2).Records()...)
	return out
}

// testZombieFenced: a producer whose transactional.id a newer producer
// has initialized cannot commit: its transaction fails with
// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH from older brokers), and what it
// wrote is never visible read_committed.
func testZombieFenced(t *testing.T, addr string) {
	newProducer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("zombie"), kgo.DefaultProduceTopic("eos-zombie"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := newProducer()
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	young := newProducer()
	if err := young.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := young.ProduceSync(ctx, &kgo.Record{Value: []byte("young")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := young.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("young commit: %v", err)
	}
	err := old.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie commit: %v, want PRODUCER_FENCED", err)
	}
	got := readCommitted(t, addr, "eos-zombie", 1)
	if len(got) != 1 || string(got[0].Value) != "young" {
		var vs []string
		for _, r := range got {
			vs = append(vs, string(r.Value))
		}
		t.Fatalf("eos-zombie read_committed: %q, want only young", vs)
	}
}

// TestExactlyOnce: testExactlyOnce against Samsa, restarted in place in
// the middle (the clients reconnect to the same address).
func TestExactlyOnce(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	for _, topic := range []string{"eos-in", "eos-mid", "eos-out"} {
		createTopic(t, adm, topic, 3, nil)
	}
	testExactlyOnce(t, eosTarget{
		addr:    func() string { return tb.Addr() },
		restart: func() { tb = tb.restartInPlace() },
		read:    func(t *testing.T, topic string, n int) []*kgo.Record { return readCommitted(t, tb.Addr(), topic, n) },
	})
}

// TestZombieFenced: testZombieFenced against Samsa.
func TestZombieFenced(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "eos-zombie", 1, nil)
	testZombieFenced(t, tb.Addr())
}
