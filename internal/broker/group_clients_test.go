package broker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The interop tests in this file run one scenario through consumer groups
// of two more real clients, sarama and kafka-go: members split a topic,
// read every record once, hand partitions over when one leaves, and new
// members, also after a broker restart, resume exactly after the commits.

const (
	interopTopic = "interop"
	interopGroup = "interop-group"
)

// groupReader is one member of interopGroup in a real client, reading
// interopTopic in the background and committing only records it has
// recorded, so a commit at the end offset means every record before it
// was read.
type groupReader interface {
	read() []readRecord
	// close leaves the group and stops the client.
	close()
}

// startReader starts a member with the given client ID, dialing through
// versions.
type startReader func(t *testing.T, addr, clientID string, versions *apiVersionLog) groupReader

// TestGroupSarama: sarama ConsumerGroup members, with each of its
// balance strategies and at a Kafka 4 version and sarama's default one.
func TestGroupSarama(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  sarama.KafkaVersion
		strategy func() sarama.BalanceStrategy
	}{
		{"range", sarama.V4_0_0_0, sarama.NewBalanceStrategyRange},
		{"range-default-version", sarama.DefaultVersion, sarama.NewBalanceStrategyRange},
		{"roundrobin", sarama.V4_0_0_0, sarama.NewBalanceStrategyRoundRobin},
		{"sticky", sarama.V4_0_0_0, sarama.NewBalanceStrategySticky},
		{"cooperative-sticky", sarama.V4_0_0_0, sarama.NewBalanceStrategyCooperativeSticky},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testGroupClient(t, func(t *testing.T, addr, clientID string, versions *apiVersionLog) groupReader {
				return startSarama(t, addr, clientID, versions, tc.version, tc.strategy())
			})
		})
	}
}

// TestGroupKafkaGo: kafka-go Readers sharing a GroupID, committing with
// CommitMessages, with each of its balancers.
func TestGroupKafkaGo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balancer kafka.GroupBalancer
	}{
		{"range", kafka.RangeGroupBalancer{}},
		{"roundrobin", kafka.RoundRobinGroupBalancer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testGroupClient(t, func(t *testing.T, addr, clientID string, versions *apiVersionLog) groupReader {
				return startKafkaGo(t, addr, clientID, versions, tc.balancer)
			})
		})
	}
}

// testGroupClient is the scenario: two members of a 4-partition topic own
// two partitions each and read every record once, each only from its own
// partitions; when one leaves, the other owns all four and reads exactly
// the records after the leaver's commits; a new member after both left
// resumes at the commits; so do two new members after a broker restart on
// a new address. Every stage ends with the committed offsets at the
// partitions' ends.
func testGroupClient(t *testing.T, start startReader) {
	versions := &apiVersionLog{}
	defer func() { t.Logf("API versions used: %s", versions) }()
	began := time.Now()
	tb := startBroker(t, "", groupStatic())
	adm := tb.admin()
	createTopic(t, adm, interopTopic, 4, nil)

	a := start(t, tb.Addr(), "member-a", versions)
	b := start(t, tb.Addr(), "member-b", versions)
	split := waitGroupSplit(t, adm, map[groupReader]string{a: "member-a", b: "member-b"})
	produceN(t, tb, interopTopic, 0, 200)
	waitRead(t, 200, a, b)
	waitCommittedAtEnd(t, adm)
	assertReadOnce(t, 0, 200, a.read(), b.read())
	assertReadOwn(t, split[a], a.read())
	assertReadOwn(t, split[b], b.read())

	// b leaves: a is given b's partitions and goes on from b's commits.
	seen := len(a.read())
	b.close()
	waitGroupSplit(t, adm, map[groupReader]string{a: "member-a"})
	produceN(t, tb, interopTopic, 200, 40)
	waitRead(t, seen+40, a)
	committed := waitCommittedAtEnd(t, adm)
	assertReadOnce(t, 200, 240, a.read()[seen:])
	a.close()

	// A new member, after everyone left, resumes after the last commits.
	produceN(t, tb, interopTopic, 240, 40)
	c := start(t, tb.Addr(), "member-c", versions)
	waitRead(t, 40, c)
	next := waitCommittedAtEnd(t, adm)
	assertReadOnce(t, 240, 280, c.read())
	assertResumedAt(t, committed, c.read())
	committed = next
	c.close()

	// The broker restarts on a new address; two fresh members split the
	// partitions again and resume from the commits.
	tb = tb.restart()
	adm = tb.admin()
	d := start(t, tb.Addr(), "member-d", versions)
	e := start(t, tb.Addr(), "member-e", versions)
	split = waitGroupSplit(t, adm, map[groupReader]string{d: "member-d", e: "member-e"})
	produceN(t, tb, interopTopic, 280, 40)
	waitRead(t, 40, d, e)
	waitCommittedAtEnd(t, adm)
	assertReadOnce(t, 280, 320, d.read(), e.read())
	assertResumedAt(t, committed, d.read(), e.read())
	assertReadOwn(t, split[d], d.read())
	assertReadOwn(t, split[e], e.read())
	t.Logf("scenario took %v", time.Since(began))
}

// readRecord is one record as a member read it.
type readRecord struct {
	partition int32
	offset    int64
	value     string
}

// readLog is what the two clients' members share: what the member read,
// the errors its client reported, and a close that runs once.
type readLog struct {
	t        *testing.T
	clientID string
	done     chan struct{} // closed when the member's reading goroutine returns
	once     sync.Once

	mu   sync.Mutex
	recs []readRecord
	errs []error
}

func newReadLog(t *testing.T, clientID string) readLog {
	return readLog{t: t, clientID: clientID, done: make(chan struct{})}
}

func (l *readLog) add(partition int32, offset int64, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, readRecord{partition, offset, string(value)})
}

func (l *readLog) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *readLog) read() []readRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs)
}

// closeOnce closes the client with closeClient, waits for the reading
// goroutine and logs the client's errors. They are not failures by
// themselves (a client may report a retried error during a rebalance):
// the scenario's outcomes are what must be exact.
func (l *readLog) closeOnce(closeClient func() error) {
	l.once.Do(func() {
		if err := closeClient(); err != nil {
			l.t.Errorf("%s close: %v", l.clientID, err)
		}
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, err := range l.errs {
			l.t.Logf("%s reported: %v", l.clientID, err)
		}
	})
}

// saramaMember is a sarama ConsumerGroup member that marks each message
// it reads and commits synchronously whenever it has caught up with the
// partition's high watermark. (Committing after every message would take
// MaxWaitTime each: sarama sends the commit on the connection its fetch
// is long-polling on, and a broker answers a connection's requests in
// order, Kafka as much as Samsa.)
type saramaMember struct {
	readLog
	group sarama.ConsumerGroup

	claimMu sync.Mutex
	claimed map[int32]bool
}

func startSarama(t *testing.T, addr, clientID string, versions *apiVersionLog, version sarama.KafkaVersion, strategy sarama.BalanceStrategy) *saramaMember {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.ClientID = clientID
	cfg.Version = version
	cfg.Net.Proxy.Enable = true
	cfg.Net.Proxy.Dialer = versions
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 2 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 3 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	group, err := sarama.NewConsumerGroup([]string{addr}, interopGroup, cfg)
	if err != nil {
		t.Fatalf("sarama %s: %v", clientID, err)
	}
	m := &saramaMember{readLog: newReadLog(t, clientID), group: group, claimed: map[int32]bool{}}
	go func() {
		for err := range group.Errors() {
			m.fail(err)
		}
	}()
	go func() {
		defer close(m.done)
		for {
			// Consume returns at the end of each eager generation; calling it
			// again joins the next.
			err := group.Consume(context.Background(), []string{interopTopic}, m)
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
			if err != nil {
				m.fail(err)
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *saramaMember) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim reads one partition for as long as the member owns it.
func (m *saramaMember) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	m.claim(claim.Partition(), true)
	defer m.claim(claim.Partition(), false)
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			m.add(msg.Partition, msg.Offset, msg.Value)
			session.MarkMessage(msg, "")
			if msg.Offset+1 == claim.HighWaterMarkOffset() {
				session.Commit()
			}
		case <-session.Context().Done():
			return nil
		}
	}
}

func (m *saramaMember) claim(partition int32, owned bool) {
	m.claimMu.Lock()
	defer m.claimMu.Unlock()
	if owned {
		m.claimed[partition] = true
	} else {
		delete(m.claimed, partition)
	}
}

// partitions are those the member is consuming, as sarama sees it.
func (m *saramaMember) partitions() []int32 {
	m.claimMu.Lock()
	defer m.claimMu.Unlock()
	ps := make([]int32, 0, len(m.claimed))
	for p := range m.claimed {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func (m *saramaMember) close() { m.closeOnce(m.group.Close) }

// kafkaGoMember is a kafka-go Reader in the group that commits each
// message with CommitMessages (synchronous: no CommitInterval).
type kafkaGoMember struct {
	readLog
	reader *kafka.Reader
}

func startKafkaGo(t *testing.T, addr, clientID string, versions *apiVersionLog, balancer kafka.GroupBalancer) *kafkaGoMember {
	t.Helper()
	m := &kafkaGoMember{readLog: newReadLog(t, clientID)}
	m.reader = kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           interopGroup,
		Topic:             interopTopic,
		Dialer:            &kafka.Dialer{ClientID: clientID, DialFunc: versions.DialContext, Timeout: 10 * time.Second},
		GroupBalancers:    []kafka.GroupBalancer{balancer},
		StartOffset:       kafka.FirstOffset,
		MaxWait:           200 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout:    2 * time.Second,
		RebalanceTimeout:  3 * time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		ErrorLogger:       kafka.LoggerFunc(func(format string, args ...any) { m.fail(fmt.Errorf(format, args...)) }),
	})
	go func() {
		defer close(m.done)
		ctx := context.Background()
		for {
			msg, err := m.reader.FetchMessage(ctx)
			if err != nil {
				if !errors.Is(err, io.EOF) { // io.EOF: the reader was closed
					m.fail(err)
				}
				return
			}
			m.add(int32(msg.Partition), msg.Offset, msg.Value)
			if err := m.reader.CommitMessages(ctx, msg); err != nil {
				m.fail(err)
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *kafkaGoMember) close() { m.closeOnce(m.reader.Close) }

// waitGroupSplit waits until the broker describes interopGroup as Stable
// with exactly the given members (by client ID), owning disjoint, equal
// shares of interopTopic's four partitions, and returns each one's. A
// member that can tell what it consumes (sarama) must agree.
func waitGroupSplit(t *testing.T, adm *kadm.Client, members map[groupReader]string) map[groupReader][]int32 {
	t.Helper()
	var split map[groupReader][]int32
	waitFor(t, 20*time.Second, fmt.Sprintf("%d members to own %d partitions each", len(members), 4/len(members)), func() bool {
		described, err := adm.DescribeGroups(ctxT(t), interopGroup)
		if err != nil {
			t.Fatal(err)
		}
		g := described[interopGroup]
		if g.Err != nil || g.State != "Stable" || len(g.Members) != len(members) {
			return false
		}
		byClient := map[string][]int32{}
		for _, dm := range g.Members {
			assigned, ok := dm.Assigned.AsConsumer()
			if !ok {
				return false
			}
			for _, at := range assigned.Topics {
				if at.Topic == interopTopic {
					byClient[dm.ClientID] = append(byClient[dm.ClientID], at.Partitions...)
				}
			}
		}
		split = map[groupReader][]int32{}
		owner := map[int32]bool{}
		for m, id := range members {
			ps := slices.Sorted(slices.Values(byClient[id]))
			if len(ps) != 4/len(members) {
				return false
			}
			if c, ok := m.(interface{ partitions() []int32 }); ok && !slices.Equal(c.partitions(), ps) {
				return false
			}
			for _, p := range ps {
				owner[p] = true
			}
			split[m] = ps
		}
		return len(owner) == 4
	})
	return split
}

// waitRead waits until the members have read n records between them.
func waitRead(t *testing.T, n int, members ...groupReader) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d records read", n), func() bool {
		total := 0
		for _, m := range members {
			total += len(m.read())
		}
		return total >= n
	})
}

// waitCommittedAtEnd waits until interopGroup's committed offset of every
// partition of interopTopic is the partition's end offset, and returns
// the committed offsets.
func waitCommittedAtEnd(t *testing.T, adm *kadm.Client) kadm.OffsetResponses {
	t.Helper()
	var committed kadm.OffsetResponses
	var last string
	deadline := time.Now().Add(10 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(ctxT(t), interopTopic)
		if err != nil {
			t.Fatal(err)
		}
		committed, err = adm.FetchOffsets(ctxT(t), interopGroup)
		if err != nil {
			t.Fatal(err)
		}
		var diffs []string
		ends.Each(func(end kadm.ListedOffset) {
			if o, ok := committed.Lookup(interopTopic, end.Partition); !ok || o.Err != nil || end.Err != nil || o.At != end.Offset {
				diffs = append(diffs, fmt.Sprintf("partition %d committed %d (%v), end %d", end.Partition, o.At, o.Err, end.Offset))
			}
		})
		if len(diffs) == 0 && len(ends[interopTopic]) == 4 {
			return committed
		}
		last = strings.Join(diffs, "; ")
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets not at the ends after 10s: %s", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertReadOnce fails unless the reads are exactly the records
// v<from>..v<to-1> produced by produceN, each read once.
func assertReadOnce(t *testing.T, from, to int, reads ...[]readRecord) {
	t.Helper()
	seen := map[string]int{}
	for _, rs := range reads {
		for _, r := range rs {
			seen[r.value]++
		}
	}
	for i := from; i < to; i++ {
		v := "v" + itoa(i)
		if seen[v] != 1 {
			t.Fatalf("record %s read %d times, want once", v, seen[v])
		}
		delete(seen, v)
	}
	for v, k := range seen {
		t.Fatalf("record %s read %d times, want none of it (only v%d..v%d)", v, k, from, to-1)
	}
}

// assertReadOwn fails unless every read is from one of the partitions.
func assertReadOwn(t *testing.T, partitions []int32, reads []readRecord) {
	t.Helper()
	for _, r := range reads {
		if !slices.Contains(partitions, r.partition) {
			t.Fatalf("read %s from partition %d, assigned %v", r.value, r.partition, partitions)
		}
	}
}

// assertResumedAt fails unless the first read of each partition is at its
// committed offset.
func assertResumedAt(t *testing.T, committed kadm.OffsetResponses, reads ...[]readRecord) {
	t.Helper()
	first := map[int32]int64{}
	for _, rs := range reads {
		for _, r := range rs {
			if o, ok := first[r.partition]; !ok || r.offset < o {
				first[r.partition] = r.offset
			}
		}
	}
	if len(first) != 4 {
		t.Fatalf("read from partitions %v, want all 4", first)
	}
	for p, off := range first {
		if o, ok := committed.Lookup(interopTopic, p); !ok || o.At != off {
			t.Fatalf("partition %d resumed at offset %d, committed %d", p, off, o.At)
		}
	}
}

// apiVersionLog records the key and version of every request a client
// writes on the connections it dials through the log, read from the
// request frames themselves, so a test can tell which versions a client
// negotiated without trusting the client or the broker.
type apiVersionLog struct {
	mu   sync.Mutex
	used map[int16]map[int16]bool
}

// DialContext is kafka-go's Dialer.DialFunc.
func (l *apiVersionLog) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &versionRecordingConn{Conn: c, log: l}, nil
}

// Dial is sarama's Net.Proxy.Dialer.
func (l *apiVersionLog) Dial(network, addr string) (net.Conn, error) {
	return l.DialContext(context.Background(), network, addr)
}

func (l *apiVersionLog) add(key, version int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used == nil {
		l.used = map[int16]map[int16]bool{}
	}
	if l.used[key] == nil {
		l.used[key] = map[int16]bool{}
	}
	l.used[key][version] = true
}

// String lists "Name vN" by key, with every version used of each.
func (l *apiVersionLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for _, key := range slices.Sorted(maps.Keys(l.used)) {
		var vs []string
		for _, v := range slices.Sorted(maps.Keys(l.used[key])) {
			vs = append(vs, "v"+itoa(int(v)))
		}
		parts = append(parts, kmsg.NameForKey(key)+" "+strings.Join(vs, ","))
	}
	return strings.Join(parts, ", ")
}

// versionRecordingConn follows the request frames a client writes (int32
// size, then int16 key and int16 version) across however its writes cut
// them.
type versionRecordingConn struct {
	net.Conn
	log *apiVersionLog

	mu     sync.Mutex
	header []byte // the start of the frame being written, up to the version
	skip   int    // bytes of the frame after its header still to come
}

func (c *versionRecordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for rest := p; len(rest) > 0; {
		if c.skip > 0 {
			n := min(c.skip, len(rest))
			c.skip -= n
			rest = rest[n:]
			continue
		}
		n := min(8-len(c.header), len(rest))
		c.header = append(c.header, rest[:n]...)
		rest = rest[n:]
		if len(c.header) == 8 {
			size := int(binary.BigEndian.Uint32(c.header))
			c.log.add(int16(binary.BigEndian.Uint16(c.header[4:])), int16(binary.BigEndian.Uint16(c.header[6:])))
			c.skip = size - 4
			c.header = c.header[:0]
		}
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}
