// Package group is the group coordinator: Kafka's classic consumer-group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, static membership
// per KIP-345), KIP-848 consumer groups (ConsumerGroupHeartbeat with the
// server-side uniform and range assignors, see consumer.go) and committed
// offsets. Groups of both kinds and their offsets are kept in the
// internal compacted topic __consumer_offsets.
//
// # Ownership
//
// A group belongs to partition abs(javaHashCode(groupID)) % N of
// __consumer_offsets (see [PartitionFor]); the broker leading that partition
// coordinates the group. The coordinator keeps one shard per partition it
// leads ([Coordinator.Sync] loads and unloads shards as leadership changes),
// so a broker that does not lead the partition answers NOT_COORDINATOR.
//
// Each group has one mutex guarding its state machine (Empty,
// PreparingRebalance, CompletingRebalance, Stable, Dead), its members and
// its committed offsets. A shard's mutex guards only its map of groups; it
// may be taken while a group's mutex is held (to forget a dead group), never
// the other way round. Requests that must wait for
// a rebalance (JoinGroup, SyncGroup) park on a per-member channel that the
// state machine answers.
//
// # Writes
//
// A request's records are appended under its group's mutex (the log's
// order is the order of the state changes) without waiting for the
// followers; the mutex is let go and the answer waits until the high
// watermark passes every record the group wrote until then (Kafka's
// CoordinatorRuntime), so no replication round trip holds a group's
// mutex and no request is answered on a record a failover could lose.
// OffsetFetch answers committed offsets only: changes whose records are not
// committed yet are kept with the value they replaced; DescribeGroups and
// ListGroups answer once the group's records are committed (commit.go).
//
// # Goroutines
//
// Timers (session timeouts, rebalance timeouts, the initial rebalance
// delay) come from the injected [Clock]; their callbacks take the group's
// mutex and check that they are still current. One goroutine expires the
// offsets of groups that stayed empty past offsets.retention.minutes.
// [Coordinator.Close] stops the timers and waits for every callback and
// for that goroutine.
//
// # Records
//
// __consumer_offsets holds Kafka's records, the classic ones encoded with
// kmsg, the KIP-848 ones with kbin (kmsg has no codecs for them):
//
//	offset commit   key   int16 version=1 | string group | string topic | int32 partition
//	                value OffsetCommitValue v3: int16 3 | int64 offset | int32 leader epoch |
//	                      string metadata | int64 commit timestamp
//	group metadata  key   int16 version=2 | string group
//	                value GroupMetadataValue v3 (protocol type, generation,
//	                      protocol, leader, state timestamp, members)
//
//	KIP-848 group   key   int16 record type 3 to 8 | string group [| string member]
//	                value Kafka's ConsumerGroup* records: group epoch, member
//	                      metadata, target assignment and its epoch, current
//	                      assignment (see consumer_records.go)
//
// A transactional offset commit (TxnOffsetCommit) is the same offset
// commit record in a transactional batch of its producer, pending until
// the producer's marker on the partition decides it (txn.go).
//
// A null value is a tombstone: the offset, the group or the member was
// deleted. A group that changes kind tombstones the records of its old
// kind; its offsets stay. On load the partition is replayed from its
// start, later records winning.
package group
