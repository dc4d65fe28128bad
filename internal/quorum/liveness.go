package quorum

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Liveness is the broker heartbeat configs.
type Liveness struct {
	// HeartbeatInterval is broker.heartbeat.interval.ms: how often this
	// node's broker heartbeats to the active controller. 0: 2 s.
	HeartbeatInterval time.Duration
	// SessionTimeout is broker.session.timeout.ms: how long the active
	// controller waits for a heartbeat before fencing a broker. 0: 9 s.
	SessionTimeout time.Duration
	// Grace is how long the active controller waits for a heartbeat from
	// a broker whose session connection closed, and from every broker
	// after it is elected, before fencing it. 0: HeartbeatInterval/4, at
	// least 250 ms; never more than SessionTimeout.
	Grace time.Duration
	// ObserverTimeout is how long the active controller keeps a fenced
	// broker that does not heartbeat as a raft non-voter (an observer)
	// before it stops replicating the metadata log to it and DescribeQuorum
	// stops listing it: Kafka's leader forgets an observer that has not
	// fetched for 5 minutes (LeaderState's OBSERVER_SESSION_TIMEOUT_MS). A
	// broker that heartbeats again is added back. 0: 5 minutes.
	ObserverTimeout time.Duration
}

// minGrace is the shortest default Grace: time for a broker to see a new
// controller and dial it on a loaded machine.
const minGrace = 250 * time.Millisecond

func (l Liveness) withDefaults() Liveness {
	if l.HeartbeatInterval <= 0 {
		l.HeartbeatInterval = 2 * time.Second
	}
	if l.SessionTimeout <= 0 {
		l.SessionTimeout = 9 * time.Second
	}
	if l.Grace <= 0 {
		l.Grace = max(l.HeartbeatInterval/4, minGrace)
	}
	l.Grace = min(l.Grace, l.SessionTimeout)
	if l.ObserverTimeout <= 0 {
		l.ObserverTimeout = 5 * time.Minute
	}
	return l
}

// liveness is what the active controller knows of broker heartbeats: when
// it last heard from each broker, and over which session connection. It is
// memory only, as in Kafka (BrokerHeartbeatManager): a new leader gives
// every broker Grace from its election, time for live brokers to
// heartbeat it (they do as soon as they learn of it), before fencing it.
type liveness struct {
	mu       sync.Mutex
	term     uint64              // guarded by mu: the raft term last and sessions are of
	last     map[int32]time.Time // guarded by mu: nil while not leading
	sessions map[int32]uint64    // guarded by mu: the connection each broker last heartbeated on
	leading  bool                // guarded by mu: expired has seen this term's leadership
	nextConn atomic.Uint64       // IDs of controller RPC connections
}

// forTerm makes last and sessions those of term: a heartbeat a previous
// leadership of this node recorded says nothing of this one. l.mu is held.
func (l *liveness) forTerm(term uint64) {
	if l.last == nil || l.term != term {
		l.term, l.last, l.sessions, l.leading = term, map[int32]time.Time{}, map[int32]uint64{}, false
	}
}

// heartbeat records a heartbeat of broker (registered with epoch), received
// over the controller RPC connection conn (0: this node's own broker) and,
// on the active controller, unfences a fenced broker that has caught up
// with the metadata log. Elsewhere it goes to the active controller over
// the controller RPC. It returns whether the broker is fenced afterwards.
// Errors: kerr.StaleBrokerEpoch (the broker registered again since, or is
// unknown: it must register), kerr.NotController.
func (c *Controller) heartbeat(ctx context.Context, broker int32, epoch int64, caughtUp bool, reports []metadata.LogReport, hops uint8, conn uint64) (fenced bool, err error) {
	if !c.isActive() {
		if !c.cfg.clustered() || hops > 0 {
			return true, fmt.Errorf("quorum: node %d is not the active controller: %w", c.cfg.NodeID, kerr.NotController)
		}
		resp, err := c.send(ctx, rpcRequest{Kind: rpcHeartbeat, Hops: 1, Broker: broker, Epoch: epoch, CaughtUp: caughtUp, Reports: reports})
		if err != nil {
			return true, err
		}
		return resp.Fenced, responseError(resp)
	}
	b, ok := c.Image().Brokers[broker]
	if !ok || b.Epoch != epoch {
		return true, kerr.StaleBrokerEpoch
	}
	c.recordHeartbeat(broker, conn)
	c.recordReports(broker, epoch, reports)
	if err := c.readdObserver(b); err != nil {
		return true, err
	}
	if !b.Fenced || !caughtUp {
		return b.Fenced, nil
	}
	if _, err := c.propose(ctx, metadata.UnfenceBroker{ID: broker, Epoch: epoch}); err != nil {
		return true, err
	}
	c.logger.Info("quorum: broker unfenced", "broker", broker, "epoch", epoch)
	return false, nil
}

// recordHeartbeat notes, on the active controller, a heartbeat of broker
// over connection conn (0: this node's own broker).
func (c *Controller) recordHeartbeat(broker int32, conn uint64) {
	term := c.raft.CurrentTerm()
	c.live.mu.Lock()
	defer c.live.mu.Unlock()
	c.live.forTerm(term)
	c.live.last[broker] = time.Now()
	if conn != 0 {
		c.live.sessions[broker] = conn
	}
}

// sessionClosed is called when controller RPC connection conn ends. A
// broker whose last heartbeat came over it has lost its session: a killed
// process's connections are closed by its kernel at once, so unless the
// broker heartbeats again within Grace (a live one redials at once) it is
// fenced then, rather than after the whole SessionTimeout. Fencing early
// costs at most availability: leaderships move only within the ISR.
func (c *Controller) sessionClosed(conn uint64) {
	l := &c.live
	l.mu.Lock()
	defer l.mu.Unlock()
	for broker, id := range l.sessions {
		if id != conn {
			continue
		}
		delete(l.sessions, broker)
		if l.last == nil || !c.isActive() {
			return
		}
		// Expires Grace from now, unless it would sooner.
		if deadline := time.Now().Add(c.cfg.Liveness.Grace - c.cfg.Liveness.SessionTimeout); deadline.Before(l.last[broker]) {
			l.last[broker] = deadline
		}
		c.logger.Info("quorum: broker's session connection closed: fencing it unless it heartbeats again",
			"broker", broker, "grace", c.cfg.Liveness.Grace)
		select {
		case c.liveWake <- struct{}{}:
		default:
		}
		return
	}
}

// watchLiveness is the goroutine that fences, on the active controller,
// every unfenced broker whose session has run out (see expired).
func (c *Controller) watchLiveness() {
	defer c.starters.Done()
	session := c.cfg.Liveness.SessionTimeout
	tick := time.NewTicker(max(min(session/8, c.cfg.Liveness.Grace/5), time.Millisecond))
	defer tick.Stop()
	var elected uint64 // the image index unclean elections last looked at
	for {
		select {
		case <-c.quit:
			return
		case <-tick.C:
		case <-c.liveWake:
		}
		if img := c.Image(); c.isActive() && (img.Index != elected || c.recoveryPass()) {
			if img.Index != elected {
				c.uncleanElections(img)
			}
			c.recoverLeaders(img, time.Now())
			elected = img.Index
		}
		for _, b := range c.expired(time.Now()) {
			ctx, cancel := context.WithTimeout(c.ctx, session)
			_, err := c.propose(ctx, metadata.FenceBroker{ID: b.ID, Epoch: b.Epoch})
			cancel()
			if err != nil {
				c.logger.Warn("quorum: fencing a broker that stopped heartbeating", "broker", b.ID, "epoch", b.Epoch, "err", err)
				continue
			}
			c.logger.Warn("quorum: broker fenced: no heartbeat within its session", "broker", b.ID, "epoch", b.Epoch, "session", session)
		}
		c.dropObservers(time.Now())
	}
}

// dropObservers takes out of the raft configuration, on the active
// controller, every non-voter that is no longer a registered broker or has
// been fenced without a heartbeat for ObserverTimeout: the leader would
// otherwise replicate the metadata log to a dead address for ever (raft
// retries a non-voter without end) and DescribeQuorum list it.
func (c *Controller) dropObservers(now time.Time) {
	if !c.isActive() {
		return
	}
	img := c.Image()
	var gone []raft.Server
	c.live.mu.Lock()
	for _, s := range c.configuration() {
		if s.Suffrage == raft.Voter {
			continue
		}
		id, err := strconv.ParseInt(string(s.ID), 10, 32)
		if err != nil {
			continue
		}
		b, registered := img.Brokers[int32(id)]
		last, heard := c.live.last[int32(id)]
		if !heard && c.live.last != nil {
			c.live.last[int32(id)] = now // not heard from in this term: from now
		}
		if !registered || b.Fenced && heard && now.Sub(last) > c.cfg.Liveness.ObserverTimeout {
			gone = append(gone, s)
		}
	}
	c.live.mu.Unlock()
	for _, s := range gone {
		if err := c.raft.RemoveServer(s.ID, 0, transportTimeout).Error(); err != nil {
			c.logger.Warn("quorum: dropping an observer", "node", s.ID, "err", err)
			continue
		}
		c.logger.Info("quorum: observer dropped: no heartbeat", "node", s.ID, "addr", s.Address, "timeout", c.cfg.Liveness.ObserverTimeout)
	}
}

// readdObserver makes broker b, heartbeating to the active controller, a
// raft non-voter again if dropObservers dropped it (or it never was one),
// so that it receives the metadata log it needs to be unfenced.
func (c *Controller) readdObserver(b metadata.Broker) error {
	if b.MetadataAddr == "" || c.isVoter(b.ID) {
		return nil
	}
	for _, s := range c.configuration() {
		if s.ID == serverID(b.ID) {
			return nil
		}
	}
	c.logger.Info("quorum: observer added back: it heartbeats again", "broker", b.ID, "addr", b.MetadataAddr)
	return c.addObserver(b)
}

// expired returns the unfenced brokers whose session has run out at now:
// not heard from for SessionTimeout, or for Grace since their session
// connection closed or since this node was elected.
func (c *Controller) expired(now time.Time) []metadata.Broker {
	l := &c.live
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.isActive() {
		l.leading, l.last, l.sessions = false, nil, nil
		return nil
	}
	img := c.Image()
	session := c.cfg.Liveness.SessionTimeout
	l.forTerm(c.raft.CurrentTerm())
	if !l.leading {
		// Just elected: every broker not heard from yet in this term
		// gets Grace.
		l.leading = true
		for id := range img.Brokers {
			if _, ok := l.last[id]; !ok {
				l.last[id] = now.Add(c.cfg.Liveness.Grace - session)
			}
		}
	}
	var out []metadata.Broker
	for _, b := range img.LiveBrokers() {
		last, ok := l.last[b.ID]
		if !ok {
			l.last[b.ID] = now // registered since the last check
			continue
		}
		if now.Sub(last) > session {
			out = append(out, b)
		}
	}
	return out
}

// Join registers this node's broker (b with a new incarnation ID, and, on
// a node that is not a voter, the address it receives the metadata log at)
// with the active controller, retrying until ctx is done while there is
// none, then heartbeats every HeartbeatInterval until Close. The first
// heartbeat after the node is ready unfences it (WaitUnfenced). A broker
// told its epoch is stale (another registration with its ID) registers
// again. unclean says the broker's logs were not shut down cleanly (see
// metadata.RegisterBroker: it leaves the ISRs it was the last member of).
func (c *Controller) Join(ctx context.Context, b metadata.Broker, unclean bool) (epoch int64, err error) {
	b.ID = c.cfg.NodeID
	b.Incarnation = metadata.NewTopicID() // Kafka's incarnation IDs are random UUIDs too
	if c.cfg.clustered() && !c.isVoter(c.cfg.NodeID) {
		b.MetadataAddr = string(c.localAddr)
	}
	if epoch, err = c.registerRetrying(ctx, metadata.RegisterBroker{Broker: b, UncleanShutdown: unclean}); err != nil {
		return 0, err
	}
	c.joined.Store(&registration{broker: b, epoch: epoch})
	c.starters.Add(1)
	go c.heartbeats()
	return epoch, nil
}

type registration struct {
	broker metadata.Broker
	epoch  int64
}

// registerRetrying proposes the registration until it is accepted or ctx
// is done; while no controller is active it retries every 50 ms.
func (c *Controller) registerRetrying(ctx context.Context, r metadata.RegisterBroker) (int64, error) {
	b := r.Broker
	for {
		res, err := c.propose(ctx, r)
		if err == nil {
			return res.BrokerEpoch, nil
		}
		if !errors.Is(err, kerr.NotController) && !errors.Is(err, kerr.RequestTimedOut) {
			return 0, fmt.Errorf("quorum: register broker %d: %w", b.ID, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("quorum: register broker %d: %w (last: %w)", b.ID, ctx.Err(), err)
		case <-c.quit:
			return 0, errors.New("quorum: closed while registering")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// heartbeats is the goroutine that keeps this node's broker registered
// and unfenced; it stops at Close. It heartbeats every HeartbeatInterval
// over a session connection to the active controller (or in memory on the
// active controller), and at once when raft names a new leader or the
// session's connection closes, so that a new controller hears from every
// live broker well within its Grace.
func (c *Controller) heartbeats() {
	defer c.starters.Done()
	interval := c.cfg.Liveness.HeartbeatInterval
	select {
	case <-c.ready:
	case <-c.quit:
		return
	}
	leaders := make(chan raft.Observation, 1)
	obs := raft.NewObserver(leaders, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	c.raft.RegisterObserver(obs)
	defer c.raft.DeregisterObserver(obs)
	var s *session
	defer func() { s.close() }()
	var lastErr string
	lastOK, warned := time.Now(), false // the last heartbeat answered
	for {
		reg := c.joined.Load()
		ctx, cancel := context.WithTimeout(c.ctx, interval)
		var err error
		switch {
		case !c.leaving.Load():
			err = c.beat(ctx, &s, reg)
		case c.hasLeft():
			// Shut down: a heartbeat would unfence the broker.
			cancel()
			<-c.quit
			return
		default:
			err = c.shutdownBeat(ctx, &s, reg)
		}
		cancel()
		if errors.Is(err, kerr.StaleBrokerEpoch) && !c.leaving.Load() {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Liveness.SessionTimeout)
			// The same process, its logs as they were: not unclean.
			epoch, rerr := c.registerRetrying(ctx, metadata.RegisterBroker{Broker: reg.broker})
			cancel()
			if rerr == nil {
				c.logger.Warn("quorum: registered again after a stale broker epoch", "broker", reg.broker.ID, "old", reg.epoch, "epoch", epoch)
				c.joined.Store(&registration{broker: reg.broker, epoch: epoch})
				continue
			}
			err = rerr
		}
		// A heartbeat fails for a moment whenever the active controller
		// changes or stops (an election at start-up, the controllers
		// stopping with the brokers at shutdown): that is retried at once
		// and logged at info. Only failures lasting half the session, which
		// will fence the broker if they go on, are a warning.
		atRisk := err != nil && !c.leaving.Load() && time.Since(lastOK) >= c.cfg.Liveness.SessionTimeout/2
		switch {
		case err == nil:
			lastOK, warned = time.Now(), false
		case atRisk && !warned:
			c.logger.Warn("quorum: broker heartbeats failing; the controller fences the broker if they go on for its session",
				"broker", reg.broker.ID, "for", time.Since(lastOK).Round(time.Millisecond), "session", c.cfg.Liveness.SessionTimeout, "err", err)
			warned = true
		case err.Error() != lastErr:
			c.logger.Info("quorum: broker heartbeat failed; retrying", "broker", reg.broker.ID, "err", err)
		}
		lastErr = ""
		wait := interval
		if err != nil {
			lastErr = err.Error()
			wait = min(interval, heartbeatRetry)
		}
		var lost <-chan sessionReply
		if s != nil {
			lost = s.replies
		}
		select {
		case <-c.quit:
			return
		case <-leaders:
			c.leaderSeen()
		case <-c.beatNow:
		case <-lost:
			s.close() // the controller went away: find the next one now
			s = nil
		case <-time.After(wait):
		}
	}
}

// hasLeft reports whether the controlled shutdown was granted.
func (c *Controller) hasLeft() bool {
	select {
	case <-c.left:
		return true
	default:
		return false
	}
}

// heartbeatRetry is how soon a failed heartbeat is retried.
const heartbeatRetry = 50 * time.Millisecond

// WaitUnfenced waits until the image shows this node's broker registered
// by Join and unfenced.
func (c *Controller) WaitUnfenced(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		reg := c.joined.Load()
		if reg == nil {
			return errors.New("quorum: WaitUnfenced before Join")
		}
		if b, ok := c.Image().Brokers[reg.broker.ID]; ok && b.Epoch == reg.epoch && !b.Fenced {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("quorum: broker %d (epoch %d) still fenced: %w", reg.broker.ID, reg.epoch, ctx.Err())
		case <-c.quit:
			return errors.New("quorum: closed")
		case <-tick.C:
		}
	}
}
