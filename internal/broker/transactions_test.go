package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/clustertest"
)

// txnStatic keeps __transaction_state small so the broker creates it fast.
var txnStatic = map[string]string{"transaction.state.log.num.partitions": "4"}

// readValues reads topic from the start at the isolation level until
// want records arrived and a second passed with no more, and returns them
// as partition/offset:value, sorted.
func readValues(t *testing.T, tb *testBroker, topic string, committed bool, want int) []string {
	t.Helper()
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl := tb.client(opts...)
	ctx := ctxT(t)
	var got []string
	add := func(fs kgo.Fetches) {
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d/%d:%s", r.Partition, r.Offset, r.Value)) })
	}
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %v, want %d records", got, want)
		}
		add(fs)
	}
	quiet, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	add(cl.PollFetches(quiet))
	sort.Strings(got)
	return got
}

func produceTxn(t *testing.T, ctx context.Context, cl *kgo.Client, commit bool, recs ...*kgo.Record) error {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		if aerr := cl.EndTransaction(ctx, kgo.TryAbort); aerr != nil {
			t.Logf("abort after a failed produce: %v", aerr)
		}
		return err
	}
	return cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
}

func rec(p int32, v string) *kgo.Record {
	return &kgo.Record{Topic: "t", Partition: p, Value: []byte(v)}
}

// TestTransactions: a franz-go transactional producer commits and aborts
// transactions across two partitions through the coordinator (InitProducerId,
// AddPartitionsToTxn, EndTxn, the markers it writes with WriteTxnMarkers):
// a read_committed consumer reads exactly the committed records at their
// offsets (markers take one each), read_uncommitted the aborted ones too;
// DescribeTransactions and ListTransactions show the ended transaction; a
// second producer with the same transactional.id fences the first, whose
// next commit fails and whose records nobody reads committed.
func TestTransactions(t *testing.T) {
	tb := startBroker(t, t.TempDir(), txnStatic)
	ctx := ctxT(t)
	adm := tb.admin()
	createTopic(t, adm, "t", 2, nil)
	producer := func() *kgo.Client {
		return tb.client(kgo.TransactionalID("tx-1"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(20*time.Second))
	}
	p1 := producer()
	if err := produceTxn(t, ctx, p1, true, rec(0, "c1"), rec(1, "c2")); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := produceTxn(t, ctx, p1, false, rec(0, "a1")); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if err := produceTxn(t, ctx, p1, true, rec(0, "c3")); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got := fmt.Sprint(readValues(t, tb, "t", true, 3)); got != "[0/0:c1 0/4:c3 1/0:c2]" {
		t.Fatalf("read_committed read %s", got)
	}
	if got := fmt.Sprint(readValues(t, tb, "t", false, 4)); got != "[0/0:c1 0/2:a1 0/4:c3 1/0:c2]" {
		t.Fatalf("read_uncommitted read %s", got)
	}

	described, err := adm.DescribeTransactions(ctx, "tx-1")
	if err != nil {
		t.Fatal(err)
	}
	d, err := described.On("tx-1", nil)
	if err != nil || d.Err != nil || d.State != "CompleteCommit" || d.ProducerID < 0 || d.TimeoutMillis != 20000 || len(d.Topics) != 0 {
		t.Fatalf("described %+v, %v", d, err)
	}
	listed, err := adm.ListTransactions(ctx, nil, []string{"CompleteCommit"})
	if err != nil {
		t.Fatal(err)
	}
	if l := listed.TransactionalIDs(); len(l) != 1 || l[0] != "tx-1" {
		t.Fatalf("listed %v", l)
	}

	// The zombie: a new producer of tx-1 fences p1.
	p2 := producer()
	if err := produceTxn(t, ctx, p2, true, rec(1, "z2")); err != nil {
		t.Fatalf("the new producer's commit: %v", err)
	}
	err = produceTxn(t, ctx, p1, true, rec(1, "zombie"))
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("the fenced producer's transaction: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	if got := fmt.Sprint(readValues(t, tb, "t", true, 4)); got != "[0/0:c1 0/4:c3 1/0:c2 1/2:z2]" {
		t.Fatalf("read_committed read %s after the zombie", got)
	}
}

func txnState(t *testing.T, tb *testBroker, id string) string {
	t.Helper()
	described, err := tb.admin().DescribeTransactions(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	d, err := described.On(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Err != nil {
		return d.Err.Error()
	}
	return d.State
}

// TestTransactionCompletesAfterRestart: the coordinator crashes between
// EndTxn and the markers. The broker's connections out (its Dial, which
// the marker sender uses even to reach itself) are refused, so the
// committed transaction stays PrepareCommit; the node is killed (its
// unsynced writes lost, as a crash) and started again with the network
// back. The new coordinator reads PrepareCommit back from
// __transaction_state, sends the markers and completes the commit: a
// read_committed consumer reads exactly the transaction's records.
func TestTransactionCompletesAfterRestart(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if refuse.Load() {
			return nil, errors.New("test: connection refused")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	n := clustertest.StartNode(t, clustertest.NodeConfig{Static: txnStatic, Dial: dial})
	tb := &testBroker{Broker: n.Broker(), t: t}
	ctx := ctxT(t)
	createTopic(t, tb.admin(), "t", 1, nil)
	p := tb.client(kgo.TransactionalID("tx-r"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, rec(0, "r1"), rec(0, "r2")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the markers are retried meanwhile
	if s := txnState(t, tb, "tx-r"); s != "PrepareCommit" {
		t.Fatalf("state %s before the crash, want PrepareCommit", s)
	}
	p.Close()
	n.Kill()
	refuse.Store(false)
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	tb = &testBroker{Broker: n.Broker(), t: t}
	waitFor(t, 10*time.Second, "CompleteCommit", func() bool { return txnState(t, tb, "tx-r") == "CompleteCommit" })
	if got := fmt.Sprint(readValues(t, tb, "t", true, 2)); got != "[0/0:r1 0/1:r2]" {
		t.Fatalf("read_committed read %s", got)
	}
}

// TestTransactionTimeout: a producer that opens a transaction and goes
// silent has it aborted once transaction.timeout.ms passes (checked every
// transaction.abort.timed.out.transaction.cleanup.interval.ms): the
// coordinator fences its epoch and writes ABORT, so the partition's last
// stable offset moves past it, read_committed readers see the records
// after it and none of it, and the producer's late commit is refused.
func TestTransactionTimeout(t *testing.T) {
	static := map[string]string{"transaction.state.log.num.partitions": "4", "transaction.abort.timed.out.transaction.cleanup.interval.ms": "100"}
	tb := startBroker(t, t.TempDir(), static)
	ctx := ctxT(t)
	createTopic(t, tb.admin(), "t", 1, nil)
	slow := tb.client(kgo.TransactionalID("tx-slow"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(time.Second))
	if err := slow.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := slow.ProduceSync(ctx, rec(0, "lost")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	other := tb.client(kgo.TransactionalID("tx-other"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := produceTxn(t, ctx, other, true, rec(0, "kept")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the timed out transaction to abort", func() bool { return txnState(t, tb, "tx-slow") == "CompleteAbort" })
	if got := fmt.Sprint(readValues(t, tb, "t", true, 1)); got != "[0/1:kept]" {
		t.Fatalf("read_committed read %s", got)
	}
	err := slow.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("the timed out producer's commit: %v, want PRODUCER_FENCED", err)
	}
}
