package quorum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Description is the metadata quorum as its leader sees it, for Kafka's
// DescribeQuorum (KIP-595, KIP-853). The raft log stands for Kafka's
// __cluster_metadata partition 0: raft index i is offset i-1, so the
// commit index is the high watermark (the offset after the last committed
// entry) and a replica's last index its log end offset.
type Description struct {
	LeaderID int32 `json:"leader_id"`
	// LeaderEpoch is the raft term.
	LeaderEpoch   int32   `json:"leader_epoch"`
	HighWatermark int64   `json:"high_watermark"`
	Voters        []Voter `json:"voters"`
	// Observers are the raft non-voters: brokers and controllers that
	// receive the metadata log without a vote.
	Observers []Voter `json:"observers"`
	// Listener is the name of the controller listener the voters'
	// addresses are on (controller.listener.names).
	Listener string `json:"listener"`
}

// Endpoint is a listener of a node, as AddRaftVoter names them.
type Endpoint struct {
	Name string
	Host string
	Port uint16
}

// Voter is one replica of the metadata log, a voter or an observer.
type Voter struct {
	ID int32 `json:"id"`
	// Addr is where raft reaches it: a voter's controller listener.
	Addr string `json:"addr"`
	// LogEndOffset is its last index as the leader knows it, -1 if unknown.
	LogEndOffset int64 `json:"log_end_offset"`
	// LastFetch is the leader's time of its last answer to the leader,
	// LastCaughtUp of the last answer at which it held the leader's whole
	// log as of the request; Unix ms, -1 if unknown.
	LastFetch    int64 `json:"last_fetch"`
	LastCaughtUp int64 `json:"last_caught_up"`
}

// ErrNotLeader is the answer of a quorum request (DescribeQuorum,
// AddRaftVoter, RemoveRaftVoter) on a node that is not the raft leader
// and cannot forward it, as Kafka's KafkaRaftClient answers.
var ErrNotLeader = kerr.NotLeaderForPartition

// caughtUpWithin is how recently a non-voter must have been caught up
// with the leader's log to be made a voter (Kafka refuses a lagging one
// with REQUEST_TIMED_OUT, as adding it would hold the commit back). Raft
// heartbeats every HeartbeatTimeout/10, so a caught-up replica renews it
// many times within.
func (c *Controller) caughtUpWithin() time.Duration {
	return 2 * c.raft.ReloadableConfig().HeartbeatTimeout
}

// DescribeQuorum describes the quorum. The leader answers; another node
// forwards to it over the controller RPC (as Kafka's brokers forward
// DescribeQuorum to the active controller). Errors: ErrNotLeader while no
// leader can be reached.
func (c *Controller) DescribeQuorum(ctx context.Context) (Description, error) {
	return c.describeQuorumHop(ctx, 0)
}

func (c *Controller) describeQuorumHop(ctx context.Context, hops uint8) (Description, error) {
	if !c.isActive() {
		if !c.cfg.clustered() || hops > 0 {
			return Description{}, c.notLeader()
		}
		resp, err := c.sendQuorum(ctx, rpcRequest{Kind: rpcDescribeQuorum, Hops: 1})
		if err != nil {
			return Description{}, err
		}
		return decodeDescription([]byte(resp.Message))
	}
	return c.describeLocal(time.Now()), nil
}

// notLeader is ErrNotLeader with who leads, if known.
func (c *Controller) notLeader() error {
	return &Error{Code: ErrNotLeader, Message: fmt.Sprintf(
		"node %d is not the leader of the metadata quorum (leader %d)", c.cfg.NodeID, c.leaderID())}
}

// describeLocal is the leader's description at now.
func (c *Controller) describeLocal(now time.Time) Description {
	term := c.raft.CurrentTerm()
	d := Description{
		LeaderID:      c.cfg.NodeID,
		LeaderEpoch:   int32(min(term, math.MaxInt32)),
		HighWatermark: int64(c.raft.CommitIndex()),
		Voters:        []Voter{},
		Observers:     []Voter{},
		Listener:      c.listenerName(),
	}
	for _, s := range c.configuration() {
		id, err := strconv.ParseInt(string(s.ID), 10, 32)
		if err != nil {
			continue
		}
		v := Voter{ID: int32(id), Addr: string(s.Address), LogEndOffset: -1, LastFetch: -1, LastCaughtUp: -1}
		if v.ID == c.cfg.NodeID {
			// The leader's own state, dated now as Kafka dates it.
			v.LogEndOffset = int64(c.raft.LastIndex())
			v.LastFetch, v.LastCaughtUp = now.UnixMilli(), now.UnixMilli()
		} else if seen, ok := c.progress.seen(s.ID, term); ok {
			v.LogEndOffset = seen.match
			v.LastFetch = seen.lastContact.UnixMilli()
			if !seen.caughtUp.IsZero() {
				v.LastCaughtUp = seen.caughtUp.UnixMilli()
			}
		}
		if s.Suffrage == raft.Voter {
			d.Voters = append(d.Voters, v)
		} else {
			d.Observers = append(d.Observers, v)
		}
	}
	byID := func(a, b Voter) int { return int(a.ID) - int(b.ID) }
	slices.SortFunc(d.Voters, byID)
	slices.SortFunc(d.Observers, byID)
	return d
}

// configuration is raft's latest configuration (committed or not).
func (c *Controller) configuration() []raft.Server {
	return c.raft.GetConfiguration().Configuration().Servers
}

// AddVoter makes node id, now a non-voter receiving the metadata log (a
// controller started with controller.quorum.bootstrap.servers), a voter
// of the quorum at its endpoint on the controller listener, as Kafka's
// AddRaftVoter, and returns once the new configuration is committed. The
// leader does it; another node forwards. Errors (Kafka's):
// kerr.DuplicateVoter if it is a voter, kerr.InvalidRequest for a bad ID,
// no endpoint on the controller listener or one that is not where it
// receives the log, kerr.RequestTimedOut if it is not receiving the log
// or lags behind, ErrNotLeader.
func (c *Controller) AddVoter(ctx context.Context, id int32, endpoints []Endpoint) error {
	if id < 0 {
		return &Error{Code: kerr.InvalidRequest, Message: "Add voter request didn't include a valid voter"}
	}
	name := c.listenerName()
	i := slices.IndexFunc(endpoints, func(e Endpoint) bool { return strings.EqualFold(e.Name, name) })
	if i < 0 {
		return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf(
			"Add voter request didn't include the endpoint (%v) for the default listener %s", endpoints, name)}
	}
	addr := net.JoinHostPort(endpoints[i].Host, strconv.Itoa(int(endpoints[i].Port)))
	return c.addVoterHop(ctx, id, addr, 0)
}

// askCanVote asks the node at addr whether it is node id and may vote,
// as Kafka's leader sends a new voter ApiVersions first: unreachable is
// REQUEST_TIMED_OUT, a node that is another or has no controller role
// INVALID_REQUEST.
func (c *Controller) askCanVote(ctx context.Context, id int32, addr string) error {
	resp, err := call(ctx, c.cfg.dial, addr, rpcRequest{Kind: rpcCanVote, Hops: 1, Broker: id})
	if err != nil {
		return &Error{Code: kerr.RequestTimedOut, Message: fmt.Sprintf("New voter %d is not ready to receive requests at %s: %v", id, addr, err)}
	}
	return responseError(resp)
}

// canVote answers askCanVote on the new voter's side.
func (c *Controller) canVote(id int32) error {
	switch {
	case id != c.cfg.NodeID:
		return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf("the node at this address is node %d, not %d", c.cfg.NodeID, id)}
	case c.cfg.BrokerOnly || !c.cfg.clustered():
		return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf(
			"node %d cannot vote: config process.roles has no controller role", id)}
	}
	return nil
}

// listenerName is the controller listener's name.
func (c *Controller) listenerName() string {
	if c.cfg.ListenerName == "" {
		return "CONTROLLER"
	}
	return c.cfg.ListenerName
}

func (c *Controller) addVoterHop(ctx context.Context, id int32, addr string, hops uint8) error {
	if !c.isActive() {
		if !c.cfg.clustered() || hops > 0 {
			return c.notLeader()
		}
		resp, err := c.sendQuorum(ctx, rpcRequest{Kind: rpcAddVoter, Hops: 1, Broker: id, Record: []byte(addr)})
		if err != nil {
			return err
		}
		return responseError(resp)
	}
	if id < 0 {
		return &Error{Code: kerr.InvalidRequest, Message: "Add voter request didn't include a valid voter"}
	}
	servers := c.configuration()
	i := slices.IndexFunc(servers, func(s raft.Server) bool { return s.ID == serverID(id) })
	if i >= 0 && servers[i].Suffrage == raft.Voter {
		return &Error{Code: kerr.DuplicateVoter, Message: fmt.Sprintf(
			"The voter id for %d is already part of the set of voters %v.", id, voterIDs(servers))}
	}
	if i < 0 {
		return &Error{Code: kerr.RequestTimedOut, Message: fmt.Sprintf(
			"New voter %d is not ready to receive requests: it does not receive the metadata log "+
				"(start it with process.roles=broker,controller and controller.quorum.bootstrap.servers)", id)}
	}
	if string(servers[i].Address) != addr {
		return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf(
			"Add voter request's endpoint %s for voter %d is not the one it receives the metadata log at (%s)",
			addr, id, servers[i].Address)}
	}
	seen, ok := c.progress.seen(serverID(id), c.raft.CurrentTerm())
	if !ok || seen.caughtUp.IsZero() || time.Since(seen.caughtUp) > c.caughtUpWithin() {
		return &Error{Code: kerr.RequestTimedOut, Message: fmt.Sprintf(
			"Aborted add voter operation for %d since it is lagging behind", id)}
	}
	if err := c.askCanVote(ctx, id, addr); err != nil {
		return err
	}
	future := c.raft.AddVoter(serverID(id), servers[i].Address, 0, timeoutOf(ctx))
	if err := c.configChangeError(future.Error()); err != nil {
		return err
	}
	c.logger.Info("quorum: voter added", "voter", id, "addr", addr, "voters", voterIDs(c.configuration()))
	return nil
}

// RemoveVoter takes node id out of the voters, as Kafka's RemoveRaftVoter,
// and returns once the new configuration is committed. The node stays a
// non-voter, so that it keeps receiving the metadata log while it runs (a
// removed Kafka controller goes on fetching as an observer); a leader
// removing itself steps down once the change commits and the other voters
// elect a leader. The leader does it; another node forwards. Errors:
// kerr.VoterNotFound if id is not a voter, kerr.InvalidRequest for the
// last voter, ErrNotLeader.
func (c *Controller) RemoveVoter(ctx context.Context, id int32) error {
	return c.removeVoterHop(ctx, id, 0)
}

func (c *Controller) removeVoterHop(ctx context.Context, id int32, hops uint8) error {
	if !c.isActive() {
		if !c.cfg.clustered() || hops > 0 {
			return c.notLeader()
		}
		resp, err := c.sendQuorum(ctx, rpcRequest{Kind: rpcRemoveVoter, Hops: 1, Broker: id})
		if err != nil {
			return err
		}
		return responseError(resp)
	}
	servers := c.configuration()
	voters := voterIDs(servers)
	if !slices.Contains(voters, id) {
		return &Error{Code: kerr.VoterNotFound, Message: fmt.Sprintf(
			"Cannot remove voter %d from the set of voters %v", id, voters)}
	}
	if len(voters) == 1 {
		return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf(
			"Cannot remove voter %d: it is the last voter of the metadata quorum", id)}
	}
	if id == c.cfg.NodeID {
		// Hand the leadership over first (raft's TimeoutNow makes the
		// most caught-up voter stand at once, as Kafka's resigning leader
		// ends its epoch), then the new leader removes this node. Without
		// a transfer the demotion below steps this node down once
		// committed, and the others elect a leader after their timeout.
		err := c.raft.LeadershipTransfer().Error()
		if err == nil {
			return c.removeVoterAfterTransfer(ctx, id)
		}
		c.logger.Warn("quorum: leadership transfer before removing the leader failed; demoting it in place", "err", err)
	}
	future := c.raft.DemoteVoter(serverID(id), 0, timeoutOf(ctx))
	if err := c.configChangeError(future.Error()); err != nil {
		return err
	}
	c.logger.Info("quorum: voter removed", "voter", id, "voters", voterIDs(c.configuration()))
	return nil
}

// removeVoterAfterTransfer sends the removal of this node, which just
// handed its leadership over, to the new leader, retrying while the
// quorum has none.
func (c *Controller) removeVoterAfterTransfer(ctx context.Context, id int32) error {
	for {
		resp, err := c.sendQuorum(ctx, rpcRequest{Kind: rpcRemoveVoter, Hops: 1, Broker: id})
		if err == nil && resp.Code != ErrNotLeader.Code {
			return responseError(resp)
		}
		if err == nil {
			err = responseError(resp)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("quorum: remove voter %d after handing the leadership over: %w", id, err)
		case <-c.quit:
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// configChangeError is the Kafka error for a failed raft configuration
// change.
func (c *Controller) configChangeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("quorum: %w: %w", kerr.RequestTimedOut, err)
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return &Error{Code: ErrNotLeader, Message: fmt.Sprintf("node %d lost the leadership of the metadata quorum: %v", c.cfg.NodeID, err)}
	}
	if werr := c.log.writable(); werr != nil {
		return storageError(werr)
	}
	return fmt.Errorf("quorum: %w: %w", kerr.UnknownServerError, err)
}

// timeoutOf is what is left of ctx's deadline, 0 (none) without one.
func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 0
}

// voterIDs are the voters of servers, in ascending order.
func voterIDs(servers []raft.Server) []int32 {
	var ids []int32
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if id, err := strconv.ParseInt(string(s.ID), 10, 32); err == nil {
			ids = append(ids, int32(id))
		}
	}
	slices.Sort(ids)
	return ids
}

// sendQuorum sends a quorum request to the leader over the controller RPC.
// A node that answers it without leading says NOT_LEADER_OR_FOLLOWER,
// which is returned as it is.
func (c *Controller) sendQuorum(ctx context.Context, req rpcRequest) (rpcResponse, error) {
	resp, err := c.send(ctx, req)
	if err != nil {
		return rpcResponse{}, &Error{Code: ErrNotLeader, Message: err.Error()}
	}
	return resp, nil
}

// encodeDescription and decodeDescription carry a Description over the
// controller RPC (the answer to rpcDescribeQuorum).
func encodeDescription(d Description) []byte {
	b, _ := json.Marshal(d) // plain structs: cannot fail
	return b
}

func decodeDescription(b []byte) (Description, error) {
	var d Description
	if err := json.Unmarshal(b, &d); err != nil {
		return Description{}, fmt.Errorf("%w: quorum description: %w", errBadFrame, err)
	}
	if d.Voters == nil {
		d.Voters = []Voter{}
	}
	if d.Observers == nil {
		d.Observers = []Voter{}
	}
	return d, nil
}
