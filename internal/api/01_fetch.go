package api

// Fetch v0-v16. v0-v3 get their records as message sets of magic 0/1,
// converted from the log's batches (fetch_legacy.go). v4+ has isolation
// levels: read_committed (1) reads up to the last stable offset and gets
// the aborted transactions overlapping the records it got (from the
// fetch offset to the end of the last batch: the partition's
// aborted-transaction index, as Kafka's collectAbortedTransactions), so
// the client drops their records; read_uncommitted reads to the high
// watermark; both are told the last stable offset; v5+ log start offsets; v7+ incremental fetch sessions (KIP-227);
// v9+ current leader epochs (fenced/unknown epochs get FENCED_LEADER_EPOCH /
// UNKNOWN_LEADER_EPOCH); v12+ is flexible; v13+ names topics by ID only
// (unknown IDs get UNKNOWN_TOPIC_ID).
//
// Byte limits follow KIP-74: partitions are filled in request order up to
// the response's MaxBytes and each partition's PartitionMaxBytes, except
// that the first batch of the first non-empty partition is returned whole
// even when larger, so a consumer always makes progress. A partition's
// records run across segment boundaries up to those limits.
//
// A fetch that finds fewer than MinBytes, and no partition with more below
// its high watermark than the limits let in, parks for up to MaxWaitMillis
// on every partition it reads and wakes as soon as any of them is appended to,
// or closed: a partition whose topic is deleted (or re-created) under a
// parked fetch answers it at once with UNKNOWN_TOPIC_OR_PARTITION, or
// UNKNOWN_TOPIC_ID by topic ID, as Kafka does; KAFKA_STORAGE_ERROR is kept
// for disk failures.
//
// A fetch with a replica ID (ReplicaID before v15, ReplicaState from v15
// on, with the broker epoch) is a follower's (Kafka's Partition.fetchRecords
// from a follower): a last fetched epoch the leader's epoch cache does not
// end at or after the fetch offset gets DivergingEpoch (the largest epoch
// at or below it and where that ended) and no records, and changes no
// follower state, so the follower truncates; otherwise the leader records
// the follower's fetch offset (Partition.FollowerFetch: its log end, the
// ISR and the high watermark, which wakes acks=all produces) and reads up
// to its log end, not the high watermark. A replica the partition does
// not list gets NOT_LEADER_OR_FOLLOWER, as from Kafka's
// followerReplicaOrThrow.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// fetchTarget is one partition to read, resolved against the metadata.
type fetchTarget struct {
	sp   *sessionPartition
	part *partition.Partition // nil when unknown
	code int16                // error found while resolving
}

// fetchResponse is a Fetch response whose larger record sets are file
// regions, sent with sendfile by the server.
type fetchResponse struct {
	*kmsg.FetchResponse
	regions []server.FileRegion
}

func (r *fetchResponse) Regions() []server.FileRegion { return r.regions }

func fetch(h *Handlers, ctx context.Context, req *kmsg.FetchRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	now := h.Now()
	img := h.image()
	byID := req.Version >= 13

	keyOf := func(topic string, id [16]byte, p int32) sessionKey {
		if byID {
			return sessionKey{topicID: id, partition: p}
		}
		return sessionKey{topic: topic, partition: p}
	}
	from := fetcher{replica: req.ReplicaID, brokerEpoch: -1}
	if req.Version >= 15 {
		from = fetcher{replica: req.ReplicaState.ID, brokerEpoch: req.ReplicaState.Epoch}
	}
	var requested []sessionPartition
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			requested = append(requested, sessionPartition{
				key:                keyOf(rt.Topic, rt.TopicID, rp.Partition),
				fetchOffset:        rp.FetchOffset,
				maxBytes:           rp.PartitionMaxBytes,
				currentLeaderEpoch: rp.CurrentLeaderEpoch,
				lastFetchedEpoch:   rp.LastFetchedEpoch,
				replicaLogStart:    rp.LogStartOffset,
			})
		}
	}

	// Decide which session, if any, this request belongs to.
	var sess *fetchSession
	incremental := false
	if req.Version >= 7 {
		switch {
		case req.SessionID == 0 && req.SessionEpoch == -1:
			// Sessionless full fetch.
		case req.SessionEpoch == -1 || req.SessionEpoch == 0:
			if req.SessionID != 0 {
				h.Sessions.remove(req.SessionID)
			}
			if req.SessionEpoch == 0 {
				sess = h.Sessions.create(now) // nil when the cache is full: a sessionless answer
				if sess != nil {
					for _, sp := range requested {
						sess.upsert(sp)
					}
				}
			}
		default:
			var code int16
			sess, code = h.Sessions.acquire(req.SessionID, req.SessionEpoch, now)
			if code != 0 {
				resp.ErrorCode = code
				return resp, nil
			}
			incremental = true
			for _, sp := range requested {
				sess.upsert(sp)
			}
			for _, ft := range req.ForgottenTopics {
				for _, p := range ft.Partitions {
					sess.forget(keyOf(ft.Topic, ft.TopicID, p))
				}
			}
		}
	}
	if sess != nil {
		defer h.Sessions.release(sess)
		resp.SessionID = sess.id
	}

	// Resolve every partition to read.
	var targets []fetchTarget
	resolve := func(sp *sessionPartition) {
		t := fetchTarget{sp: sp}
		var topic *metadata.Topic
		if byID {
			topic = img.TopicsByID[metadata.TopicID(sp.key.topicID)]
		} else {
			topic = img.Topics[sp.key.topic]
		}
		if topic != nil {
			t.part = h.Partitions.Get(topic.Name, sp.key.partition)
		}
		switch {
		case t.part == nil && topic != nil && h.Partitions.Offline(topic.Name, sp.key.partition) != nil:
			t.code = kerr.KafkaStorageError.Code
		case t.part == nil && hasPartition(topic, sp.key.partition):
			t.code = notHosted
		case t.part == nil && byID && topic == nil:
			t.code = kerr.UnknownTopicID.Code
		case t.part == nil:
			t.code = kerr.UnknownTopicOrPartition.Code
		default:
			t.code = checkLeaderEpoch(t.part, sp.currentLeaderEpoch)
		}
		targets = append(targets, t)
	}
	if sess != nil {
		for _, k := range sess.order {
			resolve(sess.parts[k])
		}
	} else {
		for i := range requested {
			resolve(&requested[i])
		}
	}

	// Read, and park until MinBytes arrive or MaxWaitMillis passes.
	deadline := now.Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	var waiter partition.Waiter
	for {
		results, total, answer := h.readTargets(targets, req.MaxBytes, byID, from, req.IsolationLevel == 1)
		wait := !answer && total < int(req.MinBytes) && req.MaxWaitMillis > 0
		remaining := time.Until(deadline)
		if !wait || remaining <= 0 || ctx.Err() != nil {
			if waiter != nil {
				for _, t := range targets {
					if t.part != nil {
						t.part.Unwatch(waiter)
					}
				}
			}
			if req.Version < 10 {
				oldFetchResults(targets, results, req.Version) // fetch_legacy.go
			}
			regions := h.fillFetchResponse(resp, targets, results, incremental)
			if len(regions) > 0 {
				return &fetchResponse{FetchResponse: resp, regions: regions}, nil
			}
			return resp, nil
		}
		releaseResults(results)
		if waiter == nil {
			waiter = partition.NewWaiter()
			for _, t := range targets {
				if t.part != nil {
					t.part.Watch(waiter)
				}
			}
			// Data may have arrived between the read and Watch: read again.
			continue
		}
		timer := time.NewTimer(remaining)
		select {
		case <-waiter:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
}

// fetcher says who fetches: a consumer (replica -1) or a follower replica
// with its broker epoch (-1 if not given).
type fetcher struct {
	replica     int32
	brokerEpoch int64
}

func (f fetcher) follower() bool { return f.replica >= 0 }

// fetchResult is what one partition's read produced: records in memory,
// or file regions (one per segment file) to be sent with sendfile.
type fetchResult struct {
	code           int16
	records        []byte
	region         storage.Region
	highWatermark  int64
	lastStable     int64
	logStartOffset int64
	// aborted are the aborted transactions of a read_committed read with
	// records (nil otherwise).
	aborted []storage.AbortedTxn
	// divergingEpoch, for a follower whose log diverged: the epoch and the
	// end offset it must truncate to (diverging false: none).
	diverging      bool
	divergingEpoch int32
	divergingEnd   int64
}

// readTargets reads every target within the byte limits. answer reports
// whether the fetch must be answered at once, whatever MinBytes says: a
// partition has an error, or holds more below its high watermark than the
// limits let in (waiting could not add to the response; reads run across
// segments, so this is not a segment boundary). With committed (a
// consumer's read_committed) reads stop at the last stable offset instead.
func (h *Handlers) readTargets(targets []fetchTarget, maxBytes int32, byID bool, from fetcher, committed bool) ([]fetchResult, int, bool) {
	results := make([]fetchResult, len(targets))
	total, answer := 0, false
	if maxBytes <= 0 {
		maxBytes = 1<<31 - 1
	}
	for i, t := range targets {
		r := &results[i]
		r.highWatermark, r.lastStable, r.logStartOffset = -1, -1, -1
		if t.code != 0 {
			r.code, answer = t.code, true
			continue
		}
		p := t.part
		if from.follower() {
			if code := h.followerFetch(p, t.sp, from, r); code != 0 || r.diverging {
				r.code, answer = code, true
				continue
			}
		}
		r.highWatermark, r.lastStable, r.logStartOffset = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
		readEnd, bound := r.highWatermark, partition.HighWatermarkBound
		switch {
		case from.follower():
			readEnd, bound = p.LogEndOffset(), partition.LogEndBound
		case committed:
			readEnd, bound = r.lastStable, partition.StableBound
		}
		limit := min(int(t.sp.maxBytes), int(maxBytes)-total)
		if limit <= 0 && total > 0 {
			answer = answer || t.sp.fetchOffset < readEnd
			continue
		}
		data, region, err := readPartition(p, bound, t.sp.fetchOffset, int32(max(limit, 0)))
		if err == nil && bound == partition.StableBound && (len(data) > 0 || region.Size > 0) {
			end := region.End
			if region.Size == 0 {
				end = recordsEnd(data)
			}
			if r.aborted, err = p.AbortedTxns(t.sp.fetchOffset, end); err != nil {
				region.Release()
			} else if r.aborted == nil {
				r.aborted = noAborted // a list, possibly empty, as Kafka's read_committed answer
			}
		}
		if err != nil {
			switch {
			case errors.Is(err, storage.ErrOffsetOutOfRange):
				r.code = kerr.OffsetOutOfRange.Code
			case errors.Is(err, partition.ErrClosed):
				r.code = h.closedCode(p, byID)
			case errors.Is(err, partition.ErrNotLeader):
				r.code = kerr.NotLeaderForPartition.Code
			default:
				r.code = kerr.KafkaStorageError.Code
				h.logStorageError("fetch", p.Topic, p.Index, err.Error())
			}
			answer = true
			continue
		}
		n := len(data) + int(region.Size)
		if n > limit && total > 0 {
			// Only the first non-empty partition may exceed the limits (KIP-74).
			region.Release()
			answer = true
			continue
		}
		r.records, r.region = data, region
		total += n
		switch {
		case region.Size > 0:
			answer = answer || region.End < readEnd
		case len(data) > 0:
			answer = answer || recordsEnd(data) < readEnd
		}
	}
	return results, total, answer
}

// followerFetch is the leader's part of a follower's fetch before the read
// (Kafka's fetchRecords for a follower): a last fetched epoch that
// diverges from the leader's log sets r's diverging epoch (Kafka's
// validateFetchOffsetAndMaybeGetDivergingEpoch: the leader's end of that
// epoch is below the fetch offset, or the leader knows only a lower
// epoch) and records nothing; otherwise the follower's fetch offset is
// recorded, and the ISR expansion it may propose goes to the controller.
// It returns an error code refusing the fetch, or 0.
func (h *Handlers) followerFetch(p *partition.Partition, sp *sessionPartition, from fetcher, r *fetchResult) int16 {
	if sp.lastFetchedEpoch >= 0 {
		epoch, end := p.EndOffsetForEpoch(sp.lastFetchedEpoch)
		if epoch < sp.lastFetchedEpoch || end < sp.fetchOffset {
			r.diverging, r.divergingEpoch, r.divergingEnd = true, epoch, end
			r.highWatermark, r.lastStable, r.logStartOffset = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
			return 0
		}
	}
	alter, code := p.FollowerFetch(from.replica, from.brokerEpoch, sp.fetchOffset, sp.replicaLogStart)
	if alter != nil {
		h.Partitions.AlterPartition(p, alter)
	}
	return code
}

var noAborted = []storage.AbortedTxn{}

// recordsEnd returns the offset after the last batch of records.
func recordsEnd(records []byte) int64 {
	end := int64(-1)
	batch.Iterate(records, func(h batch.Header, _ []byte) bool {
		end = h.LastOffset() + 1
		return true
	})
	return end
}

// closedCode answers a read of a partition closed under the fetch: its
// topic was deleted, or re-created under a new ID, as Kafka answers a
// fetch for a partition it no longer has; otherwise (the broker is
// stopping) the replica is gone from here.
func (h *Handlers) closedCode(p *partition.Partition, byID bool) int16 {
	img := h.image()
	switch {
	case byID && img.TopicsByID[metadata.TopicID(p.TopicID)] == nil:
		return kerr.UnknownTopicID.Code
	case !byID && (img.Topics[p.Topic] == nil || img.Topics[p.Topic].ID != metadata.TopicID(p.TopicID)):
		return kerr.UnknownTopicOrPartition.Code
	}
	return kerr.NotLeaderForPartition.Code
}

// regionThreshold is the size from which records go out with sendfile:
// below it, a copy costs less than flushing the socket buffer for a
// separate system call.
const regionThreshold = 32 << 10

// readPartition reads records in memory or, for larger reads from files on
// disk, as a file region.
func readPartition(p *partition.Partition, bound partition.Bound, offset int64, maxBytes int32) ([]byte, storage.Region, error) {
	if maxBytes < regionThreshold {
		data, err := p.ReadBounded(bound, offset, maxBytes)
		return data, storage.Region{}, err
	}
	region, err := p.ReadRegionBounded(bound, offset, maxBytes)
	switch {
	case errors.Is(err, storage.ErrNoRegion):
		data, err := p.ReadBounded(bound, offset, maxBytes)
		return data, storage.Region{}, err
	case err != nil:
		return nil, storage.Region{}, err
	case region.Size > 0 && region.Size < regionThreshold:
		data, err := region.Bytes()
		region.Release()
		if err != nil {
			return nil, storage.Region{}, err
		}
		return data, storage.Region{}, nil
	}
	return nil, region, nil
}

// releaseResults lets go of the regions of results not sent.
func releaseResults(results []fetchResult) {
	for i := range results {
		results[i].region.Release()
	}
}

// fillFetchResponse puts the results in resp and returns the file regions
// its placeholders stand for.
func (h *Handlers) fillFetchResponse(resp *kmsg.FetchResponse, targets []fetchTarget, results []fetchResult, incremental bool) []server.FileRegion {
	var topic *kmsg.FetchResponseTopic
	var regions []server.FileRegion
	for i, t := range targets {
		r := results[i]
		sp := t.sp
		if incremental && sp.sent && r.code == 0 && len(r.records) == 0 && r.region.Size == 0 &&
			r.highWatermark == sp.highWatermark && r.lastStable == sp.lastStable && r.logStartOffset == sp.logStartOffset {
			continue
		}
		sp.sent = true
		sp.highWatermark, sp.lastStable, sp.logStartOffset = r.highWatermark, r.lastStable, r.logStartOffset
		if topic == nil || topic.Topic != sp.key.topic || topic.TopicID != sp.key.topicID {
			resp.Topics = append(resp.Topics, kmsg.NewFetchResponseTopic())
			topic = &resp.Topics[len(resp.Topics)-1]
			topic.Topic, topic.TopicID = sp.key.topic, sp.key.topicID
		}
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = sp.key.partition
		rp.ErrorCode = r.code
		rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = r.highWatermark, r.lastStable, r.logStartOffset
		rp.RecordBatches = r.records
		if r.region.Size > 0 {
			// One region per segment the records span, their placeholders
			// one after the other; the last one releases them all.
			rp.RecordBatches = nil
			for k, part := range r.region.Parts {
				fr := server.FileRegion{File: part.File, Pos: part.Pos, Size: part.Size}
				if k == len(r.region.Parts)-1 {
					fr.Release = r.region.Release
				}
				rp.RecordBatches = append(rp.RecordBatches, server.Placeholder(len(regions))...)
				regions = append(regions, fr)
			}
		}
		if r.diverging {
			rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = r.divergingEpoch, r.divergingEnd
		}
		if r.aborted != nil {
			rp.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, len(r.aborted))
			for k, a := range r.aborted {
				rp.AbortedTransactions[k] = kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset}
			}
		}
		if rp.RecordBatches == nil {
			// Empty, not null: librdkafka rejects a null record set.
			rp.RecordBatches = []byte{}
		}
		if r.code == kerr.FencedLeaderEpoch.Code || r.code == kerr.UnknownLeaderEpoch.Code {
			rp.CurrentLeader.LeaderID = h.NodeID
			rp.CurrentLeader.LeaderEpoch = t.part.LeaderEpoch()
		}
		topic.Partitions = append(topic.Partitions, rp)
	}
	return regions
}
