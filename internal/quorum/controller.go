package quorum

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// maxRecordBytes bounds one encoded metadata record. raft-wal reads back
// entries up to segment.MaxEntrySize (64 MiB, including its own header) and
// refuses larger ones as corruption on every later start; we stay well below,
// at one WAL segment: 10,000 partitions (MaxPartitionsPerRequest) with three
// replicas encode to 1.2 MB (TestLargestRecordWithinLimit), so no request
// within the limits comes near it.
const maxRecordBytes = walSegmentSize

// The limit must stay below what raft-wal can read back, with room for its
// entry header (index, term, type, times: well under 1 KiB); the build
// fails if it does not.
const _ = uint(segment.MaxEntrySize - 1024 - maxRecordBytes)

// propose replicates r and returns apply's result. Only the active
// controller (the Raft leader) proposes: elsewhere the record goes to
// Config.Forwarder, or without one the answer is kerr.NotController, which
// tells a Kafka client to refresh its metadata and retry on the controller
// it names. A record rejected by apply
// comes back as its bare *kerr.Error. While the metadata log cannot be
// written (a full disk; see logStore) the error is kerr.KafkaStorageError.
// Other raft failures are wrapped around kerr.NotController (this node cannot
// lead the change; the client should retry, possibly elsewhere) or
// kerr.RequestTimedOut.
//
// ctx bounds the wait to enqueue the proposal; once raft has it, the call
// waits for the commit, which raft itself bounds by failing the proposal when
// leadership is lost.
func (c *Controller) propose(ctx context.Context, r metadata.Record) (metadata.Result, error) {
	return c.proposeHop(ctx, r, 0)
}

// proposeHop is propose for a record that has been forwarded hops times:
// only a record this node was given directly (hops 0) is forwarded again.
func (c *Controller) proposeHop(ctx context.Context, r metadata.Record, hops uint8) (metadata.Result, error) {
	data, err := metadata.EncodeRecord(r)
	if err != nil {
		return metadata.Result{}, err
	}
	if len(data) > maxRecordBytes {
		// Refused before raft sees it: an entry the WAL cannot read back
		// would make every later start fail.
		return metadata.Result{}, &Error{Code: kerr.PolicyViolation, Message: fmt.Sprintf(
			"metadata record of %d bytes is larger than the metadata log's limit of %d bytes", len(data), maxRecordBytes)}
	}
	if err := ctx.Err(); err != nil {
		return metadata.Result{}, fmt.Errorf("quorum: %w: %w", kerr.RequestTimedOut, err)
	}
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return metadata.Result{}, fmt.Errorf("quorum: %w: %w", kerr.RequestTimedOut, context.DeadlineExceeded)
		}
	}
	if err := c.log.writable(); err != nil {
		// Raft would only step down again: answer at once.
		return metadata.Result{}, storageError(err)
	}
	if !c.isActive() {
		if f := c.forwarder(); f != nil && hops == 0 {
			return f.Forward(ctx, r)
		}
		return metadata.Result{}, fmt.Errorf("quorum: node %d is not the active controller (%d is): %w",
			c.cfg.NodeID, c.leaderID(), kerr.NotController)
	}
	future := c.raft.Apply(data, timeout)
	if err := future.Error(); err != nil {
		var lw *logWriteError
		if errors.As(err, &lw) {
			return metadata.Result{}, storageError(err)
		}
		if werr := c.log.writable(); werr != nil {
			// Raft lost leadership because the log cannot be written.
			return metadata.Result{}, storageError(werr)
		}
		if errors.Is(err, raft.ErrEnqueueTimeout) {
			return metadata.Result{}, fmt.Errorf("quorum: %w: %w", kerr.RequestTimedOut, err)
		}
		return metadata.Result{}, fmt.Errorf("quorum: %w: %w", kerr.NotController, err)
	}
	res, ok := future.Response().(metadata.Result)
	if !ok {
		return metadata.Result{}, fmt.Errorf("quorum: unexpected apply response %T", future.Response())
	}
	res.Index = future.Index()
	if res.Err != nil {
		return res, res.Err
	}
	if reg, ok := r.(metadata.RegisterBroker); ok {
		if err := c.addObserver(reg.Broker); err != nil {
			return res, err
		}
	}
	return res, nil
}

// forwarder is where a node that is not the active controller sends its
// proposals: Config.Forwarder, else in a quorum of several nodes the
// controller RPC, else nowhere (NOT_CONTROLLER).
func (c *Controller) forwarder() Forwarder {
	if c.cfg.Forwarder != nil {
		return c.cfg.Forwarder
	}
	if c.cfg.clustered() {
		return rpcForwarder{c}
	}
	return nil
}

// addObserver makes a registered broker that is not a voter a non-voter of
// raft at its MetadataAddr, so that the leader replicates the metadata log
// to it (hashicorp/raft pushes entries; Kafka's brokers fetch them). A
// broker registering again from a new address is moved there.
func (c *Controller) addObserver(b metadata.Broker) error {
	if b.MetadataAddr == "" || c.isVoter(b.ID) {
		return nil
	}
	if err := c.raft.AddNonvoter(serverID(b.ID), raft.ServerAddress(b.MetadataAddr), 0, transportTimeout).Error(); err != nil {
		return fmt.Errorf("quorum: add broker %d at %s as a non-voter: %w: %w", b.ID, b.MetadataAddr, kerr.NotController, err)
	}
	return nil
}

// storageError is the answer to a proposal the metadata log cannot take.
func storageError(err error) error {
	return &Error{Code: kerr.KafkaStorageError, Message: "quorum: the metadata log cannot be written: " + err.Error()}
}

// RegisterBroker records b, replacing any registration with the same ID
// (fenced until a heartbeat unfences it), and returns its broker epoch.
func (c *Controller) RegisterBroker(ctx context.Context, b metadata.Broker) (epoch int64, err error) {
	res, err := c.propose(ctx, metadata.RegisterBroker{Broker: b})
	return res.BrokerEpoch, err
}

// CreateTopic creates a topic with a fresh random ID and partitions placed
// on the unfenced brokers (place: rack-aware, leaders balanced; leader =
// first replica, ISR = all replicas, epochs 0) and returns it. Defaults
// such as partitions = -1 are the caller's to resolve. Errors:
// kerr.InvalidTopicException, kerr.InvalidPartitions (partitions <= 0),
// ErrTooManyPartitions (more than MaxPartitionsPerRequest),
// kerr.InvalidReplicationFactor (<= 0 or more than the unfenced brokers),
// kerr.TopicAlreadyExists.
func (c *Controller) CreateTopic(ctx context.Context, name string, partitions int32, replicationFactor int16, configs map[string]string) (*metadata.Topic, error) {
	if partitions <= 0 {
		return nil, kerr.InvalidPartitions
	}
	if partitions > MaxPartitionsPerRequest {
		return nil, ErrTooManyPartitions
	}
	img := c.Image()
	brokers := liveBrokers(img)
	if replicationFactor <= 0 || int(replicationFactor) > len(brokers) {
		return nil, &Error{Code: kerr.InvalidReplicationFactor, Message: fmt.Sprintf(
			"Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
			replicationFactor, replicationFactor, len(brokers))}
	}
	id := metadata.NewTopicID()
	return c.createTopic(ctx, img, name, id, place(brokers, id, 0, int(partitions), int(replicationFactor)), configs)
}

// CreateTopicAssigned creates a topic whose partition i has the replicas
// assignment[i] (CreateTopics' manual assignment), validated as Kafka's
// controller does (assigned): kerr.InvalidReplicaAssignment with its
// message, besides CreateTopic's errors.
func (c *Controller) CreateTopicAssigned(ctx context.Context, name string, assignment [][]int32, configs map[string]string) (*metadata.Topic, error) {
	if len(assignment) > MaxPartitionsPerRequest {
		return nil, ErrTooManyPartitions
	}
	img := c.Image()
	ps, err := assigned(img, 0, assignment, 0)
	if err != nil {
		return nil, err
	}
	return c.createTopic(ctx, img, name, metadata.NewTopicID(), ps, configs)
}

func (c *Controller) createTopic(ctx context.Context, img *metadata.Image, name string, id metadata.TopicID, ps []metadata.Partition, configs map[string]string) (*metadata.Topic, error) {
	if metadata.ValidateTopicName(name) != nil {
		return nil, kerr.InvalidTopicException
	}
	if img.Topics[name] != nil {
		return nil, kerr.TopicAlreadyExists
	}
	rec := metadata.CreateTopic{Name: name, ID: id, Partitions: ps, Configs: configs}
	if _, err := c.propose(ctx, rec); err != nil {
		return nil, err
	}
	if t := c.Image().TopicByID(id); t != nil {
		return t, nil
	}
	// Deleted again before we looked: report what was created.
	return &metadata.Topic{Name: name, ID: id, Partitions: rec.Partitions, Configs: rec.Configs}, nil
}

// DeleteTopic deletes the topic with the given ID (kerr.UnknownTopicID if none).
func (c *Controller) DeleteTopic(ctx context.Context, id metadata.TopicID) error {
	_, err := c.propose(ctx, metadata.DeleteTopic{ID: id})
	return err
}

// CreatePartitions grows topic name to totalCount partitions, placing the new
// ones like CreateTopic with the topic's replication factor. Errors:
// kerr.UnknownTopicOrPartition, kerr.InvalidPartitions (totalCount not above
// the current count), ErrTooLargeBatch (more than MaxPartitionsPerRequest
// new partitions), kerr.InvalidReplicationFactor (too few brokers).
func (c *Controller) CreatePartitions(ctx context.Context, name string, totalCount int32) error {
	return c.createPartitions(ctx, name, totalCount, nil)
}

// CreatePartitionsAssigned adds partitions to topic name whose replicas are
// assignment (CreatePartitions' manual assignment: one list per new
// partition, of the topic's replication factor), validated as
// CreateTopicAssigned's, besides CreatePartitions' errors.
func (c *Controller) CreatePartitionsAssigned(ctx context.Context, name string, assignment [][]int32) error {
	return c.createPartitions(ctx, name, -1, assignment)
}

func (c *Controller) createPartitions(ctx context.Context, name string, totalCount int32, assignment [][]int32) error {
	img := c.Image()
	t := img.Topics[name]
	if t == nil {
		return kerr.UnknownTopicOrPartition
	}
	current := len(t.Partitions)
	if assignment != nil {
		totalCount = int32(min(current+len(assignment), MaxPartitionsPerRequest+current+1))
	}
	if int(totalCount) <= current {
		return kerr.InvalidPartitions
	}
	if int(totalCount)-current > MaxPartitionsPerRequest {
		return ErrTooLargeBatch
	}
	replicationFactor := len(t.Partitions[0].TargetReplicas())
	var ps []metadata.Partition
	if assignment != nil {
		var err error
		if ps, err = assigned(img, current, assignment, replicationFactor); err != nil {
			return err
		}
	} else {
		brokers := liveBrokers(img)
		if replicationFactor > len(brokers) {
			return &Error{Code: kerr.InvalidReplicationFactor, Message: fmt.Sprintf(
				"Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
				replicationFactor, replicationFactor, len(brokers))}
		}
		ps = place(brokers, t.ID, current, int(totalCount)-current, replicationFactor)
	}
	// Apply rejects the record if the topic was replaced or grew meanwhile.
	_, err := c.propose(ctx, metadata.CreatePartitions{TopicID: t.ID, New: ps})
	return err
}

// AlterTopicConfigs sets, then deletes, dynamic configs of topic name
// (kerr.UnknownTopicOrPartition if none). Values are not validated here.
func (c *Controller) AlterTopicConfigs(ctx context.Context, name string, set map[string]string, del []string) error {
	_, err := c.propose(ctx, metadata.AlterTopicConfigs{Name: name, Set: set, Delete: del})
	return err
}

// AlterBrokerConfigs sets, then deletes, cluster-wide dynamic broker configs.
func (c *Controller) AlterBrokerConfigs(ctx context.Context, set map[string]string, del []string) error {
	_, err := c.propose(ctx, metadata.AlterBrokerConfigs{Set: set, Delete: del})
	return err
}

// AlterScramCredentials deletes, then upserts, SCRAM credentials as one
// record (metadata.AlterScramCredentials).
func (c *Controller) AlterScramCredentials(ctx context.Context, r metadata.AlterScramCredentials) error {
	_, err := c.propose(ctx, r)
	return err
}

// AlterACLs deletes, then creates, ACLs as one record (metadata.AlterACLs).
func (c *Controller) AlterACLs(ctx context.Context, r metadata.AlterACLs) error {
	_, err := c.propose(ctx, r)
	return err
}

// AllocateProducerIDs reserves blockSize producer IDs and returns the first.
// Blocks never overlap, also across restarts.
func (c *Controller) AllocateProducerIDs(ctx context.Context, blockSize int64) (first int64, err error) {
	res, err := c.propose(ctx, metadata.AllocateProducerIDs{BlockSize: blockSize})
	if err != nil {
		return 0, err
	}
	return res.FirstProducerID, nil
}

// AlterPartition proposes a partition leader's ISR change. refused is the
// Kafka error apply rejected it with (the leader's replica core acts on
// it); err without refused means the change was not decided (no active
// controller, a timeout, a full metadata log): the leader retries. On
// success the new ISR and partition epoch reach the leader through the
// metadata, like any other change.
func (c *Controller) AlterPartition(ctx context.Context, r metadata.AlterPartition) (refused *kerr.Error, err error) {
	res, err := c.propose(ctx, r)
	return res.Err, err
}

// OfflineReplicas reports this node's broker's replicas whose logs failed
// (metadata.OfflineReplicas), forwarded to the active controller as any
// proposal: their leaderships move and the broker leaves their ISRs in
// the record. refused and err are AlterPartition's: refused
// STALE_BROKER_EPOCH means the broker registered again since.
func (c *Controller) OfflineReplicas(ctx context.Context, r metadata.OfflineReplicas) (refused *kerr.Error, err error) {
	res, err := c.propose(ctx, r)
	return res.Err, err
}
