package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// combined is a valid node 1 of a three-node combined cluster.
func combined() map[string]string {
	return map[string]string{
		"node.id":                   "1",
		"process.roles":             "broker,controller",
		"controller.quorum.voters":  "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097",
		"listeners":                 "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"controller.listener.names": "CONTROLLER",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestClusterCombined(t *testing.T) {
	b, err := NewBroker(with(combined(), "broker.rack", "r1", "broker.heartbeat.interval.ms", "500",
		"advertised.listeners", "PLAINTEXT://node1.example:19092", "controller.quorum.bootstrap.servers", "127.0.0.1:9093"))
	if err != nil {
		t.Fatal(err)
	}
	c := b.Static().Cluster
	want := Cluster{
		Roles: Roles{Broker: true, Controller: true},
		Voters: []Voter{{ID: 1, Host: "127.0.0.1", Port: 9093}, {ID: 2, Host: "127.0.0.1", Port: 9095},
			{ID: 3, Host: "127.0.0.1", Port: 9097}},
		BootstrapServers:        []string{"127.0.0.1:9093"},
		ControllerListenerNames: []string{"CONTROLLER"},
		Listeners: []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092, Protocol: "PLAINTEXT"},
			{Name: "CONTROLLER", Host: "127.0.0.1", Port: 9093, Protocol: "PLAINTEXT"}},
		ListenersSet:      true,
		Advertised:        []Listener{{Name: "PLAINTEXT", Host: "node1.example", Port: 19092, Protocol: "PLAINTEXT"}},
		Rack:              "r1",
		HeartbeatInterval: 500 * time.Millisecond,
		SessionTimeout:    9 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("cluster:\n got %+v\nwant %+v", c, want)
	}
	if l, ok := c.ControllerListener(); !ok || l.Addr() != "127.0.0.1:9093" {
		t.Fatalf("controller listener %+v %v", l, ok)
	}
	if !c.IsVoter(3) || c.IsVoter(4) || c.Voters[1].Addr() != "127.0.0.1:9095" {
		t.Fatalf("voters %+v", c.Voters)
	}
}

func TestClusterBrokerOnly(t *testing.T) {
	b, err := NewBroker(with(combined(), "node.id", "4", "process.roles", "broker", "listeners", "plaintext://:0"))
	if err != nil {
		t.Fatal(err)
	}
	c := b.Static().Cluster
	if !c.Roles.Broker || c.Roles.Controller || len(c.Advertised) != 1 || c.Advertised[0].Name != "PLAINTEXT" {
		t.Fatalf("cluster %+v", c)
	}
	if _, ok := c.ControllerListener(); ok {
		t.Fatal("a broker-only node has no controller listener")
	}
}

func TestClusterControllerOnly(t *testing.T) {
	b, err := NewBroker(with(combined(), "process.roles", "controller", "listeners", "CONTROLLER://127.0.0.1:9093"))
	if err != nil {
		t.Fatal(err)
	}
	if c := b.Static().Cluster; c.Roles.Broker || !c.Roles.Controller || len(c.Advertised) != 0 {
		t.Fatalf("cluster %+v", c)
	}
}

// TestClusterDynamicController: a combined node with bootstrap servers and
// no voters (KIP-853) is accepted, with any node ID.
func TestClusterDynamicController(t *testing.T) {
	b, err := NewBroker(with(combined(), "node.id", "4", "controller.quorum.voters", "<unset>",
		"controller.quorum.bootstrap.servers", "127.0.0.1:9093,127.0.0.1:9095"))
	if err != nil {
		t.Fatal(err)
	}
	c := b.Static().Cluster
	if len(c.Voters) != 0 || !reflect.DeepEqual(c.BootstrapServers, []string{"127.0.0.1:9093", "127.0.0.1:9095"}) || !c.Roles.Controller {
		t.Fatalf("cluster %+v", c)
	}
}

// TestClusterRefusals checks that every bad cluster config is refused at
// start-up with a message naming the config (Kafka's message where Kafka
// has the rule).
func TestClusterRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		want string
	}{
		{"unknown role", with(combined(), "process.roles", "broker,zookeeper"), "for config process.roles"},
		{"repeated role", with(combined(), "process.roles", "broker,broker"), "for config process.roles"},
		{"voters without roles", with(combined(), "process.roles", "<unset>"), "process.roles must be set"},
		{"no node.id", with(combined(), "node.id", "<unset>"), "config node.id is required"},
		{"no voters", with(combined(), "controller.quorum.voters", "<unset>"), "controller.quorum.voters must contain a parseable set of voters"},
		{"bootstrap servers of a controller-only node", with(combined(), "controller.quorum.voters", "<unset>", "controller.quorum.bootstrap.servers", "127.0.0.1:9093",
			"process.roles", "controller", "listeners", "CONTROLLER://:9093"), "not yet for a controller-only node"},
		{"bootstrap server without port", with(combined(), "controller.quorum.bootstrap.servers", "127.0.0.1"),
			"for config controller.quorum.bootstrap.servers: entry \"127.0.0.1\" has no valid host:port"},
		{"voter without id", with(combined(), "controller.quorum.voters", "127.0.0.1:9093"), "for config controller.quorum.voters: entry \"127.0.0.1:9093\" is not id@host:port"},
		{"voter bad id", with(combined(), "controller.quorum.voters", "x@127.0.0.1:9093"), "has no valid node ID"},
		{"voter bad port", with(combined(), "controller.quorum.voters", "1@127.0.0.1:99999"), "has no valid host:port"},
		{"voter no host", with(combined(), "controller.quorum.voters", "1@:9093"), "has no valid host:port"},
		{"voter 0.0.0.0", with(combined(), "controller.quorum.voters", "1@0.0.0.0:9093"), "non-routable address 0.0.0.0"},
		{"voter repeated", with(combined(), "controller.quorum.voters", "1@a:1,1@b:2"), "repeats a node ID"},
		{"no controller.listener.names", with(combined(), "controller.listener.names", "<unset>", "listeners", "PLAINTEXT://:9092"), "controller.listener.names must contain at least one value"},
		{"controller not in voters", with(combined(), "node.id", "5"),
			"if process.roles contains the 'controller' role, the node id 5 must be included in the set of voters controller.quorum.voters=[1 2 3]"},
		{"broker in voters", with(combined(), "process.roles", "broker", "listeners", "PLAINTEXT://:9092"),
			"if process.roles contains just the 'broker' role, the node id 1 must not be included in the set of voters controller.quorum.voters=[1 2 3]"},
		{"broker with controller listener", with(combined(), "node.id", "4", "process.roles", "broker"),
			"controller.listener.names must not contain a value appearing in the 'listeners' configuration when running KRaft with just the broker role"},
		{"controller listener missing", with(combined(), "listeners", "PLAINTEXT://:9092"),
			"controller.listener.names must only contain values appearing in the 'listeners' configuration when running the KRaft controller role"},
		{"advertised controller listener", with(combined(), "advertised.listeners", "CONTROLLER://h:9093"),
			"advertised.listeners must not contain KRaft controller listeners"},
		{"advertised unknown listener", with(combined(), "advertised.listeners", "OTHER://h:9093"), "no security protocol defined for listener OTHER"},
		{"advertised name not in listeners", with(combined(), "advertised.listeners", "SSL_X://h:1", "listener.security.protocol.map", "SSL_X:PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
			"advertised.listeners listener names must be equal to or a subset of the ones defined in listeners"},
		{"advertised 0.0.0.0", with(combined(), "advertised.listeners", "PLAINTEXT://0.0.0.0:9092"), "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0"},
		{"only controller listeners", with(combined(), "listeners", "CONTROLLER://:9093"), "there must be at least one advertised listener"},
		{"controller-only advertised", with(combined(), "process.roles", "controller", "listeners", "CONTROLLER://:9093", "advertised.listeners", "CONTROLLER://h:1"),
			"advertised.listeners must be empty when process.roles=controller"},
		{"controller-only broker listener", with(combined(), "process.roles", "controller"),
			"listeners must only contain KRaft controller listeners from controller.listener.names when process.roles=controller"},
		{"listener syntax", with(combined(), "listeners", "127.0.0.1:9092"), "for config listeners: \"127.0.0.1:9092\" is not NAME://host:port"},
		{"listener port", with(combined(), "listeners", "PLAINTEXT://h:x,CONTROLLER://h:1"), "for config listeners: \"PLAINTEXT://h:x\" has no valid host:port"},
		{"listener repeated name", with(combined(), "listeners", "PLAINTEXT://h:1,PLAINTEXT://h:2"), "config listeners: each listener must have a different name"},
		{"listener repeated port", with(combined(), "listeners", "PLAINTEXT://h:1,CONTROLLER://h:1"), "config listeners: each listener must have a different port"},
		{"ssl listener", with(combined(), "listeners", "SSL://:9094,CONTROLLER://:9093"),
			"config ssl.keystore.location (or listener.name.ssl.ssl.keystore.location) must be set: listener SSL uses SSL"},
		{"sasl mapped", with(combined(), "listener.security.protocol.map", "PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"),
			"config sasl.enabled.mechanisms of listener PLAINTEXT: GSSAPI is not supported"},
		{"unknown protocol", with(combined(), "listener.security.protocol.map", "PLAINTEXT:TLS"), "listener.security.protocol.map: unknown security protocol TLS"},
		{"map without controller", with(combined(), "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT"),
			"controller listener with name CONTROLLER defined in controller.listener.names not found in listener.security.protocol.map"},
		{"inter-broker listener unknown", with(combined(), "listeners", "PLAINTEXT://:1,CONTROLLER://:2,OTHER://:3", "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,OTHER:PLAINTEXT", "inter.broker.listener.name", "NOPE"),
			"config inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are PLAINTEXT,OTHER"},
		{"heartbeat not below session", with(combined(), "broker.heartbeat.interval.ms", "9000"),
			"config broker.heartbeat.interval.ms (9s) must be less than broker.session.timeout.ms (9s)"},
		{"zero heartbeat", with(combined(), "broker.heartbeat.interval.ms", "0"), "for config broker.heartbeat.interval.ms: must be at least 1"},
		{"zero session", with(combined(), "broker.session.timeout.ms", "0"), "for config broker.session.timeout.ms: must be at least 1"},
		{"both inter-broker configs", map[string]string{"listeners": "PLAINTEXT://:1,OTHER://:2", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT", "inter.broker.listener.name": "OTHER", "security.inter.broker.protocol": "PLAINTEXT"},
			"config inter.broker.listener.name and security.inter.broker.protocol should not both be set"},
		{"no listener of the inter-broker protocol", map[string]string{"listeners": "A://:1,B://:2", "listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT"},
			"config inter.broker.listener.name must be a listener name defined in advertised.listeners"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBroker(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
