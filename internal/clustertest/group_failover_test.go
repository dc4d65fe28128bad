package clustertest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchCommitted asks the group's committed offset of partition 0 of
// topic (OffsetFetch) through a new client seeded with seeds: one that
// cached a dead coordinator keeps dialing it (franz-go forgets a
// coordinator on NOT_COORDINATOR, not on a failed dial).
func fetchCommitted(seeds []string, group, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return -1, err
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return -1, err
	}
	o, ok := offs.Lookup(topic, 0)
	switch {
	case !ok:
		return -1, fmt.Errorf("no offset of %s-0", topic)
	case o.Err != nil:
		return -1, o.Err
	}
	return o.At, nil
}

// groupWatch samples a group's committed offset of partition 0 of a topic
// through OffsetFetch, noting if a sample is ever below an earlier one.
type groupWatch struct {
	seeds        []string
	group, topic string

	mu      sync.Mutex
	highest int64 // the highest committed offset fetched so far
	samples int
	back    string // the first backward step seen, if any
}

func (w *groupWatch) sample() {
	at, err := fetchCommitted(w.seeds, w.group, w.topic)
	if err != nil {
		return // the coordinator moving: NOT_COORDINATOR, a timeout
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	if at < w.highest && w.back == "" {
		w.back = fmt.Sprintf("committed offset %d fetched after %d", at, w.highest)
	}
	w.highest = max(w.highest, at)
}

// TestGroupCoordinatorFailover: three nodes, __consumer_offsets of
// replication factor 3 (offsets.topic.replication.factor's default), a
// topic of replication factor 3 with min.insync.replicas 2 written by an
// idempotent acks=all producer, and a franz-go group consumer committing
// synchronously after every poll. The node leading the group's
// __consumer_offsets partition (its coordinator) is killed. The new
// leader of that partition loads the group: the consumer finds it
// (FindCoordinator), goes on consuming and committing; no OffsetFetch
// sampled throughout returns a committed offset below an earlier one, the
// first answered after the kill is at least the last commit acknowledged
// before it, and the consumer reads every acknowledged record at least
// once, each of its sessions in order.
func TestGroupCoordinatorFailover(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	const topic, group = "gf", "gf-group"
	createTopicOn(t, c.Client(), topic, []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2"})
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	leaderOf(t, adm, topic)
	s := startStream(t, c.Client(streamOpts(topic)...))
	s.waitFor(300)

	cons := c.Client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.RequestTimeoutOverhead(3*time.Second))
	var mu sync.Mutex
	var committed int64 // the highest offset a commit was acknowledged for
	seen := map[int]bool{}
	var consumeErr error
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		last := int64(-1) // the offset last read, within the client's session
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			rs := fs.Records()
			mu.Lock()
			for _, r := range rs {
				i, err := strconv.Atoi(string(r.Value))
				switch {
				case err != nil:
					consumeErr = fmt.Errorf("offset %d holds %q", r.Offset, r.Value)
				case r.Offset <= last && r.Offset < committed:
					// After a rebalance the consumer starts again at the
					// committed offset, never below an acknowledged commit.
					consumeErr = fmt.Errorf("offset %d read again after %d, below the acknowledged commit %d", r.Offset, last, committed)
				}
				last = r.Offset
				seen[i] = true
			}
			mu.Unlock()
			if len(rs) == 0 {
				continue
			}
			next := rs[len(rs)-1].Offset + 1
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			err := cons.CommitUncommittedOffsets(cctx)
			ccancel()
			if err == nil {
				mu.Lock()
				committed = max(committed, next)
				mu.Unlock()
			}
		}
	}()
	defer func() { cancel(); <-consumed }()
	commitOf := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return committed
	}
	waitUntil(t, "300 records committed", func() bool { return commitOf() >= 300 })

	watch := &groupWatch{seeds: c.Seeds(), group: group, topic: topic}
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(50 * time.Millisecond):
				watch.sample()
			}
		}
	}()
	defer func() { close(stopWatch); <-watched }()

	coord := adm.FindGroupCoordinators(ctxT(t, 10*time.Second), group)[group]
	if coord.Err != nil {
		t.Fatalf("FindCoordinator: %v", coord.Err)
	}
	killed := int(coord.NodeID - 1)
	before := commitOf()
	producedAt := s.count()
	c.Node(killed).Kill()
	at := time.Now()

	// The first committed offset a survivor answers is at least the last
	// acknowledged before the kill.
	rest := others(c, killed)
	var first int64 = -1
	var lastErr error
	deadline := time.Now().Add(30 * time.Second)
	for first < 0 {
		first, lastErr = fetchCommitted([]string{c.Node(rest[0]).Addr(), c.Node(rest[1]).Addr()}, group, topic)
		if first < 0 && time.Now().After(deadline) {
			t.Fatalf("no OffsetFetch answered within 30 s of the kill of coordinator %d: %v", coord.NodeID, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if first < before {
		t.Fatalf("after the coordinator's broker was killed the group's committed offset is %d, a commit of %d was acknowledged before", first, before)
	}
	waitUntil(t, "commits on the new coordinator past what was produced at the kill", func() bool {
		return commitOf() >= int64(producedAt)+300
	})
	resumed := time.Since(at)
	next := kadm.NewClient(sideClient(c, rest)).FindGroupCoordinators(ctxT(t, 10*time.Second), group)[group]
	if next.Err != nil {
		t.Fatalf("FindCoordinator after the kill: %v", next.Err)
	}
	if next.NodeID == coord.NodeID {
		t.Fatalf("the killed node %d is still the coordinator", coord.NodeID)
	}

	if err := c.Node(killed).Restart(); err != nil {
		t.Fatal(err)
	}
	acked := s.finish()
	end := int64(checkLog(t, c.Node(killed), topic, acked))
	waitUntil(t, "the consumer's commits at the log end", func() bool { return commitOf() >= end })
	cancel()
	<-consumed
	watch.sample()
	mu.Lock()
	defer mu.Unlock()
	if consumeErr != nil {
		t.Fatal(consumeErr)
	}
	for i := range acked {
		if !seen[i] {
			t.Fatalf("acknowledged record %d never consumed", i)
		}
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if watch.back != "" {
		t.Fatalf("a committed offset went backwards: %s", watch.back)
	}
	if watch.highest < end {
		t.Fatalf("OffsetFetch's last committed offset %d, the consumer committed %d", watch.highest, end)
	}
	t.Logf("coordinator %d killed with %d committed; first OffsetFetch after it %d; node %d coordinates next, commits past %d within %v; %d OffsetFetch samples never went back; %d records, all consumed, committed to %d",
		coord.NodeID, before, first, next.NodeID, producedAt+300, resumed.Round(time.Millisecond), watch.samples, len(acked), end)
}
