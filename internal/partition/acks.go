package partition

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// WaitForAcks waits until an acks=all produce whose records end before
// nextOffset (AppendResult.NextOffset) is committed — the high watermark
// reached it — and answers as Kafka's DelayedProduce does with
// checkEnoughReplicasReachOffset: 0, or NOT_ENOUGH_REPLICAS_AFTER_APPEND
// if the ISR fell under min.insync.replicas meanwhile;
// NOT_LEADER_OR_FOLLOWER once this broker no longer leads (or the
// partition closed); KAFKA_STORAGE_ERROR once the replica is offline
// (Fail), whatever the high watermark says; REQUEST_TIMED_OUT after timeout or when ctx ends
// (the connection closed).
//
// It holds no lock while it waits: it parks on a channel closed when the
// high watermark or the role moves, not on every append, and takes the
// partition lock only for the check. With an ISR of the leader alone the
// watermark is already there when Append returns, so this returns at once
// without a timer.
func (p *Partition) WaitForAcks(ctx context.Context, nextOffset int64, timeout time.Duration) int16 {
	var expired <-chan time.Time
	p.hwWaiters.Add(1)
	defer p.hwWaiters.Add(-1)
	for {
		moved := p.highWatermarkMoved() // before the check, so no move is missed
		p.mu.Lock()
		done, code := p.replica.CheckAcks(nextOffset)
		if p.log.Failed() != nil {
			done, code = true, kerr.KafkaStorageError.Code
		}
		p.mu.Unlock()
		if done {
			return code
		}
		if expired == nil {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-moved:
		case <-p.closed:
			if p.log.Failed() != nil {
				return kerr.KafkaStorageError.Code
			}
			return kerr.NotLeaderForPartition.Code
		case <-expired:
			return kerr.RequestTimedOut.Code
		case <-ctx.Done():
			return kerr.RequestTimedOut.Code
		}
	}
}
