package broker

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/quorum"
)

// quorumConfig is the metadata quorum node of this broker. A standalone
// node is the one voter of its quorum, in memory. In a cluster a
// controller listens on its controller listener; a broker-only node
// receives the metadata log from the leader as a raft non-voter, on a port
// of its own chosen at start on the Kafka listener's host and advertised
// under the broker's advertised host (raft pushes the log, where Kafka's
// brokers fetch it from the controllers).
func quorumConfig(cfg Config, brokerCfg *config.Broker, advertisedHost string) quorum.Config {
	static := brokerCfg.Static()
	c := static.Cluster
	q := quorum.Config{
		Dir:      filepath.Join(cfg.DataDir, "__metadata"),
		NodeID:   static.NodeID,
		Logger:   cfg.Logger,
		WALFS:    cfg.MetadataFS,
		Liveness: quorum.Liveness{HeartbeatInterval: c.HeartbeatInterval, SessionTimeout: c.SessionTimeout},
		Dial:     cfg.Dial,
		LeaderBalance: quorum.LeaderBalance{
			Enable:              static.LeaderBalance.Enable,
			CheckInterval:       static.LeaderBalance.CheckInterval,
			PerBrokerPercentage: static.LeaderBalance.PerBrokerPercentage,
		},
		UncleanLeaderElection: func(t *metadata.Topic, brokerConfigs map[string]string) bool {
			return brokerCfg.ResolveTopic(t.Configs, brokerConfigs).UncleanLeaderElection
		},
	}
	if c.Roles.Standalone() {
		return q
	}
	for _, v := range c.Voters {
		q.Voters = append(q.Voters, quorum.Peer{ID: v.ID, Addr: v.Addr()})
	}
	q.Bootstrap = c.BootstrapServers
	if len(c.ControllerListenerNames) > 0 {
		q.ListenerName = c.ControllerListenerNames[0]
	}
	if l, ok := c.ControllerListener(); ok && c.Roles.Controller {
		q.Listen = l.Addr()
		if !c.IsVoter(static.NodeID) && l.Host == "" {
			// A controller outside controller.quorum.voters is reached
			// where it says: on the broker's host when its listener
			// binds every interface.
			q.Advertise = net.JoinHostPort(advertisedHost, strconv.Itoa(l.Port))
		}
		return q
	}
	q.BrokerOnly = true
	host, _, _ := net.SplitHostPort(cfg.Listen)
	q.Listen = net.JoinHostPort(host, "0")
	q.Advertise = net.JoinHostPort(advertisedHost, "0")
	return q
}

// startController runs a controller-only node (process.roles=controller):
// a voter of the metadata quorum on its controller listener, with no Kafka
// listener, partitions or groups, and no broker registration.
func (b *Broker) startController(cfg Config, brokerCfg *config.Broker) error {
	static := brokerCfg.Static()
	var err error
	if b.controller, err = quorum.Open(quorumConfig(cfg, brokerCfg, "")); err != nil {
		return fmt.Errorf("broker: metadata quorum: %w", err)
	}
	if err := b.controller.WaitReady(context.Background()); err != nil {
		return fmt.Errorf("broker: metadata quorum: %w", err)
	}
	l, _ := static.Cluster.ControllerListener()
	b.logger.Info("samsa controller running", "controller-listener", l.Addr(), "data-dir", cfg.DataDir, "node-id", static.NodeID)
	return nil
}
