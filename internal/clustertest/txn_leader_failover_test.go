package clustertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnPartitionLeaderFailover: the leader of a partition a transaction
// has written to (not the transaction's coordinator) is killed while the
// transaction is open. The follower that takes over rebuilt the open
// transaction from the records it replicated: its last stable offset
// stays at the transaction's first offset while its high watermark is
// past the records. The producer writes one more record to the new
// leader and commits; the coordinator's marker goes to the new leader; a
// read_committed consumer then reads exactly the three records, and an
// aborted transaction after it stays invisible to it. The killed node
// comes back, catches up, and leads again (a preferred election): it
// answers the same.
func TestTxnPartitionLeaderFailover(t *testing.T) {
	noLeaks(t)
	static := maps.Clone(failoverStatics)
	static["transaction.state.log.num.partitions"] = "4"
	c := Start(t, Options{Nodes: 3, Static: static})
	const topic, id = "pl", "pl-txn"
	ctx := ctxT(t, 120*time.Second)
	coord := c.Admin().FindTxnCoordinators(ctx, id)[id]
	if coord.Err != nil {
		t.Fatalf("FindCoordinator: %v", coord.Err)
	}
	leader := coord.NodeID%3 + 1 // not the coordinator
	createTopicOn(t, c.Client(), topic, []int32{leader, leader%3 + 1, (leader+1)%3 + 1}, map[string]string{"min.insync.replicas": "2"})
	leaderOf(t, c.Admin(), topic, leader)
	p := c.Client(kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic), kgo.TransactionTimeout(60*time.Second),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.RequestTimeoutOverhead(3*time.Second), kgo.RetryTimeout(60*time.Second))
	produce := func(vals ...string) {
		t.Helper()
		for _, v := range vals {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
		}
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce("a", "b")

	killed := int(leader - 1)
	c.Node(killed).Kill()
	rest := others(c, killed)
	adm := kadm.NewClient(sideClient(c, rest))
	next := leaderOf(t, adm, topic, slices.DeleteFunc([]int32{1, 2, 3}, func(n int32) bool { return n == leader })...)
	// The new leader holds the open transaction: its high watermark is
	// past a and b, its last stable offset at a.
	var hw, lso int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		ends, err := adm.ListEndOffsets(ctx, topic)
		stable, err2 := adm.ListCommittedOffsets(ctx, topic)
		if err == nil && err2 == nil {
			e, _ := ends.Lookup(topic, 0)
			s, _ := stable.Lookup(topic, 0)
			if e.Err == nil && s.Err == nil {
				hw, lso = e.Offset, s.Offset
				if hw == 2 {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d leads: high watermark %d, last stable offset %d (%v, %v); want 2, 0", next, hw, lso, err, err2)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lso != 0 {
		t.Fatalf("node %d leads with the transaction open: last stable offset %d, want 0 (its first offset)", next, lso)
	}
	produce("c")
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit after the failover: %v", err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce("x")
	if err := p.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatalf("abort: %v", err)
	}

	read := func(committed bool) string {
		t.Helper()
		opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}
		if committed {
			opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		}
		cons := sideClient(c, rest, opts...)
		defer cons.Close()
		var got []string
		want := 3
		if !committed {
			want = 4
		}
		for len(got) < want {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %v", got)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value)) })
		}
		quiet, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		cons.PollFetches(quiet).EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value)) })
		return fmt.Sprint(got)
	}
	const committed, all = "[0:a 1:b 2:c]", "[0:a 1:b 2:c 4:x]"
	if got := read(true); got != committed {
		t.Fatalf("read_committed from node %d: %s, want %s", next, got, committed)
	}
	if got := read(false); got != all {
		t.Fatalf("read_uncommitted from node %d: %s, want %s", next, got, all)
	}

	if err := c.Node(killed).Restart(); err != nil {
		t.Fatal(err)
	}
	partitionState(t, c.Node(killed), topic, "the restarted node back in the ISR", func(_ int32, isr []int32) bool { return len(isr) == 3 })
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := elect(t, c.Admin(), topic, 0)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("preferred election of node %d: %v", leader, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	leaderOf(t, c.Admin(), topic, leader)
	rest = []int{killed}
	if got := read(true); got != committed {
		t.Fatalf("read_committed from node %d, leading again: %s, want %s", leader, got, committed)
	}
	if got := read(false); got != all {
		t.Fatalf("read_uncommitted from node %d, leading again: %s, want %s", leader, got, all)
	}
}
