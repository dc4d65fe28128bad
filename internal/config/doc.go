// Package config is the schema of Samsa's broker and topic configuration:
// Kafka's names, types and defaults, validation, resolution and the entries
// DescribeConfigs reports.
//
// A broker config's effective value is, most important first: a dynamic
// cluster-wide override (set with IncrementalAlterConfigs and kept in the
// metadata log), the static value (--config file and --set flags), Kafka's
// default. This package owns no state beyond the static values: callers pass
// the dynamic overrides and a topic's overrides in on every call, so that the
// metadata image stays their single owner.
//
// A topic config's value is the topic's override, else its broker synonym
// resolved as above. Some broker synonyms come in several units; the most
// specific one that is set wins and is converted to milliseconds:
//
//	retention.ms  ← log.retention.ms ← log.retention.minutes ← log.retention.hours
//	segment.ms    ← log.roll.ms ← log.roll.hours
//	flush.ms      ← log.flush.interval.ms ← log.flush.scheduler.interval.ms
//
// The other synonyms are one-to-one (segment.bytes ← log.segment.bytes,
// max.message.bytes ← message.max.bytes, cleanup.policy ← log.cleanup.policy,
// ...); see topicDefinitions.
//
// Only configs Samsa honours, or that are harmless to report, are in the
// schema; a config that is accepted but not acted on says so in its doc
// string. Validation errors are written to be sent back as the message of an
// INVALID_CONFIG error: "unknown config 'x'", "invalid value 'abc' for config
// retention.ms: not a long".
//
// The cluster configs (process.roles, controller.quorum.voters, listeners,
// advertised.listeners, controller.listener.names,
// listener.security.protocol.map, broker.rack, broker.heartbeat.interval.ms,
// broker.session.timeout.ms) become Static.Cluster, checked with Kafka 4's
// rules and messages (cluster.go). Without process.roles a node is
// standalone: broker and sole voter of a one-voter quorum, as Samsa always
// was. Only PLAINTEXT listeners are served yet (SSL and SASL are refused),
// one broker listener. controller.quorum.bootstrap.servers without
// controller.quorum.voters starts a broker,controller node as an observer
// of the metadata log, to be made a voter with AddRaftVoter (KIP-853); a
// controller-only node needs controller.quorum.voters yet.
//
// Deviations from Kafka: offsets.topic.replication.factor (3, as Kafka's)
// is capped by the live brokers in a cluster of fewer brokers (Kafka
// refuses to create the topic), so a single node serves groups, and a broker
// whose cluster has too few live brokers for it starts anyway and creates the
// topic once they are live (Kafka creates it at the first FindCoordinator;
// both answer COORDINATOR_NOT_AVAILABLE meanwhile); segment.bytes accepts 14 bytes and up
// (Kafka 4: 1 MiB) so tests can roll small segments; dynamic broker overrides
// are cluster-wide only (no per-broker source); auto.create.topics.enable and
// num.partitions may be changed at runtime.
package config
