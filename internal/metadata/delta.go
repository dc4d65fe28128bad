package metadata

import (
	"maps"
	"slices"
	"sort"
)

// Delta is what one node must do to follow the metadata from one image to
// the next (Kafka's TopicsDelta.localChanges plus what else a broker reacts
// to). Every broker computes it from the images alone, in log order, so
// every broker does the same whichever node received the request that
// caused the change; replaying the log from the empty image gives the same
// end state as following it change by change.
//
// A replica manager applies Stop first, then Leaders and Followers: a topic
// deleted and re-created under its name within one delta stops its old
// replicas (old ID) before the new ones open.
type Delta struct {
	// Stop lists the local replicas to close and delete: their topic is
	// gone (deleted, or re-created under a new ID), or this node is no
	// longer among the partition's replicas. Ordered by topic, then
	// partition.
	Stop []StopReplica
	// Leaders lists the partitions this node leads in the next image whose
	// assignment is new to it or changed in any way (leader epoch,
	// partition epoch, replicas, ISR): each becomes, or stays, leader with
	// the new state. Ordered by topic, then partition.
	Leaders []LocalReplica
	// Followers is Leaders for the partitions this node follows (including
	// a partition with no leader, Leader -1).
	Followers []LocalReplica
	// DeletedTopics lists the topics of the previous image that are gone
	// from the next (by ID: a topic re-created under the same name is
	// deleted, then created), ordered by name.
	DeletedTopics []TopicRef
	// ConfigChanged lists the topics present in both images (same ID)
	// whose dynamic configs differ, ordered by name.
	ConfigChanged []string
	// BrokerConfigsChanged is set when the cluster-wide dynamic broker
	// configs differ, which can change every topic's resolved config.
	BrokerConfigsChanged bool
}

// TopicRef names a topic by name and ID.
type TopicRef struct {
	Name string
	ID   TopicID
}

// LocalReplica is a partition of which this node holds a replica, with its
// assignment in the next image.
type LocalReplica struct {
	Topic   string
	TopicID TopicID
	Partition
}

// StopReplica is a local replica to close and delete.
type StopReplica struct {
	Topic     string
	TopicID   TopicID
	Partition int32
}

// Empty reports whether d asks nothing of the node.
func (d *Delta) Empty() bool {
	return len(d.Stop) == 0 && len(d.Leaders) == 0 && len(d.Followers) == 0 &&
		len(d.DeletedTopics) == 0 && len(d.ConfigChanged) == 0 && !d.BrokerConfigsChanged
}

// Touches reports whether d starts, stops or changes a local replica of
// topic, or deletes it.
func (d *Delta) Touches(topic string) bool {
	is := func(name string) bool { return name == topic }
	return slices.ContainsFunc(d.Stop, func(s StopReplica) bool { return is(s.Topic) }) ||
		slices.ContainsFunc(d.Leaders, func(r LocalReplica) bool { return is(r.Topic) }) ||
		slices.ContainsFunc(d.Followers, func(r LocalReplica) bool { return is(r.Topic) }) ||
		slices.ContainsFunc(d.DeletedTopics, func(t TopicRef) bool { return is(t.Name) })
}

// ComputeDelta returns what node must do to go from prev to next. Topics
// the two images share unchanged (the same *Topic, as copy-on-write Apply
// leaves them) cost one comparison each.
func ComputeDelta(node int32, prev, next *Image) Delta {
	var d Delta
	for _, name := range sortedTopicNames(prev.Topics) {
		old := prev.Topics[name]
		if next.TopicsByID[old.ID] != nil {
			continue
		}
		d.DeletedTopics = append(d.DeletedTopics, TopicRef{Name: name, ID: old.ID})
		for _, p := range old.Partitions {
			if slices.Contains(p.Replicas, node) {
				d.Stop = append(d.Stop, StopReplica{Topic: name, TopicID: old.ID, Partition: p.Partition})
			}
		}
	}
	for _, name := range sortedTopicNames(next.Topics) {
		t := next.Topics[name]
		old := prev.TopicsByID[t.ID] // a topic keeps its name for its whole life
		if old == t {
			continue
		}
		if old != nil && !maps.Equal(old.Configs, t.Configs) {
			d.ConfigChanged = append(d.ConfigChanged, name)
		}
		for i, p := range t.Partitions {
			var was *Partition
			if old != nil && i < len(old.Partitions) && slices.Contains(old.Partitions[i].Replicas, node) {
				was = &old.Partitions[i]
			}
			if !slices.Contains(p.Replicas, node) {
				if was != nil {
					d.Stop = append(d.Stop, StopReplica{Topic: name, TopicID: t.ID, Partition: p.Partition})
				}
				continue
			}
			if was != nil && samePartition(*was, p) {
				continue
			}
			r := LocalReplica{Topic: name, TopicID: t.ID, Partition: p.clone()}
			if p.Leader == node {
				d.Leaders = append(d.Leaders, r)
			} else {
				d.Followers = append(d.Followers, r)
			}
		}
	}
	sort.SliceStable(d.Stop, func(i, j int) bool {
		a, b := d.Stop[i], d.Stop[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	d.BrokerConfigsChanged = !maps.Equal(prev.BrokerConfigs, next.BrokerConfigs)
	return d
}

func samePartition(a, b Partition) bool {
	return a.Leader == b.Leader && a.LeaderEpoch == b.LeaderEpoch && a.PartitionEpoch == b.PartitionEpoch &&
		slices.Equal(a.Replicas, b.Replicas) && slices.Equal(a.ISR, b.ISR)
}

func sortedTopicNames(topics map[string]*Topic) []string {
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
