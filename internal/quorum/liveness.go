package quorum

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
}

func (l Liveness) withDefaults() Liveness {
	if l.HeartbeatInterval <= 0 {
		l.HeartbeatInterval = 2 * time.Second
	}
	if l.SessionTimeout <= 0 {
		l.SessionTimeout = 9 * time.Second
	}
	return l
}

// liveness is what the active controller knows of broker heartbeats: when
// it last heard from each broker. It is memory only, as in Kafka
// (BrokerHeartbeatManager): a new leader gives every broker a full session
// from its election before fencing it.
type liveness struct {
	mu      sync.Mutex
	last    map[int32]time.Time // guarded by mu
	leading bool                // guarded by mu: the last check saw this node lead
}

// heartbeat records a heartbeat of broker (registered with epoch) and, on
// the active controller, unfences a fenced broker that has caught up with
// the metadata log. Elsewhere it goes to the active controller over the
// controller RPC. It returns whether the broker is fenced afterwards.
// Errors: kerr.StaleBrokerEpoch (the broker registered again since, or is
// unknown: it must register), kerr.NotController.
func (c *Controller) heartbeat(ctx context.Context, broker int32, epoch int64, caughtUp bool, hops uint8) (fenced bool, err error) {
	if !c.isActive() {
		if !c.cfg.clustered() || hops > 0 {
			return true, fmt.Errorf("quorum: node %d is not the active controller: %w", c.cfg.NodeID, kerr.NotController)
		}
		resp, err := c.send(ctx, rpcRequest{Kind: rpcHeartbeat, Hops: 1, Broker: broker, Epoch: epoch, CaughtUp: caughtUp})
		if err != nil {
			return true, err
		}
		return resp.Fenced, responseError(resp)
	}
	b, ok := c.Image().Brokers[broker]
	if !ok || b.Epoch != epoch {
		return true, kerr.StaleBrokerEpoch
	}
	c.live.mu.Lock()
	if c.live.last == nil {
		c.live.last = map[int32]time.Time{}
	}
	c.live.last[broker] = time.Now()
	c.live.mu.Unlock()
	if !b.Fenced || !caughtUp {
		return b.Fenced, nil
	}
	if _, err := c.propose(ctx, metadata.UnfenceBroker{ID: broker, Epoch: epoch}); err != nil {
		return true, err
	}
	c.logger.Info("quorum: broker unfenced", "broker", broker, "epoch", epoch)
	return false, nil
}

// watchLiveness is the goroutine that fences, on the active controller,
// every unfenced broker not heard from for SessionTimeout.
func (c *Controller) watchLiveness() {
	defer c.starters.Done()
	session := c.cfg.Liveness.SessionTimeout
	tick := time.NewTicker(max(session/8, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.quit:
			return
		case now := <-tick.C:
			for _, b := range c.expired(now) {
				ctx, cancel := context.WithTimeout(c.ctx, session)
				_, err := c.propose(ctx, metadata.FenceBroker{ID: b.ID, Epoch: b.Epoch})
				cancel()
				if err != nil {
					c.logger.Warn("quorum: fencing a broker that stopped heartbeating", "broker", b.ID, "epoch", b.Epoch, "err", err)
					continue
				}
				c.logger.Warn("quorum: broker fenced: no heartbeat for broker.session.timeout.ms", "broker", b.ID, "epoch", b.Epoch, "session", session)
			}
		}
	}
}

// expired returns the unfenced brokers whose session has run out at now.
func (c *Controller) expired(now time.Time) []metadata.Broker {
	l := &c.live
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.isActive() {
		l.leading = false
		return nil
	}
	img := c.Image()
	if !l.leading || l.last == nil {
		// Just elected: every broker gets a full session from now.
		l.leading, l.last = true, map[int32]time.Time{}
		for id := range img.Brokers {
			l.last[id] = now
		}
	}
	var out []metadata.Broker
	for _, b := range img.LiveBrokers() {
		last, ok := l.last[b.ID]
		if !ok {
			l.last[b.ID] = now // registered since the last check
			continue
		}
		if now.Sub(last) > c.cfg.Liveness.SessionTimeout {
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
// again.
func (c *Controller) Join(ctx context.Context, b metadata.Broker) (epoch int64, err error) {
	b.ID = c.cfg.NodeID
	b.Incarnation = metadata.NewTopicID() // Kafka's incarnation IDs are random UUIDs too
	if c.cfg.clustered() && !c.isVoter(c.cfg.NodeID) {
		b.MetadataAddr = string(c.localAddr)
	}
	if epoch, err = c.registerRetrying(ctx, b); err != nil {
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
func (c *Controller) registerRetrying(ctx context.Context, b metadata.Broker) (int64, error) {
	for {
		epoch, err := c.RegisterBroker(ctx, b)
		if err == nil {
			return epoch, nil
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
// and unfenced; it stops at Close.
func (c *Controller) heartbeats() {
	defer c.starters.Done()
	interval := c.cfg.Liveness.HeartbeatInterval
	select {
	case <-c.ready:
	case <-c.quit:
		return
	}
	var lastErr string
	for {
		reg := c.joined.Load()
		ctx, cancel := context.WithTimeout(c.ctx, interval)
		_, err := c.heartbeat(ctx, reg.broker.ID, reg.epoch, true, 0)
		cancel()
		if errors.Is(err, kerr.StaleBrokerEpoch) {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Liveness.SessionTimeout)
			epoch, rerr := c.registerRetrying(ctx, reg.broker)
			cancel()
			if rerr == nil {
				c.logger.Warn("quorum: registered again after a stale broker epoch", "broker", reg.broker.ID, "old", reg.epoch, "epoch", epoch)
				c.joined.Store(&registration{broker: reg.broker, epoch: epoch})
				continue
			}
			err = rerr
		}
		if err != nil && err.Error() != lastErr {
			c.logger.Warn("quorum: broker heartbeat failed", "broker", reg.broker.ID, "err", err)
		}
		lastErr = ""
		if err != nil {
			lastErr = err.Error()
		}
		select {
		case <-c.quit:
			return
		case <-time.After(interval):
		}
	}
}

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
