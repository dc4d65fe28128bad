package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestGroupRequestValidationOrder sends each group API the requests whose
// answer depends on the order of its checks, and expects the code Kafka's
// group coordinator (GroupCoordinatorService, GroupMetadataManager,
// OffsetMetadataManager) answers first: an empty group ID before anything
// else where Kafka refuses one, accepted where Kafka keeps it for old
// clients (OffsetCommit, OffsetFetch, DescribeGroups, DeleteGroups).
func TestGroupRequestValidationOrder(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "orders", 1, nil)
	ctx := ctxT(t)
	// kgo raises every request to the highest version both sides know:
	// pin each to its own version with a client of its own.
	send := func(req kmsg.Request) (kmsg.Response, error) {
		versions := kversion.Stable()
		versions.SetMaxKeyVersion(req.Key(), req.GetVersion())
		return tb.client(kgo.MaxVersions(versions)).Broker(1).Request(ctx, req)
	}
	str := func(s string) *string { return &s }

	// A KIP-848 member, for the commit checks that need one.
	join := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	join.Version, join.Group, join.MemberID, join.RebalanceTimeoutMillis = 1, "new", "m848", 30000
	join.SubscribedTopicNames, join.Topics = []string{"orders"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if resp, err := send(join); err != nil || resp.(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode != 0 {
		t.Fatalf("KIP-848 join: %v %+v", err, resp)
	}

	commit := func(version int16, group string, generation int32, member string) *kmsg.OffsetCommitRequest {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version, r.Group, r.Generation, r.MemberID = version, group, generation, member
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Offset = 3
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.Partitions = "orders", []kmsg.OffsetCommitRequestTopicPartition{p}
		r.Topics = []kmsg.OffsetCommitRequestTopic{rt}
		return r
	}
	commitCode := func(r kmsg.Response) (int16, string) {
		return r.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, ""
	}
	heartbeat848 := func(edit func(*kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatRequest {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Version, r.Group, r.MemberID, r.RebalanceTimeoutMillis = 1, "g848", "m", 30000
		r.SubscribedTopicNames, r.Topics = []string{"orders"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		edit(r)
		return r
	}
	heartbeat848Code := func(r kmsg.Response) (int16, string) {
		resp := r.(*kmsg.ConsumerGroupHeartbeatResponse)
		if resp.ErrorMessage == nil {
			return resp.ErrorCode, ""
		}
		return resp.ErrorCode, *resp.ErrorMessage
	}

	describeState := func(state string) func(kmsg.Response) (int16, string) {
		return func(r kmsg.Response) (int16, string) {
			g := r.(*kmsg.DescribeGroupsResponse).Groups[0]
			if g.State != state {
				return g.ErrorCode, "state " + g.State
			}
			return g.ErrorCode, ""
		}
	}
	deleteCode := func(r kmsg.Response) (int16, string) { return r.(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode, "" }

	for _, tc := range []struct {
		name string
		req  kmsg.Request
		code func(kmsg.Response) (int16, string)
		want int16
		msg  string
	}{
		{"JoinGroup empty group before a bad session timeout", func() kmsg.Request {
			r := kmsg.NewPtrJoinGroupRequest()
			r.Version, r.Group, r.SessionTimeoutMillis, r.ProtocolType = 9, "", 1, "consumer"
			return r
		}(), func(r kmsg.Response) (int16, string) { return r.(*kmsg.JoinGroupResponse).ErrorCode, "" }, kerr.InvalidGroupID.Code, ""},
		{"JoinGroup bad session timeout", func() kmsg.Request {
			r := kmsg.NewPtrJoinGroupRequest()
			r.Version, r.Group, r.SessionTimeoutMillis, r.ProtocolType = 9, "g", 1, "consumer"
			return r
		}(), func(r kmsg.Response) (int16, string) { return r.(*kmsg.JoinGroupResponse).ErrorCode, "" }, kerr.InvalidSessionTimeout.Code, ""},
		{"SyncGroup empty group", &kmsg.SyncGroupRequest{Version: 5, Group: "", MemberID: "m", Generation: 1},
			func(r kmsg.Response) (int16, string) { return r.(*kmsg.SyncGroupResponse).ErrorCode, "" }, kerr.InvalidGroupID.Code, ""},
		{"SyncGroup unknown group", &kmsg.SyncGroupRequest{Version: 5, Group: "nosuch", MemberID: "m", Generation: 1},
			func(r kmsg.Response) (int16, string) { return r.(*kmsg.SyncGroupResponse).ErrorCode, "" }, kerr.UnknownMemberID.Code, ""},
		{"Heartbeat empty group", &kmsg.HeartbeatRequest{Version: 4, Group: "", MemberID: "m", Generation: 1},
			func(r kmsg.Response) (int16, string) { return r.(*kmsg.HeartbeatResponse).ErrorCode, "" }, kerr.InvalidGroupID.Code, ""},
		{"Heartbeat unknown group", &kmsg.HeartbeatRequest{Version: 4, Group: "nosuch", MemberID: "m", Generation: 1},
			func(r kmsg.Response) (int16, string) { return r.(*kmsg.HeartbeatResponse).ErrorCode, "" }, kerr.UnknownMemberID.Code, ""},
		{"LeaveGroup empty group", &kmsg.LeaveGroupRequest{Version: 5, Group: "", Members: []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}},
			func(r kmsg.Response) (int16, string) { return r.(*kmsg.LeaveGroupResponse).ErrorCode, "" }, kerr.InvalidGroupID.Code, ""},
		{"LeaveGroup unknown group: per member", &kmsg.LeaveGroupRequest{Version: 5, Group: "nosuch", Members: []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}},
			func(r kmsg.Response) (int16, string) {
				resp := r.(*kmsg.LeaveGroupResponse)
				if resp.ErrorCode != 0 {
					return resp.ErrorCode, "top level"
				}
				return resp.Members[0].ErrorCode, ""
			}, kerr.UnknownMemberID.Code, ""},
		{"OffsetCommit empty group accepted (simple)", commit(9, "", -1, ""), commitCode, 0, ""},
		{"OffsetCommit v9 member of an unknown group", commit(9, "nosuch", 3, "m"), commitCode, kerr.GroupIDNotFound.Code, ""},
		{"OffsetCommit v8 member of an unknown group", commit(8, "nosuch", 3, "m"), commitCode, kerr.IllegalGeneration.Code, ""},
		{"OffsetCommit v8 from a KIP-848 member", commit(8, "new", 1, "m848"), commitCode, kerr.UnsupportedVersion.Code, ""},
		{"OffsetCommit v9 from a KIP-848 member", commit(9, "new", 1, "m848"), commitCode, 0, ""},
		{"OffsetFetch empty group: the simple commit", &kmsg.OffsetFetchRequest{Version: 8, Groups: []kmsg.OffsetFetchRequestGroup{{Group: ""}}},
			func(r kmsg.Response) (int16, string) {
				g := r.(*kmsg.OffsetFetchResponse).Groups[0]
				if g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].Partitions[0].Offset != 3 {
					return g.ErrorCode, "not the committed offset"
				}
				return 0, ""
			}, 0, ""},
		// The simple commit above made a group "" (Empty), which Kafka
		// describes and deletes like any other.
		{"DescribeGroups v6 empty group ID: the simple group", &kmsg.DescribeGroupsRequest{Version: 6, Groups: []string{""}}, describeState("Empty"), 0, ""},
		{"DeleteGroups empty group ID: the simple group", &kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{""}}, deleteCode, 0, ""},
		{"DescribeGroups v5 empty group ID, deleted", &kmsg.DescribeGroupsRequest{Version: 5, Groups: []string{""}}, describeState("Dead"), 0, ""},
		{"DescribeGroups v6 empty group ID, deleted", &kmsg.DescribeGroupsRequest{Version: 6, Groups: []string{""}}, describeState("Dead"), kerr.GroupIDNotFound.Code, ""},
		{"DeleteGroups empty group ID, deleted", &kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{""}}, deleteCode, kerr.GroupIDNotFound.Code, ""},
		{"OffsetDelete empty group", &kmsg.OffsetDeleteRequest{Group: "", Topics: []kmsg.OffsetDeleteRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}},
			func(r kmsg.Response) (int16, string) { return r.(*kmsg.OffsetDeleteResponse).ErrorCode, "" }, kerr.InvalidGroupID.Code, ""},
		{"OffsetDelete unknown group", &kmsg.OffsetDeleteRequest{Group: "nosuch", Topics: []kmsg.OffsetDeleteRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}},
			func(r kmsg.Response) (int16, string) { return r.(*kmsg.OffsetDeleteResponse).ErrorCode, "" }, kerr.GroupIDNotFound.Code, ""},
		{"ConsumerGroupDescribe empty group", &kmsg.ConsumerGroupDescribeRequest{Version: 1, Groups: []string{""}},
			func(r kmsg.Response) (int16, string) {
				return r.(*kmsg.ConsumerGroupDescribeResponse).Groups[0].ErrorCode, ""
			}, kerr.InvalidGroupID.Code, ""},
		{"ConsumerGroupDescribe unknown group", &kmsg.ConsumerGroupDescribeRequest{Version: 1, Groups: []string{"nosuch"}},
			func(r kmsg.Response) (int16, string) {
				return r.(*kmsg.ConsumerGroupDescribeResponse).Groups[0].ErrorCode, ""
			}, kerr.GroupIDNotFound.Code, ""},
		{"ConsumerGroupHeartbeat member ID before group ID", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group, r.MemberID = "", "" }),
			heartbeat848Code, kerr.InvalidRequest.Code, "MemberId can't be empty."},
		{"ConsumerGroupHeartbeat empty group", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group, r.MemberEpoch = "", -3 }),
			heartbeat848Code, kerr.InvalidRequest.Code, "GroupId can't be empty."},
		{"ConsumerGroupHeartbeat empty instance ID", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = str("") }),
			heartbeat848Code, kerr.InvalidRequest.Code, "InstanceId can't be empty."},
		{"ConsumerGroupHeartbeat empty rack ID", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RackID = str("") }),
			heartbeat848Code, kerr.InvalidRequest.Code, "RackId can't be empty."},
		{"ConsumerGroupHeartbeat join without rebalance timeout", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RebalanceTimeoutMillis = -1 }),
			heartbeat848Code, kerr.InvalidRequest.Code, "RebalanceTimeoutMs must be provided in first request."},
		{"ConsumerGroupHeartbeat join without subscription", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }),
			heartbeat848Code, kerr.InvalidRequest.Code, "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining."},
		{"ConsumerGroupHeartbeat bad epoch", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }),
			heartbeat848Code, kerr.InvalidRequest.Code, "MemberEpoch is invalid."},
		{"ConsumerGroupHeartbeat unsupported assignor", heartbeat848(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = str("sticky") }),
			heartbeat848Code, kerr.UnsupportedAssignor.Code, "ServerAssignor sticky is not supported. Supported assignors: uniform, range."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := send(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			code, msg := tc.code(resp)
			if code != tc.want || (tc.msg != "" && msg != tc.msg) || (tc.msg == "" && msg != "") {
				t.Fatalf("code %s (%q), want %s (%q)", kerr.ErrorForCode(code), msg, kerr.ErrorForCode(tc.want), tc.msg)
			}
		})
	}
}
