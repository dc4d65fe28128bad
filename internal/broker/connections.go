package broker

import (
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/server"
)

// serverLimits is config.ConnectionLimits in the server's terms.
func serverLimits(l config.ConnectionLimits) *server.Limits {
	return &server.Limits{
		MaxConnections:      l.MaxConnections,
		MaxConnectionsPerIP: l.MaxConnectionsPerIP,
		PerIPOverrides:      l.PerIPOverrides,
		MaxIdle:             l.MaxIdle,
	}
}

// startLimits are the connection limits to start with: the static ones
// (already checked: bad ones refuse the start) with the dynamic
// cluster-wide values of the metadata log over them. Dynamic values that no
// longer resolve (an override's host name) are logged and ignored, as Kafka
// does with invalid dynamic configs at start-up.
func (b *Broker) startLimits(cfg *config.Broker, static config.ConnectionLimits) *server.Limits {
	l, err := cfg.ConnectionLimits(b.controller.Image().BrokerConfigs)
	if err != nil {
		b.logger.Error("ignoring the dynamic connection configs", "err", err)
		return serverLimits(static)
	}
	return serverLimits(l)
}

// followConnectionLimits applies changes of the dynamic connection configs
// (max.connections, max.connections.per.ip and its overrides) to the
// running server, as Kafka's DynamicConnectionQuota does. It returns the
// function that stops following.
func (b *Broker) followConnectionLimits(cfg *config.Broker) func() {
	return b.controller.Subscribe(func(prev, next *metadata.Image) {
		if prev != nil && !config.ConnectionConfigsChanged(prev.BrokerConfigs, next.BrokerConfigs) {
			return
		}
		l, err := cfg.ConnectionLimits(next.BrokerConfigs)
		if err != nil {
			b.logger.Error("keeping the connection limits", "err", err)
			return
		}
		b.server.SetLimits(*serverLimits(l))
		b.logger.Info("connection limits changed", "max.connections", l.MaxConnections, "max.connections.per.ip", l.MaxConnectionsPerIP, "overrides", len(l.PerIPOverrides))
	})
}
