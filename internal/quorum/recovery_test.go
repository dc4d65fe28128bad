package quorum

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// crashAll leaves topic "r" on brokers 1-3 awaiting recovery, as a kill
// of every node does: 2's old life is fenced by its new registration, 1's
// by the controller, and 3, the last ISR member, restarts uncleanly (then
// 1 too). The candidates are 1 and 3. It returns the new epochs by ID.
func crashAll(t *testing.T, c *Controller) map[int32]int64 {
	t.Helper()
	register(t, c, 1, 2, 3)
	if _, err := c.CreateTopicAssigned(ctx(t), "r", [][]int32{{1, 2, 3}}, nil); err != nil {
		t.Fatal(err)
	}
	epochs := map[int32]int64{}
	reregister := func(id int32) {
		res, err := c.propose(ctx(t), metadata.RegisterBroker{Broker: metadata.Broker{ID: id, Host: "localhost", Port: 9092 + id,
			Incarnation: metadata.NewTopicID()}, UncleanShutdown: true})
		if err != nil {
			t.Fatal(err)
		}
		epochs[id] = res.BrokerEpoch
	}
	reregister(2)
	if _, err := c.propose(ctx(t), metadata.FenceBroker{ID: 1, Epoch: c.Image().Brokers[1].Epoch}); err != nil {
		t.Fatal(err)
	}
	reregister(3)
	reregister(1)
	p := c.Image().Topics["r"].Partitions[0]
	if !p.AwaitsRecovery() || !slices.Equal(p.LastKnownISR, []int32{1, 3}) {
		t.Fatalf("after the crash: %+v", p)
	}
	return epochs
}

// report is a log report of partition 0 of "r" at its current epoch.
func report(c *Controller, lastEpoch int32, end int64) []metadata.LogReport {
	t := c.Image().Topics["r"]
	return []metadata.LogReport{{TopicID: t.ID, Partition: 0, PartitionEpoch: t.Partitions[0].PartitionEpoch, LastEpoch: lastEpoch, LogEndOffset: end}}
}

// waitPartition waits until partition 0 of "r" satisfies ok.
func waitPartition(t *testing.T, c *Controller, what string, ok func(metadata.Partition) bool) metadata.Partition {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := c.Image().Topics["r"].Partitions[0]
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %+v; waiting for %s", p, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRecoveryElection: the controller elects no one while a candidate
// has not reported, ignores a report at another partition epoch or of an
// earlier registration, and once both candidates have reported elects
// the longer log, the ISR alone.
func TestRecoveryElection(t *testing.T) {
	c, err := openReady(Config{Dir: t.TempDir(), NodeID: 1, Liveness: fakeBrokers})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	epochs := crashAll(t, c)
	beat := func(id int32, reports []metadata.LogReport) {
		t.Helper()
		if _, err := c.heartbeat(ctx(t), id, epochs[id], true, reports, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	beat(1, nil)
	beat(2, report(c, 9, 1000)) // not a candidate: not heard
	stale := report(c, 1, 50)
	stale[0].PartitionEpoch--
	beat(3, stale)
	beat(3, report(c, 1, 50))
	time.Sleep(300 * time.Millisecond)
	if p := c.Image().Topics["r"].Partitions[0]; p.Leader != -1 {
		t.Fatalf("elected %d with candidate 1 unheard: %+v", p.Leader, p)
	}
	// A report of 1's earlier registration does not count.
	c.recordReports(1, epochs[1]-1, report(c, 1, 70))
	time.Sleep(100 * time.Millisecond)
	if p := c.Image().Topics["r"].Partitions[0]; p.Leader != -1 {
		t.Fatalf("elected %d on a stale registration's report: %+v", p.Leader, p)
	}
	beat(1, report(c, 1, 70))
	p := waitPartition(t, c, "a recovery election", func(p metadata.Partition) bool { return p.Leader != -1 })
	if p.Leader != 1 || !slices.Equal(p.ISR, []int32{1}) || !slices.Equal(p.LastKnownISR, []int32{3}) {
		t.Fatalf("recovery elected %+v; want 1 (end 70 > 50) alone, 3 still last-known", p)
	}
}

// TestRecoveryUncleanAfterBound: with unclean.leader.election.enable a
// partition whose candidate 1 never reports waits the bound (a session),
// then gets an unclean election; without it, it waits on.
func TestRecoveryUncleanAfterBound(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		var allowed func(*metadata.Topic, map[string]string) bool
		if unclean {
			allowed = func(*metadata.Topic, map[string]string) bool { return true }
		}
		live := Liveness{HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: time.Second, Grace: time.Second}
		c, err := openReady(Config{Dir: t.TempDir(), NodeID: 1, Liveness: live, UncleanLeaderElection: allowed})
		if err != nil {
			t.Fatal(err)
		}
		epochs := crashAll(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // 2 and 3 heartbeat, 3 reports; 1 stays fenced
			defer wg.Done()
			for ctx.Err() == nil {
				_, _ = c.heartbeat(ctx, 2, epochs[2], true, nil, 0, 0)
				_, _ = c.heartbeat(ctx, 3, epochs[3], true, report(c, 1, 50), 0, 0)
				time.Sleep(50 * time.Millisecond)
			}
		}()
		start := time.Now()
		if unclean {
			p := waitPartition(t, c, "an unclean election", func(p metadata.Partition) bool { return p.Leader != -1 })
			if waited := time.Since(start); waited < 900*time.Millisecond {
				t.Errorf("unclean election after %v, before the bound", waited)
			}
			if p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) || p.LastKnownISR != nil {
				t.Errorf("unclean election: %+v; want the first live replica, 2, alone", p)
			}
		} else {
			time.Sleep(2 * time.Second)
			if p := c.Image().Topics["r"].Partitions[0]; p.Leader != -1 {
				t.Errorf("elected %+v without unclean.leader.election.enable", p)
			}
		}
		cancel()
		wg.Wait()
		c.Close()
	}
}
