package broker

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// moved returns a copy of img, at an index past anything the quorum will
// commit in the test, in which change has rewritten partition index of
// topic name. A single node's log has no record that moves leadership yet
// (that is the controller's work in a cluster), so the test hands such an
// image to the replica manager as the metadata log would.
func moved(img *metadata.Image, bump uint64, name string, index int32, change func(*metadata.Partition)) *metadata.Image {
	next := *img
	next.Index = img.Index + bump
	next.Topics = make(map[string]*metadata.Topic, len(img.Topics))
	next.TopicsByID = make(map[metadata.TopicID]*metadata.Topic, len(img.TopicsByID))
	for n, t := range img.Topics {
		if n == name {
			c := *t
			c.Partitions = slices.Clone(t.Partitions)
			p := c.Partitions[index]
			p.Replicas, p.ISR = slices.Clone(p.Replicas), slices.Clone(p.ISR)
			change(&p)
			c.Partitions[index] = p
			t = &c
		}
		next.Topics[n] = t
		next.TopicsByID[t.ID] = t
	}
	return &next
}

// followerAnswers sends a consumer's and an admin's requests for t[0] to
// raw and returns each partition's error code, by API.
func followerAnswers(ctx context.Context, t *testing.T, raw *kgo.Broker, id metadata.TopicID) map[string]int16 {
	t.Helper()
	send := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := raw.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	out := map[string]int16{}

	lo := kmsg.NewPtrListOffsetsRequest()
	lot := kmsg.NewListOffsetsRequestTopic()
	lot.Topic = "t"
	lop := kmsg.NewListOffsetsRequestTopicPartition()
	lop.Timestamp = -1
	lot.Partitions = append(lot.Partitions, lop)
	lo.Topics = append(lo.Topics, lot)
	out["ListOffsets"] = send(lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode

	dr := kmsg.NewPtrDeleteRecordsRequest()
	drt := kmsg.NewDeleteRecordsRequestTopic()
	drt.Topic = "t"
	drp := kmsg.NewDeleteRecordsRequestTopicPartition()
	drp.Offset = 1
	drt.Partitions = append(drt.Partitions, drp)
	dr.Topics = append(dr.Topics, drt)
	dr.TimeoutMillis = 5000
	out["DeleteRecords"] = send(dr).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0].ErrorCode

	oe := kmsg.NewPtrOffsetForLeaderEpochRequest()
	oe.ReplicaID = -1
	oet := kmsg.NewOffsetForLeaderEpochRequestTopic()
	oet.Topic = "t"
	oep := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	oep.CurrentLeaderEpoch, oep.LeaderEpoch = -1, 0
	oet.Partitions = append(oet.Partitions, oep)
	oe.Topics = append(oe.Topics, oet)
	out["OffsetForLeaderEpoch"] = send(oe).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0].ErrorCode

	dp := kmsg.NewPtrDescribeProducersRequest()
	dpt := kmsg.NewDescribeProducersRequestTopic()
	dpt.Topic, dpt.Partitions = "t", []int32{0}
	dp.Topics = append(dp.Topics, dpt)
	out["DescribeProducers"] = send(dp).(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0].ErrorCode

	f := kmsg.NewPtrFetchRequest()
	f.ReplicaID, f.MaxWaitMillis, f.MaxBytes = -1, 0, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "t", id // by name up to v12, by ID from v13
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.CurrentLeaderEpoch, fp.PartitionMaxBytes = -1, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	out["Fetch"] = send(f).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode
	return out
}

// TestLeadershipMovesAway drives the replica manager and the coordinator
// with metadata in which this broker loses, then regains, leadership of a
// partition and of the __consumer_offsets partition of a group, then loses
// the replica: a partition led elsewhere stays open as a follower of the
// new epoch and answers produces, consumers' fetches and list offsets, and
// admins' delete records and describe producers with
// NOT_LEADER_OR_FOLLOWER, a lost
// __consumer_offsets partition unloads its groups (NOT_COORDINATOR),
// regained leadership makes the same replica leader of the next epoch,
// accepting produces on the data kept, and reloads the group with its
// offsets, and a replica moved away is closed and its data deleted.
func TestLeadershipMovesAway(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(Config{DataDir: dir, Listen: "127.0.0.1:0", Static: map[string]string{"offsets.topic.num.partitions": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RetryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	offsets := kadm.Offsets{}
	offsets.AddOffset("t", 0, 7, -1)
	if resp, err := adm.CommitOffsets(ctx, "g", offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	raw := cl.Broker(1)
	produce := func() int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []batch.Record{{Value: []byte("v")}})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := raw.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	fetchOffset := func() (int64, int16) {
		t.Helper()
		req := kmsg.NewPtrOffsetFetchRequest() // v8+ (what kgo sends): groups in a list
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = "g"
		req.Groups = append(req.Groups, rg)
		resp, err := raw.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		g := resp.(*kmsg.OffsetFetchResponse).Groups[0]
		if g.ErrorCode != 0 || len(g.Topics) == 0 {
			return -1, g.ErrorCode
		}
		return g.Topics[0].Partitions[0].Offset, g.ErrorCode
	}
	if code := produce(); code != 0 {
		t.Fatalf("produce as leader: %v", kerr.ErrorForCode(code))
	}
	if o, code := fetchOffset(); code != 0 || o != 7 {
		t.Fatalf("offset fetch as coordinator: %d %v", o, kerr.ErrorForCode(code))
	}

	img := b.controller.Image()
	gp := group.PartitionFor("g", 4)
	away := func(p *metadata.Partition) {
		p.Leader, p.LeaderEpoch, p.PartitionEpoch = 2, p.LeaderEpoch+1, p.PartitionEpoch+1
		p.Replicas, p.ISR = []int32{1, 2}, []int32{1, 2}
	}
	next := moved(moved(img, 1000, "t", 0, away), 1, api.OffsetsTopic, gp, away)
	b.partitions.follow(next, b.followGroups)
	p := b.partitions.Get("t", 0)
	if p == nil {
		t.Fatal("the replica was closed; a follower keeps its replica open")
	}
	if role := p.Role(); role != partition.RoleFollower || p.LeaderEpoch() != next.Topics["t"].Partitions[0].LeaderEpoch {
		t.Fatalf("role %v epoch %d, want follower of epoch %d", role, p.LeaderEpoch(), next.Topics["t"].Partitions[0].LeaderEpoch)
	}
	if code := produce(); code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("produce after leadership moved away: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(code))
	}
	for api, code := range followerAnswers(ctx, t, raw, img.Topics["t"].ID) {
		if code != kerr.NotLeaderForPartition.Code {
			t.Errorf("%s on a follower: %v, want NOT_LEADER_OR_FOLLOWER", api, kerr.ErrorForCode(code))
		}
	}
	if _, code := fetchOffset(); code != kerr.NotCoordinator.Code {
		t.Fatalf("offset fetch after losing __consumer_offsets-%d: %v, want NOT_COORDINATOR", gp, kerr.ErrorForCode(code))
	}

	// Node 2 does not exist: the ISR the leadership comes back with is
	// this node alone (as the controller would have shrunk it), so acks=all
	// is answered once the append is on this node.
	back := func(p *metadata.Partition) {
		p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.ISR = 1, p.LeaderEpoch+1, p.PartitionEpoch+1, []int32{1}
	}
	next = moved(moved(next, 1, "t", 0, back), 1, api.OffsetsTopic, gp, back)
	b.partitions.follow(next, b.followGroups)
	if b.partitions.Get("t", 0) != p || p.Role() != partition.RoleLeader || p.LeaderEpoch() != next.Topics["t"].Partitions[0].LeaderEpoch || p.LogEndOffset() != 1 {
		t.Fatalf("after leadership came back: role %v epoch %d end %d (want the same replica leading epoch %d, its record kept)",
			p.Role(), p.LeaderEpoch(), p.LogEndOffset(), next.Topics["t"].Partitions[0].LeaderEpoch)
	}
	if code := produce(); code != 0 {
		t.Fatalf("produce after leadership came back: %v", kerr.ErrorForCode(code))
	}
	if o, code := fetchOffset(); code != 0 || o != 7 {
		t.Fatalf("offset fetch after regaining the coordinator: %d %v", o, kerr.ErrorForCode(code))
	}

	gone := func(p *metadata.Partition) {
		p.Leader, p.LeaderEpoch, p.PartitionEpoch = 2, p.LeaderEpoch+1, p.PartitionEpoch+1
		p.Replicas, p.ISR = []int32{2}, []int32{2}
	}
	b.partitions.follow(moved(next, 1, "t", 0, gone), b.followGroups)
	if b.partitions.Get("t", 0) != nil {
		t.Fatal("a replica moved away is still open")
	}
	if _, err := os.Stat(filepath.Join(dir, "t-0")); !os.IsNotExist(err) {
		t.Fatalf("the data of a replica moved away is still there: %v", err)
	}
	// The topic is still in the metadata: Kafka's answer for a partition
	// not hosted here (ReplicaManager.getPartitionOrError).
	if code := produce(); code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("produce to a replica moved away: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(code))
	}
}
