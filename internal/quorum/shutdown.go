package quorum

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Controlled shutdown, as Kafka's BrokerHeartbeat with WantShutDown: a
// broker about to stop cleanly asks the active controller, in its next
// heartbeat, to move its leaderships first. The controller fences it (a
// FenceBroker record: its leaderships move to another ISR member and it
// leaves every ISR it is not the last member of, as Kafka's
// handleBrokerInControlledShutdown followed by the fencing of
// SHUTDOWN_NOW) and answers ShouldShutDown once that is committed. The
// broker then waits until its own image has the record, so that its
// replicas have become followers and answer NOT_LEADER_OR_FOLLOWER with
// the new leader before it stops serving, and stops heartbeating: a
// heartbeat would unfence it.

// controlledShutdown fences broker (registered with epoch) for its
// controlled shutdown, on the active controller, and records the request
// as a heartbeat over connection conn.
func (c *Controller) controlledShutdown(ctx context.Context, broker int32, epoch int64, conn uint64) error {
	if !c.isActive() {
		return fmt.Errorf("quorum: node %d is not the active controller: %w", c.cfg.NodeID, kerr.NotController)
	}
	b, ok := c.Image().Brokers[broker]
	if !ok || b.Epoch != epoch {
		return kerr.StaleBrokerEpoch
	}
	c.recordHeartbeat(broker, conn)
	if b.Fenced {
		return nil
	}
	if _, err := c.propose(ctx, metadata.FenceBroker{ID: broker, Epoch: epoch}); err != nil {
		return err
	}
	c.logger.Info("quorum: broker in controlled shutdown fenced: its leaderships moved", "broker", broker, "epoch", epoch)
	return nil
}

// Shutdown is this broker's controlled shutdown: the heartbeater asks the
// active controller to move its leaderships (see controlledShutdown), and
// Shutdown returns once this node's image shows the broker fenced, or with
// ctx's error (the caller stops anyway: its leaderships then move when its
// session closes). Afterwards the broker heartbeats no more.
func (c *Controller) Shutdown(ctx context.Context) error {
	reg := c.joined.Load()
	if reg == nil {
		return errors.New("quorum: Shutdown before Join")
	}
	c.leaving.Store(true)
	select {
	case c.beatNow <- struct{}{}:
	default:
	}
	select {
	case <-c.left:
	case <-ctx.Done():
		return fmt.Errorf("quorum: controlled shutdown of broker %d: %w", reg.broker.ID, ctx.Err())
	case <-c.quit:
		return errors.New("quorum: closed")
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		reg := c.joined.Load()
		if b, ok := c.Image().Brokers[reg.broker.ID]; !ok || b.Epoch != reg.epoch || b.Fenced {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("quorum: controlled shutdown of broker %d: its fencing not applied here: %w", reg.broker.ID, ctx.Err())
		case <-c.quit:
			return errors.New("quorum: closed")
		case <-tick.C:
		}
	}
}

// shutdownBeat is the heartbeater's request while leaving: in memory on
// the active controller, else over the session. On success it closes
// c.left.
func (c *Controller) shutdownBeat(ctx context.Context, s **session, reg *registration) error {
	var err error
	if c.isActive() {
		err = c.controlledShutdown(ctx, reg.broker.ID, reg.epoch, 0)
	} else {
		var resp rpcResponse
		resp, err = c.sessionRequest(ctx, s, rpcRequest{Kind: rpcHeartbeat, Hops: 1, Broker: reg.broker.ID, Epoch: reg.epoch, WantShutDown: true})
		if err == nil && !resp.ShouldShutDown {
			err = fmt.Errorf("quorum: controlled shutdown of broker %d not granted", reg.broker.ID)
		}
	}
	if err == nil {
		c.leftOnce.Do(func() { close(c.left) })
	}
	return err
}
