package quorum

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
)

// session is a broker's connection to the active controller's RPC: its
// heartbeats go over it one after the other, and a reader goroutine hands
// each answer over on replies, which it closes when the connection ends —
// at once when the controller's process dies, since its kernel resets or
// closes the connection, which is how the broker learns of it between
// heartbeats.
type session struct {
	addr    string
	conn    net.Conn
	replies chan sessionReply
}

type sessionReply struct {
	body []byte
	err  error
}

var errSessionClosed = errors.New("quorum: controller session closed")

// dialSession opens a session to the controller RPC at addr through dial.
func dialSession(ctx context.Context, dial func(context.Context, string) (net.Conn, error), addr string) (*session, error) {
	conn, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetWriteDeadline(d)
	}
	if _, err := conn.Write([]byte{rpcMagic}); err != nil {
		conn.Close()
		return nil, err
	}
	s := &session{addr: addr, conn: conn, replies: make(chan sessionReply, 1)}
	go s.read()
	return s, nil
}

func (s *session) read() {
	defer close(s.replies)
	for {
		body, err := readFrame(s.conn)
		s.replies <- sessionReply{body: body, err: err}
		if err != nil {
			return
		}
	}
}

// roundTrip sends req and waits for its answer. After an error the
// session is unusable (an answer may still come): the caller closes it.
func (s *session) roundTrip(ctx context.Context, req rpcRequest) (rpcResponse, error) {
	deadline, _ := ctx.Deadline()
	_ = s.conn.SetWriteDeadline(deadline)
	if err := writeFrame(s.conn, req.append(nil)); err != nil {
		return rpcResponse{}, err
	}
	select {
	case r, ok := <-s.replies:
		if !ok {
			return rpcResponse{}, errSessionClosed
		}
		if r.err != nil {
			return rpcResponse{}, r.err
		}
		return decodeResponse(r.body)
	case <-ctx.Done():
		return rpcResponse{}, ctx.Err()
	}
}

// close closes the connection and waits for the reader; nil is closed.
func (s *session) close() {
	if s == nil {
		return
	}
	s.conn.Close()
	for range s.replies {
	}
}

// beat sends one heartbeat of reg's broker: in memory on the active
// controller, else over *s to the raft leader (sessionRequest).
func (c *Controller) beat(ctx context.Context, s **session, reg *registration) error {
	reports := c.logReports()
	if c.isActive() {
		_, err := c.heartbeat(ctx, reg.broker.ID, reg.epoch, true, reports, 0, 0)
		return err
	}
	resp, err := c.sessionRequest(ctx, s, rpcRequest{Kind: rpcHeartbeat, Hops: 1, Broker: reg.broker.ID, Epoch: reg.epoch, CaughtUp: true, Reports: reports})
	if err != nil {
		return err
	}
	return responseError(resp)
}

// sessionRequest sends req over *s to the raft leader, dialling it if *s
// is not open to it, and returns its answer; NOT_CONTROLLER comes back as
// an error. A session that fails is closed and *s cleared. A leader whose
// controller listener refuses the connection is suspected dead
// (suspectLeader).
func (c *Controller) sessionRequest(ctx context.Context, s **session, req rpcRequest) (rpcResponse, error) {
	if !c.cfg.clustered() {
		return rpcResponse{}, fmt.Errorf("quorum: node %d is not the active controller: %w", c.cfg.NodeID, kerr.NotController)
	}
	addr, id := c.raft.LeaderWithID()
	if addr == "" {
		return rpcResponse{}, fmt.Errorf("quorum: %w: %w", kerr.NotController, errNoLeader)
	}
	if *s != nil && (*s).addr != string(addr) {
		(*s).close()
		*s = nil
	}
	if *s == nil {
		ns, err := dialSession(ctx, c.cfg.dial, string(addr))
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				c.suspectLeader(id)
			}
			return rpcResponse{}, fmt.Errorf("quorum: heartbeat to the active controller at %s: %w: %w", addr, kerr.NotController, err)
		}
		*s = ns
	}
	resp, err := (*s).roundTrip(ctx, req)
	if err == nil && resp.Code == kerr.NotController.Code {
		err = responseError(resp)
	}
	if err != nil {
		(*s).close()
		*s = nil
		if !errors.Is(err, kerr.NotController) {
			err = fmt.Errorf("quorum: heartbeat to the active controller at %s: %w: %w", addr, kerr.NotController, err)
		}
		return rpcResponse{}, err
	}
	return resp, nil
}

// suspectLeader is called when the raft leader's controller listener
// refuses this node's broker: its process is gone. Raft would notice only
// after a HeartbeatTimeout (1 s, plus up to as much again for the timer to
// fire) without contact; a suspecting voter lowers its raft heartbeat and
// election timeouts to LeaderLeaseTimeout (500 ms), at the moment that has
// passed since its last contact with the leader (staggered by its rank
// among the other voters, so that the survivors do not split their votes),
// and restores them once it sees a leader (leaderSeen). Raft's safety does
// not depend on its timeouts: a wrong suspicion costs an election at most.
func (c *Controller) suspectLeader(leader raft.ServerID) {
	fast := c.raftTimings.LeaderLeaseTimeout
	if !c.isVoter(c.cfg.NodeID) || fast >= c.raftTimings.HeartbeatTimeout || c.raft.State() != raft.Follower {
		return
	}
	c.suspectMu.Lock()
	defer c.suspectMu.Unlock()
	if c.suspected != "" {
		return
	}
	c.suspected = leader
	var others []int32
	for _, v := range c.cfg.Voters {
		if serverID(v.ID) != leader {
			others = append(others, v.ID)
		}
	}
	slices.Sort(others)
	rank := max(slices.Index(others, c.cfg.NodeID), 0)
	delay := time.Until(c.raft.LastContact().Add(fast)) + time.Duration(rank)*fast/5
	c.logger.Info("quorum: the active controller refuses connections: electing another sooner",
		"leader", string(leader), "in", max(delay, 0).Round(time.Millisecond))
	c.suspectTimer = time.AfterFunc(max(delay, 0), func() {
		c.suspectMu.Lock()
		defer c.suspectMu.Unlock()
		if c.suspected != leader || c.fastTimeouts {
			return
		}
		rc := c.raft.ReloadableConfig()
		rc.HeartbeatTimeout, rc.ElectionTimeout = fast, fast
		if err := c.raft.ReloadConfig(rc); err != nil {
			c.logger.Warn("quorum: lowering raft's timeouts", "err", err)
			return
		}
		c.fastTimeouts = true
	})
}

// leaderSeen ends a suspicion once raft knows a leader other than the
// suspected one, restoring raft's timeouts.
func (c *Controller) leaderSeen() {
	_, id := c.raft.LeaderWithID()
	c.suspectMu.Lock()
	defer c.suspectMu.Unlock()
	if id == "" || id == c.suspected || c.suspected == "" {
		return
	}
	c.endSuspicionLocked()
}

// endSuspicionLocked stops a suspicion; c.suspectMu is held.
func (c *Controller) endSuspicionLocked() {
	if c.suspectTimer != nil {
		c.suspectTimer.Stop()
		c.suspectTimer = nil
	}
	c.suspected = ""
	if !c.fastTimeouts {
		return
	}
	rc := c.raft.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = c.raftTimings.HeartbeatTimeout, c.raftTimings.ElectionTimeout
	if err := c.raft.ReloadConfig(rc); err != nil {
		c.logger.Warn("quorum: restoring raft's timeouts", "err", err)
		return
	}
	c.fastTimeouts = false
}
