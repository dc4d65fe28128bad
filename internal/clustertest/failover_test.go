package clustertest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// failoverStatics fence a dead broker within two seconds, so that a test
// sees a new leader soon after a kill.
var failoverStatics = map[string]string{
	"broker.session.timeout.ms":        "2000",
	"broker.heartbeat.interval.ms":     "500",
	"group.initial.rebalance.delay.ms": "0",
}

// leaderOf returns the node.id leading partition 0 of topic, waiting until
// it is one of want (any node when want is empty).
func leaderOf(t *testing.T, adm *kadm.Client, topic string, want ...int32) int32 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		md, err := adm.Metadata(ctxT(t, 10*time.Second), topic)
		if err == nil {
			if p, ok := md.Topics[topic].Partitions[0]; ok && p.Err == nil && p.Leader > 0 {
				if len(want) == 0 {
					return p.Leader
				}
				for _, w := range want {
					if p.Leader == w {
						return p.Leader
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition 0 of %s: no leader among %v (last metadata error %v)", topic, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stream is an idempotent acks=all producer writing the numbers 0, 1, 2, ...
// to partition 0 of a topic until stopped, recording which were
// acknowledged and when.
type stream struct {
	t  *testing.T
	cl *kgo.Client

	mu      sync.Mutex
	acked   map[int]time.Time
	errs    error
	issued  atomic.Int64 // records handed to Produce
	stop    sync.Once
	stopped chan struct{}
	done    chan struct{}
}

func startStream(t *testing.T, cl *kgo.Client) *stream {
	s := &stream{t: t, cl: cl, acked: map[int]time.Time{}, stopped: make(chan struct{}), done: make(chan struct{})}
	// Produce blocks while MaxBufferedRecords are unacknowledged, and the
	// client closes only after this cleanup (registered before it): a test
	// that fails midway, its records stuck, would wait here for ever (until
	// -timeout) without this context, which fails the blocked Produce.
	// finish does not cancel it, which would fail records still buffered.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { // a test that fails midway stops it too
		s.stop.Do(func() { close(s.stopped) })
		cancel()
		<-s.done
	})
	go func() {
		defer close(s.done)
		for i := 0; ; i++ {
			select {
			case <-s.stopped:
				return
			default:
			}
			s.issued.Add(1)
			cl.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
				s.mu.Lock()
				defer s.mu.Unlock()
				if err != nil {
					s.errs = errors.Join(s.errs, fmt.Errorf("record %d: %w", i, err))
					return
				}
				s.acked[i] = time.Now()
			})
		}
	}()
	return s
}

func (s *stream) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

// waitFor waits until count records are acknowledged.
func (s *stream) waitFor(count int) {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for s.count() < count {
		if time.Now().After(deadline) {
			s.t.Fatalf("%d records acknowledged, waiting for %d", s.count(), count)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// firstAckFrom returns the earliest acknowledgement of a record numbered
// from or more.
func (s *stream) firstAckFrom(from int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first time.Time
	for i, ts := range s.acked {
		if i >= from && (first.IsZero() || ts.Before(first)) {
			first = ts
		}
	}
	return first
}

// finish stops producing, waits for every record in flight, and fails the
// test if any record was refused.
func (s *stream) finish() map[int]time.Time {
	s.t.Helper()
	s.stop.Do(func() { close(s.stopped) })
	<-s.done
	if err := s.cl.Flush(ctxT(s.t, 60*time.Second)); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errs != nil {
		s.t.Errorf("produce errors: %v", s.errs)
	}
	return s.acked
}

// checkLog reads partition 0 of topic back through n and checks that it
// holds strictly increasing numbers (no record twice, none out of order)
// and every acknowledged one; it returns how many it read.
func checkLog(t *testing.T, n *Node, topic string, acked map[int]time.Time) int {
	t.Helper()
	got := readAll(t, n, topic)
	last := -1
	present := map[int]bool{}
	for offset, v := range got {
		i, err := strconv.Atoi(v)
		if err != nil || i <= last {
			t.Fatalf("offset %d holds %q after record %d: duplicated or out of order", offset, v, last)
		}
		last = i
		present[i] = true
	}
	for i := range acked {
		if !present[i] {
			t.Fatalf("acknowledged record %d lost (%d acknowledged, %d read)", i, len(acked), len(got))
		}
	}
	return len(got)
}

// startFailover starts a cluster of three with failoverStatics, creates
// topic (one partition, replication factor 3, min.insync.replicas 2),
// and starts a stream to it, returning once 300 records are acknowledged
// and the partition's leader.
func startFailover(t *testing.T, topic string) (*Cluster, *kadm.Client, int32, *stream) {
	t.Helper()
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	adm := c.Admin()
	resp, err := adm.CreateTopic(ctxT(t, 30*time.Second), 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	leader := leaderOf(t, adm, topic)
	// franz-go refreshes metadata at most every MetadataMinAge (5s by
	// default): the failover time would be the client's, not the cluster's.
	s := startStream(t, c.Client(kgo.DefaultProduceTopic(topic), kgo.MaxBufferedRecords(50), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(100*time.Millisecond)))
	s.waitFor(300)
	return c, adm, leader, s
}

// TestFailoverKillLeader: three combined nodes, a topic of replication
// factor 3 with min.insync.replicas 2, and an idempotent acks=all producer
// writing numbered records without pause. The partition's leader is killed
// mid-stream; the controller fences it after broker.session.timeout.ms, a
// survivor takes over, and the producer goes on; the killed node comes
// back. Every acknowledged record is then in the log exactly once and in
// order, and no record is there twice.
func TestFailoverKillLeader(t *testing.T) {
	c, adm, leader, s := startFailover(t, "f")

	// The followers fetch through the links to the leader.
	for j := range c.Nodes() {
		if int32(j+1) != leader && c.Link(j, int(leader-1)).Stats().Bytes[FromTarget] == 0 {
			t.Fatalf("node %d's replica fetcher did not cross Link(%d, %d)", j+1, j, leader-1)
		}
	}

	killed := c.Node(int(leader - 1))
	killedAt := s.count()
	at := time.Now()
	killed.Kill()
	// Records handed over from now on never reached the killed leader: the
	// first of them acknowledged marks the failover (earlier ones in flight
	// may have been acknowledged by the leader as it died).
	after := int(s.issued.Load())
	var others []int32
	for id := int32(1); id <= 3; id++ {
		if id != leader {
			others = append(others, id)
		}
	}
	newLeader := leaderOf(t, adm, "f", others...)
	s.waitFor(killedAt + 300)
	firstAck := s.firstAckFrom(after)
	afterKill := s.count()

	if err := killed.Restart(); err != nil {
		t.Fatal(err)
	}
	s.waitFor(afterKill + 300)
	acked := s.finish()
	read := checkLog(t, c.Node(int(newLeader-1)), "f", acked)
	t.Logf("leader %d killed after %d acknowledged records; node %d led next; first acks=all produce of a record handed over after the kill acknowledged %v after it; %d acknowledged before the restart, %d in all, %d read back",
		leader, killedAt, newLeader, firstAck.Sub(at).Round(time.Millisecond), afterKill, len(acked), read)
}

// TestFailoverLeaderCutFromFollowers: the same cluster and producer, but
// the partition's leader is cut off from both followers by a blackhole on
// the links between their Kafka listeners only (the controller listeners'
// links pass, so the controller still hears its heartbeats and does not
// fence it). Cut off from its followers, the leader must not acknowledge
// an acks=all write: the high watermark cannot pass what they fetched.
// After the heal every acknowledged record, those the cut-off leader
// acknowledged included, is in the log exactly once and in order.
func TestFailoverLeaderCutFromFollowers(t *testing.T) {
	c, _, leader, s := startFailover(t, "i")

	for j := range c.Nodes() {
		if l := int(leader - 1); j != l {
			c.Link(l, j).Set(ToTarget, Fault{Mode: Blackhole})
			c.Link(j, l).Set(ToTarget, Fault{Mode: Blackhole})
		}
	}
	// Fetch answers already past the links may still acknowledge what they
	// carried; after that nothing may be acknowledged while the cut lasts.
	time.Sleep(500 * time.Millisecond)
	settled := s.count()
	time.Sleep(3 * time.Second) // past broker.session.timeout.ms
	if during := s.count() - settled; during != 0 {
		t.Fatalf("the leader cut off from its followers acknowledged %d acks=all records", during)
	}
	c.Heal()
	healedAt := time.Now()
	after := int(s.issued.Load())
	s.waitFor(settled + 300)
	firstAck := s.firstAckFrom(after)
	acked := s.finish()
	read := checkLog(t, c.Node(int(leader-1)), "i", acked)
	t.Logf("leader %d cut from its followers after %d acknowledged records, none acknowledged in 3s of the cut; first acks=all produce of a record handed over after the heal acknowledged %v after it; %d in all, %d read back",
		leader, settled, firstAck.Sub(healedAt).Round(time.Millisecond), len(acked), read)
}
