package broker_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group APIs at the versions of Kafka 0.9-0.10 clients: FindCoordinator,
// JoinGroup v0 (no rebalance timeout: the session timeout) and v1,
// SyncGroup, Heartbeat, LeaveGroup, ListGroups and DescribeGroups v0, and
// OffsetCommit v0-v2 with OffsetFetch v0.

func joinV(t *testing.T, tb *testBroker, v int16, group, member string, session, rebalance int32) *kmsg.JoinGroupResponse {
	t.Helper()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"old-t"}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.ProtocolType = group, member, "consumer"
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = session, rebalance
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	return send[*kmsg.JoinGroupResponse](t, tb, req, v)
}

func heartbeatV0(t *testing.T, addr, group, member string, generation int32) int16 {
	t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = group, member, generation
	return oldRequest(t, addr, req, 0).(*kmsg.HeartbeatResponse).ErrorCode
}

func describeGroupV0(t *testing.T, tb *testBroker, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp := send[*kmsg.DescribeGroupsResponse](t, tb, req, 0)
	if len(resp.Groups) != 1 {
		t.Fatalf("DescribeGroups v0: %d groups", len(resp.Groups))
	}
	return resp.Groups[0]
}

// commitV commits offset (with metadata) for partition 0 of old-t at
// version v; timestamp is v1's, retention v2's.
func commitV(t *testing.T, tb *testBroker, v int16, group, member string, generation int32, offset, timestamp, retention int64) int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation, req.RetentionTimeMillis = group, member, generation, retention
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "old-t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.Timestamp, rp.Metadata = 0, offset, timestamp, strp("m"+strconv.FormatInt(offset, 10))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := send[*kmsg.OffsetCommitResponse](t, tb, req, v)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func fetchOffsetV0(t *testing.T, tb *testBroker, group string) (int64, string, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "old-t", []int32{0}
	req.Topics = append(req.Topics, rt)
	resp := send[*kmsg.OffsetFetchResponse](t, tb, req, 0)
	p := resp.Topics[0].Partitions[0]
	meta := ""
	if p.Metadata != nil {
		meta = *p.Metadata
	}
	return p.Offset, meta, p.ErrorCode
}

// TestOldGroupVersions: a group driven entirely by v0 requests (and one
// v1 join) forms, commits, rebalances and empties as Kafka 3.9 answered.
func TestOldGroupVersions(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "old-t", 2, nil)
	const group = "old-g"

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = group
	coord := send[*kmsg.FindCoordinatorResponse](t, tb, fc, 0)
	host, port, _ := net.SplitHostPort(tb.Addr())
	if coord.ErrorCode != 0 || coord.Host != host || strconv.Itoa(int(coord.Port)) != port {
		t.Fatalf("FindCoordinator v0: %v %s:%d, want %s", kerr.ErrorForCode(coord.ErrorCode), coord.Host, coord.Port, tb.Addr())
	}

	a := joinV(t, tb, 0, group, "", 1500, 0)
	if a.ErrorCode != 0 || a.Generation != 1 || a.LeaderID != a.MemberID || len(a.Members) != 1 || a.Protocol == nil || *a.Protocol != "range" {
		t.Fatalf("JoinGroup v0: %+v", a)
	}
	sreq := kmsg.NewPtrSyncGroupRequest()
	sreq.Group, sreq.Generation, sreq.MemberID = group, a.Generation, a.MemberID
	sa := kmsg.NewSyncGroupRequestGroupAssignment()
	sa.MemberID, sa.MemberAssignment = a.MemberID, []byte("assignment-a")
	sreq.GroupAssignment = append(sreq.GroupAssignment, sa)
	if sr := send[*kmsg.SyncGroupResponse](t, tb, sreq, 0); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "assignment-a" {
		t.Fatalf("SyncGroup v0: %v %q", kerr.ErrorForCode(sr.ErrorCode), sr.MemberAssignment)
	}
	if code := heartbeatV0(t, tb.Addr(), group, a.MemberID, a.Generation); code != 0 {
		t.Fatalf("Heartbeat v0: %v", kerr.ErrorForCode(code))
	}

	// Commits of a member (v1, with an explicit commit timestamp) and of
	// outsiders while the group has members.
	committedAt := time.Now().Add(-time.Hour).UnixMilli()
	if code := commitV(t, tb, 1, group, a.MemberID, a.Generation, 11, committedAt, -1); code != 0 {
		t.Fatalf("OffsetCommit v1 by the member: %v", kerr.ErrorForCode(code))
	}
	if code := commitV(t, tb, 1, group, a.MemberID, a.Generation+1, 12, -1, -1); code != kerr.IllegalGeneration.Code {
		t.Fatalf("OffsetCommit v1, wrong generation: %v, want ILLEGAL_GENERATION", kerr.ErrorForCode(code))
	}
	if code := commitV(t, tb, 0, group, "", -1, 13, -1, -1); code != kerr.UnknownMemberID.Code {
		t.Fatalf("OffsetCommit v0 to a group with members: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
	}
	if off, meta, code := fetchOffsetV0(t, tb, group); off != 11 || meta != "m11" || code != 0 {
		t.Fatalf("OffsetFetch v0: %d %q %v, want 11 \"m11\"", off, meta, kerr.ErrorForCode(code))
	}

	lg := send[*kmsg.ListGroupsResponse](t, tb, kmsg.NewPtrListGroupsRequest(), 0)
	if lg.ErrorCode != 0 || len(lg.Groups) != 1 || lg.Groups[0].Group != group || lg.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("ListGroups v0: %+v", lg)
	}
	g := describeGroupV0(t, tb, group)
	if g.ErrorCode != 0 || g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "range" || len(g.Members) != 1 ||
		g.Members[0].MemberID != a.MemberID || g.Members[0].ClientID != "legacy-test" || string(g.Members[0].MemberAssignment) != "assignment-a" ||
		!bytes.Equal(g.Members[0].ProtocolMetadata, a.Members[0].ProtocolMetadata) {
		t.Fatalf("DescribeGroups v0: %+v", g)
	}

	// B joins with v1. A keeps heartbeating (its session stays alive) but
	// never rejoins, so the rebalance ends when A's rebalance timeout, its
	// session timeout since it joined with v0, runs out: without A.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	beats := make(chan int16, 100)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.MemberID, req.Generation = group, a.MemberID, a.Generation
			req.SetVersion(0)
			code, err := rawHeartbeat(tb.Addr(), req)
			if err != nil {
				return
			}
			select {
			case beats <- code:
			default:
			}
		}
	}()
	start := time.Now()
	b := joinV(t, tb, 1, group, "", 1500, 1500)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	close(beats)
	if b.ErrorCode != 0 || b.Generation != 2 || len(b.Members) != 1 || b.Members[0].MemberID != b.MemberID {
		t.Fatalf("JoinGroup v1 during A's session: %+v", b)
	}
	if took < 1500*time.Millisecond {
		t.Fatalf("the rebalance ended after %v, before A's rebalance timeout (1.5 s)", took)
	}
	rebalancing := 0
	for code := range beats {
		if code == kerr.RebalanceInProgress.Code {
			rebalancing++
		}
	}
	if rebalancing == 0 {
		t.Fatalf("A's heartbeats during the rebalance never said REBALANCE_IN_PROGRESS")
	}
	t.Logf("rebalance without A took %v; A heard REBALANCE_IN_PROGRESS %d times", took, rebalancing)
	if code := heartbeatV0(t, tb.Addr(), group, a.MemberID, a.Generation); code != kerr.UnknownMemberID.Code {
		t.Fatalf("A's heartbeat after the rebalance: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = group, b.MemberID
	if lr := send[*kmsg.LeaveGroupResponse](t, tb, leave, 0); lr.ErrorCode != 0 {
		t.Fatalf("LeaveGroup v0: %v", kerr.ErrorForCode(lr.ErrorCode))
	}
	if g := describeGroupV0(t, tb, group); g.State != "Empty" || len(g.Members) != 0 {
		t.Fatalf("DescribeGroups v0 after LeaveGroup: %+v", g)
	}

	// The group is empty: a v0 commit (no generation) goes in, and every
	// version reads it; then a v2 commit with a retention time.
	if code := commitV(t, tb, 0, group, "", -1, 21, -1, -1); code != 0 {
		t.Fatalf("OffsetCommit v0 to the empty group: %v", kerr.ErrorForCode(code))
	}
	if off, meta, code := fetchOffsetV0(t, tb, group); off != 21 || meta != "m21" || code != 0 {
		t.Fatalf("OffsetFetch v0 after a v0 commit: %d %q %v", off, meta, kerr.ErrorForCode(code))
	}
	fetched, err := tb.admin().FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup("old-t", 0); !ok || o.At != 21 {
		t.Fatalf("current OffsetFetch after a v0 commit: %+v", o)
	}
	before := time.Now().UnixMilli()
	if code := commitV(t, tb, 2, group, "", -1, 31, -1, 3_600_000); code != 0 {
		t.Fatalf("OffsetCommit v2 with a retention time: %v", kerr.ErrorForCode(code))
	}
	after := time.Now().UnixMilli()

	// What __consumer_offsets holds: v1's timestamp as the commit time, and
	// v2's retention as an expire time (offset value version 1), as Kafka
	// writes them.
	values := offsetValues(t, tb, group, "old-t", 0, 3)
	if v := values[11]; v.CommitTimestamp != committedAt || v.Version != 3 {
		t.Fatalf("offset 11 (v1, timestamp %d): stored %+v", committedAt, v)
	}
	v := values[31]
	if v.Version != 1 || v.CommitTimestamp < before || v.CommitTimestamp > after || v.ExpireTimestamp != v.CommitTimestamp+3_600_000 {
		t.Fatalf("offset 31 (v2, retention 1 h): stored %+v", v)
	}
}

// rawHeartbeat is heartbeatV0 for a goroutine: errors are returned, not
// reported.
func rawHeartbeat(addr string, req *kmsg.HeartbeatRequest) (int16, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("legacy-test")).AppendRequest(nil, req, 1)
	if _, err := c.Write(frame); err != nil {
		return 0, err
	}
	buf := make([]byte, 4+4+2)
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, err
	}
	return int16(buf[8])<<8 | int16(buf[9]), nil
}

// offsetValues reads __consumer_offsets until it has seen n commits of
// group's topic/partition and returns the stored values by offset.
func offsetValues(t *testing.T, tb *testBroker, group, topic string, partition int32, n int) map[int64]kmsg.OffsetCommitValue {
	t.Helper()
	cl := tb.client(kgo.ConsumeTopics("__consumer_offsets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	defer cancel()
	out := map[int64]kmsg.OffsetCommitValue{}
	seen := 0
	for seen < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("found %d of %d commits of %s in __consumer_offsets", seen, n, group)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var k kmsg.OffsetCommitKey
			if len(r.Key) < 2 || r.Key[1] > 1 || k.ReadFrom(r.Key) != nil || k.Group != group || k.Topic != topic || k.Partition != partition || r.Value == nil {
				return
			}
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.Value); err != nil {
				t.Errorf("offset value: %v", err)
				return
			}
			out[v.Offset] = v
			seen++
		})
	}
	return out
}
