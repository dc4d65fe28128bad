package broker_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// groupStatic is the broker config of group tests: no initial rebalance
// delay and short session timeouts allowed, so rebalances take
// milliseconds.
func groupStatic() map[string]string {
	return map[string]string{
		"group.initial.rebalance.delay.ms": "0",
		"group.min.session.timeout.ms":     "100",
		"offsets.topic.num.partitions":     "10",
	}
}

// groupMember is a franz-go group consumer polling in the background,
// recording what it owns and what it reads.
type groupMember struct {
	t      testing.TB
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	dialer *cuttableDialer

	mu       sync.Mutex
	owned    map[int32]bool
	records  []*kgo.Record
	assigns  int // OnPartitionsAssigned calls with partitions
	revokes  int // OnPartitionsRevoked/Lost calls with partitions
	pollErrs []error
}

// cuttableDialer lets a test cut a client off the network, as if its
// process died: open connections are closed and new ones refused.
type cuttableDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (d *cuttableDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, errors.New("test: network cut")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cuttableDialer) cutOff() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for _, c := range d.conns {
		c.Close()
	}
}

// startMember starts a consumer of topic in group. Extra options come
// after the defaults (2 s session timeout, 100 ms heartbeats, from the
// start), so they win.
func startMember(t *testing.T, tb *testBroker, group, topic string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	return startMemberAt(t, tb.Addr(), group, topic, opts...)
}

// startMemberAt is startMember for a broker at addr (Samsa or another).
func startMemberAt(t testing.TB, addr, group, topic string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{t: t, owned: map[int32]bool{}, done: make(chan struct{}), dialer: &cuttableDialer{}}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.Dialer(m.dialer.dial),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(2 * time.Second),
		kgo.RebalanceTimeout(3 * time.Second),
		kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.RetryTimeout(5 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if len(a[topic]) > 0 {
				m.assigns++
			}
			for _, p := range a[topic] {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			// What the default revoke callback does: commit what was read.
			cl.CommitUncommittedOffsets(ctx)
			m.drop(r[topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.drop(r[topic]) }),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			m.mu.Lock()
			fs.EachError(func(_ string, _ int32, err error) {
				if !errors.Is(err, context.Canceled) {
					m.pollErrs = append(m.pollErrs, err)
				}
			})
			m.records = append(m.records, fs.Records()...)
			m.mu.Unlock()
		}
	}()
	t.Cleanup(m.stop)
	return m
}

func (m *groupMember) drop(ps []int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(ps) > 0 {
		m.revokes++
	}
	for _, p := range ps {
		delete(m.owned, p)
	}
}

// stop stops polling and closes the client, which leaves the group
// (dynamic members) after committing.
func (m *groupMember) stop() {
	m.cancel()
	<-m.done
	m.cl.Close()
}

// kill cuts the member off without a LeaveGroup, as a crash would. A
// dead member owns nothing, whatever its client still believes.
func (m *groupMember) kill() {
	m.dialer.cutOff()
	m.cancel()
	<-m.done
	m.mu.Lock()
	m.owned = map[int32]bool{}
	m.mu.Unlock()
}

// watchOwnership samples the members' partitions until the test ends and
// fails it if two members ever own one partition at once. A member's
// revoke callback runs before the rebalance that lets another member be
// assigned its partitions, so the samples see a true order.
func watchOwnership(t *testing.T, members ...*groupMember) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			owner := map[int32]int{}
			for i, m := range members {
				for _, p := range m.partitions() {
					if o, ok := owner[p]; ok {
						t.Errorf("partition %d owned by members %d and %d at once", p, o, i)
						return
					}
					owner[p] = i
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

func (m *groupMember) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.owned {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func (m *groupMember) consumed() []*kgo.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*kgo.Record(nil), m.records...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBalanced waits until the members own disjoint sets of partitions
// covering 0..n-1, each owning the given count.
func waitBalanced(t *testing.T, n int, each []int, members ...*groupMember) {
	t.Helper()
	waitFor(t, 20*time.Second, "a balanced assignment", func() bool {
		seen := map[int32]bool{}
		for i, m := range members {
			ps := m.partitions()
			if len(ps) != each[i] {
				return false
			}
			for _, p := range ps {
				if seen[p] {
					return false
				}
				seen[p] = true
			}
		}
		return len(seen) == n
	})
}

// produceN produces n records with values "v<i>" round-robin over the
// topic's partitions; opts add to or override the producer's options.
func produceN(t *testing.T, tb *testBroker, topic string, from, n int, opts ...kgo.Opt) {
	t.Helper()
	cl := tb.client(append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}, opts...)...)
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Value: []byte("v" + itoa(i))})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string {
	return string(appendInt(nil, i))
}

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}
