package config

import (
	"fmt"
	"strconv"
)

// null marks a definition without a default value.
const null = "\x00null"

const maxLong = "9223372036854775807"

// definition is one row of the schema.
type definition struct {
	name  string
	typ   int8
	def   string // default in string form, or null
	valid validator
	doc   string

	// Broker configs only.
	dynamic bool // may be changed cluster-wide at runtime (IncrementalAlterConfigs)

	// Topic configs only: the broker configs that supply the default, most
	// specific first.
	synonyms []string
}

func (d *definition) hasDefault() bool { return d.def != null }

// brokerDefinitions is the broker schema. Names, types and defaults are Kafka's
// (4.x) except where a comment says otherwise.
var brokerDefinitions = append([]definition{
	{name: "node.id", typ: TypeInt, def: "1", valid: atLeast(0),
		doc: "The node ID of this broker, unique in the cluster."},
	{name: "log.dirs", typ: TypeString, def: null,
		doc: "The directory in which the log data is kept."},
	{name: "listeners", typ: TypeString, def: "PLAINTEXT://:9092",
		doc: "Comma-separated list of URIs the broker listens on, with their listener names."},
	{name: "advertised.listeners", typ: TypeString, def: null,
		doc: "Listeners to publish to clients if different from listeners."},
	// The cluster configs (cluster.go). Kafka 4 requires process.roles;
	// Samsa's default, empty, is a standalone node: broker and the only
	// controller of a one-voter quorum that needs no controller listener.
	{name: "process.roles", typ: TypeList, def: "",
		doc: "The roles of this node: broker, controller, or broker,controller. Empty (Samsa's default) runs a standalone node, broker and sole controller."},
	{name: "controller.quorum.voters", typ: TypeList, def: "",
		doc: "The voters of the controller quorum, as id@host:port,... (the CONTROLLER listener of each controller)."},
	{name: "controller.quorum.bootstrap.servers", typ: TypeList, def: "",
		doc: "Kafka 4's list of controllers (host:port) where a node outside controller.quorum.voters finds the quorum (KIP-853): without controller.quorum.voters a broker,controller node starts as an observer of the metadata log, to be made a voter with AddRaftVoter."},
	{name: "controller.listener.names", typ: TypeList, def: "",
		doc: "The names of the listeners used by the controller; the first one is the one used."},
	{name: "listener.security.protocol.map", typ: TypeString, def: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
		doc: "The security protocol of each listener name, NAME:PROTOCOL,... (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)."},
	{name: "broker.rack", typ: TypeString, def: null,
		doc: "The rack of this broker, used for rack-aware replica placement."},
	{name: "broker.heartbeat.interval.ms", typ: TypeInt, def: "2000", valid: atLeast(1),
		doc: "How often a broker heartbeats to the active controller."},
	{name: "broker.session.timeout.ms", typ: TypeInt, def: "9000", valid: atLeast(1),
		doc: "How long the active controller waits without a heartbeat before it fences a broker."},

	{name: "num.partitions", typ: TypeInt, def: "1", valid: atLeast(1), dynamic: true,
		doc: "The default number of partitions per topic, for auto-created topics and CreateTopics requests that leave it to the broker."},
	{name: "default.replication.factor", typ: TypeInt, def: "1", valid: atLeast(1), dynamic: true,
		doc: "The default replication factor for auto-created topics and CreateTopics requests that leave it to the broker."},
	{name: "auto.create.topics.enable", typ: TypeBoolean, def: "true", dynamic: true,
		doc: "Enable auto-creation of topics on Metadata and Produce requests."},
	{name: "auto.leader.rebalance.enable", typ: TypeBoolean, def: "true",
		doc: "Enables the active controller's periodic move of leadership back to each partition's preferred replica."},
	{name: "leader.imbalance.check.interval.seconds", typ: TypeLong, def: "300", valid: atLeast(1),
		doc: "How often the active controller checks the leader balance."},
	{name: "leader.imbalance.per.broker.percentage", typ: TypeInt, def: "10", valid: atLeast(0),
		doc: "The share, in percent, of a broker's preferred partitions that may be led elsewhere before a leader rebalance."},
	{name: "delete.topic.enable", typ: TypeBoolean, def: "true",
		doc: "Enable topic deletion; when false, DeleteTopics fails."},
	{name: "message.max.bytes", typ: TypeInt, def: "1048588", valid: atLeast(0), dynamic: true,
		doc: "The largest record batch size allowed, after compression."},
	{name: "socket.request.max.bytes", typ: TypeInt, def: "104857600", valid: atLeast(1),
		doc: "The maximum number of bytes in a socket request."},
	{name: "max.connections", typ: TypeInt, def: "2147483647", valid: atLeast(0), dynamic: true,
		doc: "The maximum number of connections the broker allows at any time; at the limit it stops accepting until one closes."},
	{name: "max.connections.per.ip", typ: TypeInt, def: "2147483647", valid: atLeast(0), dynamic: true,
		doc: "The maximum number of connections from each IP address; a new connection past it is closed. May be 0 only with max.connections.per.ip.overrides."},
	{name: "max.connections.per.ip.overrides", typ: TypeString, def: "", valid: connectionOverrides, dynamic: true,
		doc: "A comma-separated list of per-IP or host name overrides of max.connections.per.ip, for example hostName:100,127.0.0.1:200."},
	{name: "connections.max.idle.ms", typ: TypeLong, def: "600000",
		doc: "Idle connections timeout: a connection that sends no request for this long is closed; negative never closes one."},
	{name: "min.insync.replicas", typ: TypeInt, def: "1", valid: atLeast(1), dynamic: true,
		doc: "The minimum number of in-sync replicas that must acknowledge a write with acks=all."},
	{name: "unclean.leader.election.enable", typ: TypeBoolean, def: "false", dynamic: true,
		doc: "Whether a partition with no live in-sync replica may elect a live out-of-sync one as leader, losing the records it lacks."},
	{name: "compression.type", typ: TypeString, def: "producer", dynamic: true,
		valid: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
		doc:   "The final compression type for a topic: a codec, uncompressed, or producer to keep the producer's codec. A batch in another codec is recompressed on produce."},

	{name: "log.retention.hours", typ: TypeInt, def: "168", dynamic: true,
		doc: "The number of hours to keep a log segment before deleting it, used when log.retention.ms and log.retention.minutes are unset."},
	{name: "log.retention.minutes", typ: TypeInt, def: null, dynamic: true,
		doc: "The number of minutes to keep a log segment before deleting it, used when log.retention.ms is unset."},
	{name: "log.retention.ms", typ: TypeLong, def: null, valid: atLeast(-1), dynamic: true,
		doc: "The number of milliseconds to keep a log segment before deleting it; -1 keeps it forever."},
	{name: "log.retention.bytes", typ: TypeLong, def: "-1", dynamic: true,
		doc: "The maximum size of a partition's log before old segments are deleted; -1 means no limit."},
	{name: "log.retention.check.interval.ms", typ: TypeLong, def: "300000", valid: atLeast(1),
		doc: "How often, in milliseconds, the broker checks whether log segments are due for deletion."},
	{name: "log.segment.bytes", typ: TypeInt, def: "1073741824", valid: atLeast(14), dynamic: true,
		doc: "The maximum size of a single log segment file."},
	{name: "log.roll.hours", typ: TypeInt, def: "168", valid: atLeast(1), dynamic: true,
		doc: "The maximum time in hours before a new log segment is rolled out, used when log.roll.ms is unset."},
	{name: "log.roll.ms", typ: TypeLong, def: null, valid: atLeast(1), dynamic: true,
		doc: "The maximum time in milliseconds before a new log segment is rolled out."},
	{name: "log.index.interval.bytes", typ: TypeInt, def: "4096", valid: atLeast(0), dynamic: true,
		doc: "The interval in bytes at which an entry is added to the offset index."},
	{name: "log.flush.interval.messages", typ: TypeLong, def: maxLong, valid: atLeast(1), dynamic: true,
		doc: "The number of messages accumulated on a log partition before they are flushed to disk."},
	{name: "log.flush.interval.ms", typ: TypeLong, def: null, valid: atLeast(0), dynamic: true,
		doc: "The maximum time in milliseconds a message stays in memory before it is flushed to disk; log.flush.scheduler.interval.ms when unset."},
	{name: "log.flush.scheduler.interval.ms", typ: TypeLong, def: maxLong,
		doc: "How often, in milliseconds, the log flusher checks whether a log needs flushing."},
	{name: "log.cleanup.policy", typ: TypeList, def: "delete", valid: listOf("delete", "compact"), dynamic: true,
		doc: "The default cleanup policy for segments beyond the retention window: delete (retention.ms and retention.bytes apply), compact (the log cleaner keeps the latest record of every key), or both."},
	{name: "log.cleaner.delete.retention.ms", typ: TypeLong, def: "86400000", valid: atLeast(0), dynamic: true,
		doc: "How long delete tombstones are kept in compacted topics once the cleaner has cleaned their batch."},
	{name: "log.cleaner.min.cleanable.ratio", typ: TypeDouble, def: "0.5", valid: between(0, 1), dynamic: true,
		doc: "The minimum ratio of dirty log to total log for a log to be eligible for compaction."},
	{name: "log.cleaner.min.compaction.lag.ms", typ: TypeLong, def: "0", valid: atLeast(0), dynamic: true,
		doc: "The minimum time a message remains uncompacted in the log."},
	{name: "log.cleaner.max.compaction.lag.ms", typ: TypeLong, def: maxLong, valid: atLeast(1), dynamic: true,
		doc: "The maximum time a message remains ineligible for compaction in the log: past it a log is cleaned whatever its dirty ratio."},
	// Kafka defaults to 1; Samsa to 4: opening, recovering and closing a log
	// waits on the filesystem (metadata operations, reads), not the CPU, so
	// a few at once overlap those waits even on two cores.
	{name: "num.recovery.threads.per.data.dir", typ: TypeInt, def: "2", valid: atLeast(1),
		doc: "The number of threads that open (and after a crash recover) the partitions at start-up and close them at shutdown (Kafka 4 default, KIP-1030)."},
	{name: "log.cleaner.enable", typ: TypeBoolean, def: "true",
		doc: "Whether the broker runs the log cleaner, which compacts topics whose cleanup.policy has compact."},
	{name: "log.cleaner.threads", typ: TypeInt, def: "1", valid: atLeast(0),
		doc: "The number of background threads cleaning logs; each cleans one log at a time."},
	{name: "log.cleaner.io.max.bytes.per.second", typ: TypeDouble, def: "1.7976931348623157E308", valid: between(0, 1.7976931348623157e308),
		doc: "The log cleaner's I/O limit, bytes read plus written per second by all cleaner threads together."},
	{name: "log.cleaner.backoff.ms", typ: TypeLong, def: "15000", valid: atLeast(0),
		doc: "How long a cleaner thread sleeps when no log needs cleaning."},
	{name: "log.cleaner.dedupe.buffer.size", typ: TypeLong, def: "134217728", valid: atLeast(1),
		doc: "The memory of the cleaner threads' offset maps, all threads together; a pass maps as much of a log's dirty section as its share holds."},
	{name: "log.message.timestamp.type", typ: TypeString, def: "CreateTime", dynamic: true,
		valid: oneOf("CreateTime", "LogAppendTime"),
		doc:   "Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime)."},
	{name: "log.message.timestamp.before.max.ms", typ: TypeLong, def: maxLong, valid: atLeast(0), dynamic: true,
		doc: "With CreateTime, the largest allowed distance of a record timestamp in the past of the broker's clock."},
	{name: "log.message.timestamp.after.max.ms", typ: TypeLong, def: "3600000", valid: atLeast(0), dynamic: true,
		doc: "With CreateTime, the largest allowed distance of a record timestamp in the future of the broker's clock."},

	{name: "offsets.topic.num.partitions", typ: TypeInt, def: "50", valid: atLeast(1),
		doc: "The number of partitions of the offsets topic; do not change it after deployment."},
	// As Kafka's; capped by the live brokers in a cluster of fewer (broker/groups.go).
	{name: "offsets.topic.replication.factor", typ: TypeShort, def: "3", valid: atLeast(1),
		doc: "The replication factor of the offsets topic; in a cluster of fewer brokers, as many as there are."},
	{name: "group.initial.rebalance.delay.ms", typ: TypeInt, def: "3000", valid: atLeast(0),
		doc: "How long the group coordinator waits for more members to join a new group before the first rebalance."},
	{name: "group.min.session.timeout.ms", typ: TypeInt, def: "6000", valid: atLeast(1),
		doc: "The smallest session timeout a group member may ask for."},
	{name: "group.max.session.timeout.ms", typ: TypeInt, def: "1800000", valid: atLeast(1),
		doc: "The largest session timeout a group member may ask for."},
	{name: "group.max.size", typ: TypeInt, def: "2147483647", valid: atLeast(1),
		doc: "The maximum number of members of a classic group."},
	{name: "group.consumer.max.size", typ: TypeInt, def: "2147483647", valid: atLeast(1),
		doc: "The maximum number of members of a KIP-848 consumer group."},
	{name: "group.consumer.session.timeout.ms", typ: TypeInt, def: "45000", valid: atLeast(1),
		doc: "How long a KIP-848 consumer group member may go without heartbeating before it is removed."},
	{name: "group.consumer.heartbeat.interval.ms", typ: TypeInt, def: "5000", valid: atLeast(1),
		doc: "How often KIP-848 consumer group members are told to heartbeat."},
	{name: "offsets.retention.minutes", typ: TypeInt, def: "10080", valid: atLeast(1),
		doc: "How long a group that has become empty keeps its committed offsets."},
	{name: "offsets.retention.check.interval.ms", typ: TypeLong, def: "600000", valid: atLeast(1),
		doc: "How often the group coordinator looks for expired offsets."},
	{name: "offset.metadata.max.bytes", typ: TypeInt, def: "4096", valid: atLeast(0),
		doc: "The largest metadata string a committed offset may carry."},
	{name: "offsets.topic.segment.bytes", typ: TypeInt, def: "104857600", valid: atLeast(1),
		doc: "The segment size of the offsets topic, kept small so that compaction can work on it."},
	{name: "transaction.state.log.num.partitions", typ: TypeInt, def: "50", valid: atLeast(1),
		doc: "The number of partitions of the transaction state topic; do not change it after deployment."},
	// As Kafka's; capped by the live brokers in a cluster of fewer, as offsets.topic.replication.factor.
	{name: "transaction.state.log.replication.factor", typ: TypeShort, def: "3", valid: atLeast(1),
		doc: "The replication factor of the transaction state topic; in a cluster of fewer brokers, as many as there are."},
	{name: "transaction.state.log.min.isr", typ: TypeInt, def: "2", valid: atLeast(1),
		doc: "The min.insync.replicas of the transaction state topic (at most its replication factor)."},
	{name: "transaction.state.log.segment.bytes", typ: TypeInt, def: "104857600", valid: atLeast(1),
		doc: "The segment size of the transaction state topic, kept small so that compaction can work on it."},
	{name: "transaction.max.timeout.ms", typ: TypeInt, def: "900000", valid: atLeast(1),
		doc: "The largest transaction.timeout.ms a transactional producer may ask for (INVALID_TRANSACTION_TIMEOUT beyond)."},
	{name: "add.partitions.to.txn.retry.backoff.ms", typ: TypeInt, def: "20", valid: atLeast(1),
		doc: "How long a partition leader waits before asking the transaction coordinator again to add a partition a transactions-v2 produce brought, when the coordinator answered CONCURRENT_TRANSACTIONS (the previous transaction still completing)."},
	{name: "add.partitions.to.txn.retry.backoff.max.ms", typ: TypeInt, def: "100", valid: atLeast(1),
		doc: "How long in all a partition leader retries adding a partition for a transactions-v2 produce before answering it with a retriable error."},
	{name: "transactional.id.expiration.ms", typ: TypeInt, def: "604800000", valid: atLeast(1),
		doc: "How long the transaction coordinator keeps a transactional.id that has no transaction open and sees no request."},
	{name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", typ: TypeInt, def: "10000", valid: atLeast(1),
		doc: "How often the transaction coordinator aborts transactions open longer than their timeout."},
	{name: "transaction.remove.expired.transaction.cleanup.interval.ms", typ: TypeInt, def: "3600000", valid: atLeast(1),
		doc: "How often the transaction coordinator forgets transactional.ids past transactional.id.expiration.ms."},
	{name: "producer.id.expiration.ms", typ: TypeInt, def: "86400000", valid: atLeast(1), dynamic: true,
		doc: "How long a partition remembers an idempotent producer's sequence state after its last write."},
	{name: "producer.id.expiration.check.interval.ms", typ: TypeInt, def: "600000", valid: atLeast(1),
		doc: "How often partitions forget idempotent producers past producer.id.expiration.ms."},
	{name: "replica.lag.time.max.ms", typ: TypeLong, def: "30000", valid: atLeast(1),
		doc: "A follower that has not caught up to the leader's log end for this long leaves the ISR."},
	{name: "replica.high.watermark.checkpoint.interval.ms", typ: TypeLong, def: "5000", valid: atLeast(1),
		doc: "How often the high watermarks are written to replication-offset-checkpoint in the data directory."},
	{name: "replica.fetch.max.bytes", typ: TypeInt, def: "1048576", valid: atLeast(1),
		doc: "The bytes a follower's fetch asks of each partition (the first batch comes whole even when larger)."},
	{name: "replica.fetch.response.max.bytes", typ: TypeInt, def: "10485760", valid: atLeast(1),
		doc: "The bytes a follower's fetch asks for in all (the first batch comes whole even when larger)."},
	{name: "replica.fetch.min.bytes", typ: TypeInt, def: "1", valid: atLeast(1),
		doc: "The bytes a follower's fetch waits for, up to replica.fetch.wait.max.ms."},
	{name: "replica.fetch.wait.max.ms", typ: TypeInt, def: "500", valid: atLeast(0),
		doc: "How long the leader holds a follower's fetch that found less than replica.fetch.min.bytes."},
	{name: "replica.fetch.backoff.ms", typ: TypeInt, def: "1000", valid: atLeast(0),
		doc: "How long a follower waits after a failed fetch before the next."},
}, securityDefinitions...)

// topicDefinitions is the topic schema. A topic config's default is taken from
// its broker synonyms; def is the value when none of them is set either.
var topicDefinitions = []definition{
	{name: "cleanup.policy", typ: TypeList, def: "delete", valid: listOf("delete", "compact"),
		synonyms: []string{"log.cleanup.policy"},
		doc:      "The retention policy for old log segments: delete (retention.ms and retention.bytes apply), compact (the log cleaner keeps the latest record of every key; records without a key are refused), or both."},
	{name: "compression.type", typ: TypeString, def: "producer",
		valid:    oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
		synonyms: []string{"compression.type"},
		doc:      "The final compression type for the topic: a codec, uncompressed, or producer to keep the producer's codec. A batch in another codec is recompressed on produce."},
	{name: "delete.retention.ms", typ: TypeLong, def: "86400000", valid: atLeast(0),
		synonyms: []string{"log.cleaner.delete.retention.ms"},
		doc:      "How long delete tombstones are kept in a compacted topic once the cleaner has cleaned their batch; after it the next cleaning removes them."},
	{name: "flush.messages", typ: TypeLong, def: maxLong, valid: atLeast(1),
		synonyms: []string{"log.flush.interval.messages"},
		doc:      "Force an fsync of the log after this many messages."},
	{name: "flush.ms", typ: TypeLong, def: maxLong, valid: atLeast(0),
		synonyms: []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
		doc:      "Force an fsync of the log after this many milliseconds."},
	{name: "index.interval.bytes", typ: TypeInt, def: "4096", valid: atLeast(0),
		synonyms: []string{"log.index.interval.bytes"},
		doc:      "How many log bytes lie between two offset index entries."},
	{name: "max.compaction.lag.ms", typ: TypeLong, def: maxLong, valid: atLeast(1),
		synonyms: []string{"log.cleaner.max.compaction.lag.ms"},
		doc:      "The maximum time a message remains ineligible for compaction: past it the log is cleaned whatever its dirty ratio."},
	{name: "max.message.bytes", typ: TypeInt, def: "1048588", valid: atLeast(0),
		synonyms: []string{"message.max.bytes"},
		doc:      "The largest record batch size allowed, after compression."},
	{name: "message.timestamp.after.max.ms", typ: TypeLong, def: "3600000", valid: atLeast(0),
		synonyms: []string{"log.message.timestamp.after.max.ms"},
		doc:      "With CreateTime, the largest allowed distance of a record timestamp in the future of the broker's clock."},
	{name: "message.timestamp.before.max.ms", typ: TypeLong, def: maxLong, valid: atLeast(0),
		synonyms: []string{"log.message.timestamp.before.max.ms"},
		doc:      "With CreateTime, the largest allowed distance of a record timestamp in the past of the broker's clock."},
	{name: "message.timestamp.type", typ: TypeString, def: "CreateTime", valid: oneOf("CreateTime", "LogAppendTime"),
		synonyms: []string{"log.message.timestamp.type"},
		doc:      "Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime)."},
	{name: "min.cleanable.dirty.ratio", typ: TypeDouble, def: "0.5", valid: between(0, 1),
		synonyms: []string{"log.cleaner.min.cleanable.ratio"},
		doc:      "The minimum ratio of dirty log (not cleaned yet) to cleanable log for the log to be compacted."},
	{name: "min.compaction.lag.ms", typ: TypeLong, def: "0", valid: atLeast(0),
		synonyms: []string{"log.cleaner.min.compaction.lag.ms"},
		doc:      "The minimum time a message remains uncompacted: segments holding newer records are not cleaned."},
	{name: "min.insync.replicas", typ: TypeInt, def: "1", valid: atLeast(1),
		synonyms: []string{"min.insync.replicas"},
		doc:      "The minimum number of in-sync replicas that must acknowledge a write with acks=all."},
	{name: "retention.bytes", typ: TypeLong, def: "-1",
		synonyms: []string{"log.retention.bytes"},
		doc:      "The maximum size of a partition's log before old segments are deleted; -1 means no limit."},
	{name: "retention.ms", typ: TypeLong, def: "604800000", valid: atLeast(-1),
		synonyms: []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
		doc:      "The maximum time a log segment is kept before it is deleted; -1 keeps it forever."},
	{name: "segment.bytes", typ: TypeInt, def: "1073741824", valid: atLeast(14),
		synonyms: []string{"log.segment.bytes"},
		doc:      "The maximum size of a single log segment file."},
	{name: "segment.ms", typ: TypeLong, def: "604800000", valid: atLeast(1),
		synonyms: []string{"log.roll.ms", "log.roll.hours"},
		doc:      "The time after which a segment is rolled even if it is not full."},
	{name: "unclean.leader.election.enable", typ: TypeBoolean, def: "false",
		synonyms: []string{"unclean.leader.election.enable"},
		doc:      "Whether a partition with no live in-sync replica may elect a live out-of-sync one as leader, losing the records it lacks."},
}

// brokerSynonymGroups lists broker configs that are one setting spelt in
// several units, most specific first. Describing a broker config reports the
// group members from itself on, as Kafka does.
var brokerSynonymGroups = [][]string{
	{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
	{"log.roll.ms", "log.roll.hours"},
	{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
}

// unitMillis converts a broker config's value to the unit of its group's
// first member (milliseconds).
var unitMillis = map[string]int64{
	"log.retention.minutes": 60 * 1000,
	"log.retention.hours":   60 * 60 * 1000,
	"log.roll.hours":        60 * 60 * 1000,
}

var (
	brokerByName = index(brokerDefinitions)
	topicByName  = index(topicDefinitions)
)

func index(defs []definition) map[string]*definition {
	m := make(map[string]*definition, len(defs))
	for i := range defs {
		d := &defs[i]
		if d.def != null {
			if err := d.validate(d.def); err != nil {
				panic(fmt.Sprintf("config: bad default in schema: %v", err))
			}
		}
		m[d.name] = d
	}
	return m
}

// brokerSynonymsOf returns name followed by the less specific members of its
// group, or just name.
func brokerSynonymsOf(name string) []string {
	for _, group := range brokerSynonymGroups {
		for i, n := range group {
			if n == name {
				return group[i:]
			}
		}
	}
	return []string{name}
}

// toMillis converts an integer broker value to milliseconds where the name
// carries a coarser unit; other values are returned as parsed.
func toMillis(name, value string) (int64, bool) {
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, false
	}
	if mult, ok := unitMillis[name]; ok {
		if n < 0 {
			return -1, true // -1 hours still means forever
		}
		return n * mult, true
	}
	return n, true
}

func unknown(name string) error { return fmt.Errorf("unknown config '%s'", name) }
