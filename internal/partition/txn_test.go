package partition

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// txnBatch builds a transactional batch of n records of producer pid.
func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	return batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: true}, records(n, 5))
}

func mustAppendAt(t *testing.T, p *Partition, b []byte, want int64) {
	t.Helper()
	if r := p.Append(b); r.ErrorCode != 0 || r.BaseOffset != want {
		t.Fatalf("append: %+v, want base offset %d", r, want)
	}
}

func mustMarker(t *testing.T, p *Partition, pid int64, epoch int16, coordEpoch int32, commit bool, want int64) {
	t.Helper()
	r := p.AppendMarker(pid, epoch, coordEpoch, commit)
	if r.ErrorCode != 0 || r.BaseOffset != want || r.NextOffset != want+1 {
		t.Fatalf("marker of %d: %+v, want offset %d", pid, r, want)
	}
	if code := p.WaitForAcks(context.Background(), r.NextOffset, time.Second); code != 0 {
		t.Fatalf("marker of %d not committed: %d", pid, code)
	}
}

func abortedString(txns []storage.AbortedTxn) string {
	var s []string
	for _, a := range txns {
		s = append(s, fmt.Sprintf("pid %d [%d, %d] lso %d", a.ProducerID, a.FirstOffset, a.LastOffset, a.LastStableOffset))
	}
	return fmt.Sprint(s)
}

func checkAborted(t *testing.T, p *Partition, from, upTo int64, want string) {
	t.Helper()
	got, err := p.AbortedTxns(from, upTo)
	if err != nil {
		t.Fatal(err)
	}
	if s := abortedString(got); s != want {
		t.Fatalf("aborted in [%d, %d): %s\nwant %s", from, upTo, s, want)
	}
}

func checkLSO(t *testing.T, p *Partition, want int64) {
	t.Helper()
	if got := p.LastStableOffset(); got != want {
		t.Fatalf("last stable offset %d, want %d (high watermark %d)", got, want, p.HighWatermark())
	}
}

// TestTransactionsInThePartition: transactional batches open transactions
// and hold the last stable offset at their first offset; markers end them
// (the coordinator's epochs checked); aborts are indexed with Kafka's last
// stable offset; all of it survives a reopen and a crash that lost the
// index, and a follower fed the leader's batches indexes the same.
func TestTransactionsInThePartition(t *testing.T) {
	fs := vfs.NewMem()
	p, m := openTest(t, fs, "/data", nil)
	defer m.Close()
	checkLSO(t, p, 0)
	mustAppendAt(t, p, txnBatch(5, 0, 0, 2), 0)                                           // 0-1: pid 5
	mustAppendAt(t, p, batch.Build(batch.BuildOptions{ProducerID: -1}, records(1, 5)), 2) // 2: plain
	checkLSO(t, p, 0)
	mustMarker(t, p, 5, 0, 1, false, 3) // 3: abort 5
	checkLSO(t, p, 4)
	mustAppendAt(t, p, txnBatch(6, 2, 0, 1), 4) // 4: pid 6
	mustAppendAt(t, p, txnBatch(7, 0, 0, 1), 5) // 5: pid 7
	mustMarker(t, p, 7, 0, 1, false, 6)         // 6: abort 7 while 6 is open: its entry's LSO is 4
	checkLSO(t, p, 4)

	// Kafka's refusals: a stale producer epoch, a zombie coordinator, a
	// follower.
	if r := p.AppendMarker(6, 1, 1, true); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("stale producer epoch: %+v", r)
	}
	if r := p.AppendMarker(5, 0, 0, false); r.ErrorCode != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("stale coordinator epoch: %+v", r)
	}
	mustMarker(t, p, 6, 2, 3, true, 7) // 7: commit 6
	checkLSO(t, p, 8)
	const want = "[pid 5 [0, 3] lso 4 pid 7 [5, 6] lso 4]"
	checkAborted(t, p, 0, 8, want)
	checkAborted(t, p, 4, 5, "[]")
	checkAborted(t, p, 4, 8, "[pid 7 [5, 6] lso 4]")
	raw, err := vfs.ReadFile(fs, "/data/t-0/00000000000000000000.txnindex")
	if err != nil || len(raw) != 68 {
		t.Fatalf("index file: %d bytes, %v", len(raw), err)
	}
	producers := fmt.Sprint(p.Producers())

	// A reopen (snapshot) and a replay without the snapshot agree.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	for _, how := range []string{"snapshot", "replay", "index lost"} {
		switch how {
		case "replay":
			fs.Remove("/data/t-0/" + snapshotFile)
		case "index lost":
			// As after a crash before the index's entries were synced
			// (its name was, when created): the log is recovered from
			// offset 0 and the replay writes them again.
			vfs.WriteFileAtomic(fs, "/data/t-0", "/data/t-0/00000000000000000000.txnindex", nil)
			fs.Remove("/data/.clean-shutdown")
			fs.Remove("/data/t-0/recovery-point")
		}
		p, m = openTest(t, fs, "/data", nil)
		checkLSO(t, p, 8)
		checkAborted(t, p, 0, 8, want)
		if got := fmt.Sprint(p.Producers()); got != producers {
			t.Fatalf("%s: producers %s, want %s", how, got, producers)
		}
		if got, _ := vfs.ReadFile(fs, "/data/t-0/00000000000000000000.txnindex"); string(got) != string(raw) {
			t.Fatalf("%s: index file %x, want %x", how, got, raw)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	// An open transaction is open again after a reopen.
	p, m = openTest(t, fs, "/data", nil)
	mustAppendAt(t, p, txnBatch(8, 0, 0, 1), 8)
	checkLSO(t, p, 8)
	p.Close()
	m.Close()
	p, m = openTest(t, fs, "/data", nil)
	defer p.Close()
	checkLSO(t, p, 8)
	mustMarker(t, p, 8, 0, 0, false, 9)
	checkLSO(t, p, 10)
	checkAborted(t, p, 0, 10, "[pid 5 [0, 3] lso 4 pid 7 [5, 6] lso 4 pid 8 [8, 9] lso 10]")
}

// TestFollowerIndexesAborts: a follower fed the leader's batches keeps the
// same aborted transactions and last stable offset.
func TestFollowerIndexesAborts(t *testing.T) {
	leader, follower, _ := leaderAndFollower(t, vfs.NewMem())
	mustAppendAt(t, leader, txnBatch(3, 0, 0, 3), 0)
	mustAppendAt(t, leader, txnBatch(4, 0, 0, 1), 3)
	if r := leader.AppendMarker(3, 0, 0, false); r.ErrorCode != 0 || r.BaseOffset != 4 {
		t.Fatalf("marker: %+v", r)
	}
	fetched, err := leader.ReadFor(true, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := follower.AppendAsFollower(fetched); err != nil {
		t.Fatal(err)
	}
	follower.SetLeaderHighWatermark(5)
	for _, p := range []*Partition{leader, follower} {
		checkAborted(t, p, 0, 5, "[pid 3 [0, 4] lso 3]")
		checkLSO(t, p, 3)
	}
	if r := follower.AppendMarker(4, 0, 0, true); r.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("marker on a follower: %+v", r)
	}
	// A failover: the follower leads with the transaction of producer 4
	// still open, so read_committed stops at its start until the new
	// leader writes its marker.
	if err := follower.BecomeLeader(2, 2, []int32{1, 2}, []int32{2}); err != nil {
		t.Fatal(err)
	}
	checkLSO(t, follower, 3)
	if b, err := follower.ReadBounded(StableBound, 0, 1<<20); err != nil || recordsEndOf(b) != 3 {
		t.Fatalf("read_committed on the new leader ends at %d (%v), want 3", recordsEndOf(b), err)
	}
	if b, err := follower.ReadBounded(StableBound, 4, 1<<20); err != nil || len(b) != 0 {
		t.Fatalf("read_committed past the last stable offset: %d bytes, %v", len(b), err)
	}
	mustMarker(t, follower, 4, 0, 1, true, 5)
	checkLSO(t, follower, 6)
	if err := follower.BecomeFollower(3, 3, 1, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	// A follower truncated below the marker loses the entry and reopens
	// the transaction.
	if err := follower.TruncateTo(4); err != nil {
		t.Fatal(err)
	}
	checkAborted(t, follower, 0, 4, "[]")
	checkLSO(t, follower, 0)
	if got := follower.Producers(); len(got) != 2 || got[0].CurrentTxnStartOffset != 0 {
		t.Fatalf("producers after truncation %+v", got)
	}
}

// TestMarkerWaitsForTheISR: until the follower has the marker, the
// transaction is undecided (the last stable offset stays at its start) and
// the marker's acks=all wait goes on.
func TestMarkerWaitsForTheISR(t *testing.T) {
	leader, _, _ := leaderAndFollower(t, vfs.NewMem())
	if err := leader.BecomeLeader(1, 2, []int32{1, 2}, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if r := leader.Append(txnBatch(3, 0, 0, 2)); r.ErrorCode != 0 {
		t.Fatal(r)
	}
	r := leader.AppendMarker(3, 0, 0, true)
	if r.ErrorCode != 0 || r.NextOffset != 3 {
		t.Fatalf("marker %+v", r)
	}
	checkLSO(t, leader, 0)
	if code := leader.WaitForAcks(context.Background(), r.NextOffset, 20*time.Millisecond); code != kerr.RequestTimedOut.Code {
		t.Fatalf("marker acknowledged before the follower had it: %d", code)
	}
	if _, code := leader.FollowerFetch(2, -1, 3, 0); code != 0 {
		t.Fatal(code)
	}
	if code := leader.WaitForAcks(context.Background(), r.NextOffset, time.Second); code != 0 {
		t.Fatal(code)
	}
	checkLSO(t, leader, 3)
}

// TestRetentionStopsAtOpenTransaction: DeleteRecords and retention never
// move the log start past an open transaction's first offset.
func TestRetentionStopsAtOpenTransaction(t *testing.T) {
	fs := vfs.NewMem()
	p, m := openTest(t, fs, "/data", map[string]string{"segment.bytes": "1024"})
	defer m.Close()
	defer p.Close()
	for i := range 10 {
		mustAppendAt(t, p, batch.Build(batch.BuildOptions{ProducerID: -1}, records(1, 100)), int64(i))
	}
	mustAppendAt(t, p, txnBatch(9, 0, 0, 1), 10)
	for i := range 10 {
		mustAppendAt(t, p, batch.Build(batch.BuildOptions{ProducerID: -1}, records(1, 100)), int64(11+i))
	}
	checkLSO(t, p, 10)
	if low, code := p.DeleteRecords(-1); code != 0 || low != 10 {
		t.Fatalf("DeleteRecords(high watermark): %d, %d", low, code)
	}
	if low, code := p.DeleteRecords(15); code != 0 || low != 10 {
		t.Fatalf("DeleteRecords(15): %d, %d", low, code)
	}
	if n := p.ExpireProducers(time.Now().Add(365*24*time.Hour), time.Hour); n != 0 {
		t.Fatalf("expired %d producers, one with an open transaction", n)
	}
	cfg := p.Config()
	cfg.RetentionBytes = 1
	p.SetConfig(cfg)
	if _, err := p.log.EnforceRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	if p.LogStartOffset() > 10 {
		t.Fatalf("retention moved the log start to %d, past the open transaction at 10", p.LogStartOffset())
	}
	mustMarker(t, p, 9, 0, 0, true, 21)
	if low, code := p.DeleteRecords(15); code != 0 || low != 15 {
		t.Fatalf("DeleteRecords(15) after the commit: %d, %d", low, code)
	}
}

// recordsEndOf is the offset after the last batch of b, or 0.
func recordsEndOf(b []byte) int64 {
	end := int64(0)
	batch.Iterate(b, func(h batch.Header, _ []byte) bool {
		end = h.LastOffset() + 1
		return true
	})
	return end
}
