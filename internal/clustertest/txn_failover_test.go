package clustertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnCoordinatorFailover: the broker coordinating a franz-go
// producer's transactional.id (the leader of its partition of
// __transaction_state, replicated on all three nodes, min.insync.replicas
// 2) is killed while a transaction is open. The producer's commit goes to
// the new coordinator, which loaded the open transaction from its replica
// of __transaction_state and writes its markers; the next transaction
// commits too. A read_committed consumer of the survivors reads exactly
// the five committed records, at the offsets their markers leave.
func TestTxnCoordinatorFailover(t *testing.T) {
	noLeaks(t)
	static := maps.Clone(failoverStatics)
	static["transaction.state.log.num.partitions"] = "4"
	c := Start(t, Options{Nodes: 3, Static: static})
	const topic, id = "tf", "tf-txn"
	createTopicOn(t, c.Client(), topic, []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2"})
	leaderOf(t, c.Admin(), topic)
	p := c.Client(kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(60*time.Second), kgo.MetadataMinAge(100*time.Millisecond), kgo.RequestTimeoutOverhead(3*time.Second),
		kgo.RetryTimeout(60*time.Second))
	ctx := ctxT(t, 120*time.Second)
	produce := func(vals ...string) {
		t.Helper()
		for _, v := range vals {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
		}
	}
	commit := func() {
		t.Helper()
		if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	begin := func() {
		t.Helper()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	begin()
	produce("a", "b")
	commit()
	begin()
	produce("c", "d")

	coord := c.Admin().FindTxnCoordinators(ctxT(t, 10*time.Second), id)[id]
	if coord.Err != nil {
		t.Fatalf("FindCoordinator: %v", coord.Err)
	}
	killed := int(coord.NodeID - 1)
	c.Node(killed).Kill()
	at := time.Now()
	commit()
	committedIn := time.Since(at)
	begin()
	produce("e")
	commit()

	rest := others(c, killed)
	next := kadm.NewClient(sideClient(c, rest)).FindTxnCoordinators(ctxT(t, 10*time.Second), id)[id]
	if next.Err != nil || next.NodeID == coord.NodeID {
		t.Fatalf("coordinator after the kill: node %d, %v (node %d was killed)", next.NodeID, next.Err, coord.NodeID)
	}
	cons := sideClient(c, rest, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	var got []string
	for len(got) < 5 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed read %v", got)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch: %v", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value)) })
	}
	quiet, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cons.PollFetches(quiet).EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value)) })
	if s := fmt.Sprint(got); s != "[0:a 1:b 3:c 4:d 6:e]" {
		t.Fatalf("read_committed read %s", s)
	}
	if err := c.Node(killed).Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("coordinator %d killed with a transaction open; node %d committed it in %v", coord.NodeID, next.NodeID, committedIn.Round(time.Millisecond))
}

// TestTxnAcrossLeaders: one transaction writes to three partitions led by
// the three nodes, so at least two leaders are not its coordinator: their
// produce path verifies the partition with the coordinator over the
// network (AddPartitionsToTxn v5, verify only) and the coordinator sends
// them WriteTxnMarkers. A committed and an aborted transaction: a
// read_committed consumer reads exactly the committed records, a
// read_uncommitted one the aborted ones too.
func TestTxnAcrossLeaders(t *testing.T) {
	noLeaks(t)
	static := maps.Clone(failoverStatics)
	static["transaction.state.log.num.partitions"] = "4"
	c := Start(t, Options{Nodes: 3, Static: static})
	topics := []string{"x1", "x2", "x3"}
	for i, topic := range topics {
		n := int32(i + 1)
		createTopicOn(t, c.Client(), topic, []int32{n, n%3 + 1, (n+1)%3 + 1}, nil)
		leaderOf(t, c.Admin(), topic, n)
	}
	p := c.Client(kgo.TransactionalID("across"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryTimeout(30*time.Second))
	ctx := ctxT(t, 60*time.Second)
	for _, commit := range []bool{true, false} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, topic := range topics {
			if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint(topic, "-", commit))}).FirstErr(); err != nil {
				t.Fatalf("produce to %s: %v", topic, err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end (commit %v): %v", commit, err)
		}
	}
	read := func(committed bool, want int) string {
		opts := []kgo.Opt{kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}
		if committed {
			opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		}
		cons := c.Client(opts...)
		got := map[string][]string{}
		n := 0
		add := func(r *kgo.Record) { got[r.Topic] = append(got[r.Topic], fmt.Sprintf("%d:%s", r.Offset, r.Value)); n++ }
		for n < want {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %v", got)
			}
			fs.EachRecord(add)
		}
		quiet, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		cons.PollFetches(quiet).EachRecord(add)
		return fmt.Sprint(got["x1"], got["x2"], got["x3"])
	}
	if got := read(true, 3); got != "[0:x1-true] [0:x2-true] [0:x3-true]" {
		t.Fatalf("read_committed read %s", got)
	}
	if got := read(false, 6); got != "[0:x1-true 2:x1-false] [0:x2-true 2:x2-false] [0:x3-true 2:x3-false]" {
		t.Fatalf("read_uncommitted read %s", got)
	}
}
