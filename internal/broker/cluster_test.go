package broker_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// TestClusterOfBrokers starts three combined nodes (process.roles=
// broker,controller) and one broker-only node with Kafka's configs, over
// real TCP: a client's Metadata lists the four brokers at their listeners
// and names the Raft leader as controller on every node.
func TestClusterOfBrokers(t *testing.T) {
	ports := broker.FreeAddrs(t, 3)
	voters := fmt.Sprintf("1@%s,2@%s,3@%s", ports[0], ports[1], ports[2])
	static := func(id int) map[string]string {
		m := map[string]string{
			"node.id":                   fmt.Sprint(id),
			"process.roles":             "broker,controller",
			"controller.quorum.voters":  voters,
			"controller.listener.names": "CONTROLLER",
			"listeners":                 "PLAINTEXT://127.0.0.1:0",
			"broker.rack":               fmt.Sprintf("rack-%d", id),
		}
		if id <= 3 {
			m["listeners"] += ",CONTROLLER://" + ports[id-1]
		} else {
			m["process.roles"] = "broker"
		}
		return m
	}
	brokers := make([]*broker.Broker, 4)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	start := func(i int) {
		brokers[i], errs[i] = broker.Start(broker.Config{DataDir: t.TempDir(), Static: static(i + 1)})
	}
	for i := range 3 { // a voter alone cannot elect a leader: start them together
		wg.Go(func() { start(i) })
	}
	wg.Wait()
	start(3)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		defer brokers[i].Close()
	}
	var controller int32 = -1
	for i, b := range brokers {
		tb := &testBroker{Broker: b, t: t}
		// Start returned once node 4 registered and saw itself unfenced;
		// each other node lists it once it has applied that record, a
		// moment later (Metadata leaves fenced brokers out).
		var meta kadm.Metadata
		var ids []int32
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var err error
			meta, err = tb.admin().BrokerMetadata(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			ids = ids[:0]
			for _, mb := range meta.Brokers {
				ids = append(ids, mb.NodeID)
			}
			if slices.Equal(ids, []int32{1, 2, 3, 4}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d lists brokers %v 10 s after the last start", i+1, ids)
			}
		}
		for _, mb := range meta.Brokers {
			if mb.Rack == nil || *mb.Rack != fmt.Sprintf("rack-%d", mb.NodeID) {
				t.Fatalf("node %d: broker %+v", i+1, mb)
			}
		}
		if controller == -1 {
			controller = meta.Controller
		}
		if meta.Controller != controller || controller < 1 || controller > 3 {
			t.Fatalf("node %d names controller %d (first said %d)", i+1, meta.Controller, controller)
		}
	}
}

// TestControllerOnlyQuorum runs three controller-only nodes
// (process.roles=controller) and one broker-only node: the broker names
// itself as controller in Metadata (clients cannot reach a controller-only
// leader; it forwards), CreateTopics is forwarded to the Raft leader, and
// records produced to the broker are read back.
func TestControllerOnlyQuorum(t *testing.T) {
	ports := broker.FreeAddrs(t, 3)
	voters := fmt.Sprintf("1@%s,2@%s,3@%s", ports[0], ports[1], ports[2])
	nodes := make([]*broker.Broker, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			nodes[i], errs[i] = broker.Start(broker.Config{DataDir: t.TempDir(), Static: map[string]string{
				"node.id": fmt.Sprint(i + 1), "process.roles": "controller", "controller.quorum.voters": voters,
				"controller.listener.names": "CONTROLLER", "listeners": "CONTROLLER://" + ports[i],
			}})
		})
	}
	wg.Wait()
	nodes[3], errs[3] = broker.Start(broker.Config{DataDir: t.TempDir(), Static: map[string]string{
		"node.id": "4", "process.roles": "broker", "controller.quorum.voters": voters,
		"controller.listener.names": "CONTROLLER", "listeners": "PLAINTEXT://127.0.0.1:0",
	}})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		defer nodes[i].Close()
	}
	if nodes[0].Addr() != "" {
		t.Fatalf("a controller-only node has a Kafka listener at %s", nodes[0].Addr())
	}
	tb := &testBroker{Broker: nodes[3], t: t}
	adm := tb.admin()
	meta, err := adm.BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 1 || meta.Brokers[0].NodeID != 4 || meta.Controller != 4 {
		t.Fatalf("brokers %+v, controller %d", meta.Brokers, meta.Controller)
	}
	createTopic(t, adm, "only-broker", 2, nil)
	cl := tb.client()
	defer cl.Close()
	for i := range 10 {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "only-broker", Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if got := consumeAll(t, tb, "only-broker", 10); len(got) != 10 {
		t.Fatalf("read back %d records", len(got))
	}
}
