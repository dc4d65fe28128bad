package replication

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/partition"
)

// Kafka's defaults of the replica fetcher's configs.
const (
	DefaultFetchMaxBytes         = 1 << 20  // replica.fetch.max.bytes
	DefaultFetchResponseMaxBytes = 10 << 20 // replica.fetch.response.max.bytes
	DefaultFetchWaitMax          = 500 * time.Millisecond
	DefaultFetchMinBytes         = 1 // replica.fetch.min.bytes
	DefaultFetchBackoff          = time.Second
)

// Config is what the fetchers need from the broker.
type Config struct {
	NodeID int32 // this broker's node.id: the replica ID of its fetches
	// BrokerEpoch is this broker's epoch (its registration's), or -1.
	BrokerEpoch func() int64
	// Address returns the advertised Kafka listener (host:port) of broker
	// id from the metadata image, false if the image has none.
	Address func(id int32) (string, bool)
	// Dial makes the fetchers' connections (nil: a net.Dialer); the test
	// harness routes them through its fault links.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ClientOpts are added to the fetchers' clients: the inter-broker
	// SASL login.
	ClientOpts []kgo.Opt

	// The replica.fetch.* configs; a size of 0 or less is Kafka's default,
	// as is a negative duration (a zero one is zero, as Kafka allows).
	FetchMaxBytes         int32         // replica.fetch.max.bytes, per partition
	FetchResponseMaxBytes int32         // replica.fetch.response.max.bytes
	FetchWaitMax          time.Duration // replica.fetch.wait.max.ms
	FetchMinBytes         int32         // replica.fetch.min.bytes
	FetchBackoff          time.Duration // replica.fetch.backoff.ms
	Logger                *slog.Logger
}

func (c *Config) normalize() {
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.FetchResponseMaxBytes <= 0 {
		c.FetchResponseMaxBytes = DefaultFetchResponseMaxBytes
	}
	if c.FetchWaitMax < 0 {
		c.FetchWaitMax = DefaultFetchWaitMax
	}
	if c.FetchMinBytes <= 0 {
		c.FetchMinBytes = DefaultFetchMinBytes
	}
	if c.FetchBackoff < 0 {
		c.FetchBackoff = DefaultFetchBackoff
	}
	if c.BrokerEpoch == nil {
		c.BrokerEpoch = func() int64 { return -1 }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
}

// Manager is the replica fetcher manager (Kafka's
// ReplicaFetcherManager): one fetcher per leader broker, each fetching
// every partition this broker follows of that leader.
type Manager struct {
	cfg Config

	mu       sync.Mutex
	closed   bool
	fetchers map[int32]*fetcher             // by leader ID
	leaderOf map[*partition.Partition]int32 // the fetcher each partition is in
	wg       sync.WaitGroup
}

// New returns a manager with no fetcher running.
func New(cfg Config) *Manager {
	cfg.normalize()
	return &Manager{cfg: cfg, fetchers: make(map[int32]*fetcher), leaderOf: make(map[*partition.Partition]int32)}
}

// Follow makes p fetched from leader (Kafka's addFetcherForPartitions
// after makeFollower): p moves to leader's fetcher, started if needed. A
// partition already fetched from leader (a new epoch of the same leader)
// is fetched again at once with its new epoch.
func (m *Manager) Follow(p *partition.Partition, leader int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if cur, ok := m.leaderOf[p]; ok {
		if cur == leader {
			m.fetchers[cur].wake()
			return
		}
		m.removeLocked(p)
	}
	f := m.fetchers[leader]
	if f == nil {
		f = newFetcher(m, leader)
		m.fetchers[leader] = f
		m.wg.Add(1)
		go f.run()
	}
	f.add(p)
	m.leaderOf[p] = leader
}

// Unfollow stops fetching p (it became leader, follows another leader, or
// is being closed); a fetcher left with no partition stops. It waits for
// an answer being applied to p; one still in flight is dropped. The
// replica manager calls it before changing p's leader, so that no record
// of the old leader lands in the new epoch.
func (m *Manager) Unfollow(p *partition.Partition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(p)
}

func (m *Manager) removeLocked(p *partition.Partition) {
	leader, ok := m.leaderOf[p]
	if !ok {
		return
	}
	delete(m.leaderOf, p)
	f := m.fetchers[leader]
	if f.remove(p) == 0 {
		f.cancel()
		delete(m.fetchers, leader)
	}
}

// Following returns the leader p is fetched from, false if none.
func (m *Manager) Following(p *partition.Partition) (int32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leaderOf[p]
	return l, ok
}

// Close stops every fetcher and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for id, f := range m.fetchers {
		f.cancel()
		delete(m.fetchers, id)
	}
	clear(m.leaderOf)
	m.mu.Unlock()
	m.wg.Wait()
}
