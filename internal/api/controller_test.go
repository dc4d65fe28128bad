package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/quorum"
)

// standby is a Controller on a broker that is not the active controller
// and cannot forward: it has an image and answers every change with
// NOT_CONTROLLER, as quorum.Controller does without a Forwarder.
type standby struct {
	img    *metadata.Image
	active int32
}

func (s standby) Image() *metadata.Image  { return s.img }
func (s standby) ActiveController() int32 { return s.active }
func (s standby) err() error {
	return fmt.Errorf("quorum: node 1 is not the active controller (%d is): %w", s.active, kerr.NotController)
}

func (s standby) CreateTopic(context.Context, string, int32, int16, map[string]string) (*metadata.Topic, error) {
	return nil, s.err()
}
func (s standby) DeleteTopic(context.Context, metadata.TopicID) error   { return s.err() }
func (s standby) CreatePartitions(context.Context, string, int32) error { return s.err() }
func (s standby) CreateTopicAssigned(context.Context, string, [][]int32, map[string]string) (*metadata.Topic, error) {
	return nil, s.err()
}
func (s standby) CreatePartitionsAssigned(context.Context, string, [][]int32) error { return s.err() }
func (s standby) AlterPartitionReassignment(context.Context, string, int32, []int32) error {
	return s.err()
}
func (s standby) ElectLeader(context.Context, string, int32, bool) error { return s.err() }
func (s standby) AlterBrokerConfigs(context.Context, map[string]string, []string) error {
	return s.err()
}
func (s standby) AlterTopicConfigs(context.Context, string, map[string]string, []string) error {
	return s.err()
}
func (s standby) AlterScramCredentials(context.Context, metadata.AlterScramCredentials) error {
	return s.err()
}
func (s standby) AlterACLs(context.Context, metadata.AlterACLs) error { return s.err() }

func (s standby) notLeader() error {
	return fmt.Errorf("quorum: node 1 is not the leader of the metadata quorum: %w", kerr.NotLeaderForPartition)
}
func (s standby) DescribeQuorum(context.Context) (quorum.Description, error) {
	return quorum.Description{}, s.notLeader()
}
func (s standby) AddVoter(context.Context, int32, []quorum.Endpoint) error { return s.notLeader() }
func (s standby) RemoveVoter(context.Context, int32) error                 { return s.notLeader() }

// noPartitions is a broker with no local replicas; Sync must not be called
// when nothing changed.
type noPartitions struct{ t *testing.T }

func (noPartitions) Get(string, int32) *partition.Partition                         { return nil }
func (p noPartitions) Sync()                                                        { p.t.Error("Sync after a change that was refused") }
func (noPartitions) Offline(string, int32) error                                    { return nil }
func (noPartitions) CheckCapacity(int) error                                        { return nil }
func (noPartitions) AlterPartition(*partition.Partition, *partition.AlterPartition) {}

// TestNotController checks that the handlers that change metadata answer
// NOT_CONTROLLER for each resource when the controller is not here, and
// that Metadata and DescribeCluster name the active controller.
func TestNotController(t *testing.T) {
	img, _ := metadata.EmptyImage().Apply(1, metadata.RegisterBroker{Broker: metadata.Broker{ID: 1, Host: "h", Port: 1}})
	img, _ = img.Apply(2, metadata.UnfenceBroker{ID: 1, Epoch: 1})
	id := metadata.NewTopicID()
	img, res := img.Apply(3, metadata.CreateTopic{Name: "t", ID: id, Partitions: []metadata.Partition{{Leader: 2, Replicas: []int32{2}, ISR: []int32{2}}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	cfg, err := config.NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &Handlers{NodeID: 1, Controller: standby{img: img, active: 2}, Config: cfg, Partitions: noPartitions{t}}
	ctx := context.Background()
	want := kerr.NotController.Code

	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "new", 1, 1
	ct.Topics = append(ct.Topics, rt)
	if resp, _ := createTopics(h, ctx, ct); resp.Topics[0].ErrorCode != want {
		t.Errorf("CreateTopics: error %d, want NOT_CONTROLLER", resp.Topics[0].ErrorCode)
	}

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version = 6
	dtt := kmsg.NewDeleteTopicsRequestTopic()
	dtt.TopicID = id
	dt.Topics = append(dt.Topics, dtt)
	if resp, _ := deleteTopics(h, ctx, dt); resp.Topics[0].ErrorCode != want {
		t.Errorf("DeleteTopics: error %d, want NOT_CONTROLLER", resp.Topics[0].ErrorCode)
	}

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "t", 2
	cp.Topics = append(cp.Topics, cpt)
	if resp, _ := createPartitions(h, ctx, cp); resp.Topics[0].ErrorCode != want {
		t.Errorf("CreatePartitions: error %d, want NOT_CONTROLLER", resp.Topics[0].ErrorCode)
	}

	ia := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
		key  string
	}{{resourceTopic, "t", "retention.ms"}, {kmsg.ConfigResourceTypeBroker, "", "log.retention.ms"}} {
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = r.key, kmsg.StringPtr("1000")
		rr.Configs = append(rr.Configs, c)
		ia.Resources = append(ia.Resources, rr)
	}
	resp, _ := incrementalAlterConfigs(h, ctx, ia)
	for _, r := range resp.Resources {
		if r.ErrorCode != want {
			t.Errorf("IncrementalAlterConfigs %v %q: error %d, want NOT_CONTROLLER", r.ResourceType, r.ResourceName, r.ErrorCode)
		}
	}

	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	if resp, _ := metadataHandler(h, ctx, md); resp.ControllerID != 2 {
		t.Errorf("Metadata: controller %d, want the active controller 2", resp.ControllerID)
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.EndpointType = 1
	if resp, _ := describeCluster(h, ctx, dc); resp.ControllerID != 2 {
		t.Errorf("DescribeCluster: controller %d, want the active controller 2", resp.ControllerID)
	}
}
