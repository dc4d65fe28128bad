package api

// ConsumerGroupHeartbeat v0-v1 (KIP-848). The coordinator assigns with
// its server-side assignors (uniform, the default, and range) and
// reconciles each member towards its target through these heartbeats.
// v0 members get their ID from the broker; v1 members (KIP-1082) bring
// their own and may subscribe by regular expression (Go's RE2 syntax,
// which matches Kafka's for the usual patterns, matched against whole
// topic names). Subscriptions resolve against every topic, internal ones
// like __consumer_offsets included, as in Kafka. Joining (epoch 0) requires a
// rebalance timeout, a subscription and an empty owned-partitions list, as
// Kafka does. A static member leaving for now (epoch -2) is found by its
// member ID: franz-go does not repeat its instance ID there.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

func consumerGroupHeartbeat(h *Handlers, ctx context.Context, req *kmsg.ConsumerGroupHeartbeatRequest) (*kmsg.ConsumerGroupHeartbeatResponse, error) {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	invalid := func(msg string) (*kmsg.ConsumerGroupHeartbeatResponse, error) {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, &msg
		return resp, nil
	}
	// Kafka's checks in Kafka's order (GroupCoordinatorService's
	// throwIfConsumerGroupHeartbeatRequestIsInvalid), before it looks for
	// the group's coordinator. One exception: a static member leaving
	// (-2) need not repeat its instance ID, which franz-go leaves out.
	empty := func(s *string) bool { return s != nil && *s == "" }
	switch {
	case req.MemberID == "" && (req.Version >= 1 || req.MemberEpoch > 0 || req.MemberEpoch == -1):
		return invalid("MemberId can't be empty.")
	case req.Group == "":
		return invalid("GroupId can't be empty.")
	case empty(req.InstanceID):
		return invalid("InstanceId can't be empty.")
	case empty(req.RackID):
		return invalid("RackId can't be empty.")
	case req.MemberEpoch == 0 && req.RebalanceTimeoutMillis == -1:
		return invalid("RebalanceTimeoutMs must be provided in first request.")
	case req.MemberEpoch == 0 && (req.Topics == nil || len(req.Topics) > 0):
		return invalid("TopicPartitions must be empty when (re-)joining.")
	case req.MemberEpoch == 0 && req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
		return invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
	case req.MemberEpoch < -2:
		return invalid("MemberEpoch is invalid.")
	}
	topics := h.groupTopics()
	cl := client(ctx)
	hb := group.ConsumerHeartbeat{
		Group: req.Group, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch,
		InstanceID: req.InstanceID, RackID: req.RackID,
		RebalanceTimeout: time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		SubscribedTopics: req.SubscribedTopicNames, SubscribedRegex: req.SubscribedTopicRegex,
		ServerAssignor: req.ServerAssignor, ClientID: cl.id, ClientHost: cl.host,
		Topics: topics.byName, TopicsVersion: topics.version,
	}
	if req.RebalanceTimeoutMillis < 0 {
		hb.RebalanceTimeout = -1
	}
	if req.Topics != nil {
		hb.Owned = make(map[[16]byte][]int32, len(req.Topics))
		for _, t := range req.Topics {
			hb.Owned[t.TopicID] = append(hb.Owned[t.TopicID], t.Partitions...)
		}
	}
	r := h.Groups.ConsumerGroupHeartbeat(hb)
	resp.ErrorCode = r.Err
	if r.ErrMessage != "" {
		resp.ErrorMessage = &r.ErrMessage
	}
	if r.Err != 0 {
		return resp, nil
	}
	resp.MemberID = &r.MemberID
	resp.MemberEpoch = r.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(r.HeartbeatInterval.Milliseconds())
	if r.Assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		for id, ps := range r.Assignment {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID, t.Partitions = id, ps
			a.Topics = append(a.Topics, t)
		}
		if a.Topics == nil {
			a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
		}
		resp.Assignment = &a
	}
	return resp, nil
}

// groupTopics are the cluster's topics as KIP-848 assignors see them,
// built once per metadata image rather than on every heartbeat; the
// version changes with the image. Nothing may modify the map.
type groupTopics struct {
	img     *metadata.Image
	version uint64
	byName  map[string]group.TopicInfo
}

func (h *Handlers) groupTopics() *groupTopics {
	img := h.image()
	if t := h.topics.Load(); t != nil && t.img == img {
		return t
	}
	t := &groupTopics{img: img, version: h.topicsVersion.Add(1), byName: make(map[string]group.TopicInfo, len(img.Topics))}
	// Every topic, internal ones included: Kafka resolves subscriptions,
	// by name and by regular expression, against the whole metadata image
	// (filtered only by DESCRIBE authorization).
	for name, topic := range img.Topics {
		t.byName[name] = group.TopicInfo{Name: name, ID: topic.ID, Partitions: int32(len(topic.Partitions))}
	}
	h.topics.Store(t)
	return t
}
