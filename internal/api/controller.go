package api

import (
	"context"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/quorum"
)

// Controller is the metadata as handlers see it: the image this broker has
// applied, and the changes handlers ask of the active controller. Handlers
// never know whether this broker is the active controller: the
// implementation (quorum.Controller) proposes when it is and otherwise
// forwards (in a cluster, over the controller RPC) or answers kerr.NotController (which
// handlers put in the response like any other Kafka error).
//
// Errors are Kafka errors (*kerr.Error, or a *quorum.Error with Kafka's
// message) for the client, found with errors.As; anything else is a
// failure of the quorum itself.
type Controller interface {
	// Image returns the latest metadata image this broker has applied. It
	// never blocks.
	Image() *metadata.Image
	// ActiveController returns the node ID of the active controller, or
	// -1 while none is known.
	ActiveController() int32
	// CreateTopic creates a topic with a new topic ID and returns it;
	// partitions and replicationFactor are already resolved (no -1).
	CreateTopic(ctx context.Context, name string, partitions int32, replicationFactor int16, configs map[string]string) (*metadata.Topic, error)
	// CreateTopicAssigned creates a topic whose partition i has the
	// replicas assignment[i].
	CreateTopicAssigned(ctx context.Context, name string, assignment [][]int32, configs map[string]string) (*metadata.Topic, error)
	// DeleteTopic deletes the topic with the given ID.
	DeleteTopic(ctx context.Context, id metadata.TopicID) error
	// CreatePartitions grows topic name to totalCount partitions.
	CreatePartitions(ctx context.Context, name string, totalCount int32) error
	// CreatePartitionsAssigned adds one partition per replica list of
	// assignment to topic name.
	CreatePartitionsAssigned(ctx context.Context, name string, assignment [][]int32) error
	// AlterPartitionReassignment starts, replaces or (replicas nil)
	// cancels the reassignment of one partition.
	AlterPartitionReassignment(ctx context.Context, topic string, partition int32, replicas []int32) error
	// ElectLeader elects the preferred replica of one partition, or with
	// unclean any live replica when its leader is not live.
	ElectLeader(ctx context.Context, topic string, partition int32, unclean bool) error
	// AlterTopicConfigs sets, then deletes, dynamic configs of topic name.
	AlterTopicConfigs(ctx context.Context, name string, set map[string]string, del []string) error
	// AlterBrokerConfigs sets, then deletes, cluster-wide dynamic broker
	// configs.
	AlterBrokerConfigs(ctx context.Context, set map[string]string, del []string) error
	// AlterScramCredentials deletes, then upserts, SCRAM credentials.
	AlterScramCredentials(ctx context.Context, r metadata.AlterScramCredentials) error
	// AlterACLs deletes, then creates, ACLs.
	AlterACLs(ctx context.Context, r metadata.AlterACLs) error
	// DescribeQuorum describes the metadata quorum as its leader sees it.
	DescribeQuorum(ctx context.Context) (quorum.Description, error)
	// AddVoter makes node id, an observer of the metadata log, a voter at
	// its endpoint on the controller listener.
	AddVoter(ctx context.Context, id int32, endpoints []quorum.Endpoint) error
	// RemoveVoter takes node id out of the voters.
	RemoveVoter(ctx context.Context, id int32) error
}

var _ Controller = (*quorum.Controller)(nil)
