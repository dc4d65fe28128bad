package txncoord

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestEndWait: an add or InitProducerId sent while the previous
// transaction's markers are still being written waits for them (up to
// EndWait) instead of answering CONCURRENT_TRANSACTIONS.
func TestEndWait(t *testing.T) {
	ctx := context.Background()
	tp0, tp1 := TopicPartition{"t", 0}, TopicPartition{"t", 1}
	begin := func(t *testing.T, wait time.Duration) (*env, InitResult) {
		e := newEnv(t)
		e.c.Close()
		e.endWait = wait
		e.start(1)
		t.Cleanup(e.c.Close)
		r := e.c.InitProducerID(ctx, "a", 60000, -1, -1)
		if r.Code != 0 {
			t.Fatalf("init: %v", kerr.ErrorForCode(r.Code))
		}
		if code := e.c.AddPartitions(ctx, "a", r.ProducerID, r.Epoch, []TopicPartition{tp0}); code != 0 {
			t.Fatalf("add: %v", kerr.ErrorForCode(code))
		}
		// The marker for t-0 fails until it is let through.
		e.markers.setFail(t, "t-0:NOT_ENOUGH_REPLICAS")
		return e, r
	}

	t.Run("add waits for the markers", func(t *testing.T) {
		e, r := begin(t, 5*time.Second)
		end := e.c.EndTxn("a", r.ProducerID, r.Epoch, true, true)
		if end.Code != 0 || end.Epoch != r.Epoch+1 {
			t.Fatalf("end: %+v", end)
		}
		const delay = 50 * time.Millisecond
		start := time.Now()
		time.AfterFunc(delay, func() { e.markers.setFail(t, "") })
		if code := e.c.AddPartitions(ctx, "a", end.ProducerID, end.Epoch, []TopicPartition{tp1}); code != 0 {
			t.Fatalf("add after end: %v, want it to wait for the markers", kerr.ErrorForCode(code))
		}
		if took := time.Since(start); took < delay {
			t.Fatalf("add answered in %v, before the markers were let through (%v)", took, delay)
		}
		e.c.mu.Lock()
		m := e.c.parts[0].txns["a"]
		state, parts := m.state, m.sortedPartitions()
		e.c.mu.Unlock()
		if state != Ongoing || len(parts) != 1 || parts[0] != tp1 {
			t.Fatalf("after the add: %v %v, want Ongoing with t-1 only", state, parts)
		}
	})

	t.Run("init waits for the markers", func(t *testing.T) {
		e, r := begin(t, 5*time.Second)
		if end := e.c.EndTxn("a", r.ProducerID, r.Epoch, false, false); end.Code != 0 {
			t.Fatalf("end: %+v", end)
		}
		time.AfterFunc(50*time.Millisecond, func() { e.markers.setFail(t, "") })
		got := e.c.InitProducerID(ctx, "a", 60000, r.ProducerID, r.Epoch)
		if got.Code != 0 || got.ProducerID != r.ProducerID || got.Epoch != r.Epoch+1 {
			t.Fatalf("init after end: %+v, want pid %d epoch %d", got, r.ProducerID, r.Epoch+1)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		e, r := begin(t, 30*time.Millisecond)
		end := e.c.EndTxn("a", r.ProducerID, r.Epoch, true, true)
		start := time.Now()
		if code := e.c.AddPartitions(ctx, "a", end.ProducerID, end.Epoch, []TopicPartition{tp1}); code != kerr.ConcurrentTransactions.Code {
			t.Fatalf("add while the markers fail: %v, want CONCURRENT_TRANSACTIONS", kerr.ErrorForCode(code))
		}
		if took := time.Since(start); took < 30*time.Millisecond || took > 5*time.Second {
			t.Fatalf("add answered after %v, want EndWait (30 ms)", took)
		}
	})
}
