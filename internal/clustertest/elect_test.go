package clustertest

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// createAssigned creates topic with one partition on replicas.
func createAssigned(t *testing.T, c *Cluster, topic string, replicas ...int32) {
	t.Helper()
	createTopicOn(t, c.Client(), topic, replicas, nil)
}

// moveLeadershipAway stops node 1, the preferred leader of topic's
// partition on {1, 2, 3}, waits for another leader, restarts node 1 and
// waits until it is back in the ISR.
func moveLeadershipAway(t *testing.T, c *Cluster, adm *kadm.Client, topic string) {
	t.Helper()
	if err := c.Node(0).Stop(); err != nil {
		t.Fatal(err)
	}
	leaderOf(t, adm, topic, 2, 3)
	if err := c.Node(0).Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		md, err := adm.Metadata(ctxT(t, 10*time.Second), topic)
		if err == nil && len(md.Topics[topic].Partitions[0].ISR) == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1 not back in the ISR of %s: %v %v", topic, md.Topics[topic].Partitions[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func elect(t *testing.T, adm *kadm.Client, topic string, partition int32) error {
	t.Helper()
	res, err := adm.ElectLeaders(ctxT(t, 30*time.Second), kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {partition: {}}})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := res[topic][partition]
	if !ok {
		t.Fatalf("no result for %s-%d: %v", topic, partition, res)
	}
	return r.Err
}

// TestElectPreferredLeader: a partition on {1, 2, 3} led by 1 needs no
// election (ELECTION_NOT_NEEDED); with node 1 stopped it cannot have its
// preferred leader (PREFERRED_LEADER_NOT_AVAILABLE); once node 1 is back
// in the ISR, ElectLeaders makes it leader again, and a partition that
// does not exist is UNKNOWN_TOPIC_OR_PARTITION. The automatic rebalance is
// off, so only the request moves it.
func TestElectPreferredLeader(t *testing.T) {
	static := maps.Clone(failoverStatics)
	static["auto.leader.rebalance.enable"] = "false"
	c := Start(t, Options{Nodes: 3, Static: static})
	adm := c.Admin()
	createAssigned(t, c, "e", 1, 2, 3)
	leaderOf(t, adm, "e", 1)
	if err := elect(t, adm, "e", 0); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("election with the preferred leader leading: %v", err)
	}
	if err := elect(t, adm, "e", 7); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("election of a partition that does not exist: %v", err)
	}
	if err := c.Node(0).Stop(); err != nil {
		t.Fatal(err)
	}
	leaderOf(t, adm, "e", 2, 3)
	if err := elect(t, adm, "e", 0); !errors.Is(err, kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("election with the preferred replica down: %v", err)
	}
	if err := c.Node(0).Restart(); err != nil {
		t.Fatal(err)
	}
	moveBack := time.Now().Add(60 * time.Second)
	for {
		err := elect(t, adm, "e", 0)
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.PreferredLeaderNotAvailable) || time.Now().After(moveBack) {
			t.Fatalf("election once node 1 is back: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // node 1 is not in the ISR yet
	}
	leaderOf(t, adm, "e", 1)
	produce(t, c.Client(), "e", "after-election")
	equal(t, "records after the election", readAll(t, c.Node(0), "e"), []string{"after-election"})
}

// TestAutoLeaderRebalance: with leader.imbalance.check.interval.seconds=1
// the active controller moves leadership back to node 1, the preferred
// replica, on its own once node 1 is back in the ISR (one partition of
// one led elsewhere is above leader.imbalance.per.broker.percentage).
func TestAutoLeaderRebalance(t *testing.T) {
	static := maps.Clone(failoverStatics)
	static["leader.imbalance.check.interval.seconds"] = "1"
	c := Start(t, Options{Nodes: 3, Static: static})
	adm := c.Admin()
	createAssigned(t, c, "a", 1, 2, 3)
	leaderOf(t, adm, "a", 1)
	moveLeadershipAway(t, c, adm, "a")
	leaderOf(t, adm, "a", 1)
}
