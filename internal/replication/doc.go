// Package replication is the follower's side of Kafka's replication
// protocol: the replica fetcher (Kafka's ReplicaFetcherManager and
// ReplicaFetcherThread).
//
// A Manager runs one fetcher goroutine per leader broker this node follows
// partitions of (num.replica.fetchers=1, Kafka's default). A fetcher sends
// sessionless Fetch requests to the leader's advertised address, through a
// kgo client dialling with the broker's dial hook (so the test harness can
// cut the link), carrying this node's replica ID and broker epoch; each
// partition asks from its log end offset with its newest leader epoch as
// the last fetched epoch. Records are appended as the leader's batches are
// (partition.AppendAsFollower), then the leader's high watermark
// (SetLeaderHighWatermark) and log start offset (SetLeaderLogStartOffset,
// bounded by the high watermark) applied, so DeleteRecords and retention
// on the leader reach the followers.
//
// Out of range: a fetch the leader answers OFFSET_OUT_OF_RANGE is reset as
// Kafka's fetchOffsetAndTruncate does. The fetcher asks the leader for its
// log end and log start (ListOffsets latest and earliest with this node's
// replica ID, so latest is the log end) outside applyMu; a leader whose log
// ends below the follower's (after an unclean election) has the follower
// truncate to its end, one whose log starts above the follower's end
// (retention or DeleteRecords while the follower was away) has it empty
// its log to start at the leader's log start
// (partition.TruncateFullyAndStartAt), and otherwise it fetches on.
//
// Truncation: a follower does not call OffsetForLeaderEpoch on becoming a
// follower; it relies on DivergingEpoch in the Fetch response (v12+, as
// Kafka 2.7+ does with a last fetched epoch). When the leader's answer
// says the log diverged, the follower truncates (partition.TruncateTo) as
// Kafka's AbstractFetcherThread.getOffsetTruncationState: to the smaller
// of the leader's end of that epoch and its own, or, when its own cache
// has a different epoch there, to its own end of it and fetches again,
// which refines the point; an unknown epoch on the leader (-1, -1)
// truncates to the high watermark.
//
// Errors back off by replica.fetch.backoff.ms (1000 ms) and retry; a
// partition whose leader moved is moved to the new leader's fetcher by
// the replica manager (Follow), and a leader or stopped replica is removed
// (Unfollow). Close stops every fetcher and waits for them.
package replication
