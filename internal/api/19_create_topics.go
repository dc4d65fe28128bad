package api

// CreateTopics v0-v7. v0 has no validate_only and no error messages in
// its response (v1 adds both). NumPartitions and ReplicationFactor of -1 (v4+) take
// the broker's num.partitions and default.replication.factor. Every config
// is validated before anything is created (INVALID_CONFIG says which and
// why). ValidateOnly runs every check and creates nothing. v5+ returns the
// topic's partitions, replication factor and configs; v7+ its ID. A
// manual replica assignment (Assignments) is checked as Kafka's controller
// does: NumPartitions and ReplicationFactor must be -1 (INVALID_REQUEST),
// the partitions numbered 0, 1, ... once each, each list valid
// (INVALID_REPLICA_ASSIGNMENT with Kafka's messages; quorum.CheckAssignment).
// As in Kafka's controller, a request whose topics (names
// not repeated) would create more than quorum.MaxPartitionsPerRequest
// partitions in total is refused whole: every such topic gets
// POLICY_VIOLATION "Excessively large number of partitions per request."
// So is one whose partitions would not fit the broker's file-descriptor
// limit (Partitions.CheckCapacity): refused, not half created.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/quorum"
)

func createTopics(h *Handlers, ctx context.Context, req *kmsg.CreateTopicsRequest) (*kmsg.CreateTopicsResponse, error) {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := make(map[string]int)
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	img := h.image()
	total := totalPartitions(req, seen, h.Config.Dynamic(img.BrokerConfigs).NumPartitions)
	tooMany := total > quorum.MaxPartitionsPerRequest
	var capacityErr error
	if !tooMany {
		capacityErr = h.Partitions.CheckCapacity(int(total))
	}
	created := false
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(code int16, format string, args ...any) {
			st.ErrorCode = code
			if format != "" {
				msg := fmt.Sprintf(format, args...)
				st.ErrorMessage = &msg
			}
		}
		partitions, rf := rt.NumPartitions, rt.ReplicationFactor
		if partitions == -1 {
			partitions = h.Config.Dynamic(img.BrokerConfigs).NumPartitions
		}
		if rf == -1 {
			rf = h.Config.Dynamic(img.BrokerConfigs).DefaultReplicationFactor
		}
		configs := make(map[string]string)
		var configErr error
		for _, c := range rt.Configs {
			if c.Value == nil {
				continue
			}
			if err := config.ValidateTopic(c.Name, *c.Value); err != nil && configErr == nil {
				configErr = err
			}
			configs[c.Name] = *c.Value
		}
		switch {
		case seen[rt.Topic] > 1:
			fail(kerr.InvalidRequest.Code, "topic %q appears more than once in the request", rt.Topic)
		case tooMany:
			fail(kerr.PolicyViolation.Code, "%s", quorum.TooManyPartitionsMessage)
		case capacityErr != nil:
			fail(errorCode(capacityErr), "%v", capacityErr)
		case configErr != nil:
			fail(kerr.InvalidConfig.Code, "%v", configErr)
		case len(rt.ReplicaAssignment) > 0:
			assignment, err := manualAssignment(rt)
			if err == nil {
				partitions, rf = int32(len(assignment)), int16(len(assignment[0]))
				if req.ValidateOnly {
					err = validateAssignedTopic(img, rt.Topic, assignment)
				} else {
					var t *metadata.Topic
					if t, err = h.Controller.CreateTopicAssigned(ctx, rt.Topic, assignment, configs); err == nil {
						created, st.TopicID = true, t.ID
					}
				}
			}
			if err != nil {
				fail(errorCode(err), "%v", err)
			}
		case req.ValidateOnly:
			if err := validateNewTopic(img, rt.Topic, partitions, rf); err != nil {
				fail(errorCode(err), "%v", err)
			}
		default:
			t, err := h.Controller.CreateTopic(ctx, rt.Topic, partitions, rf, configs)
			if err != nil {
				fail(errorCode(err), "%v", err)
				break
			}
			created = true
			st.TopicID = t.ID
		}
		if st.ErrorCode == 0 {
			st.NumPartitions, st.ReplicationFactor = partitions, rf
			for _, e := range h.Config.DescribeTopic(configs, img.BrokerConfigs, nil, false, false) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name = e.Name
				if !e.Null {
					v := e.Value
					c.Value = &v
				}
				c.ReadOnly, c.Source, c.IsSensitive = e.ReadOnly, int8(e.Source), e.Sensitive
				st.Configs = append(st.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if created {
		h.Partitions.Sync()
	}
	return resp, nil
}

// totalPartitions is what req asks to create, counted as Kafka's controller
// does (validateTotalNumberOfPartitions): -1 is the default count, a manual
// assignment counts its partitions, other counts below 1 count nothing.
// Names given more than once are refused on their own and not counted.
func totalPartitions(req *kmsg.CreateTopicsRequest, seen map[string]int, defaultPartitions int32) int64 {
	var total int64
	for _, rt := range req.Topics {
		switch {
		case seen[rt.Topic] > 1:
		case len(rt.ReplicaAssignment) > 0:
			total += int64(len(rt.ReplicaAssignment))
		case rt.NumPartitions == -1:
			total += int64(defaultPartitions)
		case rt.NumPartitions > 0:
			total += int64(rt.NumPartitions)
		}
	}
	return total
}

// manualAssignment returns the replica lists of rt's manual assignment by
// partition, after Kafka's checks of the request (ReplicationControlManager.createTopic).
func manualAssignment(rt kmsg.CreateTopicsRequestTopic) ([][]int32, error) {
	if rt.ReplicationFactor != -1 {
		return nil, fmt.Errorf("%w: A manual partition assignment was specified, but replication factor was not set to -1.", kerr.InvalidRequest)
	}
	if rt.NumPartitions != -1 {
		return nil, fmt.Errorf("%w: A manual partition assignment was specified, but numPartitions was not set to -1.", kerr.InvalidRequest)
	}
	assignment := make([][]int32, len(rt.ReplicaAssignment))
	for _, a := range rt.ReplicaAssignment {
		i := a.Partition
		if i < 0 || int(i) >= len(assignment) {
			return nil, fmt.Errorf("%w: partitions should be a consecutive 0-based integer sequence", kerr.InvalidReplicaAssignment)
		}
		if assignment[i] != nil {
			return nil, fmt.Errorf("%w: Found multiple manual partition assignments for partition %d", kerr.InvalidReplicaAssignment, i)
		}
		assignment[i] = append([]int32{}, a.Replicas...)
	}
	return assignment, nil
}

// validateAssignedTopic is validateNewTopic for a manual assignment.
func validateAssignedTopic(img *metadata.Image, name string, assignment [][]int32) error {
	if err := metadata.ValidateTopicName(name); err != nil {
		return err
	}
	if img.Topics[name] != nil {
		return kerr.TopicAlreadyExists
	}
	return quorum.CheckAssignment(img, 0, assignment, 0)
}

// validateNewTopic runs the controller's checks without proposing anything.
func validateNewTopic(img *metadata.Image, name string, partitions int32, rf int16) error {
	if err := metadata.ValidateTopicName(name); err != nil {
		return err
	}
	if img.Topics[name] != nil {
		return kerr.TopicAlreadyExists
	}
	if partitions <= 0 {
		return fmt.Errorf("%w: number of partitions must be larger than 0", kerr.InvalidPartitions)
	}
	if partitions > quorum.MaxPartitionsPerRequest {
		return quorum.ErrTooManyPartitions
	}
	if live := len(img.LiveBrokers()); rf <= 0 || int(rf) > live {
		return fmt.Errorf("%w: replication factor %d with %d brokers", kerr.InvalidReplicationFactor, rf, live)
	}
	return nil
}
