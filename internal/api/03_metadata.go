package api

// Metadata v0-v12. v0 treats an empty topic list as "all topics"; v1+ uses
// null for all. v4+ lets the client say whether unknown topics may be
// auto-created (v0-v3 always may). v10+ carries topic IDs, v12 allows
// looking topics up by ID alone. Cluster and topic authorized operations
// (v8-v10) are reported as not computed (-2147483648). The controller ID
// is the active controller's, the metadata quorum's Raft leader, or -1 while
// none is known, as in Kafka.

import (
	"context"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

const authorizedOperationsOmitted = -2147483648

func metadataHandler(h *Handlers, ctx context.Context, req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	img := h.image()
	resp.Brokers = brokers(img, client(ctx).listener)
	resp.ClusterID = &img.ClusterID
	resp.ControllerID = h.Controller.ActiveController()
	resp.AuthorizedOperations = authorizedOperationsOmitted

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		names := make([]string, 0, len(img.Topics))
		for name := range img.Topics {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			resp.Topics = append(resp.Topics, h.describeTopic(img.Topics[name]))
		}
		return resp, nil
	}

	autoCreate := req.Version < 4 || req.AllowAutoTopicCreation
	autoCreate = autoCreate && h.Config.Dynamic(img.BrokerConfigs).AutoCreateTopicsEnable
	created := false
	for _, rt := range req.Topics {
		var t *metadata.Topic
		switch {
		case rt.Topic != nil:
			t = img.Topics[*rt.Topic]
		case rt.TopicID != [16]byte{}:
			t = img.TopicsByID[metadata.TopicID(rt.TopicID)]
		}
		if t == nil && rt.Topic != nil && autoCreate {
			var err error
			t, err = h.autoCreate(ctx, *rt.Topic)
			if err != nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = errorCode(err)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			created = true
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, h.describeTopic(t))
	}
	if created {
		// Brokers may have been (re)registered meanwhile; report the latest.
		resp.Brokers = brokers(h.image(), client(ctx).listener)
	}
	return resp, nil
}

// autoCreate creates a topic with the broker defaults, as Kafka does when
// auto.create.topics.enable is on. A concurrent creation of the same topic
// is not an error.
func (h *Handlers) autoCreate(ctx context.Context, name string) (*metadata.Topic, error) {
	dyn := h.image().BrokerConfigs
	d := h.Config.Dynamic(dyn)
	partitions, rf := d.NumPartitions, d.DefaultReplicationFactor
	t, err := h.Controller.CreateTopic(ctx, name, partitions, rf, nil)
	if err != nil {
		if errorCode(err) == kerr.TopicAlreadyExists.Code {
			if t := h.image().Topics[name]; t != nil {
				return t, nil
			}
		}
		return nil, err
	}
	h.Partitions.Sync()
	return t, nil
}

// brokers lists the unfenced brokers with their address on listener, as
// Kafka's Metadata does; a broker without that listener is left out.
func brokers(img *metadata.Image, listener string) []kmsg.MetadataResponseBroker {
	live := img.LiveBrokers()
	out := make([]kmsg.MetadataResponseBroker, 0, len(live))
	for _, b := range live {
		e, ok := b.Endpoint(listener)
		if !ok {
			continue
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = b.ID, e.Host, e.Port
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		out = append(out, mb)
	}
	return out
}

func (h *Handlers) describeTopic(t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(t.Name)
	mt.AuthorizedOperations = authorizedOperationsOmitted
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Partition
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.ErrorCode, mp.OfflineReplicas = h.partitionHealth(t, p)
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// partitionHealth is a partition's error code and offline replicas as
// Metadata and DescribeTopicPartitions answer them: the offline replicas
// are those their brokers reported (metadata's OfflineReplicas), and this
// broker's if it has not yet; LEADER_NOT_AVAILABLE while the partition
// has no leader (as Kafka's metadata cache answers a leader it has no
// endpoint for), while the leader's replica is offline, or is this
// broker's and not open.
func (h *Handlers) partitionHealth(t *metadata.Topic, p metadata.Partition) (code int16, offline []int32) {
	offline = append([]int32{}, p.Offline...)
	local := h.Partitions.Get(t.Name, p.Partition) == nil && slices.Contains(p.Replicas, h.NodeID)
	if local && h.Partitions.Offline(t.Name, p.Partition) != nil && !slices.Contains(offline, h.NodeID) {
		offline = append(offline, h.NodeID)
		slices.Sort(offline)
	}
	if p.Leader < 0 || p.Leader == h.NodeID && local || slices.Contains(offline, p.Leader) {
		code = kerr.LeaderNotAvailable.Code
	}
	return code, offline
}

func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}
