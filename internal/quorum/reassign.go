package quorum

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// AlterPartitionReassignment starts, replaces or (replicas nil) cancels
// the reassignment of topic's partition to replicas (Kafka's
// AlterPartitionReassignments for one partition; the stages are in
// package metadata, reassign.go). Errors, with Kafka's messages:
// kerr.UnknownTopicOrPartition, kerr.InvalidReplicaAssignment (an empty,
// repeated or unregistered replica; a cancellation that needs an unclean
// election), kerr.NoReassignmentInProgress (a cancellation of nothing).
func (c *Controller) AlterPartitionReassignment(ctx context.Context, topic string, partition int32, replicas []int32) error {
	t, err := c.partitionOf(topic, partition)
	if err != nil {
		return err
	}
	if replicas != nil {
		if err := checkReplicas(c.Image(), replicas, 0); err != nil {
			return err
		}
	}
	_, err = c.propose(ctx, metadata.AlterPartitionReassignment{TopicID: t.ID, Partition: partition, Replicas: replicas})
	switch err {
	case kerr.NoReassignmentInProgress:
		return &Error{Code: kerr.NoReassignmentInProgress, Message: "No partition reassignment is in progress for this topic partition."}
	case kerr.InvalidReplicaAssignment:
		if replicas == nil {
			return &Error{Code: kerr.InvalidReplicaAssignment, Message: fmt.Sprintf(
				"Unable to revert partition assignment for %s:%d because it would require an unclean leader election.", topic, partition)}
		}
	}
	return err
}

// ElectLeader elects the preferred replica of topic's partition, or with
// unclean any live replica when its leader is not live (Kafka's
// ElectLeaders for one partition; package metadata, elect.go). Errors:
// kerr.UnknownTopicOrPartition, kerr.ElectionNotNeeded,
// kerr.PreferredLeaderNotAvailable, kerr.EligibleLeadersNotAvailable.
func (c *Controller) ElectLeader(ctx context.Context, topic string, partition int32, unclean bool) error {
	t, err := c.partitionOf(topic, partition)
	if err != nil {
		return err
	}
	_, err = c.propose(ctx, metadata.ElectLeader{TopicID: t.ID, Partition: partition, Unclean: unclean})
	return err
}

// partitionOf finds topic in the image, with Kafka's messages when it or
// its partition is missing.
func (c *Controller) partitionOf(topic string, partition int32) (*metadata.Topic, error) {
	t := c.Image().Topics[topic]
	if t == nil {
		return nil, &Error{Code: kerr.UnknownTopicOrPartition, Message: fmt.Sprintf("Unable to find a topic named %s.", topic)}
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return nil, &Error{Code: kerr.UnknownTopicOrPartition, Message: fmt.Sprintf("Unable to find partition %s:%d.", topic, partition)}
	}
	return t, nil
}

// LeaderBalance is the automatic preferred leader election of the active
// controller (Kafka's auto.leader.rebalance.enable,
// leader.imbalance.check.interval.seconds and
// leader.imbalance.per.broker.percentage).
type LeaderBalance struct {
	// Enable turns it on; the broker's default is on, as Kafka's.
	Enable bool
	// CheckInterval is how often the active controller looks (0: 300 s).
	CheckInterval time.Duration
	// PerBrokerPercentage is the share of a broker's preferred
	// partitions that may be led elsewhere before their leadership is
	// moved back to it.
	PerBrokerPercentage int
}

// PartitionRef names one partition.
type PartitionRef struct {
	Topic     string
	Partition int32
}

// imbalanced returns the partitions whose leadership should go back to
// their preferred replica (the first), as Kafka's
// checkAndTriggerAutoLeaderRebalance: for each broker whose partitions
// led elsewhere are more than percentage percent of those it is preferred
// for, those of them it can lead (live, in the ISR, no reassignment in
// progress). Ordered by topic, then
// partition.
func imbalanced(img *metadata.Image, percentage int) []PartitionRef {
	preferred := map[int32]int{}
	notLedCount := map[int32]int{}
	notLed := map[int32][]PartitionRef{} // of those, the ones it can lead
	names := make([]string, 0, len(img.Topics))
	for name := range img.Topics {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, p := range img.Topics[name].Partitions {
			b := p.Replicas[0]
			preferred[b]++
			if p.Leader == b {
				continue
			}
			notLedCount[b]++
			if p.Reassigning() || !slices.Contains(p.ISR, b) {
				continue
			}
			if br, ok := img.Brokers[b]; !ok || br.Fenced {
				continue
			}
			notLed[b] = append(notLed[b], PartitionRef{Topic: name, Partition: p.Partition})
		}
	}
	var out []PartitionRef
	for b, refs := range notLed {
		if notLedCount[b]*100 > percentage*preferred[b] {
			out = append(out, refs...)
		}
	}
	slices.SortFunc(out, func(a, b PartitionRef) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// balanceLeaders runs on every controller and acts while it is the
// active one: every LeaderBalance.CheckInterval it elects the preferred
// replica of the imbalanced partitions.
func (c *Controller) balanceLeaders() {
	defer c.starters.Done()
	lb := c.cfg.LeaderBalance
	if !lb.Enable {
		return
	}
	interval := lb.CheckInterval
	if interval <= 0 {
		interval = 300 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-tick.C:
		}
		if !c.isActive() {
			continue
		}
		moved := 0
		for _, ref := range imbalanced(c.Image(), lb.PerBrokerPercentage) {
			ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
			err := c.ElectLeader(ctx, ref.Topic, ref.Partition, false)
			cancel()
			if err != nil {
				c.logger.Info("quorum: preferred leader election", "topic", ref.Topic, "partition", ref.Partition, "err", err)
				continue
			}
			moved++
		}
		if moved > 0 {
			c.logger.Info("quorum: leadership moved back to preferred replicas (auto.leader.rebalance.enable)", "partitions", moved)
		}
	}
}
