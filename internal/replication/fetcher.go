package replication

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// fetcher is one leader's fetch loop (Kafka's ReplicaFetcherThread).
type fetcher struct {
	m      *Manager
	leader int32
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // a partition came or its epoch moved

	// applyMu is held while a response is applied to a partition, and by
	// remove: once remove returns, no answer of this leader reaches the
	// partition (Kafka's partitionMapLock).
	applyMu sync.Mutex
	mu      sync.Mutex
	parts   map[*partition.Partition]struct{}
}

func newFetcher(m *Manager, leader int32) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &fetcher{m: m, leader: leader, ctx: ctx, cancel: cancel,
		kick: make(chan struct{}, 1), parts: make(map[*partition.Partition]struct{})}
}

func (f *fetcher) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *fetcher) add(p *partition.Partition) {
	f.mu.Lock()
	f.parts[p] = struct{}{}
	f.mu.Unlock()
	f.wake()
}

// remove drops p and returns how many partitions are left; it waits for
// an answer being applied to p.
func (f *fetcher) remove(p *partition.Partition) int {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, p)
	return len(f.parts)
}

func (f *fetcher) has(p *partition.Partition) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.parts[p]
	return ok
}

func (f *fetcher) snapshot() []*partition.Partition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*partition.Partition, 0, len(f.parts))
	for p := range f.parts {
		out = append(out, p)
	}
	return out
}

// pause waits d, or until the fetcher stops; a kick ends it early.
func (f *fetcher) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.ctx.Done():
	case <-f.kick:
	case <-t.C:
	}
}

func (f *fetcher) run() {
	defer f.m.wg.Done()
	cfg := &f.m.cfg
	var cl *kgo.Client
	var clAddr string
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for f.ctx.Err() == nil {
		parts := f.snapshot()
		if len(parts) == 0 {
			f.pause(time.Hour)
			continue
		}
		addr, ok := cfg.Address(f.leader)
		if !ok {
			f.pause(cfg.FetchBackoff)
			continue
		}
		if cl == nil || addr != clAddr {
			if cl != nil {
				cl.Close()
			}
			var err error
			cl, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.Dialer(cfg.Dial)}, cfg.ClientOpts...)...)
			if err != nil {
				cfg.Logger.Warn("replica fetcher: client", "leader", f.leader, "addr", addr, "err", err)
				cl = nil
				f.pause(cfg.FetchBackoff)
				continue
			}
			clAddr = addr
		}
		req, states := f.request(parts)
		resp, err := cl.SeedBrokers()[0].Request(f.ctx, req)
		if err != nil {
			if f.ctx.Err() == nil {
				cfg.Logger.Debug("replica fetcher: fetch failed", "leader", f.leader, "addr", addr, "err", err)
				f.pause(cfg.FetchBackoff)
			}
			continue
		}
		ok, outOfRange := f.handle(resp.(*kmsg.FetchResponse), states)
		if len(outOfRange) > 0 && !f.resetOutOfRange(cl, outOfRange) {
			ok = false
		}
		if !ok {
			f.pause(cfg.FetchBackoff)
		}
	}
}

// fetchState is what a request asked of one partition.
type fetchState struct {
	p      *partition.Partition
	epoch  int32 // the replica's leader epoch when asked
	offset int64
}

type partKey struct {
	topicID   [16]byte
	topic     string
	partition int32
}

// request builds a sessionless Fetch of parts from their log ends.
func (f *fetcher) request(parts []*partition.Partition) (*kmsg.FetchRequest, map[partKey]fetchState) {
	cfg := &f.m.cfg
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = cfg.NodeID
	req.ReplicaState.ID, req.ReplicaState.Epoch = cfg.NodeID, cfg.BrokerEpoch()
	req.MaxWaitMillis = int32(cfg.FetchWaitMax.Milliseconds())
	req.MinBytes, req.MaxBytes = cfg.FetchMinBytes, cfg.FetchResponseMaxBytes
	req.SessionID, req.SessionEpoch = 0, -1
	states := make(map[partKey]fetchState, len(parts))
	topics := map[[16]byte]int{}
	for _, p := range parts {
		st := fetchState{p: p, epoch: p.LeaderEpoch(), offset: p.LogEndOffset()}
		i, ok := topics[p.TopicID]
		if !ok {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = p.Topic, p.TopicID
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			topics[p.TopicID] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.Index
		rp.CurrentLeaderEpoch = st.epoch
		rp.FetchOffset = st.offset
		rp.LastFetchedEpoch = p.LatestEpoch()
		rp.LogStartOffset = p.LogStartOffset()
		rp.PartitionMaxBytes = cfg.FetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		states[partKey{topicID: p.TopicID, partition: p.Index}] = st
		states[partKey{topic: p.Topic, partition: p.Index}] = st
	}
	return req, states
}

// handle applies a response and reports whether every partition went
// well (else the fetcher backs off), and which partitions the leader
// answered OFFSET_OUT_OF_RANGE, for resetOutOfRange.
func (f *fetcher) handle(resp *kmsg.FetchResponse, states map[partKey]fetchState) (ok bool, outOfRange []fetchState) {
	log := f.m.cfg.Logger
	if resp.ErrorCode != 0 {
		log.Debug("replica fetcher: fetch refused", "leader", f.leader, "err", kerr.ErrorForCode(resp.ErrorCode))
		return false, nil
	}
	ok = true
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			key := partKey{topic: rt.Topic, partition: rp.Partition}
			if rt.Topic == "" {
				key = partKey{topicID: rt.TopicID, partition: rp.Partition}
			}
			st, found := states[key]
			if !found {
				continue
			}
			if rp.ErrorCode == kerr.OffsetOutOfRange.Code {
				outOfRange = append(outOfRange, st)
				continue
			}
			if err := f.applyIfCurrent(st, &rp); err != nil {
				ok = false
				log.Info("replica fetcher: partition", "topic", st.p.Topic, "partition", st.p.Index, "leader", f.leader, "err", err)
			}
		}
	}
	return ok, outOfRange
}

// applyIfCurrent applies an answer unless its partition was removed from
// this fetcher or its epoch moved since the request: the answer was for
// another leader or epoch.
func (f *fetcher) applyIfCurrent(st fetchState, rp *kmsg.FetchResponseTopicPartition) error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if !f.has(st.p) || st.p.LeaderEpoch() != st.epoch {
		return nil
	}
	return f.apply(st, rp)
}

// apply handles one partition's answer: truncation on a diverging epoch,
// else the append of its records and the leader's high watermark.
func (f *fetcher) apply(st fetchState, rp *kmsg.FetchResponseTopicPartition) error {
	p := st.p
	if rp.ErrorCode != 0 {
		return kerr.ErrorForCode(rp.ErrorCode)
	}
	if rp.DivergingEpoch.Epoch >= 0 { // Kafka's FetchResponse.isDivergingEpoch
		off := truncationOffset(p, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset)
		f.m.cfg.Logger.Info("replica fetcher: truncating a diverged log", "topic", p.Topic, "partition", p.Index,
			"leader", f.leader, "log-end", p.LogEndOffset(), "to", off,
			"diverging-epoch", rp.DivergingEpoch.Epoch, "diverging-end", rp.DivergingEpoch.EndOffset)
		return p.TruncateTo(off)
	}
	if records := wholeBatches(rp.RecordBatches); len(records) > 0 {
		if err := p.AppendAsFollower(records); err != nil {
			if errors.Is(err, partition.ErrNotFollower) || errors.Is(err, partition.ErrClosed) {
				return nil // it became leader or closed meanwhile
			}
			return err
		}
	}
	p.SetLeaderHighWatermark(rp.HighWatermark)
	// After the high watermark, which bounds it (Kafka's
	// processPartitionData): DeleteRecords and retention on the leader
	// reach the follower.
	return p.SetLeaderLogStartOffset(rp.LogStartOffset)
}

// truncationOffset is where a follower truncates on the leader's diverging
// epoch (Kafka's AbstractFetcherThread.getOffsetTruncationState): the
// leader's end of the epoch, bounded by the follower's own end of it; if
// the follower's cache has a different largest epoch at or below it, the
// follower's end of that epoch (the next fetch, with a lower last fetched
// epoch, refines it); with no epoch from the leader, its end offset, and
// with no end offset either, the high watermark.
func truncationOffset(p *partition.Partition, leaderEpoch int32, leaderEnd int64) int64 {
	end := p.LogEndOffset()
	switch {
	case leaderEnd < 0:
		return min(p.HighWatermark(), end)
	case leaderEpoch < 0:
		return min(leaderEnd, end)
	}
	epoch, followerEnd := p.EndOffsetForEpoch(leaderEpoch)
	switch {
	case epoch < 0 || followerEnd < 0:
		return min(leaderEnd, end)
	case epoch != leaderEpoch:
		return min(followerEnd, end)
	}
	return min(leaderEnd, followerEnd, end)
}

// wholeBatches cuts records after their last whole batch: a fetch may end
// inside one, at its byte limit.
func wholeBatches(records []byte) []byte {
	n := 0
	batch.Iterate(records, func(h batch.Header, _ []byte) bool {
		n += h.Size()
		return true
	})
	return records[:n]
}
