package clustertest

import (
	"strconv"
	"strings"
)

// StartObserverController starts one more node, nodeID, as a controller
// outside the cluster's voters: process.roles broker,controller with
// controller.quorum.bootstrap.servers naming the voters (KIP-853's way to
// start a controller to be added with AddRaftVoter), on ports of its own
// on 127.0.0.1. It receives the metadata log as an observer. It returns
// the node and its controller listener's address; the test's end stops it.
// Its links are not in the cluster's (it dials directly).
func (c *Cluster) StartObserverController(nodeID int32) (*Node, string) {
	c.t.Helper()
	var bootstrap []string
	for _, v := range strings.Split(c.nodes[0].Static()["controller.quorum.voters"], ",") {
		_, addr, _ := strings.Cut(v, "@")
		bootstrap = append(bootstrap, addr)
	}
	held := reservePorts(c.t, 2)
	kafka, controller := held[0].Addr().String(), held[1].Addr().String()
	for _, l := range held {
		l.Close()
	}
	n := StartNode(c.t, NodeConfig{Static: map[string]string{
		"node.id":                             strconv.Itoa(int(nodeID)),
		"process.roles":                       "broker,controller",
		"controller.listener.names":           "CONTROLLER",
		"controller.quorum.bootstrap.servers": strings.Join(bootstrap, ","),
		"listeners":                           "PLAINTEXT://" + kafka + ",CONTROLLER://" + controller,
	}})
	return n, controller
}
