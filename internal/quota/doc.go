// Package quota is Kafka 4's client quotas: the table of quotas the
// broker keeps from its metadata log (Store), the answers to
// DescribeClientQuotas (Store.Describe) and the checks of
// AlterClientQuotas (Store.Plan), and the meters that turn a client's
// usage into a throttle time: Meter for producer_byte_rate,
// consumer_byte_rate and request_percentage, MutationMeter for
// controller_mutation_rate. It is pure logic: the caller passes the time
// of every call (that is the clock injection), answers the requests, and
// mutes the connection; nothing here does I/O or starts a goroutine.
//
// # Why our own
//
// Clients see only throttle_time_ms, and they see Kafka's: a new client
// may burst about ten windows' worth, a throttle lasts exactly as long as
// the formula below says, and an exhausted mutation quota refuses topics.
// Tools and tests written against Kafka rely on those numbers. No Go
// library implements Kafka's windowed rate or its precedence of entities,
// and a generic token bucket or sliding window would throttle at other
// times.
//
// # Which quota applies
//
// For a client (user principal, client-id) and one key, the first entity
// that carries the key wins:
//
//	/users/<user>/clients/<client-id>
//	/users/<user>/clients/<default>
//	/users/<user>
//	/users/<default>/clients/<client-id>
//	/users/<default>/clients/<default>
//	/users/<default>
//	/clients/<client-id>
//	/clients/<default>
//
// The usage is recorded in a sensor named by Kafka's metric tags, which
// DefaultQuotaCallback derives from the level that matched: a match on a
// user-and-client-id entity (default parts included) tags (user,
// client-id), a user-only entity (user, ""), else ("", client-id). So
// /users/<default> gives every user a quota of their own, and
// /clients/<default> every client-id; clients share a budget only when
// they share the tags (the same client-id under /clients/..., or the same
// user under /users/<u>). With one shape of entity in use Kafka skips the
// search and tags by that shape; Store.Resolve does the same.
//
// # The rate and the throttle
//
// A Meter keeps per sensor a ring of WindowNum+1 samples of WindowSize
// (quota.window.num = 11, quota.window.size.seconds = 1). A sample takes
// the values recorded while it is current, and counts for nothing once it
// has had no event for WindowNum windows. With E the time since the
// oldest sample began:
//
//	W = E                                       if E >= (WindowNum-1) windows
//	W = (WindowNum-1) windows + (E mod window)  otherwise
//	rate = sum of the samples / W
//
// so a client's first record is spread over at least ten seconds. When
// rate > quota (Kafka records first, then checks) the throttle is the
// delay X that brings the rate back to the quota, rate*W/(W+X) = quota:
//
//	throttle = round((rate - quota) / quota * W)   W = the denominator above, ms
//
// For example, quota 1000 B/s and a new client sending 11,000 B at once:
// W = 10 s, rate = 1100 B/s, throttle = 0.1 * 10 s = 1 s. produce and
// fetch throttles are unbounded; request_percentage's is capped at one
// WindowSize (ClientRequestQuotaManager). request_percentage records
// thread time as a percentage of one thread for a second:
// nanoseconds * 100 / 1e9 (RequestTimePercentage).
//
// controller_mutation_rate is a token bucket (Kafka's TokenBucket):
//
//	credits = min(burst, credits + quota * elapsed seconds)  burst = quota * WindowNum * WindowSize
//	throttle = round(-credits / quota * 1000) ms, while credits < 0
//
// # How the broker calls it (as KafkaApis)
//
// Produce: after the append, throttle = max(produce.Record(client,
// request size in bytes), request.Record(client, RequestTimePercentage(
// handler time))) — the request quota is skipped for acks=0. The response
// carries throttle_time_ms and is sent at once; the connection then reads
// no further request for the throttle time. Clients at Produce v6+ and
// Fetch v8+ (KIP-219, AbstractResponse.shouldClientThrottle) also wait on
// their side; older ones are held back by the muted connection alone.
//
// Fetch from a consumer: cap max_bytes with fetch.MaxValueInWindow, then
// throttle = max(request.Record(...), fetch.Record(client, response size)).
// If throttle > 0, fetch.Unrecord the size and answer an empty response
// with the throttle (Kafka's getThrottledResponse). Fetches from followers
// are not metered.
//
// CreateTopics, CreatePartitions, DeleteTopics: q := mutation.ForRequest(
// client, version >= StrictSince); q.Record(partitions) per topic, putting
// a THROTTLING_QUOTA_EXCEEDED it returns on that topic; the response's
// throttle is max(q.ThrottleTime(now), request quota).
//
// The owner calls Expire on each meter now and then (Kafka: every 30 s)
// to drop sensors idle for an hour, which bounds memory with many
// client-ids.
//
// # Concurrency
//
// Store: a read-write mutex; Set (the metadata applier) takes it for
// writing, Resolve, Describe and Plan for reading. Meters: sensors live in
// 64 shards, each a mutex guarding its map and the sensors in it; a record
// resolves the quota under the Store's read lock, releases it, then takes
// one shard lock. The two locks never nest. A MutationQuota belongs to its
// request's goroutine.
//
// Names are compared as given: Kafka sanitizes user names for its metric
// tags and ZooKeeper paths, the same on both sides of every comparison, so
// raw names compare the same way.
package quota
