package netfault

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Direction is one way through a Link.
type Direction int

const (
	// ToTarget is the bytes sent by the side that connected to the link (in
	// a cluster: node i, reaching node j) towards the target.
	ToTarget Direction = iota
	// FromTarget is the bytes the target sends back.
	FromTarget
)

func (d Direction) String() string {
	switch d {
	case ToTarget:
		return "to-target"
	case FromTarget:
		return "from-target"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Mode is what a Link does with the traffic of one direction.
type Mode int

const (
	// Pass forwards the bytes, after the fault's Delay and subject to its
	// Loss.
	Pass Mode = iota
	// Drop resets every connection through the link (both peers see a
	// reset) and resets new connections as soon as they are accepted, like
	// a host that answers with RST. Either direction set to Drop drops the
	// whole connection, since TCP needs both ways.
	Drop
	// Blackhole forwards nothing and holds the connections, so that peers
	// see timeouts rather than resets: the realistic partition. What was
	// sent stays queued (the link reads at most a bounded buffer, then the
	// sender's socket fills up and its writes block) and is delivered in
	// order once the direction passes again, as TCP delivers it after a
	// partition heals before the peers gave up. A connection accepted while
	// ToTarget is blackholed is not dialled to the target until it passes:
	// its SYN never got there.
	Blackhole
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Drop:
		return "drop"
	case Blackhole:
		return "blackhole"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Fault is the behaviour of one direction of a Link. The zero Fault passes
// everything at once.
type Fault struct {
	Mode Mode
	// Delay is latency added to every chunk passing in this direction: a
	// chunk read at time t is written no earlier than t+Delay, with the Delay
	// in force when it is written. Chunks stay in order; throughput is
	// limited only by the link's buffer (queueChunks × chunkSize in flight).
	Delay time.Duration
	// Loss is the probability that a chunk about to pass resets its whole
	// connection instead (both peers see a reset): TCP never loses bytes
	// inside a stream, so a lossy network shows up as lost connections.
	// Draws come from the link's seeded source: the sequence of draws is
	// reproducible from LinkConfig.Seed, which connection meets which draw
	// is up to the scheduler.
	Loss float64
}

// LinkConfig configures a Link.
type LinkConfig struct {
	// Target is the host:port every accepted connection is forwarded to.
	Target string
	// Seed seeds the source of Fault.Loss draws.
	Seed uint64
	// DialTimeout bounds the dial to the target; 0 is 5 seconds. A failed
	// dial resets the accepted connection, as a refused SYN would.
	DialTimeout time.Duration
	Logger      *slog.Logger
}

// LinkStats counts what went through a link since it was made.
type LinkStats struct {
	Accepted int64    // connections accepted
	Open     int      // connections open now (held ones included)
	Resets   int64    // connections the link reset: Drop, Loss, a failed dial, a peer's reset passed on, Close
	Bytes    [2]int64 // bytes written, indexed by Direction
}

const (
	chunkSize   = 32 << 10
	queueChunks = 16
)

// Link is a TCP fault proxy: it listens on 127.0.0.1:0, forwards every
// connection to a target address and applies a Fault to each direction.
// Changing a fault takes effect at once on the connections already open.
// Safe for concurrent use.
//
// Goroutines: one accepting, and per connection one that dials the target
// and waits for the connection's four pumps (a reader and a writer per
// direction). Close stops and waits for all of them.
type Link struct {
	cfg    LinkConfig
	logger *slog.Logger
	ln     net.Listener
	quit   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	faults  [2]Fault
	changed chan struct{} // closed (and replaced) whenever faults change
	pipes   map[*pipe]struct{}
	closed  bool
	rng     *rand.Rand
	stats   LinkStats
}

// NewLink starts a link on 127.0.0.1:0 to cfg.Target, passing everything.
// The target need not be listening yet: it is dialled per connection.
func NewLink(cfg LinkConfig) (*Link, error) {
	if cfg.Target == "" {
		return nil, errors.New("netfault: link without a target")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netfault: link to %s: %w", cfg.Target, err)
	}
	l := &Link{
		cfg:     cfg,
		logger:  cfg.Logger.With("link", ln.Addr().String(), "target", cfg.Target),
		ln:      ln,
		quit:    make(chan struct{}),
		changed: make(chan struct{}),
		pipes:   make(map[*pipe]struct{}),
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is the address to connect to instead of the target.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Target is the address the link forwards to.
func (l *Link) Target() string { return l.cfg.Target }

// Set changes the fault of one direction. Drop resets the open connections
// before Set returns.
func (l *Link) Set(dir Direction, f Fault) {
	l.mu.Lock()
	l.faults[dir] = f
	close(l.changed)
	l.changed = make(chan struct{})
	var reset []*pipe
	if f.Mode == Drop {
		for p := range l.pipes {
			reset = append(reset, p)
		}
	}
	l.mu.Unlock()
	for _, p := range reset {
		p.close(true)
	}
}

// SetBoth sets the same fault on both directions.
func (l *Link) SetBoth(f Fault) {
	l.Set(ToTarget, f)
	l.Set(FromTarget, f)
}

// Heal passes both directions again, with no delay or loss. Held bytes are
// delivered; dropped connections stay dropped.
func (l *Link) Heal() { l.SetBoth(Fault{}) }

// Fault returns the fault in force on dir.
func (l *Link) Fault(dir Direction) Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.faults[dir]
}

// Stats returns the link's counters.
func (l *Link) Stats() LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Open = len(l.pipes)
	return s
}

// Close stops accepting, resets every connection and waits for every
// goroutine of the link. Later calls do nothing.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.quit)
	pipes := make([]*pipe, 0, len(l.pipes))
	for p := range l.pipes {
		pipes = append(pipes, p)
	}
	l.mu.Unlock()
	err := l.ln.Close()
	for _, p := range pipes {
		p.close(true)
	}
	l.wg.Wait()
	return err
}

// fault returns dir's fault and a channel closed at the next change.
func (l *Link) fault(dir Direction) (Fault, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.faults[dir], l.changed
}

// dropping reports whether either direction drops.
func (l *Link) dropping() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.faults[ToTarget].Mode == Drop || l.faults[FromTarget].Mode == Drop
}

// lose draws whether a chunk is lost with probability p.
func (l *Link) lose(p float64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rng.Float64() < p
}

func (l *Link) count(f func(*LinkStats)) {
	l.mu.Lock()
	f(&l.stats)
	l.mu.Unlock()
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait a little rather than spin.
			l.logger.Warn("link accept", "err", err)
			select {
			case <-l.quit:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p := newPipe(l, c)
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			p.close(true)
			return
		}
		l.stats.Accepted++
		l.pipes[p] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go p.serve()
	}
}

func (l *Link) untrack(p *pipe) {
	l.mu.Lock()
	delete(l.pipes, p)
	l.mu.Unlock()
}
