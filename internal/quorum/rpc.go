package quorum

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// The controller RPC carries what raft's transport cannot: a proposal of a
// node that is not the active controller (Kafka's forwarding), and broker
// heartbeats. It shares the controller listener with raft (streamLayer): a
// connection starts with rpcMagic, then request and response frames
// alternate, each a 4-byte big-endian length and a body:
//
//	request:  version(1)=0 kind(1) hops(1) flags(1) broker(int32) epoch(int64) record(rest)
//	response: version(1)=0 flags(1) code(int16) firstProducerID(int64) brokerEpoch(int64) message(rest)
//
// kind 1 proposes record (metadata.EncodeRecord); kind 2 is a heartbeat of
// broker with its epoch (flags bit 0: the broker has caught up with the
// metadata log; bit 1: it wants to shut down, Kafka's WantShutDown),
// whose record, when not empty, is the broker's log reports of the
// partitions awaiting recovery (recovery.go): count(uint32) and count
// times topicID(16) partition(int32) partitionEpoch(int32)
// lastEpoch(int32) logEndOffset(int64).
// code is the Kafka error code, message Kafka's message when it is not the
// code's own; response flags bit 0 says the broker is fenced, bit 1 that
// it may shut down (Kafka's ShouldShutDown). Kinds 3 to 5 are quorum requests the leader answers
// (membership.go): 3 describes the quorum (the answer's message is the
// Description as JSON), 4 makes broker a voter at the address record
// holds, 5 removes voter broker, 6 asks the node at the address
// AddVoter was given whether it is node broker and may vote (the leader's
// check before adding it, where Kafka sends the new voter ApiVersions). A
// request is never forwarded again: a
// node that is not the leader answers NOT_CONTROLLER and the sender tries the next voter, so
// nodes with stale views cannot bounce a request between them (hops is
// sent as 1 and kept for a later relay).
const (
	rpcVersion        byte = 0
	rpcPropose        byte = 1
	rpcHeartbeat      byte = 2
	rpcDescribeQuorum byte = 3
	rpcAddVoter       byte = 4
	rpcRemoveVoter    byte = 5
	rpcCanVote        byte = 6
	rpcRequestHead         = 16
	rpcReplyHead           = 20
	// maxRPCFrame bounds a frame: the largest record plus its header.
	maxRPCFrame = maxRecordBytes + 64
	// rpcIdle closes a connection idle this long between requests.
	rpcIdle = time.Minute
	// rpcDefaultTimeout bounds a call whose context has no deadline.
	rpcDefaultTimeout = 30 * time.Second
)

var errBadFrame = errors.New("quorum: malformed controller RPC frame")

type rpcRequest struct {
	Kind         byte
	Hops         uint8
	CaughtUp     bool
	WantShutDown bool
	// WantIndex asks a propose's answer to carry the record's Raft index
	// (rpcResponse.Index); a node that predates it ignores the flag and
	// answers without one.
	WantIndex bool
	Broker    int32
	Epoch     int64
	Record    []byte
	Reports   []metadata.LogReport // a heartbeat's, in its record
}

type rpcResponse struct {
	Code            int16
	Fenced          bool
	ShouldShutDown  bool
	FirstProducerID int64
	BrokerEpoch     int64
	// Index is the Raft index of a proposed record, sent (flag 4, eight
	// bytes before the message) only to a request with WantIndex; 0 is
	// none.
	Index   uint64
	Message string
}

func (r rpcRequest) append(b []byte) []byte {
	var flags byte
	if r.CaughtUp {
		flags |= 1
	}
	if r.WantShutDown {
		flags |= 2
	}
	if r.WantIndex {
		flags |= 4
	}
	b = append(b, rpcVersion, r.Kind, r.Hops, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(r.Broker))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Epoch))
	if r.Kind == rpcHeartbeat {
		return appendReports(b, r.Reports)
	}
	return append(b, r.Record...)
}

// decodeRequest parses a request body. It never panics; the record is
// decoded (and checked) by the caller.
func decodeRequest(b []byte) (rpcRequest, error) {
	if len(b) < rpcRequestHead {
		return rpcRequest{}, fmt.Errorf("%w: request of %d bytes", errBadFrame, len(b))
	}
	if b[0] != rpcVersion {
		return rpcRequest{}, fmt.Errorf("%w: version %d", errBadFrame, b[0])
	}
	r := rpcRequest{Kind: b[1], Hops: b[2], CaughtUp: b[3]&1 != 0, WantShutDown: b[3]&2 != 0, WantIndex: b[3]&4 != 0,
		Broker: int32(binary.BigEndian.Uint32(b[4:])), Epoch: int64(binary.BigEndian.Uint64(b[8:]))}
	switch r.Kind {
	case rpcPropose, rpcAddVoter:
		r.Record = b[rpcRequestHead:]
	case rpcHeartbeat:
		reports, err := decodeReports(b[rpcRequestHead:])
		if err != nil {
			return rpcRequest{}, err
		}
		r.Reports = reports
	case rpcDescribeQuorum, rpcRemoveVoter, rpcCanVote:
		if len(b) != rpcRequestHead {
			return rpcRequest{}, fmt.Errorf("%w: request of kind %d of %d bytes", errBadFrame, r.Kind, len(b))
		}
	default:
		return rpcRequest{}, fmt.Errorf("%w: kind %d", errBadFrame, r.Kind)
	}
	return r, nil
}

func (r rpcResponse) append(b []byte) []byte {
	var flags byte
	if r.Fenced {
		flags |= 1
	}
	if r.ShouldShutDown {
		flags |= 2
	}
	if r.Index != 0 {
		flags |= 4
	}
	b = append(b, rpcVersion, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Code))
	b = binary.BigEndian.AppendUint64(b, uint64(r.FirstProducerID))
	b = binary.BigEndian.AppendUint64(b, uint64(r.BrokerEpoch))
	if r.Index != 0 {
		b = binary.BigEndian.AppendUint64(b, r.Index)
	}
	return append(b, r.Message...)
}

// decodeResponse parses a response body. It never panics.
func decodeResponse(b []byte) (rpcResponse, error) {
	if len(b) < rpcReplyHead {
		return rpcResponse{}, fmt.Errorf("%w: response of %d bytes", errBadFrame, len(b))
	}
	if b[0] != rpcVersion {
		return rpcResponse{}, fmt.Errorf("%w: version %d", errBadFrame, b[0])
	}
	r := rpcResponse{
		Fenced:          b[1]&1 != 0,
		ShouldShutDown:  b[1]&2 != 0,
		Code:            int16(binary.BigEndian.Uint16(b[2:])),
		FirstProducerID: int64(binary.BigEndian.Uint64(b[4:])),
		BrokerEpoch:     int64(binary.BigEndian.Uint64(b[12:])),
	}
	rest := b[rpcReplyHead:]
	if b[1]&4 != 0 {
		if len(rest) < 8 {
			return rpcResponse{}, fmt.Errorf("%w: response index of %d bytes", errBadFrame, len(rest))
		}
		r.Index, rest = binary.BigEndian.Uint64(rest), rest[8:]
	}
	r.Message = string(rest)
	return r, nil
}

// readFrame reads one length-prefixed frame of at most maxRPCFrame bytes.
func readFrame(r io.Reader) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n == 0 || n > maxRPCFrame {
		return nil, fmt.Errorf("%w: length %d", errBadFrame, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadFrame, err)
	}
	return b, nil
}

func writeFrame(w io.Writer, body []byte) error {
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	_, err := w.Write(append(frame, body...))
	return err
}

// serveRPC answers the requests of one connection until it closes, is
// idle for rpcIdle, or sends a malformed frame (then it is closed).
func (c *Controller) serveRPC(conn net.Conn) {
	select { // the transport serves before raft is built on it
	case <-c.running:
	case <-c.quit:
		return
	}
	// A broker heartbeats over its connection (its session) every
	// HeartbeatInterval: only a broker gone quiet leaves it idle.
	id := c.live.nextConn.Add(1)
	defer c.sessionClosed(id)
	idle := max(rpcIdle, 2*c.cfg.Liveness.HeartbeatInterval)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		body, err := readFrame(conn)
		if err != nil {
			if errors.Is(err, errBadFrame) {
				c.logger.Warn("quorum: closing controller RPC connection", "remote", conn.RemoteAddr().String(), "err", err)
			}
			return
		}
		req, err := decodeRequest(body)
		if err != nil {
			c.logger.Warn("quorum: closing controller RPC connection", "remote", conn.RemoteAddr().String(), "err", err)
			return
		}
		resp := c.answerRPC(req, id)
		_ = conn.SetWriteDeadline(time.Now().Add(transportTimeout))
		if err := writeFrame(conn, resp.append(nil)); err != nil {
			return
		}
	}
}

// answerRPC runs one request that came over connection conn; c.quit
// cancels it.
func (c *Controller) answerRPC(req rpcRequest, conn uint64) rpcResponse {
	ctx, cancel := context.WithTimeout(c.ctx, rpcDefaultTimeout)
	defer cancel()
	switch req.Kind {
	case rpcHeartbeat:
		if req.WantShutDown {
			err := c.controlledShutdown(ctx, req.Broker, req.Epoch, conn)
			resp := errorResponse(err)
			resp.Fenced, resp.ShouldShutDown = err == nil, err == nil
			return resp
		}
		fenced, err := c.heartbeat(ctx, req.Broker, req.Epoch, req.CaughtUp, req.Reports, max(req.Hops, 1), conn)
		resp := errorResponse(err)
		resp.Fenced = fenced
		return resp
	case rpcDescribeQuorum:
		d, err := c.describeQuorumHop(ctx, max(req.Hops, 1))
		if err != nil {
			return errorResponse(err)
		}
		return rpcResponse{Message: string(encodeDescription(d))}
	case rpcAddVoter:
		return errorResponse(c.addVoterHop(ctx, req.Broker, string(req.Record), max(req.Hops, 1)))
	case rpcRemoveVoter:
		return errorResponse(c.removeVoterHop(ctx, req.Broker, max(req.Hops, 1)))
	case rpcCanVote:
		return errorResponse(c.canVote(req.Broker))
	default:
		rec, err := metadata.DecodeRecord(req.Record)
		if err != nil {
			return rpcResponse{Code: kerr.CorruptMessage.Code, Message: err.Error()}
		}
		res, err := c.proposeHop(ctx, rec, max(req.Hops, 1))
		resp := errorResponse(err)
		resp.FirstProducerID, resp.BrokerEpoch = res.FirstProducerID, res.BrokerEpoch
		if req.WantIndex {
			resp.Index = res.Index
		}
		return resp
	}
}

// errorResponse carries err as a Kafka code and message.
func errorResponse(err error) rpcResponse {
	if err == nil {
		return rpcResponse{}
	}
	var qe *Error
	if errors.As(err, &qe) {
		return rpcResponse{Code: qe.Code.Code, Message: qe.Message}
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		resp := rpcResponse{Code: ke.Code}
		if err != error(ke) {
			resp.Message = err.Error()
		}
		return resp
	}
	return rpcResponse{Code: kerr.UnknownServerError.Code, Message: err.Error()}
}

// responseError is errorResponse's inverse: a bare *kerr.Error when the
// message is the code's own (so errors.Is and identity hold), else an
// *Error carrying the message.
func responseError(r rpcResponse) error {
	if r.Code == 0 {
		return nil
	}
	code := kerr.ErrorForCode(r.Code)
	ke, ok := code.(*kerr.Error)
	if !ok {
		ke = kerr.UnknownServerError
	}
	if r.Message == "" {
		return ke
	}
	return &Error{Code: ke, Message: r.Message}
}

// call sends req to the controller RPC at addr, dialled with dial
// (Config.dial), and returns its answer.
func call(ctx context.Context, dial func(context.Context, string) (net.Conn, error), addr string, req rpcRequest) (rpcResponse, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rpcDefaultTimeout)
		defer cancel()
	}
	conn, err := dial(ctx, addr)
	if err != nil {
		return rpcResponse{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte{rpcMagic}); err != nil {
		return rpcResponse{}, err
	}
	if err := writeFrame(conn, req.append(nil)); err != nil {
		return rpcResponse{}, err
	}
	body, err := readFrame(conn)
	if err != nil {
		return rpcResponse{}, err
	}
	return decodeResponse(body)
}

// targets is where to send a request for the active controller: the
// Raft leader if known, else every other voter of raft's configuration,
// of controller.quorum.voters and controller.quorum.bootstrap.servers in
// turn.
func (c *Controller) targets() []string {
	if addr, _ := c.raft.LeaderWithID(); addr != "" {
		return []string{string(addr)}
	}
	var out []string
	add := func(addr string) {
		if addr != "" && addr != string(c.localAddr) && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	for _, s := range c.configuration() {
		if s.Suffrage == raft.Voter && s.ID != serverID(c.cfg.NodeID) {
			add(string(s.Address))
		}
	}
	for _, v := range c.cfg.Voters {
		if v.ID != c.cfg.NodeID {
			add(v.Addr)
		}
	}
	for _, addr := range c.cfg.Bootstrap {
		add(addr)
	}
	return out
}

// send delivers req to the active controller, trying each target once.
func (c *Controller) send(ctx context.Context, req rpcRequest) (rpcResponse, error) {
	var errs []error
	for _, addr := range c.targets() {
		resp, err := call(ctx, c.cfg.dial, addr, req)
		if err == nil && resp.Code != kerr.NotController.Code {
			return resp, nil
		}
		if err == nil {
			err = responseError(resp)
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		errs = append(errs, errNoLeader)
	}
	return rpcResponse{}, fmt.Errorf("quorum: node %d cannot reach the active controller: %w: %w",
		c.cfg.NodeID, kerr.NotController, errors.Join(errs...))
}

// rpcForwarder forwards proposals over the controller RPC.
type rpcForwarder struct{ c *Controller }

func (f rpcForwarder) Forward(ctx context.Context, r metadata.Record) (metadata.Result, error) {
	data, err := metadata.EncodeRecord(r)
	if err != nil {
		return metadata.Result{}, err
	}
	resp, err := f.c.send(ctx, rpcRequest{Kind: rpcPropose, Hops: 1, WantIndex: true, Record: data})
	if err != nil {
		return metadata.Result{}, err
	}
	res := metadata.Result{FirstProducerID: resp.FirstProducerID, BrokerEpoch: resp.BrokerEpoch, Index: resp.Index}
	if err := responseError(resp); err != nil {
		if ke, ok := err.(*kerr.Error); ok {
			res.Err = ke
		}
		return res, err
	}
	f.c.awaitApplied(ctx, resp.Index)
	return res, nil
}

// awaitApplied waits until this node has applied the metadata log up to
// index, so that a change it forwarded is in its own image when the
// request that asked for it is answered: a client that creates a topic
// through one broker finds it there at once, as it would on the active
// controller. It gives up at ctx's end (the change is made, only not here
// yet), and does not wait at all on a node that is not ready (a broker
// registering before it receives the log) or without an index (an
// active controller from before WantIndex).
func (c *Controller) awaitApplied(ctx context.Context, index uint64) {
	select {
	case <-c.ready:
	default:
		return
	}
	if index == 0 {
		return
	}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for c.fsm.applied.Load() < index {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		case <-c.quit:
			return
		}
	}
}
