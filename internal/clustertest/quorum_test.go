package clustertest

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// controllerAddrs are the controller listeners of a Cluster's voters,
// from controller.quorum.voters (id@host:port,...).
func controllerAddrs(t *testing.T, c *Cluster) map[int32]string {
	out := map[int32]string{}
	for _, v := range strings.Split(c.Node(0).Static()["controller.quorum.voters"], ",") {
		id, addr, _ := strings.Cut(v, "@")
		n, err := strconv.Atoi(id)
		if err != nil {
			t.Fatal(err)
		}
		out[int32(n)] = addr
	}
	return out
}

func describeQuorum(t *testing.T, cl *kgo.Client, version int16) *kmsg.DescribeQuorumResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = version
	topic := kmsg.NewDescribeQuorumRequestTopic()
	topic.Topic = "__cluster_metadata"
	topic.Partitions = append(topic.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(ctxT(t, 20*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func replicaIDs(rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) []int32 {
	out := []int32{}
	for _, r := range rs {
		out = append(out, r.ReplicaID)
	}
	return out
}

// waitDescribe sends DescribeQuorum until ok holds of its one partition.
func waitDescribe(t *testing.T, cl *kgo.Client, what string, ok func(p kmsg.DescribeQuorumResponseTopicPartition) bool) kmsg.DescribeQuorumResponseTopicPartition {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp := describeQuorum(t, cl, 2)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode == 0 && ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeQuorum never %s: %+v", what, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func addVoter(t *testing.T, cl *kgo.Client, cluster string, id int32, listener, addr string) *kmsg.AddRaftVoterResponse {
	t.Helper()
	req := kmsg.NewPtrAddRaftVoterRequest()
	req.ClusterID, req.VoterID = &cluster, id
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	l := kmsg.NewAddRaftVoterRequestListener()
	l.Name, l.Host, l.Port = listener, host, uint16(n)
	req.Listeners = append(req.Listeners, l)
	resp, err := req.RequestWith(ctxT(t, 20*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func removeVoter(t *testing.T, cl *kgo.Client, cluster string, id int32) *kmsg.RemoveRaftVoterResponse {
	t.Helper()
	req := kmsg.NewPtrRemoveRaftVoterRequest()
	req.ClusterID, req.VoterID = &cluster, id
	resp, err := req.RequestWith(ctxT(t, 20*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if (want == nil && got != 0) || (want != nil && got != want.Code) {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// TestQuorumMembership drives the quorum APIs through Kafka requests on a
// three-node cluster: DescribeQuorum (v0 and v2, on any broker) lists the
// voters, their controller listeners and an observer — a fourth node
// started with process.roles=broker,controller and
// controller.quorum.bootstrap.servers; AddRaftVoter makes it a voter (with
// Kafka's error codes for a wrong cluster ID, listener, unknown node and a
// repeat), the four-voter quorum creates a topic with one voter stopped,
// and RemoveRaftVoter takes one out (VOTER_NOT_FOUND for a stranger).
func TestQuorumMembership(t *testing.T) {
	c := Start(t, Options{Nodes: 3})
	voters := controllerAddrs(t, c)
	n4, controller4 := c.StartObserverController(4)
	cl := c.Client()
	meta, err := c.Admin().BrokerMetadata(ctxT(t, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}

	p := waitDescribe(t, cl, "with every replica caught up", func(p kmsg.DescribeQuorumResponseTopicPartition) bool {
		for _, r := range append(slices.Clone(p.CurrentVoters), p.Observers...) {
			if r.LogEndOffset != p.HighWatermark || r.LastCaughtUpTimestamp < 0 {
				return false
			}
		}
		return len(p.Observers) == 1
	})
	if !slices.Equal(replicaIDs(p.CurrentVoters), []int32{1, 2, 3}) || !slices.Equal(replicaIDs(p.Observers), []int32{4}) {
		t.Fatalf("voters %v observers %v", replicaIDs(p.CurrentVoters), replicaIDs(p.Observers))
	}
	if p.LeaderID != meta.Controller || p.LeaderEpoch < 1 || p.HighWatermark < 1 {
		t.Fatalf("leader %d epoch %d hw %d; Metadata's controller %d", p.LeaderID, p.LeaderEpoch, p.HighWatermark, meta.Controller)
	}
	// Every broker gives the leader's answer (forwarded), v2 with the
	// voters' controller listeners.
	for i, n := range append(c.Nodes(), n4) {
		resp := describeQuorum(t, n.Client(kgo.SeedBrokers(n.Addr())), 2)
		got := resp.Topics[0].Partitions[0]
		if got.ErrorCode != 0 || got.LeaderID != p.LeaderID || got.LeaderEpoch != p.LeaderEpoch {
			t.Fatalf("node %d: %+v", i+1, got)
		}
		if len(resp.Nodes) != 3 {
			t.Fatalf("node %d: nodes %+v", i+1, resp.Nodes)
		}
		for _, node := range resp.Nodes {
			l := node.Listeners[0]
			if l.Name != "CONTROLLER" || net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))) != voters[node.NodeID] {
				t.Fatalf("node %d's listener %+v, configured %s", node.NodeID, l, voters[node.NodeID])
			}
		}
	}
	if v0 := describeQuorum(t, cl, 0).Topics[0].Partitions[0]; v0.ErrorCode != 0 || len(v0.CurrentVoters) != 3 {
		t.Fatalf("v0: %+v", v0)
	}
	bad := kmsg.NewPtrDescribeQuorumRequest()
	bt := kmsg.NewDescribeQuorumRequestTopic()
	bt.Topic = "__cluster_metadata"
	bp := kmsg.NewDescribeQuorumRequestTopicPartition()
	bp.Partition = 1
	bt.Partitions = append(bt.Partitions, bp)
	bad.Topics = append(bad.Topics, bt)
	badResp, err := bad.RequestWith(ctxT(t, 20*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "DescribeQuorum of partition 1", badResp.Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)

	wantCode(t, "AddRaftVoter with another cluster ID", addVoter(t, cl, "other", 4, "CONTROLLER", controller4).ErrorCode, kerr.InconsistentClusterID)
	wantCode(t, "AddRaftVoter without the controller listener", addVoter(t, cl, meta.Cluster, 4, "PLAINTEXT", controller4).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "AddRaftVoter of a node not receiving the log", addVoter(t, cl, meta.Cluster, 9, "CONTROLLER", "127.0.0.1:1").ErrorCode, kerr.RequestTimedOut)
	wantCode(t, "AddRaftVoter of a voter", addVoter(t, cl, meta.Cluster, 2, "CONTROLLER", voters[2]).ErrorCode, kerr.DuplicateVoter)
	wantCode(t, "AddRaftVoter of node 4", addVoter(t, cl, meta.Cluster, 4, "CONTROLLER", controller4).ErrorCode, nil)
	wantCode(t, "AddRaftVoter of node 4 again", addVoter(t, cl, meta.Cluster, 4, "CONTROLLER", controller4).ErrorCode, kerr.DuplicateVoter)
	p = waitDescribe(t, cl, "with four voters", func(p kmsg.DescribeQuorumResponseTopicPartition) bool { return len(p.CurrentVoters) == 4 })
	if !slices.Equal(replicaIDs(p.CurrentVoters), []int32{1, 2, 3, 4}) || len(p.Observers) != 0 {
		t.Fatalf("voters %v observers %v", replicaIDs(p.CurrentVoters), replicaIDs(p.Observers))
	}

	// One voter of four down: the other three make a majority.
	stopped := 2
	if p.LeaderID == 3 {
		stopped = 1
	}
	if err := c.Node(stopped).Stop(); err != nil {
		t.Fatal(err)
	}
	live := c.Node((stopped + 1) % 3).Client()
	if resp, err := kmsgCreateTopic(t, live, "four-voters-one-down"); err != nil || resp != 0 {
		t.Fatalf("create topic with voter %d of 4 stopped: %v %v", stopped+1, kerr.ErrorForCode(resp), err)
	}

	wantCode(t, "RemoveRaftVoter of a stranger", removeVoter(t, live, meta.Cluster, 9).ErrorCode, kerr.VoterNotFound)
	wantCode(t, "RemoveRaftVoter of the stopped voter", removeVoter(t, live, meta.Cluster, int32(stopped+1)).ErrorCode, nil)
	p = waitDescribe(t, live, "with three voters", func(p kmsg.DescribeQuorumResponseTopicPartition) bool { return len(p.CurrentVoters) == 3 })
	if slices.Contains(replicaIDs(p.CurrentVoters), int32(stopped+1)) || !slices.Contains(replicaIDs(p.Observers), int32(stopped+1)) {
		t.Fatalf("voters %v observers %v", replicaIDs(p.CurrentVoters), replicaIDs(p.Observers))
	}

	// The removed node, restarted with its old controller.quorum.voters,
	// missed its removal: it starts, and the leader's log demotes it (it
	// answers as an observer); the next restart, knowing, is refused.
	n := c.Node(stopped)
	if err := n.Restart(); err != nil {
		t.Fatalf("restart of the removed voter: %v", err)
	}
	waitDescribe(t, live, "hearing from the restarted observer", func(p kmsg.DescribeQuorumResponseTopicPartition) bool {
		for _, o := range p.Observers {
			if o.ReplicaID == int32(stopped+1) && o.LogEndOffset == p.HighWatermark {
				return len(p.CurrentVoters) == 3
			}
		}
		return false
	})
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	err = n.Restart()
	if err == nil || !strings.Contains(err.Error(), "was removed from the voters") || !strings.Contains(err.Error(), "controller.quorum.bootstrap.servers") {
		t.Fatalf("second restart of the removed voter: %v", err)
	}
}

// kmsgCreateTopic creates a topic of one partition and one replica and
// returns its error code.
func kmsgCreateTopic(t *testing.T, cl *kgo.Client, name string) (int16, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 15000
	resp, err := req.RequestWith(ctxT(t, 30*time.Second), cl)
	if err != nil {
		return 0, err
	}
	return resp.Topics[0].ErrorCode, nil
}
