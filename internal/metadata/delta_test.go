package metadata

import (
	"reflect"
	"testing"
)

// img builds an image holding topics (by name and ID) and broker configs.
func img(brokerConfigs map[string]string, topics ...*Topic) *Image {
	m := EmptyImage()
	for _, t := range topics {
		m.Topics[t.Name] = t
		m.TopicsByID[t.ID] = t
	}
	if brokerConfigs != nil {
		m.BrokerConfigs = brokerConfigs
	}
	return m
}

func topic(name string, id byte, configs map[string]string, ps ...Partition) *Topic {
	for i := range ps {
		ps[i].Partition = int32(i)
	}
	return &Topic{Name: name, ID: TopicID{0: id}, Partitions: ps, Configs: configs}
}

func part(leader, leaderEpoch, partitionEpoch int32, replicas, isr []int32) Partition {
	return Partition{Leader: leader, LeaderEpoch: leaderEpoch, PartitionEpoch: partitionEpoch, Replicas: replicas, ISR: isr}
}

func ids(b ...int32) []int32 { return b }

func local(name string, id byte, p Partition, index int32) LocalReplica {
	p.Partition = index
	return LocalReplica{Topic: name, TopicID: TopicID{0: id}, Partition: p}
}

func stop(name string, id byte, index int32) StopReplica {
	return StopReplica{Topic: name, TopicID: TopicID{0: id}, Partition: index}
}

func TestComputeDelta(t *testing.T) {
	// t (ID 1): p0 led by 1 on [1 2], p1 led by 2 on [2 1], p2 on [2 3].
	base := topic("t", 1, nil,
		part(1, 0, 0, ids(1, 2), ids(1, 2)),
		part(2, 0, 0, ids(2, 1), ids(2, 1)),
		part(2, 0, 0, ids(2, 3), ids(2, 3)))
	with := func(i int, p Partition) *Topic {
		c := base.clone()
		p.Partition = int32(i)
		c.Partitions[i] = p
		return c
	}
	tests := []struct {
		name       string
		node       int32
		prev, next *Image
		want       Delta
	}{{
		name: "start: lead p0, follow p1, nothing of p2",
		node: 1, prev: EmptyImage(), next: img(nil, base),
		want: Delta{
			Leaders:   []LocalReplica{local("t", 1, part(1, 0, 0, ids(1, 2), ids(1, 2)), 0)},
			Followers: []LocalReplica{local("t", 1, part(2, 0, 0, ids(2, 1), ids(2, 1)), 1)},
		},
	}, {
		name: "unchanged",
		node: 1, prev: img(nil, base), next: img(nil, base),
		want: Delta{},
	}, {
		name: "leader moves away: the old leader follows",
		node: 1, prev: img(nil, base), next: img(nil, with(0, part(2, 1, 1, ids(1, 2), ids(1, 2)))),
		want: Delta{Followers: []LocalReplica{local("t", 1, part(2, 1, 1, ids(1, 2), ids(1, 2)), 0)}},
	}, {
		name: "leader moves away: the new leader leads",
		node: 2, prev: img(nil, base), next: img(nil, with(0, part(2, 1, 1, ids(1, 2), ids(1, 2)))),
		want: Delta{Leaders: []LocalReplica{local("t", 1, part(2, 1, 1, ids(1, 2), ids(1, 2)), 0)}},
	}, {
		name: "leader lost, no new one: follow no one",
		node: 1, prev: img(nil, base), next: img(nil, with(0, part(-1, 1, 1, ids(1, 2), ids(1)))),
		want: Delta{Followers: []LocalReplica{local("t", 1, part(-1, 1, 1, ids(1, 2), ids(1)), 0)}},
	}, {
		name: "ISR shrinks only: the leader stays leader with the new partition epoch",
		node: 1, prev: img(nil, base), next: img(nil, with(0, part(1, 0, 1, ids(1, 2), ids(1)))),
		want: Delta{Leaders: []LocalReplica{local("t", 1, part(1, 0, 1, ids(1, 2), ids(1)), 0)}},
	}, {
		name: "ISR shrinks only: a follower sees it too",
		node: 2, prev: img(nil, base), next: img(nil, with(0, part(1, 0, 1, ids(1, 2), ids(1)))),
		want: Delta{Followers: []LocalReplica{local("t", 1, part(1, 0, 1, ids(1, 2), ids(1)), 0)}},
	}, {
		name: "ISR change of a partition the node has no replica of",
		node: 1, prev: img(nil, base), next: img(nil, with(2, part(2, 0, 1, ids(2, 3), ids(2)))),
		want: Delta{},
	}, {
		name: "replica moved away: stop and delete",
		node: 1, prev: img(nil, base), next: img(nil, with(1, part(2, 1, 1, ids(2, 3), ids(2, 3)))),
		want: Delta{Stop: []StopReplica{stop("t", 1, 1)}},
	}, {
		name: "replica moved here: follow",
		node: 3, prev: img(nil, base), next: img(nil, with(1, part(2, 1, 1, ids(2, 3), ids(2)))),
		want: Delta{Followers: []LocalReplica{local("t", 1, part(2, 1, 1, ids(2, 3), ids(2)), 1)}},
	}, {
		name: "topic deleted",
		node: 1, prev: img(nil, base), next: img(nil),
		want: Delta{Stop: []StopReplica{stop("t", 1, 0), stop("t", 1, 1)}, DeletedTopics: []TopicRef{{"t", TopicID{0: 1}}}},
	}, {
		name: "topic deleted where the node has no replica",
		node: 4, prev: img(nil, base), next: img(nil),
		want: Delta{DeletedTopics: []TopicRef{{"t", TopicID{0: 1}}}},
	}, {
		name: "deleted and re-created under a new ID: old replicas stop, new ones start",
		node: 1, prev: img(nil, base), next: img(nil, topic("t", 2, nil, part(1, 0, 0, ids(1), ids(1)))),
		want: Delta{
			Stop:          []StopReplica{stop("t", 1, 0), stop("t", 1, 1)},
			Leaders:       []LocalReplica{local("t", 2, part(1, 0, 0, ids(1), ids(1)), 0)},
			DeletedTopics: []TopicRef{{"t", TopicID{0: 1}}},
		},
	}, {
		name: "partitions added",
		node: 1, prev: img(nil, topic("t", 1, nil, part(1, 0, 0, ids(1), ids(1)))),
		next: img(nil, topic("t", 1, nil, part(1, 0, 0, ids(1), ids(1)), part(1, 0, 0, ids(1), ids(1)))),
		want: Delta{Leaders: []LocalReplica{local("t", 1, part(1, 0, 0, ids(1), ids(1)), 1)}},
	}, {
		name: "topic config changed",
		node: 1, prev: img(nil, topic("t", 1, nil, part(1, 0, 0, ids(1), ids(1)))),
		next: img(nil, topic("t", 1, map[string]string{"retention.ms": "1"}, part(1, 0, 0, ids(1), ids(1)))),
		want: Delta{ConfigChanged: []string{"t"}},
	}, {
		name: "broker config changed",
		node: 1, prev: img(nil, base), next: img(map[string]string{"log.retention.ms": "1"}, base),
		want: Delta{BrokerConfigsChanged: true},
	}, {
		name: "several topics in name order",
		node: 1, prev: img(nil, topic("b", 3, nil, part(1, 0, 0, ids(1), ids(1))), topic("a", 4, nil, part(1, 0, 0, ids(1), ids(1)))),
		next: img(nil, topic("d", 5, nil, part(1, 0, 0, ids(1), ids(1))), topic("c", 6, nil, part(2, 0, 0, ids(2, 1), ids(2, 1)))),
		want: Delta{
			Stop:          []StopReplica{stop("a", 4, 0), stop("b", 3, 0)},
			Leaders:       []LocalReplica{local("d", 5, part(1, 0, 0, ids(1), ids(1)), 0)},
			Followers:     []LocalReplica{local("c", 6, part(2, 0, 0, ids(2, 1), ids(2, 1)), 0)},
			DeletedTopics: []TopicRef{{"a", TopicID{0: 4}}, {"b", TopicID{0: 3}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ComputeDelta(tt.node, tt.prev, tt.next)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ComputeDelta(%d):\n got %+v\nwant %+v", tt.node, got, tt.want)
			}
			if got.Empty() != reflect.DeepEqual(tt.want, Delta{}) {
				t.Fatalf("Empty() = %v", got.Empty())
			}
			touched := false // whether want names topic t
			for _, s := range tt.want.Stop {
				touched = touched || s.Topic == "t"
			}
			for _, r := range append(tt.want.Leaders, tt.want.Followers...) {
				touched = touched || r.Topic == "t"
			}
			for _, d := range tt.want.DeletedTopics {
				touched = touched || d.Name == "t"
			}
			if got.Touches("t") != touched || got.Touches("other") {
				t.Fatalf("Touches(t) = %v, Touches(other) = %v", got.Touches("t"), got.Touches("other"))
			}
		})
	}
}

// replica is what a node holds of one partition after following deltas.
type replica struct {
	id       TopicID
	leader   bool
	assigned Partition
}

// follow applies d to the local replicas of a node, as a replica manager does.
func follow(t *testing.T, replicas map[string]map[int32]replica, d Delta) {
	t.Helper()
	for _, s := range d.Stop {
		if r, ok := replicas[s.Topic][s.Partition]; !ok || r.id != s.TopicID {
			t.Fatalf("stop of %+v, a replica the node does not hold", s)
		}
		delete(replicas[s.Topic], s.Partition)
	}
	for i, group := range [][]LocalReplica{d.Leaders, d.Followers} {
		for _, r := range group {
			if replicas[r.Topic] == nil {
				replicas[r.Topic] = map[int32]replica{}
			}
			replicas[r.Topic][r.Partition.Partition] = replica{r.TopicID, i == 0, r.Partition}
		}
	}
	for name, ps := range replicas {
		if len(ps) == 0 {
			delete(replicas, name)
		}
	}
}

// TestDeltaReplay checks that following the log change by change gives the
// node the same replicas as one delta from the empty image to the end, which
// is what a broker computes when it starts.
func TestDeltaReplay(t *testing.T) {
	records := []Record{
		RegisterBroker{Broker: Broker{ID: 1, Host: "h", Port: 1}},
		CreateTopic{Name: "a", ID: TopicID{0: 1}, Partitions: []Partition{
			{Partition: 0, Leader: 1, Replicas: ids(1, 2), ISR: ids(1, 2)},
			{Partition: 1, Leader: 2, Replicas: ids(2, 1), ISR: ids(2, 1)},
		}},
		CreateTopic{Name: "b", ID: TopicID{0: 2}, Partitions: []Partition{{Partition: 0, Leader: 1, Replicas: ids(1), ISR: ids(1)}}},
		CreatePartitions{TopicID: TopicID{0: 1}, New: []Partition{{Partition: 2, Leader: 2, Replicas: ids(2, 3), ISR: ids(2, 3)}}},
		AlterTopicConfigs{Name: "a", Set: map[string]string{"retention.ms": "5"}},
		DeleteTopic{ID: TopicID{0: 2}},
		CreateTopic{Name: "b", ID: TopicID{0: 3}, Partitions: []Partition{{Partition: 0, Leader: 1, Replicas: ids(1), ISR: ids(1)}}},
		DeleteTopic{ID: TopicID{0: 1}},
		CreateTopic{Name: "a", ID: TopicID{0: 4}, Partitions: []Partition{{Partition: 0, Leader: 3, Replicas: ids(3, 1), ISR: ids(3, 1)}}},
	}
	for _, node := range []int32{1, 2, 3} {
		stepwise := map[string]map[int32]replica{}
		cur := EmptyImage()
		for i, r := range records {
			next, res := cur.Apply(uint64(i+1), r)
			if res.Err != nil {
				t.Fatalf("record %d: %v", i, res.Err)
			}
			follow(t, stepwise, ComputeDelta(node, cur, next))
			cur = next
		}
		replayed := map[string]map[int32]replica{}
		follow(t, replayed, ComputeDelta(node, EmptyImage(), cur))
		if !reflect.DeepEqual(stepwise, replayed) {
			t.Fatalf("node %d: followed %+v, replayed %+v", node, stepwise, replayed)
		}
		t.Logf("node %d holds %+v", node, replayed)
	}
}
