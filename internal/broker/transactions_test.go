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
