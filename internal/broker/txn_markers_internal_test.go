package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// txnRecords builds a transactional batch of producer pid's values.
func txnRecords(pid int64, epoch int16, seq int32, values ...string) []byte {
	var recs []batch.Record
	for _, v := range values {
		recs = append(recs, batch.Record{Value: []byte(v)})
	}
	return batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: true}, recs)
}

// writeMarker sends one WriteTxnMarkers request (v2) of one marker for
// the partitions of topics and returns its codes by "topic/partition".
func writeMarker(t *testing.T, ctx context.Context, cl *kgo.Client, pid int64, epoch int16, coordEpoch int32, commit bool, topics map[string][]int32) map[string]int16 {
	return writeMarkerVersion(t, ctx, cl, pid, epoch, coordEpoch, commit, 0, topics)
}

// writeMarkerVersion is writeMarker of a transaction of transaction
// version tv.
func writeMarkerVersion(t *testing.T, ctx context.Context, cl *kgo.Client, pid int64, epoch int16, coordEpoch int32, commit bool, tv int8, topics map[string][]int32) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed, m.TransactionVersion = pid, epoch, coordEpoch, commit, tv
	for topic, parts := range topics {
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, parts
		m.Topics = append(m.Topics, mt)
	}
	req.Markers = append(req.Markers, m)
	// To the broker itself: kgo shards a WriteTxnMarkers by partition
	// leader and fails it for unknown partitions.
	kresp, err := cl.DiscoveredBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.WriteTxnMarkersResponse)
	codes := map[string]int16{}
	for _, rm := range resp.Markers {
		if rm.ProducerID != pid {
			t.Fatalf("answer for producer %d", rm.ProducerID)
		}
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				codes[fmt.Sprintf("%s/%d", rt.Topic, rp.Partition)] = rp.ErrorCode
			}
		}
	}
	return codes
}

// TestWriteTxnMarkers: the coordinator's markers end a producer's
// transaction on the partitions this broker leads (an abort indexed, the
// last stable offset past it), with Kafka's per-partition errors.
func TestWriteTxnMarkers(t *testing.T) {
	b, ctx, cl := startLeader(t)
	p := b.partitions.Get("t", 0)
	if r := p.Append(txnRecords(100, 0, 0, "a", "b", "c")); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("append %+v", r)
	}
	if lso := p.LastStableOffset(); lso != 0 {
		t.Fatalf("last stable offset %d with the transaction open", lso)
	}
	codes := writeMarker(t, ctx, cl, 100, 0, 5, false, map[string][]int32{"t": {0, 7}, "nope": {0}})
	want := map[string]int16{"t/0": 0, "t/7": kerr.UnknownTopicOrPartition.Code, "nope/0": kerr.UnknownTopicOrPartition.Code}
	for k, c := range want {
		if codes[k] != c {
			t.Fatalf("codes %v, want %v", codes, want)
		}
	}
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != 4 || hw != 4 {
		t.Fatalf("after the abort: last stable offset %d, high watermark %d", lso, hw)
	}
	got, err := p.AbortedTxns(0, 4)
	if err != nil || !slices.Equal(got, []storage.AbortedTxn{{ProducerID: 100, FirstOffset: 0, LastOffset: 3, LastStableOffset: 4}}) {
		t.Fatalf("aborted %v, %v", got, err)
	}
	// A coordinator of an older epoch is a zombie.
	if c := writeMarker(t, ctx, cl, 100, 0, 4, true, map[string][]int32{"t": {0}}); c["t/0"] != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("zombie coordinator: %v", c)
	}
	// Transactions v2 (WriteTxnMarkers v2's TransactionVersion): the
	// marker's epoch must be above the producer's while its transaction
	// is open.
	if r := p.Append(txnRecords(100, 0, 3, "d")); r.ErrorCode != 0 || r.BaseOffset != 4 {
		t.Fatalf("append %+v", r)
	}
	if c := writeMarkerVersion(t, ctx, cl, 100, 0, 5, true, 2, map[string][]int32{"t": {0}}); c["t/0"] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("TV2 marker at the current epoch: %v", c)
	}
	if c := writeMarkerVersion(t, ctx, cl, 100, 1, 5, true, 2, map[string][]int32{"t": {0}}); c["t/0"] != 0 || p.LogEndOffset() != 6 {
		t.Fatalf("TV2 marker at a bumped epoch: %v, log end %d", c, p.LogEndOffset())
	}
	// The same marker again (a coordinator that reloaded PrepareCommit, or
	// lost the answer) is taken, ends nothing, and lets the coordinator
	// complete (KAFKA-19999; refused, the transaction hung in
	// PrepareCommit).
	if c := writeMarkerVersion(t, ctx, cl, 100, 1, 5, true, 2, map[string][]int32{"t": {0}}); c["t/0"] != 0 || p.LogEndOffset() != 7 || p.LastStableOffset() != 7 {
		t.Fatalf("TV2 marker resent: %v, log end %d, last stable offset %d", c, p.LogEndOffset(), p.LastStableOffset())
	}

}

// consumeValues polls cl until it has n records or a quiet second passes
// after that, and returns their values with offsets.
func consumeValues(t *testing.T, ctx context.Context, cl *kgo.Client, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("got %v, want %d records: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value)) })
	}
	quiet, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cl.PollFetches(quiet).EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value)) })
	return got
}

// TestReadCommitted: a read_committed franz-go consumer sees only
// committed transactions' and plain records, never aborted ones, and
// nothing at or past an open transaction until it commits; a
// read_uncommitted one sees every record up to the high watermark; Fetch
// tells both the last stable offset and read_committed the aborted
// transactions; ListOffsets latest is the last stable offset for
// read_committed.
func TestReadCommitted(t *testing.T) {
	dir := t.TempDir()
	b, ctx, cl := startLeaderIn(t, dir)
	p := b.partitions.Get("t", 0)
	plain := func(v string) []byte {
		return batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Value: []byte(v)}})
	}
	for i, x := range [][]byte{
		txnRecords(100, 0, 0, "a1", "a2"), // 0-1, aborted at 4
		plain("p1"),                       // 2
		txnRecords(101, 0, 0, "c1"),       // 3, committed at 6
	} {
		if r := p.Append(x); r.ErrorCode != 0 {
			t.Fatalf("append %d: %+v", i, r)
		}
	}
	if c := writeMarker(t, ctx, cl, 100, 0, 0, false, map[string][]int32{"t": {0}}); c["t/0"] != 0 {
		t.Fatal(c)
	}
	p.Append(txnRecords(101, 0, 1, "c2")) // 5
	if c := writeMarker(t, ctx, cl, 101, 0, 0, true, map[string][]int32{"t": {0}}); c["t/0"] != 0 {
		t.Fatal(c)
	}
	p.Append(txnRecords(102, 0, 0, "open1")) // 7, open
	p.Append(plain("p2"))                    // 8
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != 7 || hw != 9 {
		t.Fatalf("last stable offset %d, high watermark %d", lso, hw)
	}

	committed := testClient(t, kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	uncommitted := testClient(t, kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if got := fmt.Sprint(consumeValues(t, ctx, committed, 3)); got != "[2:p1 3:c1 5:c2]" {
		t.Fatalf("read_committed consumed %s", got)
	}
	if got := fmt.Sprint(consumeValues(t, ctx, uncommitted, 7)); got != "[0:a1 1:a2 2:p1 3:c1 5:c2 7:open1 8:p2]" {
		t.Fatalf("read_uncommitted consumed %s", got)
	}

	// The Fetch itself, at each isolation level.
	for _, isolation := range []int8{0, 1} {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.IsolationLevel = -1, 1<<20, isolation
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "t", b.Image().Topics["t"].ID // kgo sends its newest version, by ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		fp := resp.Topics[0].Partitions[0]
		if fp.ErrorCode != 0 {
			t.Fatalf("isolation %d: fetch error %d", isolation, fp.ErrorCode)
		}
		var aborted []string
		for _, a := range fp.AbortedTransactions {
			aborted = append(aborted, fmt.Sprintf("%d@%d", a.ProducerID, a.FirstOffset))
		}
		end := recordsEnd(fp.RecordBatches)
		want := map[int8]string{0: "hw 9 lso 7 end 9 aborted [] null true", 1: "hw 9 lso 7 end 7 aborted [100@0] null false"}[isolation]
		if got := fmt.Sprintf("hw %d lso %d end %d aborted %v null %v", fp.HighWatermark, fp.LastStableOffset, end, aborted, fp.AbortedTransactions == nil); got != want {
			t.Fatalf("isolation %d: %s, want %s", isolation, got, want)
		}
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if e, s := ends["t"][0].Offset, stable["t"][0].Offset; e != 9 || s != 7 {
		t.Fatalf("latest offsets: read_uncommitted %d, read_committed %d", e, s)
	}

	// The commit of the open transaction releases it and what follows.
	if c := writeMarker(t, ctx, cl, 102, 0, 0, true, map[string][]int32{"t": {0}}); c["t/0"] != 0 {
		t.Fatal(c)
	}
	if got := fmt.Sprint(consumeValues(t, ctx, committed, 2)); got != "[7:open1 8:p2]" {
		t.Fatalf("read_committed after the commit consumed %s", got)
	}

	// A restart as after a crash that lost the unsynced index and the
	// recovery point: recovery and the producer state's replay rebuild the
	// index, and a read_committed consumer still drops the aborted records.
	committed.Close()
	uncommitted.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	idxs, _ := filepath.Glob(filepath.Join(dir, "*", "t-0", "*.txnindex"))
	if more, _ := filepath.Glob(filepath.Join(dir, "t-0", "*.txnindex")); len(more) > 0 {
		idxs = more
	}
	if len(idxs) != 1 {
		t.Fatalf("index files %v", idxs)
	}
	logDir := filepath.Dir(idxs[0])
	// The clean-shutdown mark must go; a recovery point only exists if a
	// checkpoint wrote one; the index keeps its name (synced when it was
	// created) but not its entries.
	for _, path := range []string{filepath.Join(filepath.Dir(logDir), ".clean-shutdown"), filepath.Join(logDir, "recovery-point")} {
		if err := os.Remove(path); err != nil && (!os.IsNotExist(err) || path != filepath.Join(logDir, "recovery-point")) {
			t.Fatal(err)
		}
	}
	if err := os.Truncate(idxs[0], 0); err != nil {
		t.Fatal(err)
	}
	b2, err := Start(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	again := testClient(t, kgo.SeedBrokers(b2.Addr()), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	if got := fmt.Sprint(consumeValues(t, ctx, again, 5)); got != "[2:p1 3:c1 5:c2 7:open1 8:p2]" {
		t.Fatalf("read_committed after the restart consumed %s", got)
	}
	idx, err := os.ReadFile(idxs[0])
	if err != nil || len(idx) != 34 {
		t.Fatalf("rebuilt index: %d bytes, %v", len(idx), err)
	}
}

// recordsEnd is the offset after the last batch of records, or 0.
func recordsEnd(records []byte) int64 {
	end := int64(0)
	batch.Iterate(records, func(h batch.Header, _ []byte) bool {
		end = h.LastOffset() + 1
		return true
	})
	return end
}
